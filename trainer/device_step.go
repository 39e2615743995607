package trainer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	G "gorgonia.org/gorgonia"

	"github.com/effnas/effnas/trainer/cuda"
	"github.com/effnas/effnas/trainer/cudaexec"
	"github.com/effnas/effnas/trainer/cudaops"
	"github.com/effnas/effnas/trainer/ops"
)

// devStep runs the training steps of a stepper on a GPU: the training
// graph compiled into one program, the parameters, their gradients and
// the optimizer state in three buffers of one layout (devNet), so that an
// update is one launch per weight-decay group. The host keeps the batch,
// the masks (drawn from the stepper's generator as on the CPU) and the
// solver's hyper-parameters and step count.
type devStep struct {
	d            *Device
	st           *stepper
	net          *devNet
	prog         *cudaexec.Program
	grads        cuda.Buffer
	slot1, slot2 cuda.Buffer // the solver's slot1 and slot2, in the devNet layout
	inputs       []*G.Node
	host         [][]float32 // the host data of inputs: fixed for the stepper's life
	loss         cuda.Buffer
	ev0, ev1     cuda.Event
	// keep copies the trained network and optimizer state back when the
	// stepper closes (not when measuring)
	keep bool
	// fixedInput uploads the batch once (measuring: the batch stays on
	// the device, as in the PyTorch reference)
	fixedInput, uploaded bool
	steps                int // since the last copy back
	last                 time.Duration
	lossOut              [1]float32
}

func newDevStep(d *Device, st *stepper) (ds *devStep, err error) {
	ds = &devStep{d: d, st: st, keep: true}
	sol := st.solver
	switch sol.kind {
	case RMSProp, Adam, SGD:
	default:
		return nil, fmt.Errorf("trainer: optimizer %q does not run on the GPU (rmsprop, adam and sgd do)", sol.kind)
	}
	gr := st.gr
	ds.inputs = []*G.Node{gr.X, gr.Y}
	ds.host = [][]float32{st.x, st.y}
	if gr.DropMask != nil {
		ds.inputs = append(ds.inputs, gr.DropMask)
		ds.host = append(ds.host, st.drop.Data().([]float32))
	}
	for i, m := range gr.DepthMasks {
		ds.inputs = append(ds.inputs, m.Node)
		ds.host = append(ds.host, st.depth[i].Data().([]float32))
	}
	err = d.do(func(c *cuda.Ctx) (err error) {
		defer func() {
			if err != nil {
				ds.free(c)
			}
		}()
		if ds.net, err = newDevNet(c, d.k, st.net); err != nil {
			return err
		}
		dn := ds.net
		if ds.grads, err = c.Alloc(dn.total); err != nil {
			return err
		}
		if ds.slot1, err = c.Alloc(dn.total); err != nil {
			return err
		}
		if sol.kind != SGD {
			if ds.slot2, err = c.Alloc(dn.total); err != nil {
				return err
			}
		}
		// the solver's state (zero for a new one) continues on the device
		for i := range st.net.Params {
			if err := c.Upload(dn.at(ds.slot1, i), sol.slot1[i]); err != nil {
				return err
			}
			if sol.slot2[i] != nil {
				if err := c.Upload(dn.at(ds.slot2, i), sol.slot2[i]); err != nil {
					return err
				}
			}
		}
		bound := map[*G.Node]cuda.Buffer{}
		into := map[*G.Node]cuda.Buffer{}
		outs := []*G.Node{gr.Loss}
		for i, p := range gr.Params {
			bound[p] = dn.param(i)
			g := p.Deriv()
			if g == nil {
				return fmt.Errorf("trainer: parameter %s has no gradient in the graph", p.Name())
			}
			into[g] = dn.at(ds.grads, i)
			outs = append(outs, g)
		}
		if ds.prog, err = cudaexec.Compile(c, d.k, gr.G, cudaexec.Spec{Inputs: ds.inputs, Bound: bound, Into: into, Outputs: outs,
			BatchNorm: dn.layer}); err != nil {
			return err
		}
		ds.loss, _ = ds.prog.Buffer(gr.Loss)
		if ds.ev0, err = c.NewEvent(); err != nil {
			return err
		}
		ds.ev1, err = c.NewEvent()
		return err
	})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// step runs one training step (forward, backward, update) in one
// Device.Do and returns the loss; the step's device time is in ds.last.
func (ds *devStep) step(lr float64) (float64, error) {
	return ds.run(lr, nil)
}

// run is step; with prof set, every instruction of the program is timed
// into it.
func (ds *devStep) run(lr float64, prof *[]cudaexec.OpTime) (float64, error) {
	ds.st.drawMasks()
	err := ds.d.do(func(c *cuda.Ctx) error {
		if err := c.Record(ds.ev0); err != nil {
			return err
		}
		for i, n := range ds.inputs {
			if i < 2 && ds.fixedInput && ds.uploaded {
				continue
			}
			b, _ := ds.prog.Buffer(n)
			if err := c.Upload(b, ds.host[i]); err != nil {
				return err
			}
		}
		ds.uploaded = true
		if prof != nil {
			p, err := ds.prog.Profile(c, cudaops.BNTrain)
			if err != nil {
				return err
			}
			*prof = p
		} else if err := ds.prog.Run(c, cudaops.BNTrain); err != nil {
			return err
		}
		if err := ds.update(c, lr); err != nil {
			return err
		}
		if err := c.Record(ds.ev1); err != nil {
			return err
		}
		if err := c.Download(ds.lossOut[:], ds.loss); err != nil {
			return err
		}
		d, err := c.Elapsed(ds.ev0, ds.ev1)
		ds.last = d
		return err
	})
	if err != nil {
		return 0, err
	}
	loss := float64(ds.lossOut[0])
	if !math.IsNaN(loss) && !math.IsInf(loss, 0) {
		// the update ran (the kernels skip it on a non-finite loss, as the
		// CPU solver is not called then)
		ds.st.solver.t++
		ds.steps++
	}
	return loss, nil
}

// update queues the solver's step over all parameters: one launch for
// those with weight decay, one for the rest. The loss guards it.
func (ds *devStep) update(c *cuda.Ctx, lr float64) error {
	o, dn, k := ds.st.solver, ds.net, ds.d.k
	guard := ds.loss
	for _, part := range [][2]int{{0, dn.decayN}, {dn.decayN, dn.total}} {
		off, n := part[0], part[1]-part[0]
		if n == 0 {
			continue
		}
		wd := float32(0)
		if off == 0 {
			wd = float32(o.weightDecay)
		}
		w, g, s1 := dn.params.Slice(off, n), ds.grads.Slice(off, n), ds.slot1.Slice(off, n)
		var err error
		switch o.kind {
		case RMSProp:
			// slot1 is the momentum, slot2 the mean square
			err = k.RMSPropStep(c, w, g, ds.slot2.Slice(off, n), s1, n, cudaops.RMSProp{LR: float32(lr), Decay: float32(o.decay),
				Momentum: float32(o.momentum), Eps: float32(o.eps), WeightDecay: wd, Guard: guard})
		case Adam:
			t := float64(o.t + 1)
			step := float32(lr * math.Sqrt(1-math.Pow(o.beta2, t)) / (1 - math.Pow(o.beta1, t)))
			err = k.AdamStep(c, w, g, s1, ds.slot2.Slice(off, n), n, cudaops.Adam{Step: step, Beta1: float32(o.beta1),
				Beta2: float32(o.beta2), Eps: float32(o.eps), WeightDecay: wd, Guard: guard})
		case SGD:
			err = k.SGDStep(c, w, g, s1, n, cudaops.SGD{LR: float32(lr), Momentum: float32(o.momentum), WeightDecay: wd, Guard: guard})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sync copies the trained parameters, the BatchNorm statistics and the
// optimizer state back to the network and its solver.
func (ds *devStep) sync() error {
	if ds.steps == 0 {
		return nil
	}
	err := ds.d.do(func(c *cuda.Ctx) error {
		dn, sol := ds.net, ds.st.solver
		if err := dn.downloadParams(c, ds.st.net); err != nil {
			return err
		}
		if err := dn.downloadStats(c, ds.st.net); err != nil {
			return err
		}
		for i := range ds.st.net.Params {
			if err := c.Download(sol.slot1[i], dn.at(ds.slot1, i)); err != nil {
				return err
			}
			if sol.slot2[i] != nil {
				if err := c.Download(sol.slot2[i], dn.at(ds.slot2, i)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil {
		ds.steps = 0
	}
	return err
}

// Close copies the trained network back (unless measuring) and frees
// the device memory; a failed copy is reported by the device's next use
// and by the training call (Device.lose). It makes devStep the
// stepper's G.VM, so the stepper closes it as it closes a tape machine.
func (ds *devStep) Close() error {
	if ds.keep {
		if err := ds.sync(); err != nil {
			ds.d.lose(err)
		}
	}
	if ds.d.k == nil {
		return nil
	}
	return ds.d.cu.Do(func(c *cuda.Ctx) error {
		ds.free(c)
		return nil
	})
}

// RunAll is not how a device step runs (devStep.step is).
func (ds *devStep) RunAll() error {
	return errors.New("trainer: a device step runs through its stepper")
}

// Reset does nothing: a device program has no state between runs.
func (ds *devStep) Reset() {}

func (ds *devStep) free(c *cuda.Ctx) {
	if ds.prog != nil {
		ds.prog.Free(c)
		ds.prog = nil
	}
	if ds.net != nil {
		ds.net.free(c)
		ds.net = nil
	}
	for _, b := range []*cuda.Buffer{&ds.grads, &ds.slot1, &ds.slot2} {
		c.Free(*b)
		*b = cuda.Buffer{}
	}
	c.FreeEvent(ds.ev0)
	c.FreeEvent(ds.ev1)
	ds.ev0, ds.ev1 = cuda.Event{}, cuda.Event{}
}

// devInfer runs an inference graph on a GPU: the weights as uploaded
// when it is made, the BatchNorm statistics mirrored from the network's
// layers at every run (and back after a run in a batch mode:
// recalibration), so it follows the host's mode switches and resets as
// the tape machine does.
type devInfer struct {
	d        *Device
	n        *Net
	inf      *inference
	net      *devNet
	prog     *cudaexec.Program
	xb, zb   cuda.Buffer
	out      []float32
	ev0, ev1 cuda.Event
	last     time.Duration
}

func newDevInfer(d *Device, n *Net, inf *inference) (di *devInfer, err error) {
	di = &devInfer{d: d, n: n, inf: inf, out: make([]float32, inf.gr.Batch*n.Arch.NumClasses)}
	gr := inf.gr
	err = d.do(func(c *cuda.Ctx) (err error) {
		defer func() {
			if err != nil {
				di.free(c)
			}
		}()
		if di.net, err = newDevNet(c, d.k, n); err != nil {
			return err
		}
		bound := map[*G.Node]cuda.Buffer{}
		for i, p := range gr.Params {
			bound[p] = di.net.param(i)
		}
		if di.prog, err = cudaexec.Compile(c, d.k, gr.G, cudaexec.Spec{Inputs: []*G.Node{gr.X}, Bound: bound,
			Outputs: []*G.Node{gr.Logits}, BatchNorm: di.net.layer}); err != nil {
			return err
		}
		di.xb, _ = di.prog.Buffer(gr.X)
		di.zb, _ = di.prog.Buffer(gr.Logits)
		if di.ev0, err = c.NewEvent(); err != nil {
			return err
		}
		di.ev1, err = c.NewEvent()
		return err
	})
	if err != nil {
		return nil, err
	}
	return di, nil
}

// mode is the BatchNorm mode of the network's layers (SetBNMode).
func (di *devInfer) mode() cudaops.BNMode {
	for _, bn := range di.n.BNs {
		switch {
		case bn.Recalibrate:
			return cudaops.BNRecalibrate
		case bn.Training:
			return cudaops.BNTrain
		}
	}
	return cudaops.BNEval
}

// run computes the logits of the batch in inf.x.
func (di *devInfer) run() ([]float32, error) {
	mode := di.mode()
	err := di.d.do(func(c *cuda.Ctx) error {
		if err := di.net.uploadStats(c, di.n); err != nil {
			return err
		}
		if err := c.Record(di.ev0); err != nil {
			return err
		}
		if err := c.Upload(di.xb, di.inf.x); err != nil {
			return err
		}
		if err := di.prog.Run(c, mode); err != nil {
			return err
		}
		if err := c.Record(di.ev1); err != nil {
			return err
		}
		if err := c.Download(di.out, di.zb); err != nil {
			return err
		}
		last, err := c.Elapsed(di.ev0, di.ev1)
		if err != nil {
			return err
		}
		di.last = last
		if mode != cudaops.BNEval {
			return di.net.downloadStats(c, di.n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), di.out...), nil
}

// Close frees the device memory (devInfer is the inference's G.VM).
func (di *devInfer) Close() error {
	if di.d.k == nil {
		return nil
	}
	return di.d.cu.Do(func(c *cuda.Ctx) error {
		di.free(c)
		return nil
	})
}

// RunAll is not how a device inference runs (devInfer.run is).
func (di *devInfer) RunAll() error {
	return errors.New("trainer: a device inference runs through its inference")
}

// Reset does nothing.
func (di *devInfer) Reset() {}

func (di *devInfer) free(c *cuda.Ctx) {
	if di.prog != nil {
		di.prog.Free(c)
		di.prog = nil
	}
	if di.net != nil {
		di.net.free(c)
		di.net = nil
	}
	c.FreeEvent(di.ev0)
	c.FreeEvent(di.ev1)
	di.ev0, di.ev1 = cuda.Event{}, cuda.Event{}
}

// deviceFor is the device a call with settings s runs on.
func (n *Net) deviceFor(s Settings) *Device {
	if s.Device != nil {
		return s.Device
	}
	return n.dev
}

// profileOn is Profile on a GPU: after the warm-up, steps with an event
// pair around every instruction give the device time per op and output
// shape; Step is the mean of as many steps timed without them.
func (n *Net) profileOn(ctx context.Context, d *Device, t Timing, s Settings) (OpProfile, error) {
	defer n.onDevice(d)()
	s = s.withDefaults()
	s.Device = nil
	defer n.SetBNMode(false, false)
	st, err := n.randomStepper(t, s)
	if err != nil {
		return OpProfile{}, err
	}
	defer st.close()
	st.dev.keep, st.dev.fixedInput = false, true
	steps := max(1, t.Steps)
	var total time.Duration
	sum := map[string]*ops.OpTime{}
	var order []string
	for i := 0; i < t.Warmup+2*steps; i++ {
		if err := ctx.Err(); err != nil {
			return OpProfile{}, err
		}
		var prof []cudaexec.OpTime
		var pp *[]cudaexec.OpTime
		if i >= t.Warmup+steps {
			pp = &prof
		}
		if _, err := st.dev.run(s.LR*1e-3, pp); err != nil {
			return OpProfile{}, err
		}
		if i >= t.Warmup && i < t.Warmup+steps {
			total += st.dev.last
		}
		for _, o := range prof {
			op, shape, _ := strings.Cut(o.Op, " ")
			key := o.Op
			if sum[key] == nil {
				sum[key] = &ops.OpTime{Op: op, Shape: shape}
				order = append(order, key)
			}
			sum[key].Total += o.Total
			sum[key].Calls += o.Calls
		}
	}
	p := OpProfile{Step: total / time.Duration(steps), Steps: steps}
	var in time.Duration
	for _, key := range order {
		o := *sum[key]
		o.Total /= time.Duration(steps)
		o.Calls /= steps
		in += o.Total
		p.Ops = append(p.Ops, o)
	}
	sort.SliceStable(p.Ops, func(i, j int) bool { return p.Ops[i].Total > p.Ops[j].Total })
	p.Other = max(0, p.Step-in)
	return p, nil
}
