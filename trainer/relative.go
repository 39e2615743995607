package trainer

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/searchspace"
	"gorgonia.org/tensor"
)

// Step time relative to a baseline network.
//
// On a machine where other programs run, a step time measured once is only
// as good as the machine was quiet at that moment, and a baseline measured
// once at the start of a search is compared with trials measured under
// other loads. A relative measurement times the network and a baseline
// network in short alternating bursts (ABAB...): load that comes and goes
// falls on both alike and cancels out of their ratio. Each pair of bursts
// gives a ratio of medians; the relative step time is the median of the
// ratios, and their spread (the median absolute deviation over the median)
// is its noise. A timing whose noise is above Interleave.MaxNoise is
// repeated, at most Interleave.MaxRetimes times, and the least noisy one
// kept; the measurement says how often (measure.Interleaved).

// Interleave says how a step time is measured against a baseline. Zero
// fields take the defaults written next to them.
type Interleave struct {
	Pairs      int     // pairs of bursts (6)
	Burst      int     // timed steps per burst (3)
	MaxNoise   float64 // re-time while the noise is above it (0.05)
	MaxRetimes int     // at most this many re-timings (2; negative: none)
}

func (in Interleave) withDefaults() Interleave {
	if in.Pairs <= 0 {
		in.Pairs = 6
	}
	if in.Burst <= 0 {
		in.Burst = 3
	}
	if in.MaxNoise <= 0 {
		in.MaxNoise = 0.05
	}
	if in.MaxRetimes == 0 {
		in.MaxRetimes = 2
	} else if in.MaxRetimes < 0 {
		in.MaxRetimes = 0
	}
	return in
}

// Baseline is a network that step times are measured against
// (Settings.Baseline). It is built on first use at the timing's batch and
// image size and kept built, so that each measurement only re-times it; its
// weights (drawn from seed 1) are restored after every measurement, and only
// its timing is used. Measurements that share a Baseline take turns.
type Baseline struct {
	arch searchspace.Arch
	in   Interleave

	mu          sync.Mutex
	net         *Net
	timer       *stepTimer
	batch, size int
	dev         *Device // where the timer runs (nil: the CPU)
}

// NewBaseline returns a baseline of architecture a, timed as in says.
func NewBaseline(a searchspace.Arch, in Interleave) *Baseline {
	return &Baseline{arch: a, in: in.withDefaults()}
}

// Arch is the baseline's architecture.
func (b *Baseline) Arch() searchspace.Arch { return b.arch }

// stepTimer returns the baseline's timer for t, building the network and
// graph (holding s.Gate shared) when there is none for t's batch and size.
// The caller holds b.mu.
func (b *Baseline) stepTimer(t Timing, s Settings, dev *Device) (*stepTimer, error) {
	if b.timer != nil && b.batch == t.Batch && b.size == t.ImageSize && b.dev == dev {
		return b.timer, nil
	}
	return b.timer, shared(s.Gate, func() (err error) {
		if b.timer != nil {
			b.timer.close()
			b.timer = nil
		}
		if b.net == nil {
			if b.net, err = NewNet(b.arch, tensor.Float32, 1); err != nil {
				return fmt.Errorf("baseline %s: %w", b.arch.Name, err)
			}
		}
		s.Seed = 1
		defer b.net.onDevice(dev)()
		if b.timer, err = b.net.newStepTimer(t, s); err != nil {
			return fmt.Errorf("baseline %s: %w", b.arch.Name, err)
		}
		b.batch, b.size, b.dev = t.Batch, t.ImageSize, dev
		return nil
	})
}

// stepTimer runs timed training steps of a network on one seeded random
// batch (forward, backward and an update at a thousandth of the learning
// rate), counting the heap allocations of the timed steps.
type stepTimer struct {
	net           *Net
	st            *stepper
	lr            float64
	saved         netSnapshot
	steps         int
	allocs, bytes uint64
}

// newStepTimer builds a timer; the network is in training mode until
// close restores it.
func (n *Net) newStepTimer(t Timing, s Settings) (*stepTimer, error) {
	saved := snapshot(n)
	st, err := n.randomStepper(t, s)
	if err != nil {
		return nil, err
	}
	if st.dev != nil {
		// on a GPU: the batch stays there, and nothing is copied back
		st.dev.keep, st.dev.fixedInput = false, true
	}
	return &stepTimer{net: n, st: st, lr: s.LR * 1e-3, saved: saved}, nil
}

// burst runs steps timed steps and returns their durations.
func (tm *stepTimer) burst(ctx context.Context, steps int) ([]time.Duration, error) {
	d := make([]time.Duration, 0, steps)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range steps {
		if err := ctx.Err(); err != nil {
			return d, err
		}
		start := time.Now()
		if _, err := tm.st.step(tm.lr); err != nil {
			return d, err
		}
		if tm.st.dev != nil {
			d = append(d, tm.st.dev.last) // events around the step
		} else {
			d = append(d, time.Since(start))
		}
	}
	runtime.ReadMemStats(&m1)
	tm.steps += steps
	tm.allocs += m1.Mallocs - m0.Mallocs
	tm.bytes += m1.TotalAlloc - m0.TotalAlloc
	return d, nil
}

// perStep is the mean heap allocations and bytes of the timed steps.
func (tm *stepTimer) perStep() (allocs, bytes float64) {
	if tm.steps == 0 {
		return 0, 0
	}
	return float64(tm.allocs) / float64(tm.steps), float64(tm.bytes) / float64(tm.steps)
}

// restore puts back the network's parameters and BatchNorm statistics.
func (tm *stepTimer) restore() { tm.saved.restore(tm.net) }

// close restores the network and frees the graph.
func (tm *stepTimer) close() {
	tm.restore()
	tm.st.close()
	tm.net.SetBNMode(false, false)
}

// burster runs timed training steps of one network (a stepTimer; fakes in
// tests).
type burster interface {
	burst(ctx context.Context, steps int) ([]time.Duration, error)
}

// interleaved is one relative timing.
type interleaved struct {
	relative          float64
	trial, base       []time.Duration
	ratios            []float64
	noise             float64
	pairs, burstSteps int
}

// interleave times a against b (see the comment at the top of the file),
// both warmed up, and returns a's relative step time and step times, and
// how they were measured (with b's step times).
func interleave(ctx context.Context, a, b burster, in Interleave) (float64, []time.Duration, measure.Interleaved, error) {
	in = in.withDefaults()
	var best interleaved
	tries := 0
	for tries <= in.MaxRetimes {
		tries++
		r := interleaved{ratios: make([]float64, in.Pairs), pairs: in.Pairs, burstSteps: in.Burst}
		for p := range in.Pairs {
			da, err := a.burst(ctx, in.Burst)
			if err != nil {
				return 0, nil, measure.Interleaved{}, err
			}
			db, err := b.burst(ctx, in.Burst)
			if err != nil {
				return 0, nil, measure.Interleaved{}, err
			}
			r.ratios[p] = medianOf(da) / medianOf(db)
			r.trial, r.base = append(r.trial, da...), append(r.base, db...)
		}
		r.relative, r.noise = spread(r.ratios)
		if tries == 1 || r.noise < best.noise {
			best = r
		}
		if r.noise <= in.MaxNoise {
			break
		}
	}
	return best.relative, best.trial, measure.Interleaved{Baseline: StatsOf(best.base), Pairs: best.pairs, Burst: best.burstSteps,
		Ratios: best.ratios, Noise: best.noise, MaxNoise: in.MaxNoise, Retimed: tries - 1}, nil
}

// medianOf is the median of durations, in seconds.
func medianOf(d []time.Duration) float64 { return StatsOf(d).Median }

// spread returns the median of xs and their median absolute deviation
// relative to it.
func spread(xs []float64) (median, noise float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	median = quantile(s, 0.5)
	for i, x := range xs {
		s[i] = math.Abs(x - median)
	}
	slices.Sort(s)
	return median, quantile(s, 0.5) / median
}
