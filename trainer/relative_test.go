package trainer

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

// fakeMachine is a fake clock with load that comes and goes: every
// period, the machine is loaded for the first loaded part of it, and every
// step then takes factor times as long. With erratic set, every step is
// instead slowed down by a random factor from 1 to factor.
type fakeMachine struct {
	now, period, loaded time.Duration
	factor              float64
	erratic             *rand.Rand
}

func (m *fakeMachine) step(cost time.Duration) time.Duration {
	d := cost
	switch {
	case m.erratic != nil:
		d = time.Duration(float64(cost) * (1 + (m.factor-1)*m.erratic.Float64()))
	case m.now%m.period < m.loaded:
		d = time.Duration(float64(cost) * m.factor)
	}
	m.now += d
	return d
}

// fakeNet is a network whose step costs cost on the fake machine.
type fakeNet struct {
	m    *fakeMachine
	cost time.Duration
}

func (f fakeNet) burst(_ context.Context, n int) ([]time.Duration, error) {
	d := make([]time.Duration, n)
	for i := range d {
		d[i] = f.m.step(f.cost)
	}
	return d, nil
}

// A network 1.5 times slower than the baseline, on a machine loaded 3 s of
// every 4 s (steps then 3 times slower): the bursts of a pair almost always
// see the same load, so the relative time is 1.5, while the absolute step
// times are those of the loaded machine.
func TestInterleaveCancelsLoad(t *testing.T) {
	m := &fakeMachine{period: 4 * time.Second, loaded: 3 * time.Second, factor: 3}
	trial, base := fakeNet{m, 150 * time.Millisecond}, fakeNet{m, 100 * time.Millisecond}
	rel, d, how, err := interleave(context.Background(), trial, base, Interleave{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(rel-1.5) > 1e-9 || how.Pairs != 6 || how.Burst != 3 || len(how.Ratios) != 6 || len(d) != 18 || how.Baseline.Count != 18 {
		t.Fatalf("relative %v, %+v, %d trial steps", rel, how, len(d))
	}
	if trialMedian := StatsOf(d).Median; math.Abs(trialMedian-0.45) > 1e-9 || math.Abs(how.Baseline.Median-0.3) > 1e-9 {
		t.Fatalf("absolute medians %v and %v s: want the loaded 0.45 and 0.3 (the absolute times follow the load)", trialMedian, how.Baseline.Median)
	}
	if how.Noise > how.MaxNoise || how.Retimed != 0 || how.MaxNoise != 0.05 {
		t.Fatalf("noise %v (max %v), retimed %d", how.Noise, how.MaxNoise, how.Retimed)
	}

	// The same network measured alone once, on the same machine, would
	// have looked 3 times slower or not, by chance of when.
	quiet := &fakeMachine{period: 4 * time.Second, loaded: 0, factor: 3}
	rel, d, _, _ = interleave(context.Background(), fakeNet{quiet, 150 * time.Millisecond}, fakeNet{quiet, 100 * time.Millisecond}, Interleave{})
	if math.Abs(rel-1.5) > 1e-9 || math.Abs(StatsOf(d).Median-0.15) > 1e-9 {
		t.Fatalf("quiet machine: relative %v, trial median %v", rel, StatsOf(d).Median)
	}
}

// Load that changes from step to step makes the ratios disagree: the
// timing is repeated MaxRetimes times and says so, keeping the least noisy
// timing.
func TestInterleaveRetimesNoisyBursts(t *testing.T) {
	erratic := func() *fakeMachine { return &fakeMachine{factor: 4, erratic: rand.New(rand.NewPCG(1, 2))} }
	m := erratic()
	rel, _, how, err := interleave(context.Background(), fakeNet{m, 120 * time.Millisecond}, fakeNet{m, 100 * time.Millisecond},
		Interleave{MaxNoise: 0.01, MaxRetimes: 3})
	if err != nil {
		t.Fatal(err)
	}
	if how.Retimed != 3 || !(how.Noise > 0.01) || !(rel > 0) {
		t.Fatalf("relative %v, noise %v, retimed %d", rel, how.Noise, how.Retimed)
	}
	// The same 4 timings one by one, on the same machines.
	m = erratic()
	a, b := fakeNet{m, 120 * time.Millisecond}, fakeNet{m, 100 * time.Millisecond}
	least := math.Inf(1)
	for range 4 {
		_, _, h, _ := interleave(context.Background(), a, b, Interleave{MaxNoise: 0.01, MaxRetimes: -1})
		if h.Retimed != 0 {
			t.Fatalf("MaxRetimes -1: retimed %d", h.Retimed)
		}
		least = min(least, h.Noise)
	}
	if how.Noise != least {
		t.Fatalf("kept noise %v, the least of the timings is %v", how.Noise, least)
	}
	// By default a noisy timing is repeated twice.
	m = erratic()
	if _, _, h, _ := interleave(context.Background(), fakeNet{m, 120 * time.Millisecond}, fakeNet{m, 100 * time.Millisecond},
		Interleave{MaxNoise: 0.01}); h.Retimed != 2 {
		t.Fatalf("default: retimed %d, want 2", h.Retimed)
	}
}

func TestMeasureAgainstBaseline(t *testing.T) {
	a := tinyBackbone()
	net, err := NewNet(a, tensor.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	big := a.Clone()
	big.Name, big.HeadChannels = "tiny-wide", 256
	b := NewBaseline(big, Interleave{Pairs: 4, Burst: 2})
	tm := Timing{Batch: 8, ImageSize: a.TrainSize(), Warmup: 1, Steps: 2}
	for range 2 { // the second measurement reuses the baseline's graph
		m, err := net.Measure(context.Background(), tm, Settings{Seed: 1, Baseline: b})
		if err != nil {
			t.Fatal(err)
		}
		iv := m.Interleaved
		if iv == nil || iv.Against != "tiny-wide" || iv.Pairs != 4 || iv.Burst != 2 || len(iv.Ratios) != 4 || iv.Baseline.Count < 8 ||
			m.StepTime.Count != iv.Baseline.Count || m.ForwardTime.Count != 2 || !(m.StepTime.Allocs > 0) {
			t.Fatalf("measurement %+v, interleaved %+v", m, iv)
		}
		if r := m.RelativeStepTime; !(r > 0) || math.IsInf(r, 0) {
			t.Fatalf("relative step time %v", r)
		}
	}
	before := append([]float32(nil), b.net.Params[0].Value.Data().([]float32)...)
	if _, err := net.Measure(context.Background(), tm, Settings{Seed: 1, Baseline: b}); err != nil {
		t.Fatal(err)
	}
	for i, v := range b.net.Params[0].Value.Data().([]float32) {
		if v != before[i] {
			t.Fatal("measuring changed the baseline's weights")
		}
	}
}
