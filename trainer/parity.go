package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/effnas/effnas/safetensors"
	"github.com/effnas/effnas/trainer/data"
	"github.com/effnas/effnas/trainer/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Parity is what one batch does to a network, recorded so that another
// framework can redo it and compare (`nas dump`, bench/torch_parity.py):
// logits in evaluation mode, then one training-mode forward and backward
// pass (batch statistics, the dropout and stochastic-depth masks given
// below) with its logits, loss, parameter gradients and the BatchNorm
// running statistics it leaves, then logits in evaluation mode again with
// those statistics. No optimizer update is applied: the weights are the
// same throughout.
type Parity struct {
	Batch, Size int
	// X is the input (Batch, Size, Size, C), NHWC, normalised; Y the
	// targets (Batch, K).
	X, Y []float32
	// Source says where X came from ("fashion-mnist train 0, 17, ..." or
	// "synthetic normal, seed 1").
	Source string
	// DropMask is the classifier dropout mask (Batch, head) applied in the
	// training pass, nil without dropout; DepthMasks the drop-connect masks
	// (Batch) of the residual blocks with survival below 1, by block index.
	// Both hold 0 or 1/keep, drawn from the seed as in training.
	DropMask   []float32
	DepthMasks map[int][]float32
	// EvalLogits (before the step) and EvalLogitsAfter (with the running
	// statistics the step left) are (Batch, K).
	EvalLogits, EvalLogitsAfter []float32
	// TrainLogits and Loss are the training pass's.
	TrainLogits []float32
	Loss        float64
	// Grads are the parameter gradients, in Net.Params order and layout.
	Grads [][]float32
	// MeanAfter and VarAfter are each BatchNorm layer's running statistics
	// after the step, in Net.BNs order.
	MeanAfter, VarAfter [][]float64
}

// ParityBatch makes a deterministic batch for RunParity at the given image
// size: the first batch samples of ds shuffled by seed, resized and
// normalised with norm (nil: ds's channel statistics), with one-hot targets;
// with ds nil, standard-normal images and uniform labels drawn from seed.
func ParityBatch(net *Net, ds *data.Dataset, norm *data.Norm, batch, size int, seed uint64) (x, y []float32, source string, err error) {
	a := net.Arch
	if batch < 1 || size < 1 {
		return nil, nil, "", fmt.Errorf("trainer: parity batch %d and image size %d must be positive", batch, size)
	}
	x = make([]float32, batch*size*size*a.InputChannels)
	y = make([]float32, batch*a.NumClasses)
	if ds == nil {
		r := rand.New(rand.NewPCG(seed, 0x9a71))
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		for n := range batch {
			y[n*a.NumClasses+r.IntN(a.NumClasses)] = 1
		}
		return x, y, fmt.Sprintf("synthetic standard normal, seed %d", seed), nil
	}
	if ds.C != a.InputChannels || ds.NumClasses != a.NumClasses {
		return nil, nil, "", fmt.Errorf("trainer: %s has %d channels and %d classes, the architecture %d and %d",
			ds.Name, ds.C, ds.NumClasses, a.InputChannels, a.NumClasses)
	}
	if ds.N < batch {
		return nil, nil, "", fmt.Errorf("trainer: %s has %d images, fewer than the batch of %d", ds.Name, ds.N, batch)
	}
	if norm == nil {
		n := ds.ChannelNorm(ds.All())
		norm = &n
	}
	idx := data.NewRand(seed, 0x9a71).Perm(ds.N)[:batch]
	b, err := data.NewBatcher(ds, data.BatchConfig{Size: size, Norm: norm})
	if err != nil {
		return nil, nil, "", err
	}
	if _, err := b.Fill(x, y, idx, nil); err != nil {
		return nil, nil, "", err
	}
	s := make([]string, len(idx))
	for i, v := range idx {
		s[i] = fmt.Sprint(v)
	}
	return x, y, fmt.Sprintf("%s %s images %s", ds.Name, ds.Split, strings.Join(s, ", ")), nil
}

// RunParity runs the Parity sequence on net with batch x, y (see
// ParityBatch) at the given image size, drawing the masks from seed. The
// network's parameters are unchanged; its BatchNorm running statistics
// are those after the step (as in training), and it is left in evaluation
// mode.
func RunParity(net *Net, x, y []float32, batch, size int, seed uint64) (*Parity, error) {
	if net.Dtype != tensor.Float32 {
		return nil, fmt.Errorf("trainer: parity runs float32 networks, not %v", net.Dtype)
	}
	a := net.Arch
	if len(x) != batch*size*size*a.InputChannels || len(y) != batch*a.NumClasses {
		return nil, fmt.Errorf("trainer: parity batch has %d inputs and %d targets, want %d and %d",
			len(x), len(y), batch*size*size*a.InputChannels, batch*a.NumClasses)
	}
	p := &Parity{Batch: batch, Size: size, X: x, Y: y, DepthMasks: map[int][]float32{}}
	var err error
	if p.EvalLogits, err = parityEval(net, x, batch, size); err != nil {
		return nil, err
	}

	gr, err := net.Build(batch, size, true)
	if err != nil {
		return nil, err
	}
	vm := G.NewTapeMachine(gr.G, G.BindDualValues(gr.Params...), G.WithEngine(ops.Engine))
	defer vm.Close()
	let := func(n *G.Node, v []float32, shape ...int) error {
		return G.Let(n, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v)))
	}
	if err := let(gr.X, x, batch, size, size, a.InputChannels); err != nil {
		return nil, err
	}
	if err := let(gr.Y, y, batch, a.NumClasses); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0xd40))
	if gr.DropMask != nil {
		p.DropMask = make([]float32, batch*a.HeadChannels)
		fillMask(p.DropMask, 1-a.Dropout, rng)
		if err := let(gr.DropMask, p.DropMask, batch, a.HeadChannels); err != nil {
			return nil, err
		}
	}
	blocks := map[string]int{}
	for i, b := range a.Blocks() {
		blocks[blockPrefix(b)+".depth.mask"] = i
	}
	for _, dm := range gr.DepthMasks {
		i, ok := blocks[dm.Node.Name()]
		if !ok {
			return nil, fmt.Errorf("trainer: stochastic-depth mask %q of no block", dm.Node.Name())
		}
		m := make([]float32, batch)
		fillMask(m, dm.Survival, rng)
		p.DepthMasks[i] = m
		if err := let(dm.Node, m, batch); err != nil {
			return nil, err
		}
	}
	net.SetBNMode(true, false)
	err = vm.RunAll()
	net.SetBNMode(false, false)
	if err != nil {
		return nil, err
	}
	p.Loss = scalar(gr.lossV)
	lt, ok := gr.logitsV.(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("trainer: training logits not computed")
	}
	p.TrainLogits = append([]float32(nil), lt.Data().([]float32)...)
	for _, n := range gr.Params {
		g, err := n.Grad()
		if err != nil {
			return nil, fmt.Errorf("trainer: gradient of %s: %w", n.Name(), err)
		}
		p.Grads = append(p.Grads, append([]float32(nil), g.Data().([]float32)...))
	}
	for _, bn := range net.BNs {
		m, v := bn.Stats()
		p.MeanAfter, p.VarAfter = append(p.MeanAfter, m), append(p.VarAfter, v)
	}
	if p.EvalLogitsAfter, err = parityEval(net, x, batch, size); err != nil {
		return nil, err
	}
	if math.IsNaN(p.Loss) || math.IsInf(p.Loss, 0) {
		return p, fmt.Errorf("%w: parity loss is %v", ErrDiverged, p.Loss)
	}
	return p, nil
}

func parityEval(net *Net, x []float32, batch, size int) ([]float32, error) {
	inf, err := newInference(net, batch, size)
	if err != nil {
		return nil, err
	}
	defer inf.vm.Close()
	copy(inf.x, x)
	net.SetBNMode(false, false)
	return inf.run()
}

// File returns the parity record as a safetensors file, with net's tensor
// names: "x" (N,S,S,C), "y" (N,K), "mask.dropout" (N,head),
// "mask.blocks.<i>" (N), "eval.logits", "train.logits", "train.loss" (a
// float64 scalar), "grad.<parameter>" (the parameter's layout),
// "after.<batchnorm>.running_mean" and ".running_var" (float64),
// "eval_after.logits". Metadata: batch, image_size, source, and the
// BatchNorm momentum (TF convention) and epsilon.
func (p *Parity) File(net *Net) (*safetensors.File, error) {
	a := net.Arch
	pnames, bnames, err := net.TensorNames()
	if err != nil {
		return nil, err
	}
	f := &safetensors.File{Metadata: map[string]string{
		"format": "effnas/parity", "batch": fmt.Sprint(p.Batch), "image_size": fmt.Sprint(p.Size), "source": p.Source,
		"bn_momentum": fmt.Sprint(net.BNs[0].Momentum()), "bn_epsilon": fmt.Sprint(net.BNs[0].Eps()),
		"masks": "dropout and drop-connect masks of the training pass, 0 or 1/keep per entry",
	}}
	var errs []error
	add := func(name string, t safetensors.Tensor) { errs = append(errs, f.Add(name, t)) }
	n, k := p.Batch, a.NumClasses
	add("x", safetensors.FromFloat32([]int{n, p.Size, p.Size, a.InputChannels}, p.X))
	add("y", safetensors.FromFloat32([]int{n, k}, p.Y))
	if p.DropMask != nil {
		add("mask.dropout", safetensors.FromFloat32([]int{n, a.HeadChannels}, p.DropMask))
	}
	for i := range a.NumBlocks() {
		if m, ok := p.DepthMasks[i]; ok {
			add(fmt.Sprintf("mask.blocks.%d", i), safetensors.FromFloat32([]int{n}, m))
		}
	}
	add("eval.logits", safetensors.FromFloat32([]int{n, k}, p.EvalLogits))
	add("train.logits", safetensors.FromFloat32([]int{n, k}, p.TrainLogits))
	add("train.loss", safetensors.FromFloat64(nil, []float64{p.Loss}))
	for i, g := range p.Grads {
		add("grad."+pnames[i], safetensors.FromFloat32(net.Params[i].Value.Shape(), g))
	}
	for i := range p.MeanAfter {
		c := []int{len(p.MeanAfter[i])}
		add("after."+bnames[i]+".running_mean", safetensors.FromFloat64(c, p.MeanAfter[i]))
		add("after."+bnames[i]+".running_var", safetensors.FromFloat64(c, p.VarAfter[i]))
	}
	add("eval_after.logits", safetensors.FromFloat32([]int{n, k}, p.EvalLogitsAfter))
	for _, e := range errs {
		if e != nil {
			return nil, e
		}
	}
	return f, nil
}
