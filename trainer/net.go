package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ParamKind says what a parameter is; it decides its initialiser and whether
// weight decay applies (not to BatchNorm gamma/beta nor to biases, as in the
// official code's weight_decay_exclude).
type ParamKind int

// Parameter kinds.
const (
	KindConv ParamKind = iota
	KindDepthwise
	KindDense
	KindBias
	KindGamma
	KindBeta
	// KindPointwise is a 1x1 convolution kept as an (in, out) matrix: the
	// squeeze-excite reduce and expand kernels, which the official code
	// builds as Conv2D layers with the convolution initialiser.
	KindPointwise
)

// Decays reports whether weight decay applies to the kind.
func (k ParamKind) Decays() bool {
	return k == KindConv || k == KindDepthwise || k == KindDense || k == KindPointwise
}

// Param is one trainable tensor of a network. Every graph built from the
// network binds the same Value, so a solver updating it in place updates
// all of them.
type Param struct {
	Name  string
	Kind  ParamKind
	Value *tensor.Dense
}

// Size is the number of elements.
func (p *Param) Size() int { return p.Value.Shape().TotalSize() }

// Net is an architecture's weights and BatchNorm layers, independent of any
// graph: graphs for training, evaluation and timing are built from it at
// any batch size and image size.
type Net struct {
	Arch   searchspace.Arch
	Dtype  tensor.Dtype
	Params []*Param
	BNs    []*ops.BatchNorm
	// BNNames names each BatchNorm layer (checkpoints).
	BNNames []string

	byName map[string]*Param
	// dev, when set, runs training, evaluation and measurement (during a
	// call with Settings.Device or Eval.Device; device.go)
	dev *Device
}

// NewNet creates an architecture's parameters with the official
// initialisers, drawn from one seeded generator in a fixed order: conv,
// depthwise and squeeze-excite kernels normal(0, sqrt(2/fan_out)) with
// fan_out = kh*kw*out (out = 1 for depthwise; kh = kw = 1 for
// squeeze-excite), the classifier uniform(+-1/sqrt(classes)), biases and
// BatchNorm beta 0, gamma 1.
func NewNet(a searchspace.Arch, dtype tensor.Dtype, seed uint64) (*Net, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if dtype != tensor.Float32 && dtype != tensor.Float64 {
		return nil, fmt.Errorf("trainer: dtype %v not supported (want float32 or float64)", dtype)
	}
	n := &Net{Arch: a.Clone(), Dtype: dtype, byName: map[string]*Param{}}
	r := rand.New(rand.NewPCG(seed, 0x1417))
	err := n.walk(func(name string, kind ParamKind, shape ...int) error {
		p := &Param{Name: name, Kind: kind, Value: tensor.New(tensor.WithShape(shape...), tensor.Of(dtype))}
		fill(p, r)
		n.Params = append(n.Params, p)
		n.byName[name] = p
		return nil
	}, func(name string, c int) error {
		bn, err := ops.NewBatchNorm(c, ops.DefaultBNMomentum, ops.DefaultBNEpsilon)
		if err != nil {
			return err
		}
		n.BNs = append(n.BNs, bn)
		n.BNNames = append(n.BNNames, name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

func fill(p *Param, r *rand.Rand) {
	shape := p.Value.Shape()
	var gen func() float64
	switch p.Kind {
	case KindConv, KindDepthwise, KindPointwise:
		// fan_out = kh*kw*out: conv HWIO; depthwise HWC, out the channel
		// multiplier 1; pointwise (in, out), kh = kw = 1.
		fanOut := shape[0] * shape[1]
		switch p.Kind {
		case KindConv:
			fanOut *= shape[3]
		case KindPointwise:
			fanOut = shape[1]
		}
		std := math.Sqrt(2 / float64(fanOut))
		gen = func() float64 { return r.NormFloat64() * std }
	case KindDense:
		lim := 1 / math.Sqrt(float64(shape[1]))
		gen = func() float64 { return (2*r.Float64() - 1) * lim }
	case KindGamma:
		gen = func() float64 { return 1 }
	default:
		gen = func() float64 { return 0 }
	}
	switch d := p.Value.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(gen())
		}
	case []float64:
		for i := range d {
			d[i] = gen()
		}
	}
}

// walk visits the network's parameters and BatchNorm layers in build order.
// Shapes: conv HWIO, depthwise HWC, dense (in, out), the rest (C).
func (n *Net) walk(param func(name string, kind ParamKind, shape ...int) error, bn func(name string, c int) error) error {
	a := n.Arch
	var err error
	conv := func(name string, k, cin, cout int) {
		if err == nil {
			err = param(name+".w", KindConv, k, k, cin, cout)
		}
	}
	norm := func(name string, c int) {
		if err == nil {
			err = param(name+".gamma", KindGamma, c)
		}
		if err == nil {
			err = param(name+".beta", KindBeta, c)
		}
		if err == nil {
			err = bn(name, c)
		}
	}
	dense := func(name string, kind ParamKind, in, out int) {
		if err == nil {
			err = param(name+".w", kind, in, out)
		}
		if err == nil {
			err = param(name+".b", KindBias, out)
		}
	}
	conv("stem.conv", a.Stem.Kernel, a.InputChannels, a.Stem.Channels)
	norm("stem.bn", a.Stem.Channels)
	for _, b := range a.Blocks() {
		p := blockPrefix(b)
		mid := b.Mid()
		se := func() {
			if s := b.SEChannels(); s > 0 {
				dense(p+".se.reduce", KindPointwise, mid, s)
				dense(p+".se.expand", KindPointwise, s, mid)
			}
		}
		switch {
		case b.Type == searchspace.MBConv:
			if b.Expand != 1 {
				conv(p+".expand", 1, b.In, mid)
				norm(p+".expand.bn", mid)
			}
			if err == nil {
				err = param(p+".dw.w", KindDepthwise, b.Kernel, b.Kernel, mid)
			}
			norm(p+".dw.bn", mid)
			se()
			conv(p+".project", 1, mid, b.Out)
			norm(p+".project.bn", b.Out)
		case b.Expand != 1:
			conv(p+".expand", b.Kernel, b.In, mid)
			norm(p+".expand.bn", mid)
			se()
			conv(p+".project", 1, mid, b.Out)
			norm(p+".project.bn", b.Out)
		default:
			se()
			conv(p+".conv", b.Kernel, b.In, b.Out)
			norm(p+".conv.bn", b.Out)
		}
	}
	last := a.Stages[len(a.Stages)-1].Out
	conv("head.conv", 1, last, a.HeadChannels)
	norm("head.bn", a.HeadChannels)
	dense("classifier", KindDense, a.HeadChannels, a.NumClasses)
	return err
}

func blockPrefix(b searchspace.Block) string { return fmt.Sprintf("s%d.b%d", b.Stage+1, b.Index) }

// NumParams is the number of trainable parameters.
func (n *Net) NumParams() int64 {
	var s int64
	for _, p := range n.Params {
		s += int64(p.Size())
	}
	return s
}

// Graph is one gorgonia graph of a network at a fixed batch and image size.
type Graph struct {
	G      *G.ExprGraph
	Batch  int
	Size   int
	Train  bool
	X      *G.Node // (N, S, S, C) images
	Y      *G.Node // (N, K) target probabilities (training graphs only)
	Logits *G.Node
	Loss   *G.Node // training graphs only
	// Params are the parameter nodes, in Net.Params order.
	Params G.Nodes
	// DropMask is the classifier dropout mask (N, head), nil without dropout.
	DropMask *G.Node
	// DepthMasks are the per-sample stochastic-depth masks (N) of the
	// residual blocks whose survival probability is below 1, with it.
	DepthMasks []DepthMask

	lossV, logitsV G.Value
}

// DepthMask is one stochastic-depth mask input.
type DepthMask struct {
	Node     *G.Node
	Survival float64
}

// buildMu serialises graph construction. gorgonia shares package-level
// constant nodes between all graphs (the 1 that G.Grad seeds the backward
// pass with, the 0, 1, 2 of its differentiation rules) and computes their
// hash lazily, on first use: two goroutines building graphs at once (two
// workers of a search) write it concurrently. Running graphs needs no lock.
var buildMu sync.Mutex

// Build makes a graph of the network. A training graph has targets, a
// loss, dropout and stochastic-depth masks and the backward pass (G.Grad
// with respect to every parameter); an inference graph only computes logits.
func (n *Net) Build(batch, size int, train bool) (*Graph, error) {
	if batch < 1 || size < 1 {
		return nil, fmt.Errorf("trainer: batch %d and image size %d must be positive", batch, size)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	a := n.Arch
	g := G.NewGraph()
	gr := &Graph{G: g, Batch: batch, Size: size, Train: train}
	gr.X = G.NewTensor(g, n.Dtype, 4, G.WithShape(batch, size, size, a.InputChannels), G.WithName("x"))
	for _, p := range n.Params {
		gr.Params = append(gr.Params, G.NewTensor(g, n.Dtype, p.Value.Dims(), G.WithShape(p.Value.Shape()...),
			G.WithName(p.Name), G.WithValue(p.Value)))
	}
	b := &builder{n: n, gr: gr}
	// the input image needs no gradient
	h := b.must(ops.Conv2DInput(gr.X, b.param("stem.conv.w"), a.Stem.Stride))
	h = b.normSiLU(h, "stem.bn")
	for _, blk := range a.Blocks() {
		h = b.block(h, blk)
	}
	h = b.normSiLU(b.conv(h, "head.conv", 1), "head.bn")
	h = b.must(ops.GlobalAvgPool(h))
	if train && a.Dropout > 0 {
		gr.DropMask = G.NewMatrix(g, n.Dtype, G.WithShape(batch, a.HeadChannels), G.WithName("dropout.mask"))
		h = b.must(G.HadamardProd(h, gr.DropMask))
	}
	gr.Logits = b.dense(h, "classifier")
	if b.err != nil {
		return nil, b.err
	}
	G.Read(gr.Logits, &gr.logitsV)
	if train {
		gr.Y = G.NewMatrix(g, n.Dtype, G.WithShape(batch, a.NumClasses), G.WithName("y"))
		loss, err := ops.SoftmaxCrossEntropy(gr.Logits, gr.Y)
		if err != nil {
			return nil, err
		}
		gr.Loss = loss
		G.Read(gr.Loss, &gr.lossV)
		if _, err := G.Grad(loss, gr.Params...); err != nil {
			return nil, fmt.Errorf("trainer: building the backward pass: %w", err)
		}
	}
	return gr, nil
}

// builder threads the first error through the graph construction.
type builder struct {
	n   *Net
	gr  *Graph
	err error
}

func (b *builder) must(x *G.Node, err error) *G.Node {
	if b.err == nil && err != nil {
		b.err = err
	}
	return x
}

func (b *builder) param(name string) *G.Node {
	p, ok := b.n.byName[name]
	if !ok {
		if b.err == nil {
			b.err = fmt.Errorf("trainer: no parameter %q", name)
		}
		return nil
	}
	for i, q := range b.n.Params {
		if q == p {
			return b.gr.Params[i]
		}
	}
	return nil
}

func (b *builder) conv(x *G.Node, name string, stride int) *G.Node {
	if b.err != nil {
		return nil
	}
	return b.must(ops.Conv2D(x, b.param(name+".w"), stride))
}

func (b *builder) norm(x *G.Node, name string) *G.Node {
	if b.err != nil {
		return nil
	}
	for i, nm := range b.n.BNNames {
		if nm == name {
			return b.must(b.n.BNs[i].Apply(x, b.param(name+".gamma"), b.param(name+".beta")))
		}
	}
	b.err = fmt.Errorf("trainer: no BatchNorm %q", name)
	return nil
}

// normSiLU is SiLU(BatchNorm(x)) as one fused op.
func (b *builder) normSiLU(x *G.Node, name string) *G.Node {
	if b.err != nil {
		return nil
	}
	for i, nm := range b.n.BNNames {
		if nm == name {
			return b.must(b.n.BNs[i].ApplySiLU(x, b.param(name+".gamma"), b.param(name+".beta")))
		}
	}
	b.err = fmt.Errorf("trainer: no BatchNorm %q", name)
	return nil
}

func (b *builder) silu(x *G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	return b.must(ops.SiLU(x))
}

func (b *builder) dense(x *G.Node, name string) *G.Node {
	if b.err != nil {
		return nil
	}
	y := b.must(G.Mul(x, b.param(name+".w")))
	if b.err != nil {
		return nil
	}
	return b.must(ops.BiasAdd(y, b.param(name+".b")))
}

// se is squeeze-excite: pool, reduce, SiLU, expand, sigmoid, gate.
func (b *builder) se(x *G.Node, p string, blk searchspace.Block) *G.Node {
	if blk.SEChannels() == 0 || b.err != nil {
		return x
	}
	s := b.must(ops.GlobalAvgPool(x))
	s = b.silu(b.dense(s, p+".se.reduce"))
	s = b.dense(s, p+".se.expand")
	if b.err != nil {
		return nil
	}
	s = b.must(ops.Sigmoid(s))
	if b.err != nil {
		return nil
	}
	return b.must(ops.ChannelScale(x, s))
}

func (b *builder) block(x *G.Node, blk searchspace.Block) *G.Node {
	if b.err != nil {
		return nil
	}
	p := blockPrefix(blk)
	h := x
	switch {
	case blk.Type == searchspace.MBConv:
		if blk.Expand != 1 {
			h = b.normSiLU(b.conv(h, p+".expand", 1), p+".expand.bn")
		}
		if b.err == nil {
			h = b.must(ops.DepthwiseConv2D(h, b.param(p+".dw.w"), blk.Stride))
		}
		h = b.normSiLU(h, p+".dw.bn")
		h = b.se(h, p, blk)
		h = b.norm(b.conv(h, p+".project", 1), p+".project.bn")
	case blk.Expand != 1:
		h = b.normSiLU(b.conv(h, p+".expand", blk.Stride), p+".expand.bn")
		h = b.se(h, p, blk)
		h = b.norm(b.conv(h, p+".project", 1), p+".project.bn")
	default:
		h = b.se(h, p, blk)
		h = b.normSiLU(b.conv(h, p+".conv", blk.Stride), p+".conv.bn")
	}
	if !blk.Residual() || b.err != nil {
		return h
	}
	if b.gr.Train && blk.SurvivalProb < 1 {
		m := G.NewVector(b.gr.G, b.n.Dtype, G.WithShape(b.gr.Batch), G.WithName(p+".depth.mask"))
		b.gr.DepthMasks = append(b.gr.DepthMasks, DepthMask{Node: m, Survival: blk.SurvivalProb})
		h = b.must(ops.SampleScale(h, m))
	}
	if b.err != nil {
		return nil
	}
	return b.must(ops.Add(h, x))
}

// SetBNMode switches every BatchNorm layer of the network.
func (n *Net) SetBNMode(training, recalibrate bool) {
	for _, bn := range n.BNs {
		bn.Training, bn.Recalibrate = training, recalibrate
	}
}
