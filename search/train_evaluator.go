package search

import (
	"context"
	"fmt"
	"sync"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/searchspace"
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
	// Baseline is the network trials are timed against (the space's
	// backbone; NewProxy sets it). Each trial's step time is then also
	// measured relative to it, interleaved as Interleave says
	// (trainer.Baseline), and the reward uses the relative time. When it
	// is not set, the architecture of the baseline task is used once it has
	// run in this process; before that, trials are timed alone.
	Baseline   searchspace.Arch
	Interleave trainer.Interleave

	baseMu sync.Mutex
	base   *trainer.Baseline

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

// Host describes this machine, with the GPU when trials train on one.
func (e *TrainEvaluator) Host() measure.Host { return trainer.HostInfoOn(e.Settings.Device) }

// Evaluate trains t.Arch and times it against the baseline, or for the
// baseline task only times it (its relative step time is 1). Everything it
// computes holds gate: shared in slices, exclusively to time (see
// trainer.Gate).
func (e *TrainEvaluator) Evaluate(ctx context.Context, t Task, gate *Gate) (measure.Metrics, error) {
	var ds *data.Dataset
	err := gate.Shared(func() (err error) {
		ds, err = e.Load(splitSeed)
		return err
	})
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
	if t.Progress != nil {
		s.Progress = func(p trainer.Progress) { t.report(Progress{Phase: p.Phase, Step: p.Step, Steps: p.Steps}) }
	}
	if gate != nil {
		s.Gate = gate
	}
	if t.Baseline {
		e.baseline(&a)
		var net *trainer.Net
		if err := gate.Shared(func() (err error) { net, err = trainer.NewNet(a, tensor.Float32, t.Seed); return err }); err != nil {
			return measure.Metrics{}, err
		}
		b := e.Budget.WithDefaults(a)
		m, err := net.Measure(ctx, trainer.Timing{Batch: b.Batch, ImageSize: b.ImageSize, Warmup: b.TimingWarmup, Steps: max(b.TimingSteps, 1)}, s)
		m.RelativeStepTime = 1
		return m, err
	}
	s.Baseline = e.baseline(nil)
	res, _, err := trainer.Train(ctx, trainer.Problem{Arch: a, Data: ds, Train: e.train, Val: e.val}, s, e.Budget)
	if err != nil {
		return measure.Metrics{}, err
	}
	m := res.Metrics
	m.Extra = map[string]float64{"train_loss": res.TrainLoss}
	return m, nil
}

// baseline returns the network trials are timed against: e.Baseline, else
// the first baseline task's architecture (task), nil while there is none.
func (e *TrainEvaluator) baseline(task *searchspace.Arch) *trainer.Baseline {
	e.baseMu.Lock()
	defer e.baseMu.Unlock()
	if e.base == nil {
		a := e.Baseline
		if len(a.Stages) == 0 && task != nil {
			a = *task
		}
		if len(a.Stages) > 0 {
			e.base = trainer.NewBaseline(a, e.Interleave)
		}
	}
	return e.base
}
