package search

import (
	"context"
	"math"
	"runtime"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/version"
)

// Synthetic is a cheap, deterministic stand-in for training, for tests and
// for comparing search strategies. It maps an architecture to metrics with
// a documented formula that mimics what the EfficientNetV2 paper observed,
// so that the reward has a real trade-off to find:
//
//	position p of stage i of n:  p = i / (n-1)
//	per stage, added to a quality score q:
//	  block:   Fused-MBConv +0.012 early (p < 0.5), -0.012 late; MBConv the opposite
//	  kernel:  5x5 +0.003 (receptive field)
//	  expand:  1 -> -0.010; 4 -> +0.006 early, 0 late; 6 -> 0 early, +0.008 late
//	  repeats: +0.010 * ln(repeats)
//	accuracy  = clamp(0.45 + q + 0.03 * ln(MACs / 1e6), 0.05, 0.99)
//	step time = 6 * MACs * 64 / 150e9 s           (training FLOPs of a batch of 64)
//	          + sum over blocks of 0.2 ms          (per-layer overhead)
//	          + depthwise elements * 64 / 4e9 s    (memory-bound depthwise)
//	params    = exact trainable count (searchspace accounting)
//
// Its measurements say so: their host's Backend is measure.BackendSynthetic.
// Delay, when set, makes each evaluation sleep that long (honouring the
// context), which tests use to kill a search while trials run.
type Synthetic struct {
	Delay time.Duration
}

// Evaluate computes the metrics of t.Arch at its training image size.
func (s Synthetic) Evaluate(ctx context.Context, t Task, gate *Gate) (measure.Metrics, error) {
	if s.Delay > 0 {
		select {
		case <-ctx.Done():
			return measure.Metrics{}, ctx.Err()
		case <-time.After(s.Delay):
		}
	}
	m, err := SyntheticMetrics(t.Arch)
	if err != nil {
		return measure.Metrics{}, err
	}
	m.Host = s.Host()
	t.report(Progress{Phase: "formula", Step: 1, Steps: 1})
	return m, nil
}

// Describe is what the search record keeps of the evaluator.
func (Synthetic) Describe() map[string]any { return map[string]any{"name": "synthetic"} }

// Host describes this process; the synthetic evaluator's timings are
// formulas, so only the program's identity matters.
func (Synthetic) Host() measure.Host {
	return measure.Host{OS: runtime.GOOS, Arch: runtime.GOARCH, CPU: "synthetic", Cores: 1, GOMAXPROCS: 1,
		GoVersion: runtime.Version(), Backend: measure.BackendSynthetic, Code: version.Get()}
}

// SyntheticMetrics is the formula of Synthetic.
func SyntheticMetrics(a searchspace.Arch) (measure.Metrics, error) {
	size := a.TrainSize()
	acc, err := a.Count(size, 0)
	if err != nil {
		return measure.Metrics{}, err
	}
	n := len(a.Stages)
	q := 0.0
	for i, st := range a.Stages {
		p := 0.0
		if n > 1 {
			p = float64(i) / float64(n-1)
		}
		early := p < 0.5
		if (st.Block == searchspace.FusedMBConv) == early {
			q += 0.012
		} else {
			q -= 0.012
		}
		if st.Kernel >= 5 {
			q += 0.003
		}
		switch {
		case st.Expand == 1:
			q -= 0.010
		case st.Expand <= 4 && early:
			q += 0.006
		case st.Expand >= 6 && !early:
			q += 0.008
		}
		q += 0.010 * math.Log(float64(st.Repeats))
	}
	macs := float64(acc.Total.MACs)
	accuracy := math.Min(0.99, math.Max(0.05, 0.45+q+0.03*math.Log(macs/1e6)))
	step := 6 * macs * 64 / 150e9
	hw := searchspace.OutSize(size, a.Stem.Stride)
	for _, b := range a.Blocks() {
		out := searchspace.OutSize(hw, b.Stride)
		step += 0.0002
		if b.Type == searchspace.MBConv {
			step += float64(b.Mid()*out*out) * 64 / 4e9
		}
		hw = out
	}
	st := measure.StepStats{Median: step, P10: step, P90: step, Mean: step, Count: 1}
	return measure.Metrics{Accuracy: accuracy, StepTime: st, Params: acc.Total.Params, ParamsTotal: acc.Total.ParamsTotal,
		MACs: acc.Total.MACs, ImageSize: size, Batch: 64}, nil
}
