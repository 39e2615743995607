package trainer

import (
	"context"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/effnas/effnas/trainer/ops"
)

// MeasureStep times training steps (forward, backward, update) and forward
// passes of the network at a batch and image size, on random inputs, apart
// from training: warmup untimed steps, then steps timed ones. Parameters and
// BatchNorm statistics are restored afterwards, so measuring does not change
// the network. With s.Gate set, it holds the gate exclusively throughout.
func MeasureStep(ctx context.Context, net *Net, batch, size, warmup, steps int, s Settings) (train, forward Stats, err error) {
	s = s.withDefaults()
	saved := snapshot(net)
	defer saved.restore(net)
	if s.Gate != nil {
		s.Gate.Lock()
		defer s.Gate.Unlock()
	}
	st, err := newStepper(net, batch, size, s, s.Seed^0x71e, nil)
	if err != nil {
		return
	}
	defer st.close()
	r := rand.New(rand.NewPCG(s.Seed, 0x7173))
	for i := range st.x {
		st.x[i] = float32(r.NormFloat64())
	}
	k := net.Arch.NumClasses
	for i := 0; i < batch; i++ {
		st.y[i*k+r.IntN(k)] = 1
	}
	net.SetBNMode(true, false)
	d := make([]time.Duration, 0, steps)
	var m0, m1 runtime.MemStats
	for i := 0; i < warmup+steps; i++ {
		if err = ctx.Err(); err != nil {
			return
		}
		if i == warmup {
			runtime.ReadMemStats(&m0)
		}
		t := time.Now()
		if _, err = st.step(s.LR * 1e-3); err != nil {
			return
		}
		if i >= warmup {
			d = append(d, time.Since(t))
		}
	}
	runtime.ReadMemStats(&m1)
	train = StatsOf(d)
	if steps > 0 {
		train.Allocs = float64(m1.Mallocs-m0.Mallocs) / float64(steps)
		train.Bytes = float64(m1.TotalAlloc-m0.TotalAlloc) / float64(steps)
	}
	net.SetBNMode(false, false)
	inf, err := newInference(net, batch, size)
	if err != nil {
		return
	}
	defer inf.vm.Close()
	copy(inf.x, st.x)
	d = d[:0]
	for i := 0; i < warmup+steps; i++ {
		t := time.Now()
		if _, err = inf.run(); err != nil {
			return
		}
		if i >= warmup {
			d = append(d, time.Since(t))
		}
	}
	forward = StatsOf(d)
	return
}

// OpProfile is where a training step's time goes (ProfileStep).
type OpProfile struct {
	// Step is the mean wall time of a profiled step, Ops the mean time per
	// step in each op type and output shape of package ops (largest first);
	// Other is the rest (gorgonia's own ops, the update, scheduling).
	Step, Other time.Duration
	Ops         []ops.OpTime
	Steps       int
}

// ProfileStep runs warmup untimed and steps profiled training steps on
// random inputs, like MeasureStep, with per-op timing on (ops.SetTiming),
// and returns the mean time per step of each op. The timers add a little
// overhead, so Step is slightly above MeasureStep's figure. Parameters and
// BatchNorm statistics are restored afterwards.
func ProfileStep(ctx context.Context, net *Net, batch, size, warmup, steps int, s Settings) (OpProfile, error) {
	s = s.withDefaults()
	saved := snapshot(net)
	defer saved.restore(net)
	defer net.SetBNMode(false, false)
	st, err := newStepper(net, batch, size, s, s.Seed^0x71e, nil)
	if err != nil {
		return OpProfile{}, err
	}
	defer st.close()
	r := rand.New(rand.NewPCG(s.Seed, 0x7173))
	for i := range st.x {
		st.x[i] = float32(r.NormFloat64())
	}
	k := net.Arch.NumClasses
	for i := 0; i < batch; i++ {
		st.y[i*k+r.IntN(k)] = 1
	}
	net.SetBNMode(true, false)
	steps = max(1, steps)
	var total time.Duration
	for i := 0; i < warmup+steps; i++ {
		if err := ctx.Err(); err != nil {
			return OpProfile{}, err
		}
		if i == warmup {
			ops.ResetTimings()
			ops.SetTiming(true)
		}
		t := time.Now()
		_, err := st.step(s.LR * 1e-3)
		if i >= warmup {
			total += time.Since(t)
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
