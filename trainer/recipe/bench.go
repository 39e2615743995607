package recipe

import (
	"context"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer"
	"gorgonia.org/tensor"
)

// Bench is the step-time benchmark of an architecture on this machine
// ("nas bench").
type Bench struct {
	Arch          searchspace.Arch // at its training size
	Batch         int
	Warmup, Steps int
	// Layers adds a profile by op from extra steps with timers on.
	Layers bool
	// Against, when set, is a baseline the training step is timed
	// against, interleaved as Interleave says (trainer.Baseline): the
	// result then has the relative step time, and Steps counts only the
	// forward passes.
	Against *searchspace.Arch
	// Device, when set, is the GPU the network is timed on (nil: the CPU).
	Device     *trainer.Device
	Interleave trainer.Interleave
}

// BenchResult is what Bench measured; its JSON form is what "nas bench
// --json" prints.
type BenchResult struct {
	// (fields in the order of their JSON names)
	Against       string            `json:"against,omitempty"`
	AllocsPerStep float64           `json:"allocs_per_step"`
	Arch          string            `json:"arch"`
	Batch         int               `json:"batch"`
	BytesPerStep  float64           `json:"bytes_per_step"`
	Channels      int               `json:"channels"`
	Forward       measure.StepStats `json:"forward"`
	ForwardGFLOPS float64           `json:"forward_gflops"` // at 2 FLOP per multiply-add
	Host          measure.Host      `json:"host"`
	ImageSize     int               `json:"image_size"`
	// Interleaved is how RelativeStepTime was measured (with Against).
	Interleaved *measure.Interleaved `json:"interleaved,omitempty"`
	Layers      *trainer.OpProfile   `json:"layers,omitempty"`
	MACs        int64                `json:"macs"`
	Params      int64                `json:"params"`
	PeakRSS     int64                `json:"peak_rss_bytes"`
	// RelativeStepTime is the training step time relative to Against's,
	// measured interleaved (with Against).
	RelativeStepTime float64           `json:"relative_step_time,omitempty"`
	TrainGFLOPS      float64           `json:"train_gflops"` // at 6 FLOP per multiply-add
	Train            measure.StepStats `json:"train_step"`
}

// Run measures the training step (against Against when set) and the
// forward pass (seed 1), and with Layers a profile from max(3, Steps/2)
// steps after one warm-up step.
func (b Bench) Run(ctx context.Context) (BenchResult, error) {
	a := b.Arch
	size := a.TrainSize()
	net, err := trainer.NewNet(a, tensor.Float32, 1)
	if err != nil {
		return BenchResult{}, err
	}
	s := trainer.Settings{Seed: 1, Device: b.Device}
	if b.Against != nil {
		s.Baseline = trainer.NewBaseline(*b.Against, b.Interleave)
	}
	m, err := net.Measure(ctx, trainer.Timing{Batch: b.Batch, ImageSize: size, Warmup: b.Warmup, Steps: b.Steps}, s)
	if err != nil {
		return BenchResult{}, err
	}
	tr, fw := m.StepTime, m.ForwardTime
	r := BenchResult{Arch: a.Name, Batch: b.Batch, ImageSize: size, Channels: a.InputChannels, Params: m.Params, MACs: m.MACs,
		Train: tr, Forward: fw, AllocsPerStep: tr.Allocs, BytesPerStep: tr.Bytes, Host: m.Host,
		RelativeStepTime: m.RelativeStepTime, Interleaved: m.Interleaved}
	if b.Against != nil {
		r.Against = b.Against.Name
	}
	if b.Layers {
		p, err := net.Profile(ctx, trainer.Timing{Batch: b.Batch, ImageSize: size, Warmup: 1, Steps: max(3, b.Steps/2)}, s)
		if err != nil {
			return r, err
		}
		r.Layers = &p
	}
	gflops := func(sec, flopsPerMAC float64) float64 {
		return flopsPerMAC * float64(m.MACs) * float64(b.Batch) / sec / 1e9
	}
	r.TrainGFLOPS, r.ForwardGFLOPS = gflops(tr.Median, 6), gflops(fw.Median, 2)
	r.PeakRSS = trainer.PeakRSS()
	return r, nil
}
