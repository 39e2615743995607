package search

import (
	"context"
	"fmt"
	"sync"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
	"gorgonia.org/tensor"
)

// TrainEvaluator evaluates a trial by training it on real images for a
// short budget (the proxy task) and measuring its step time.
type TrainEvaluator struct {
	// Dataset is a data registry name ("fashion-mnist").
	Dataset string
	Data    data.Options
	// TrainSubset training images are drawn (seeded) from the training
	// split after ValSize images are held out for validation; 0 uses all.
	TrainSubset int
	ValSize     int
	Settings    trainer.Settings
	Budget      trainer.Budget

	once  sync.Once
	ds    *data.Dataset
	train []int
	val   []int
	err   error
}

// Describe is what the search record keeps of the evaluator.
func (e *TrainEvaluator) Describe() map[string]any {
	return map[string]any{"name": "train", "dataset": e.Dataset, "train_subset": e.TrainSubset, "val_size": e.ValSize,
		"epochs": e.Budget.Epochs, "steps": e.Budget.Steps, "batch": e.Budget.Batch, "image_size": e.Budget.ImageSize,
		"optimizer": e.Settings.Optimizer, "lr": e.Settings.LR}
}

// Load reads the dataset and makes the fixed validation split and training
// subset (once; later calls return the same).
func (e *TrainEvaluator) Load(seed uint64) (*data.Dataset, error) {
	e.once.Do(func() {
		e.ds, e.err = data.Load(e.Dataset, "train", e.Data)
		if e.err != nil {
			return
		}
		val := e.ValSize
		if val <= 0 {
			val = min(5000, e.ds.N/10)
		}
		e.train, e.val, e.err = e.ds.ValidationSplit(val, seed)
		if e.err != nil {
			return
		}
		if e.TrainSubset > 0 && e.TrainSubset < len(e.train) {
			e.train, e.err = e.ds.SampleSubset(e.train, e.TrainSubset, seed+1)
		}
	})
	return e.ds, e.err
}

// Host describes this machine.
func (e *TrainEvaluator) Host() measure.Host { return measureHost(trainer.HostInfo()) }

// Evaluate trains t.Arch (or, for the baseline, only times it).
func (e *TrainEvaluator) Evaluate(ctx context.Context, t Task, gate *Gate) (measure.Metrics, error) {
	ds, err := e.Load(0x5e1ec7)
	if err != nil {
		return measure.Metrics{}, err
	}
	a := t.Arch
	if a.InputChannels != ds.C || a.NumClasses != ds.NumClasses {
		return measure.Metrics{}, fmt.Errorf("architecture takes %d channels and %d classes, %s has %d and %d",
			a.InputChannels, a.NumClasses, e.Dataset, ds.C, ds.NumClasses)
	}
	s := e.Settings
	s.Seed = t.Seed
	if gate != nil {
		s.Gate = gate
	}
	if t.Baseline {
		net, err := trainer.NewNet(a, tensor.Float32, t.Seed)
		if err != nil {
			return measure.Metrics{}, err
		}
		b := e.Budget.WithDefaults(a)
		size, batch := b.ImageSize, b.Batch
		st, fw, err := net.Measure(ctx, trainer.Timing{Batch: batch, ImageSize: size, Warmup: b.TimingWarmup, Steps: max(b.TimingSteps, 1)}, s)
		if err != nil {
			return measure.Metrics{}, err
		}
		acc, _ := a.Count(size, 0)
		return measure.Metrics{StepTime: measureStats(st), ForwardTime: measureStats(fw), Params: acc.Total.Params,
			ParamsTotal: acc.Total.ParamsTotal, MACs: acc.Total.MACs, ImageSize: size, Batch: batch,
			Host: measureHost(trainer.HostInfo())}, nil
	}
	res, _, err := trainer.Train(ctx, trainer.Problem{Arch: a, Data: ds, Train: e.train, Val: e.val}, s, e.Budget)
	if err != nil {
		return measure.Metrics{}, err
	}
	return measureMetrics(res), nil
}

// The converters below are temporary: package trainer still reports in its
// own types (Result, Stats, Host), which spell the measurement a second
// time. They go away when the trainer returns measure types.

// measureMetrics converts a trainer result.
func measureMetrics(r trainer.Result) measure.Metrics {
	return measure.Metrics{Accuracy: r.Accuracy, Loss: r.Loss, StepTime: measureStats(r.StepTime), ForwardTime: measureStats(r.ForwardTime),
		Params: r.Params, ParamsTotal: r.ParamsTotal, MACs: r.MACs, WallTime: r.WallTime.Seconds(), TrainTime: r.TrainTime.Seconds(),
		Epochs: r.Epochs, Steps: r.Steps, ImageSize: r.ImageSize, Batch: r.Batch, Host: measureHost(r.Host),
		Extra: map[string]float64{"train_loss": r.TrainLoss}}
}

// measureStats converts step-time statistics. The allocation figures are
// left out, as the search has always stored them.
func measureStats(s trainer.Stats) measure.StepStats {
	return measure.StepStats{Median: s.Median, P10: s.P10, P90: s.P90, Mean: s.Mean, Count: s.Count}
}

// measureHost converts a host description.
func measureHost(h trainer.Host) measure.Host {
	return measure.Host{Hostname: h.Hostname, OS: h.OS, Arch: h.Arch, CPU: h.CPU, Cores: h.Cores, GOMAXPROCS: h.GOMAXPROCS,
		GoVersion: h.GoVersion, Backend: h.Backend}
}
