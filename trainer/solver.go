package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/effnas/effnas/trainer/kernels"
)

// Optimizer names.
const (
	RMSProp = "rmsprop"
	Adam    = "adam"
	SGD     = "sgd"
)

// solver updates parameters in place from their gradients. gorgonia's
// RMSProp has no momentum term (the official recipe uses momentum 0.9) and
// its solvers apply weight decay to every parameter, so the trainer owns
// its update rules.
type solver struct {
	kind                 string
	lr                   float64
	momentum, decay, eps float64
	beta1, beta2         float64
	weightDecay          float64
	t                    int
	slot1, slot2         [][]float32 // per parameter: momentum/ms or Adam m/v
	params               []*Param
	chunks               []solverRange // step's parallel tasks, made on first use
}

// TrainState is what continues from one Net.Train call to the next when
// Settings.State carries it (progressive learning, a run resumed from a
// checkpoint): the optimizer state (RMSProp mean square and momentum, Adam
// moments and step count, SGD momentum), the generator of the dropout and
// stochastic-depth masks, and the augmentation generator where the last
// call stopped. None of it depends on the image size. The zero value is
// empty: the first Net.Train call that uses it fills it for its network
// and optimizer; later calls must train the same network with the same
// optimizer. A TrainState is not safe for concurrent use.
type TrainState struct {
	solver *solver
	rng    *rand.Rand
	src    *rand.PCG // rng's source, whose state checkpoints save
	// aug is the augmentation generator's source as the last call left
	// it, to be continued by a call that starts at the run's step augStep
	// in the middle of an epoch (at an epoch's start the generator is
	// drawn afresh from the seed and the epoch).
	aug     *rand.PCG
	augStep int
}

// augAt returns a copy of the augmentation source the state holds for the
// run's step, or nil.
func (ts *TrainState) augAt(step int) *rand.PCG {
	if ts == nil || ts.aug == nil || ts.augStep != step {
		return nil
	}
	c := *ts.aug
	return &c
}

// keepAug records the augmentation source at the run's step (a copy).
func (ts *TrainState) keepAug(src *rand.PCG, step int) {
	if ts == nil || src == nil {
		return
	}
	c := *src
	ts.aug, ts.augStep = &c, step
}

// Steps is the number of optimizer updates applied through the state.
func (ts *TrainState) Steps() int {
	if ts == nil || ts.solver == nil {
		return 0
	}
	return ts.solver.t
}

// attach returns the state's solver for params, creating it on first use,
// with the hyper-parameters of s (the learning rate comes from the
// schedule at each step).
func (ts *TrainState) attach(s Settings, params []*Param, seed uint64) (*solver, *rand.Rand, error) {
	if ts.solver == nil {
		sol, err := newSolver(s, params)
		if err != nil {
			return nil, nil, err
		}
		ts.solver = sol
		ts.src = rand.NewPCG(seed, 0xd40)
		ts.rng = rand.New(ts.src)
		return sol, ts.rng, nil
	}
	o := ts.solver
	if kind := strings.ToLower(s.Optimizer); kind != o.kind {
		return nil, nil, fmt.Errorf("trainer: training state is for optimizer %s, settings ask for %s", o.kind, kind)
	}
	if len(params) != len(o.params) {
		return nil, nil, fmt.Errorf("trainer: training state is for %d parameters, the network has %d", len(o.params), len(params))
	}
	for i, p := range params {
		if p.Size() != len(o.slot1[i]) {
			return nil, nil, fmt.Errorf("trainer: training state: parameter %s has %d values, the state %d", p.Name, p.Size(), len(o.slot1[i]))
		}
	}
	o.params, o.chunks = params, nil
	o.lr, o.momentum, o.decay, o.eps, o.weightDecay = s.LR, s.Momentum, s.RMSDecay, s.Epsilon, s.WeightDecay
	return o, ts.rng, nil
}

func newSolver(s Settings, params []*Param) (*solver, error) {
	o := &solver{kind: strings.ToLower(s.Optimizer), lr: s.LR, momentum: s.Momentum, decay: s.RMSDecay,
		eps: s.Epsilon, beta1: 0.9, beta2: 0.999, weightDecay: s.WeightDecay, params: params}
	switch o.kind {
	case RMSProp, SGD, Adam:
	default:
		return nil, fmt.Errorf("trainer: optimizer %q unknown (allowed: rmsprop, adam, sgd)", s.Optimizer)
	}
	o.slot1 = make([][]float32, len(params))
	o.slot2 = make([][]float32, len(params))
	for i, p := range params {
		o.slot1[i] = make([]float32, p.Size())
		if o.kind != SGD {
			o.slot2[i] = make([]float32, p.Size())
		}
	}
	return o, nil
}

// step applies one update with learning rate lr to every parameter whose
// gradient is in grads (same order as params), then zeroes the gradients
// (gorgonia accumulates them across runs). Every element is updated on its
// own, so the parameters are cut into chunks that the kernels' team runs in
// parallel (the results do not depend on how).
func (o *solver) step(lr float64, grads [][]float32) {
	o.t++
	if o.chunks == nil {
		for i, p := range o.params {
			for lo := 0; lo < p.Size(); lo += solverChunk {
				o.chunks = append(o.chunks, solverRange{i, lo, min(p.Size(), lo+solverChunk)})
			}
		}
	}
	kernels.Parallel(len(o.chunks), func(_, c int) {
		r := o.chunks[c]
		o.update(lr, r.param, r.lo, r.hi, grads[r.param])
	})
}

// solverChunk is the number of elements per parallel task of step.
const solverChunk = 1 << 14

// solverRange is elements [lo, hi) of parameter param.
type solverRange struct{ param, lo, hi int }

// update applies the update to elements [lo, hi) of parameter i.
func (o *solver) update(lr float64, i, lo, hi int, grad []float32) {
	p := o.params[i]
	w := p.Value.Data().([]float32)[lo:hi]
	g := grad[lo:hi]
	wd := float32(o.weightDecay)
	decays := wd != 0 && p.Kind.Decays()
	s1 := o.slot1[i][lo:hi]
	var s2 []float32
	if o.slot2[i] != nil {
		s2 = o.slot2[i][lo:hi]
	}
	switch o.kind {
	case RMSProp:
		// TensorFlow's form (ApplyRMSProp, the official optimizer):
		// ms = rho*ms + (1-rho)*g^2; mom = momentum*mom +
		// lr*g/sqrt(ms+eps); w -= mom. The epsilon sits inside the
		// square root (PyTorch adds it outside); with eps 1e-3 this
		// caps the step of a parameter whose gradients are small at
		// lr*g/sqrt(eps) rather than lr*g/eps.
		rho, m, e, l := float32(o.decay), float32(o.momentum), float32(o.eps), float32(lr)
		for j, gj := range g {
			if decays {
				gj += wd * w[j]
			}
			s2[j] = rho*s2[j] + (1-rho)*gj*gj
			s1[j] = m*s1[j] + l*gj/float32(math.Sqrt(float64(s2[j]+e)))
			w[j] -= s1[j]
		}
	case Adam:
		b1, b2, e, l := float32(o.beta1), float32(o.beta2), float32(o.eps), lr
		c1 := 1 - math.Pow(o.beta1, float64(o.t))
		c2 := 1 - math.Pow(o.beta2, float64(o.t))
		step := float32(l * math.Sqrt(c2) / c1)
		for j, gj := range g {
			if decays {
				gj += wd * w[j]
			}
			s1[j] = b1*s1[j] + (1-b1)*gj
			s2[j] = b2*s2[j] + (1-b2)*gj*gj
			w[j] -= step * s1[j] / (float32(math.Sqrt(float64(s2[j]))) + e)
		}
	case SGD:
		m, l := float32(o.momentum), float32(lr)
		for j, gj := range g {
			if decays {
				gj += wd * w[j]
			}
			s1[j] = m*s1[j] + gj
			w[j] -= l * s1[j]
		}
	}
	clear(g)
}

// schedule is the learning rate at a step: linear warm-up from 0, then
// constant, cosine decay to 0, or the official exponential decay (x0.97
// every 2.4 epochs).
// Step and total count over the whole run (Budget.StepOffset and
// TotalSteps), so a schedule continues across Net.Train calls.
func schedule(s Settings, step, total, stepsPerEpoch int) float64 {
	warm := int(s.WarmupEpochs * float64(stepsPerEpoch))
	if step < warm {
		return s.LR * float64(step+1) / float64(warm)
	}
	switch s.Schedule {
	case "cosine":
		span := max(1, total-warm)
		return s.LR * 0.5 * (1 + math.Cos(math.Pi*float64(step-warm)/float64(span)))
	case "exponential":
		epochs := float64(step-warm) / float64(max(1, stepsPerEpoch))
		return s.LR * math.Pow(0.97, math.Floor(epochs/2.4))
	}
	return s.LR
}
