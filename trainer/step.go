package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/effnas/effnas/trainer/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// stepper runs training steps of one graph.
type stepper struct {
	net    *Net
	gr     *Graph
	vm     G.VM
	solver *solver
	x, y   []float32
	xt, yt *tensor.Dense
	drop   *tensor.Dense
	depth  []*tensor.Dense
	grads  [][]float32
	rng    *rand.Rand
	dev    *devStep // the step on a GPU (device_step.go), nil on the CPU
}

// newStepper builds a training graph; with state it continues (and
// updates) the state's solver and mask generator, else it starts afresh.
func newStepper(net *Net, batch, size int, s Settings, seed uint64, state *TrainState) (*stepper, error) {
	if state == nil {
		state = &TrainState{}
	}
	sol, rng, err := state.attach(s, net.Params, seed)
	if err != nil {
		return nil, err
	}
	gr, err := net.Build(batch, size, true)
	if err != nil {
		return nil, err
	}
	a := net.Arch
	st := &stepper{net: net, gr: gr, solver: sol, rng: rng,
		x: make([]float32, batch*size*size*a.InputChannels), y: make([]float32, batch*a.NumClasses)}
	st.xt = tensor.New(tensor.WithShape(batch, size, size, a.InputChannels), tensor.WithBacking(st.x))
	st.yt = tensor.New(tensor.WithShape(batch, a.NumClasses), tensor.WithBacking(st.y))
	if gr.DropMask != nil {
		st.drop = tensor.New(tensor.WithShape(batch, a.HeadChannels), tensor.Of(tensor.Float32))
	}
	for range gr.DepthMasks {
		st.depth = append(st.depth, tensor.New(tensor.WithShape(batch), tensor.Of(tensor.Float32)))
	}
	if net.dev != nil {
		if st.dev, err = newDevStep(net.dev, st); err != nil {
			return nil, err
		}
		st.vm = st.dev
		return st, nil
	}
	st.vm = G.NewTapeMachine(gr.G, G.BindDualValues(gr.Params...), G.WithEngine(ops.Engine))
	st.grads = make([][]float32, len(net.Params))
	return st, nil
}

func (st *stepper) close() { st.vm.Close() }

// step runs forward, backward and the update on the batch in st.x, st.y.
func (st *stepper) step(lr float64) (float64, error) {
	if st.dev != nil {
		return st.dev.step(lr)
	}
	gr := st.gr
	if err := G.Let(gr.X, st.xt); err != nil {
		return 0, err
	}
	if err := G.Let(gr.Y, st.yt); err != nil {
		return 0, err
	}
	st.drawMasks()
	if st.drop != nil {
		if err := G.Let(gr.DropMask, st.drop); err != nil {
			return 0, err
		}
	}
	for i, dm := range gr.DepthMasks {
		if err := G.Let(dm.Node, st.depth[i]); err != nil {
			return 0, err
		}
	}
	if err := st.vm.RunAll(); err != nil {
		st.vm.Reset()
		return 0, err
	}
	loss := scalar(gr.lossV)
	for i, n := range gr.Params {
		g, err := n.Grad()
		if err != nil {
			st.vm.Reset()
			return 0, fmt.Errorf("gradient of %s: %w", n.Name(), err)
		}
		st.grads[i] = g.Data().([]float32)
	}
	if !math.IsNaN(loss) && !math.IsInf(loss, 0) {
		st.solver.step(lr, st.grads)
	} else {
		for _, g := range st.grads {
			clear(g)
		}
	}
	st.vm.Reset()
	return loss, nil
}

// drawMasks draws the step's dropout and drop-connect masks, in the order
// the CPU and the device steps share (the same seed, the same masks).
func (st *stepper) drawMasks() {
	if st.drop != nil {
		fillMask(st.drop.Data().([]float32), 1-st.net.Arch.Dropout, st.rng)
	}
	for i, dm := range st.gr.DepthMasks {
		fillMask(st.depth[i].Data().([]float32), dm.Survival, st.rng)
	}
}

// fillMask draws 0 or 1/keep per entry (inverted dropout).
func fillMask(m []float32, keep float64, r *rand.Rand) {
	v := float32(1 / keep)
	for i := range m {
		if r.Float64() < keep {
			m[i] = v
		} else {
			m[i] = 0
		}
	}
}

func scalar(v G.Value) float64 {
	switch t := v.(type) {
	case *G.F32:
		return float64(*t)
	case *G.F64:
		return float64(*t)
	case tensor.Tensor:
		switch d := t.Data().(type) {
		case float32:
			return float64(d)
		case float64:
			return d
		case []float32:
			return float64(d[0])
		case []float64:
			return d[0]
		}
	}
	return math.NaN()
}

// inference runs a forward-only graph.
type inference struct {
	gr *Graph
	vm G.VM
	x  []float32
	xt *tensor.Dense
	// dev runs it on a GPU (device_step.go), nil on the CPU
	dev *devInfer
}

func newInference(net *Net, batch, size int) (*inference, error) {
	gr, err := net.Build(batch, size, false)
	if err != nil {
		return nil, err
	}
	inf := &inference{gr: gr, x: make([]float32, batch*size*size*net.Arch.InputChannels)}
	inf.xt = tensor.New(tensor.WithShape(batch, size, size, net.Arch.InputChannels), tensor.WithBacking(inf.x))
	if net.dev != nil {
		if inf.dev, err = newDevInfer(net.dev, net, inf); err != nil {
			return nil, err
		}
		inf.vm = inf.dev
		return inf, nil
	}
	inf.vm = G.NewTapeMachine(gr.G, G.WithEngine(ops.Engine))
	return inf, nil
}

func (inf *inference) run() ([]float32, error) {
	if inf.dev != nil {
		return inf.dev.run()
	}
	defer inf.vm.Reset()
	if err := G.Let(inf.gr.X, inf.xt); err != nil {
		return nil, err
	}
	if err := inf.vm.RunAll(); err != nil {
		return nil, err
	}
	t, ok := inf.gr.logitsV.(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("trainer: logits not computed")
	}
	return append([]float32(nil), t.Data().([]float32)...), nil
}
