package cudaexec

import (
	"fmt"
	"reflect"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/effnas/effnas/trainer/cuda"
	"github.com/effnas/effnas/trainer/cudaops"
	"github.com/effnas/effnas/trainer/ops"
)

// lowering maps the graph's nodes to instructions.
type lowering struct {
	p      *Program
	spec   Spec
	needed map[*G.Node]bool
	// done marks the nodes an instruction of their group already computes
	done map[*G.Node]bool
	bns  map[*ops.BatchNorm]*cudaops.BatchNorm
	// fwdOf is the forward node of each layer (one per program: the
	// backward pass uses the statistics of the layer's last forward pass)
	fwdOf map[*ops.BatchNorm]*G.Node
}

// lower returns the instruction that computes n (and the other members of
// its group: the backward ops of one BatchNorm layer, the loss and its
// gradient).
func (lw *lowering) lower(n *G.Node) (*instr, error) {
	in := inputs(n)
	if d, ok := ops.Describe(n.Op()); ok {
		return lw.lowerOp(n, d, in)
	}
	switch typeName(n.Op()) {
	case "gorgonia.linAlgBinOp":
		return lw.matMul(n, in)
	case "gorgonia.elemBinOp":
		return lw.elemBin(n, in)
	}
	return nil, fmt.Errorf("cudaexec: node %s: op %v (%s) has no device mapping", name(n), n.Op(), typeName(n.Op()))
}

func typeName(op G.Op) string { return reflect.TypeOf(op).String() }

// arity checks the number of inputs.
func arity(n *G.Node, in []*G.Node, want int) error {
	if len(in) != want {
		return fmt.Errorf("cudaexec: node %s has %d inputs, want %d", name(n), len(in), want)
	}
	return nil
}

// one is an instruction computing n alone from in with f.
func one(n *G.Node, in []*G.Node, f func(p *Program, c *cuda.Ctx, b func(*G.Node) cuda.Buffer) (execFn, error)) *instr {
	return &instr{op: opName(n), out: []*G.Node{n}, in: in, make: func(p *Program, c *cuda.Ctx) (execFn, error) {
		return f(p, c, func(m *G.Node) cuda.Buffer { return p.bufs[m] })
	}}
}

// opName is the op and output shape, as in profiles.
func opName(n *G.Node) string {
	s := n.Op().String()
	if i := strings.IndexAny(s, "{("); i > 0 {
		s = s[:i]
	}
	return fmt.Sprintf("%s %v", s, n.Shape())
}

// nhwc returns the dimensions of a 4-D shape.
func nhwc(n *G.Node, s tensor.Shape) (b, h, w, c int, err error) {
	if s.Dims() != 4 {
		return 0, 0, 0, 0, fmt.Errorf("cudaexec: node %s: want a 4-D NHWC shape, got %v", name(n), s)
	}
	return s[0], s[1], s[2], s[3], nil
}

// lastDim returns rows and channels of a (...,C) shape.
func lastDim(s tensor.Shape) (rows, c int) {
	c = s[s.Dims()-1]
	return s.TotalSize() / c, c
}

func (lw *lowering) lowerOp(n *G.Node, d ops.Desc, in []*G.Node) (*instr, error) {
	k := lw.p.k
	switch d.Kind {
	case ops.KindConv, ops.KindConvGradX, ops.KindConvGradW:
		return lw.conv(n, d, in)
	case ops.KindBatchNorm:
		return lw.bnForward(n, d, in)
	case ops.KindBatchNormSiLUGrad, ops.KindBatchNormGradX, ops.KindBatchNormGradGamma, ops.KindBatchNormGradBeta:
		return lw.bnBackward(n, d)
	case ops.KindSoftmaxCrossEntropy, ops.KindSoftmaxCrossEntropyGrad:
		return lw.softmaxCE(n)
	case ops.KindSiLU, ops.KindSigmoid:
		if err := arity(n, in, 1); err != nil {
			return nil, err
		}
		f := k.SiLU
		if d.Kind == ops.KindSigmoid {
			f = k.Sigmoid
		}
		return one(n, in, func(p *Program, c *cuda.Ctx, b func(*G.Node) cuda.Buffer) (execFn, error) {
			y, x, cnt := b(n), b(in[0]), size(n)
			return func(c *cuda.Ctx, _ cudaops.BNMode) error { return f(c, y, x, cnt) }, nil
		}), nil
	case ops.KindSiLUGrad, ops.KindSigmoidGrad, ops.KindAdd:
		if err := arity(n, in, 2); err != nil {
			return nil, err
		}
		f := k.SiLUGrad
		switch d.Kind {
		case ops.KindSigmoidGrad:
			f = k.SigmoidGrad
		case ops.KindAdd:
			f = k.Add
		}
		return one(n, in, func(p *Program, c *cuda.Ctx, b func(*G.Node) cuda.Buffer) (execFn, error) {
			y, a, g, cnt := b(n), b(in[0]), b(in[1]), size(n)
			return func(c *cuda.Ctx, _ cudaops.BNMode) error { return f(c, y, a, g, cnt) }, nil
		}), nil
	case ops.KindGlobalAvgPool, ops.KindGlobalAvgPoolGrad:
		if err := arity(n, in, 1); err != nil {
			return nil, err
		}
		xs := in[0].Shape()
		f := k.GlobalAvgPool
		if d.Kind == ops.KindGlobalAvgPoolGrad {
			xs, f = d.Shape, k.GlobalAvgPoolGrad
		}
		nb, h, w, ch, err := nhwc(n, xs)
		if err != nil {
			return nil, err
		}
		return one(n, in, func(p *Program, c *cuda.Ctx, b func(*G.Node) cuda.Buffer) (execFn, error) {
			y, x := b(n), b(in[0])
			return func(c *cuda.Ctx, _ cudaops.BNMode) error { return f(c, y, x, nb, h*w, ch) }, nil
		}), nil
	case ops.KindChannelScale, ops.KindChannelScaleGradS:
		if err := arity(n, in, 2); err != nil {
			return nil, err
		}
		nb, h, w, ch, err := nhwc(n, in[0].Shape())
		if err != nil {
			return nil, err
		}
		f := k.ChannelScale
		if d.Kind == ops.KindChannelScaleGradS {
			f = k.ChannelScaleGradS
		}
		return one(n, in, func(p *Program, c *cuda.Ctx, b func(*G.Node) cuda.Buffer) (execFn, error) {
			y, x, s := b(n), b(in[0]), b(in[1])
			return func(c *cuda.Ctx, _ cudaops.BNMode) error { return f(c, y, x, s, nb, h*w, ch) }, nil
		}), nil
	case ops.KindSampleScale:
		if err := arity(n, in, 2); err != nil {
			return nil, err
		}
		samples := in[0].Shape()[0]
		return one(n, in, func(p *Program, c *cuda.Ctx, b func(*G.Node) cuda.Buffer) (execFn, error) {
			y, x, m, per := b(n), b(in[0]), b(in[1]), size(n)/samples
			return func(c *cuda.Ctx, _ cudaops.BNMode) error { return k.SampleScale(c, y, x, m, samples, per) }, nil
		}), nil
	case ops.KindBiasAdd:
		if err := arity(n, in, 2); err != nil {
			return nil, err
		}
		rows, ch := lastDim(in[0].Shape())
		return one(n, in, func(p *Program, c *cuda.Ctx, b func(*G.Node) cuda.Buffer) (execFn, error) {
			y, x, bias := b(n), b(in[0]), b(in[1])
			return func(c *cuda.Ctx, _ cudaops.BNMode) error { return k.BiasAdd(c, y, x, bias, rows, ch) }, nil
		}), nil
	case ops.KindChannelSum:
		if err := arity(n, in, 1); err != nil {
			return nil, err
		}
		rows, ch := lastDim(in[0].Shape())
		return one(n, in, func(p *Program, c *cuda.Ctx, b func(*G.Node) cuda.Buffer) (execFn, error) {
			y, x := b(n), b(in[0])
			return func(c *cuda.Ctx, _ cudaops.BNMode) error { return k.ColumnSum(c, y, x, rows, ch) }, nil
		}), nil
	}
	return nil, fmt.Errorf("cudaexec: node %s: op kind %v has no device mapping", name(n), d.Kind)
}

// conv maps the three convolution ops: the package's depthwise kernels,
// or a cudaops.Conv (cuBLAS for 1x1 stride 1, cuDNN otherwise).
func (lw *lowering) conv(n *G.Node, d ops.Desc, in []*G.Node) (*instr, error) {
	if err := arity(n, in, 2); err != nil {
		return nil, err
	}
	var xs, ws tensor.Shape
	switch d.Kind {
	case ops.KindConv:
		xs, ws = in[0].Shape(), in[1].Shape()
	case ops.KindConvGradX:
		xs, ws = d.Shape, in[0].Shape()
	default:
		xs, ws = in[0].Shape(), d.Shape
	}
	nb, h, w, cin, err := nhwc(n, xs)
	if err != nil {
		return nil, err
	}
	k := lw.p.k
	if d.Depthwise {
		if ws.Dims() != 3 {
			return nil, fmt.Errorf("cudaexec: node %s: depthwise weights %v, want (KH,KW,C)", name(n), ws)
		}
		g := cudaops.DWGeom{N: nb, H: h, W: w, C: cin, KH: ws[0], KW: ws[1], Stride: d.Stride}
		f := map[ops.Kind]func(*cuda.Ctx, cuda.Buffer, cuda.Buffer, cuda.Buffer, cudaops.DWGeom) error{
			ops.KindConv: k.DepthwiseForward, ops.KindConvGradX: k.DepthwiseGradX, ops.KindConvGradW: k.DepthwiseGradW}[d.Kind]
		return one(n, in, func(p *Program, c *cuda.Ctx, b func(*G.Node) cuda.Buffer) (execFn, error) {
			y, a, bb := b(n), b(in[0]), b(in[1])
			return func(c *cuda.Ctx, _ cudaops.BNMode) error { return f(c, y, a, bb, g) }, nil
		}), nil
	}
	if ws.Dims() != 4 {
		return nil, fmt.Errorf("cudaexec: node %s: weights %v, want HWIO", name(n), ws)
	}
	s := cudaops.ConvShape{N: nb, H: h, W: w, Cin: cin, KH: ws[0], KW: ws[1], Cout: ws[3], Stride: d.Stride}
	f := map[ops.Kind]func(*cuda.Ctx, *cudaops.Conv, cuda.Buffer, cuda.Buffer, cuda.Buffer) error{
		ops.KindConv: k.ConvForward, ops.KindConvGradX: k.ConvGradX, ops.KindConvGradW: k.ConvGradW}[d.Kind]
	return one(n, in, func(p *Program, c *cuda.Ctx, b func(*G.Node) cuda.Buffer) (execFn, error) {
		cv, err := p.conv(c, s)
		if err != nil {
			return nil, err
		}
		y, a, bb := b(n), b(in[0]), b(in[1])
		return func(c *cuda.Ctx, _ cudaops.BNMode) error { return f(c, cv, y, a, bb) }, nil
	}), nil
}

// layer returns the device state of a BatchNorm layer.
func (lw *lowering) layer(n *G.Node, bn *ops.BatchNorm) (*cudaops.BatchNorm, error) {
	if d, ok := lw.bns[bn]; ok {
		return d, nil
	}
	if lw.spec.BatchNorm == nil {
		return nil, fmt.Errorf("cudaexec: node %s: a BatchNorm layer, and Spec.BatchNorm is not set", name(n))
	}
	d, err := lw.spec.BatchNorm(bn)
	if err != nil {
		return nil, err
	}
	if d == nil || d.C != bn.Channels() {
		return nil, fmt.Errorf("cudaexec: node %s: the device layer of a %d-channel BatchNorm is %v", name(n), bn.Channels(), d)
	}
	lw.bns[bn] = d
	return d, nil
}

func (lw *lowering) bnForward(n *G.Node, d ops.Desc, in []*G.Node) (*instr, error) {
	if err := arity(n, in, 3); err != nil {
		return nil, err
	}
	if prev, ok := lw.fwdOf[d.BN]; ok {
		return nil, fmt.Errorf("cudaexec: BatchNorm layer applied twice (%s and %s): the device keeps one forward pass's statistics per layer", name(prev), name(n))
	}
	lw.fwdOf[d.BN] = n
	rows, _ := lastDim(in[0].Shape())
	k := lw.p.k
	it := one(n, in, func(p *Program, c *cuda.Ctx, b func(*G.Node) cuda.Buffer) (execFn, error) {
		dev, err := lw.layer(n, d.BN)
		if err != nil {
			return nil, err
		}
		y, x, gamma, beta := b(n), b(in[0]), b(in[1]), b(in[2])
		return func(c *cuda.Ctx, mode cudaops.BNMode) error {
			return k.BNForward(c, dev, mode, d.SiLU, y, x, gamma, beta, rows)
		}, nil
	})
	it.bnFwd = true
	return it, nil
}

// bnBackward is one cudaops.BNBackward for the backward ops of a layer
// (BatchNormSiLUGrad, GradX, GradGamma, GradBeta): it writes gz, dx,
// dgamma and dbeta, and the other members are done.
func (lw *lowering) bnBackward(n *G.Node, d ops.Desc) (*instr, error) {
	fwd, ok := lw.fwdOf[d.BN]
	if !ok {
		return nil, fmt.Errorf("cudaexec: node %s: the backward pass of a BatchNorm layer without its forward pass in the program", name(n))
	}
	fin := inputs(fwd)
	x, gamma := fin[0], fin[1]
	silu := false
	if fd, _ := ops.Describe(fwd.Op()); fd.SiLU {
		silu = true
	}
	// the members: every node of the graph with this layer's backward op
	var gz, dx, dgamma, dbeta, gy *G.Node
	for _, m := range x.Graph().AllNodes() {
		md, ok := ops.Describe(m.Op())
		if !ok || md.BN != d.BN {
			continue
		}
		min := inputs(m)
		if len(min) == 0 || min[0] != x {
			return nil, fmt.Errorf("cudaexec: node %s: a BatchNorm backward op on another input than its forward pass", name(m))
		}
		var g *G.Node
		switch md.Kind {
		case ops.KindBatchNormSiLUGrad:
			if !silu || len(min) != 4 {
				return nil, fmt.Errorf("cudaexec: node %s: unexpected BatchNorm+SiLU gradient", name(m))
			}
			gz, gy = m, min[3]
			continue
		case ops.KindBatchNormGradX:
			if len(min) != 3 {
				return nil, fmt.Errorf("cudaexec: node %s has %d inputs, want 3", name(m), len(min))
			}
			dx, g = m, min[2]
		case ops.KindBatchNormGradGamma, ops.KindBatchNormGradBeta:
			if len(min) != 2 {
				return nil, fmt.Errorf("cudaexec: node %s has %d inputs, want 2", name(m), len(min))
			}
			if md.Kind == ops.KindBatchNormGradGamma {
				dgamma = m
			} else {
				dbeta = m
			}
			g = min[1]
		default:
			continue
		}
		// the gradient the three ops read: gz (fused SiLU) or the output
		// gradient, the same for all
		if silu {
			if gz == nil {
				gz = g
			} else if g != gz {
				return nil, fmt.Errorf("cudaexec: node %s: BatchNorm+SiLU backward ops read different gradients", name(m))
			}
		} else if gy == nil {
			gy = g
		} else if g != gy {
			return nil, fmt.Errorf("cudaexec: node %s: BatchNorm backward ops read different output gradients", name(m))
		}
	}
	if gy == nil || silu && (gz == nil || lw.describeKind(gz) != ops.KindBatchNormSiLUGrad) {
		return nil, fmt.Errorf("cudaexec: node %s: incomplete BatchNorm backward pass", name(n))
	}
	// members the program computes (others write scratch memory)
	var out []*G.Node
	for _, m := range []*G.Node{gz, dx, dgamma, dbeta} {
		if m != nil && lw.needed[m] {
			out = append(out, m)
			lw.done[m] = true
		}
	}
	rows, ch := lastDim(x.Shape())
	k := lw.p.k
	return &instr{op: fmt.Sprintf("BatchNormBackward %v", x.Shape()), out: out, in: []*G.Node{x, gamma, gy}, bnBwd: true,
		make: func(p *Program, c *cuda.Ctx) (execFn, error) {
			dev, err := lw.layer(n, d.BN)
			if err != nil {
				return nil, err
			}
			buf := func(m *G.Node, n int) (cuda.Buffer, error) {
				if m != nil && lw.needed[m] {
					return p.bufs[m], nil
				}
				return p.scratch(c, n)
			}
			var bz, bdx, bdg, bdb cuda.Buffer
			if silu {
				if bz, err = buf(gz, rows*ch); err != nil {
					return nil, err
				}
			}
			if bdx, err = buf(dx, rows*ch); err != nil {
				return nil, err
			}
			if bdg, err = buf(dgamma, ch); err != nil {
				return nil, err
			}
			if bdb, err = buf(dbeta, ch); err != nil {
				return nil, err
			}
			bx, bg, bgy := p.bufs[x], p.bufs[gamma], p.bufs[gy]
			return func(c *cuda.Ctx, _ cudaops.BNMode) error {
				return k.BNBackward(c, dev, silu, bdx, bdg, bdb, bgy, bx, bg, bz, rows)
			}, nil
		}}, nil
}

func (lw *lowering) describeKind(n *G.Node) ops.Kind {
	if n.Op() == nil {
		return ops.KindUnknown
	}
	d, _ := ops.Describe(n.Op())
	return d.Kind
}

// softmaxCE is one cudaops.SoftmaxCrossEntropy for the loss and its
// gradient on the same logits and targets; the gradient's output
// gradient must be a constant (the 1 that starts the backward pass).
func (lw *lowering) softmaxCE(n *G.Node) (*instr, error) {
	in := inputs(n)
	if len(in) < 2 {
		return nil, fmt.Errorf("cudaexec: node %s has %d inputs", name(n), len(in))
	}
	z, t := in[0], in[1]
	var loss, grad *G.Node
	g := 0.0
	for _, m := range z.Graph().AllNodes() {
		if m.Op() == nil {
			continue
		}
		md, ok := ops.Describe(m.Op())
		if !ok || (md.Kind != ops.KindSoftmaxCrossEntropy && md.Kind != ops.KindSoftmaxCrossEntropyGrad) {
			continue
		}
		min := inputs(m)
		if len(min) < 2 || min[0] != z || min[1] != t {
			continue
		}
		if md.Kind == ops.KindSoftmaxCrossEntropy {
			loss = m
			continue
		}
		if !lw.needed[m] {
			continue
		}
		if len(min) != 3 || !isConstant(min[2]) {
			return nil, fmt.Errorf("cudaexec: node %s: the loss gradient's output gradient must be a constant (the start of the backward pass)", name(m))
		}
		v, err := constantValues(min[2])
		if err != nil || len(v) != 1 {
			return nil, fmt.Errorf("cudaexec: node %s: the loss gradient's output gradient is not a scalar", name(m))
		}
		grad, g = m, float64(v[0])
	}
	zs := z.Shape()
	if zs.Dims() != 2 {
		return nil, fmt.Errorf("cudaexec: node %s: logits %v, want (N,K)", name(n), zs)
	}
	var out []*G.Node
	for _, m := range []*G.Node{loss, grad} {
		if m != nil && lw.needed[m] {
			out = append(out, m)
			lw.done[m] = true
		}
	}
	rows, classes := zs[0], zs[1]
	k := lw.p.k
	return &instr{op: fmt.Sprintf("SoftmaxCrossEntropy %v", zs), out: out, in: []*G.Node{z, t},
		make: func(p *Program, c *cuda.Ctx) (execFn, error) {
			var bl, bd cuda.Buffer
			var err error
			if loss != nil && lw.needed[loss] {
				bl = p.bufs[loss]
			} else if bl, err = p.scratch(c, 1); err != nil {
				return nil, err
			}
			if grad != nil {
				bd = p.bufs[grad]
			} else if bd, err = p.scratch(c, rows*classes); err != nil {
				return nil, err
			}
			bz, bt := p.bufs[z], p.bufs[t]
			return func(c *cuda.Ctx, _ cudaops.BNMode) error {
				return k.SoftmaxCrossEntropy(c, bl, bd, bz, bt, rows, classes, g)
			}, nil
		}}, nil
}

// matMul maps gorgonia's matrix product, with the transposes its
// gradients use, to a cuBLAS GEMM on row-major matrices.
func (lw *lowering) matMul(n *G.Node, in []*G.Node) (*instr, error) {
	if err := arity(n, in, 2); err != nil {
		return nil, err
	}
	var ta, tb bool
	switch n.Op().String() {
	case "A × B":
	case "Aᵀ × B":
		ta = true
	case "A × Bᵀ":
		tb = true
	case "Aᵀ × Bᵀ":
		ta, tb = true, true
	default:
		return nil, fmt.Errorf("cudaexec: node %s: only matrix products of two matrices have a device mapping", name(n))
	}
	as, bs := in[0].Shape(), in[1].Shape()
	if as.Dims() != 2 || bs.Dims() != 2 {
		return nil, fmt.Errorf("cudaexec: node %s: matrix product of shapes %v and %v: only matrices have a device mapping", name(n), as, bs)
	}
	m, kk := as[0], as[1]
	if ta {
		m, kk = kk, m
	}
	nn, k2 := bs[1], bs[0]
	if tb {
		nn, k2 = k2, nn
	}
	if kk != k2 || !n.Shape().Eq(tensor.Shape{m, nn}) {
		return nil, fmt.Errorf("cudaexec: node %s: shapes %v and %v do not make %v", name(n), as, bs, n.Shape())
	}
	return one(n, in, func(p *Program, c *cuda.Ctx, b func(*G.Node) cuda.Buffer) (execFn, error) {
		g := cuda.GemmArgs{TransA: ta, TransB: tb, M: m, N: nn, K: kk, Alpha: 1, A: b(in[0]), LDA: as[1], B: b(in[1]), LDB: bs[1],
			C: b(n), LDC: nn}
		return func(c *cuda.Ctx, _ cudaops.BNMode) error { return c.Gemm(g) }, nil
	}), nil
}

// elemBin maps gorgonia's elementwise sum (of the gradients of a node
// with several consumers) and product (the dropout mask) of two tensors
// of one shape.
func (lw *lowering) elemBin(n *G.Node, in []*G.Node) (*instr, error) {
	if err := arity(n, in, 2); err != nil {
		return nil, err
	}
	op, _, _ := strings.Cut(n.Op().String(), " ")
	k := lw.p.k
	var f func(*cuda.Ctx, cuda.Buffer, cuda.Buffer, cuda.Buffer, int) error
	switch op {
	case "+":
		f = k.Add
	case "⊙":
		f = k.Mul
	default:
		return nil, fmt.Errorf("cudaexec: node %s: elementwise %q has no device mapping (only + and ⊙)", name(n), op)
	}
	if !in[0].Shape().Eq(in[1].Shape()) || !in[0].Shape().Eq(n.Shape()) {
		return nil, fmt.Errorf("cudaexec: node %s: elementwise %s of shapes %v and %v: only equal shapes have a device mapping", name(n), op, in[0].Shape(), in[1].Shape())
	}
	return one(n, in, func(p *Program, c *cuda.Ctx, b func(*G.Node) cuda.Buffer) (execFn, error) {
		y, a, bb, cnt := b(n), b(in[0]), b(in[1]), size(n)
		return func(c *cuda.Ctx, _ cudaops.BNMode) error { return f(c, y, a, bb, cnt) }, nil
	}), nil
}
