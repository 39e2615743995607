package trainer

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/trainer/ops"
)

// Timing says how to time training steps (Net.Measure, Net.Profile): Warmup
// untimed steps, then Steps timed ones, at a batch and image size. Nothing
// is defaulted.
type Timing struct {
	Batch, ImageSize int
	Warmup, Steps    int
}

func (t Timing) validate() error {
	if t.Batch < 1 || t.ImageSize < 1 || t.Warmup < 0 || t.Steps < 0 {
		return fmt.Errorf("trainer: timing batch %d, image size %d, warm-up %d, steps %d: want a positive batch and size, the steps not negative",
			t.Batch, t.ImageSize, t.Warmup, t.Steps)
	}
	return nil
}

// Measure times training steps (forward, backward, update with s's
// optimizer) and forward passes of the network on random inputs, apart from
// training, and returns the timing part of a measurement: StepTime (with
// the heap allocations per step), ForwardTime, Params, ParamsTotal and MACs
// at the image size, Batch, ImageSize and Host. With s.Baseline set, the
// training steps are timed against the baseline, interleaved (see
// Interleave): t.Warmup untimed steps of each, then the bursts, which give
// StepTime, RelativeStepTime and Interleaved; t.Steps then counts only the
// forward passes. Parameters and BatchNorm statistics are restored
// afterwards, so measuring does not change the network. With s.Gate set,
// the graphs are built holding it shared and the timing holds it
// exclusively.
func (n *Net) Measure(ctx context.Context, t Timing, s Settings) (measure.Metrics, error) {
	if err := t.validate(); err != nil {
		return measure.Metrics{}, err
	}
	acc, err := n.Arch.Count(t.ImageSize, 0)
	if err != nil {
		return measure.Metrics{}, err
	}
	m := measure.Metrics{Params: acc.Total.Params, ParamsTotal: acc.Total.ParamsTotal, MACs: acc.Total.MACs,
		Batch: t.Batch, ImageSize: t.ImageSize}
	dev := n.deviceFor(s)
	defer n.onDevice(dev)()
	m.Host = HostInfoOn(dev)
	s = s.withDefaults()
	var tm *stepTimer
	var inf *inference
	err = shared(s.Gate, func() (err error) {
		if tm, err = n.newStepTimer(t, s); err != nil {
			return err
		}
		if inf, err = newInference(n, t.Batch, t.ImageSize); err != nil {
			tm.close()
		}
		return err
	})
	if err != nil {
		return m, err
	}
	defer shared(s.Gate, func() error { tm.close(); inf.vm.Close(); return nil })
	var base *stepTimer
	if b := s.Baseline; b != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		if base, err = b.stepTimer(t, s, dev); err != nil {
			return m, err
		}
	}
	if s.Gate != nil {
		s.Gate.Lock()
		defer s.Gate.Unlock()
	}
	return m, n.time(ctx, &m, tm, base, inf, t, s)
}

// time is Measure's timing, alone on the machine: the training steps
// (against base when given), then the forward passes.
func (n *Net) time(ctx context.Context, m *measure.Metrics, tm, base *stepTimer, inf *inference, t Timing, s Settings) error {
	for _, x := range []*stepTimer{tm, base} {
		if x != nil {
			if _, err := x.burst(ctx, t.Warmup); err != nil {
				return err
			}
		}
	}
	tm.steps, tm.allocs, tm.bytes = 0, 0, 0
	if base == nil {
		d, err := tm.burst(ctx, t.Steps)
		if err != nil {
			return err
		}
		m.StepTime = StatsOf(d)
	} else {
		rel, d, how, err := interleave(ctx, tm, base, s.Baseline.in)
		base.restore()
		if err != nil {
			return err
		}
		how.Against = s.Baseline.arch.Name
		m.StepTime, m.RelativeStepTime, m.Interleaved = StatsOf(d), rel, &how
	}
	m.StepTime.Allocs, m.StepTime.Bytes = tm.perStep()
	n.SetBNMode(false, false)
	copy(inf.x, tm.st.x)
	d := make([]time.Duration, 0, t.Steps)
	for i := 0; i < t.Warmup+t.Steps; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		if _, err := inf.run(); err != nil {
			return err
		}
		if i >= t.Warmup {
			if inf.dev != nil {
				d = append(d, inf.dev.last) // events around the pass
			} else {
				d = append(d, time.Since(start))
			}
		}
	}
	m.ForwardTime = StatsOf(d)
	return nil
}

// randomStepper builds a training graph fed with one seeded random batch
// (normal inputs, one-hot labels), in training mode.
func (n *Net) randomStepper(t Timing, s Settings) (*stepper, error) {
	st, err := newStepper(n, t.Batch, t.ImageSize, s, s.Seed^0x71e, nil)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(s.Seed, 0x7173))
	for i := range st.x {
		st.x[i] = float32(r.NormFloat64())
	}
	k := n.Arch.NumClasses
	for i := 0; i < t.Batch; i++ {
		st.y[i*k+r.IntN(k)] = 1
	}
	n.SetBNMode(true, false)
	return st, nil
}

// OpProfile is where a training step's time goes (Net.Profile).
type OpProfile struct {
	// Step is the mean wall time of a profiled step, Ops the mean time per
	// step in each op type and output shape of package ops (largest first);
	// Other is the rest (gorgonia's own ops, the update, scheduling).
	Step, Other time.Duration
	Ops         []ops.OpTime
	Steps       int
}

// OpTotal is the time per step of one op type over all its output shapes.
type OpTotal struct {
	Op    string
	Total time.Duration
	Calls int
}

// ByOp sums Ops by op type, largest first.
func (p OpProfile) ByOp() []OpTotal {
	var out []OpTotal
	at := map[string]int{}
	for _, o := range p.Ops {
		i, ok := at[o.Op]
		if !ok {
			i = len(out)
			at[o.Op] = i
			out = append(out, OpTotal{Op: o.Op})
		}
		out[i].Total += o.Total
		out[i].Calls += o.Calls
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Total > out[j].Total })
	return out
}

// Share is d as a percentage of the profiled step.
func (p OpProfile) Share(d time.Duration) float64 { return 100 * d.Seconds() / p.Step.Seconds() }

// Profile runs training steps on random inputs like Measure (at least one
// timed step), with per-op timing on (ops.SetTiming), and returns the mean
// time per step of each op. The timers add a little overhead, so Step is
// slightly above Measure's figure. Parameters and BatchNorm statistics are
// restored afterwards.
func (n *Net) Profile(ctx context.Context, t Timing, s Settings) (OpProfile, error) {
	if err := t.validate(); err != nil {
		return OpProfile{}, err
	}
	if d := n.deviceFor(s); d != nil {
		return n.profileOn(ctx, d, t, s)
	}
	s = s.withDefaults()
	saved := snapshot(n)
	defer saved.restore(n)
	defer n.SetBNMode(false, false)
	st, err := n.randomStepper(t, s)
	if err != nil {
		return OpProfile{}, err
	}
	defer st.close()
	steps := max(1, t.Steps)
	var total time.Duration
	for i := 0; i < t.Warmup+steps; i++ {
		if err := ctx.Err(); err != nil {
			return OpProfile{}, err
		}
		if i == t.Warmup {
			ops.ResetTimings()
			ops.SetTiming(true)
		}
		start := time.Now()
		_, err := st.step(s.LR * 1e-3)
		if i >= t.Warmup {
			total += time.Since(start)
		}
		if err != nil {
			ops.SetTiming(false)
			return OpProfile{}, err
		}
	}
	ops.SetTiming(false)
	p := OpProfile{Step: total / time.Duration(steps), Steps: steps, Ops: ops.Timings()}
	var sum time.Duration
	for i := range p.Ops {
		p.Ops[i].Total /= time.Duration(steps)
		p.Ops[i].Calls /= steps
		p.Ops[i].MACs /= int64(steps)
		sum += p.Ops[i].Total
	}
	p.Other = max(0, p.Step-sum)
	return p, nil
}

// WriteTable writes the profile as "nas bench --layers" shows it: the
// time per step of each op type with its share and calls, then the 15
// largest entries by op type and output shape, with the achieved GFLOP/s
// of the convolutions.
func (p OpProfile) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "profiled step (timers on, %d steps): %.2f ms\n%-24s %9s %6s %6s\n", p.Steps, p.Step.Seconds()*1e3, "op", "ms/step", "share", "calls")
	for _, o := range p.ByOp() {
		fmt.Fprintf(w, "%-24s %9.2f %5.1f%% %6d\n", o.Op, o.Total.Seconds()*1e3, p.Share(o.Total), o.Calls)
	}
	fmt.Fprintf(w, "%-24s %9.2f %5.1f%%\n", "other (gorgonia, update)", p.Other.Seconds()*1e3, p.Share(p.Other))
	fmt.Fprintf(w, "\nlargest by op and output shape (GFLOP/s for convolutions, 2 FLOP per multiply-add):\n")
	for _, o := range p.Ops[:min(15, len(p.Ops))] {
		rate := ""
		if g := o.GFLOPS(); g > 0 {
			rate = fmt.Sprintf("%7.1f GFLOP/s", g)
		}
		if _, err := fmt.Fprintf(w, "%-24s %-16s %9.2f %5.1f%% %s\n", o.Op, o.Shape, o.Total.Seconds()*1e3, p.Share(o.Total), rate); err != nil {
			return err
		}
	}
	return nil
}
