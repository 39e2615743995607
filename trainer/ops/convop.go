package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The full (Conv2D) and depthwise (DepthwiseConv2D) convolutions share
// their ops: a forward op y = conv(x, w) on inputs (x, w), an input-gradient
// op dx from (w, gy) and a weight-gradient op dw from (x, gy), all in the
// geometry of convGeom. A convFlavour holds what differs: the weight layout
// and the three kernels.

// convFlavour is one kind of same-padded NHWC convolution.
type convFlavour struct {
	name  string // op name: "Conv2D" or "DepthwiseConv2D"
	wDims int    // weight dimensions: 4 (HWIO) or 3 (KH,KW,C)
	// how the shapes are described in errors
	xDesc, wDesc, cName, wWant string
	fwd, gradX, gradW          convKernels
}

// convKernels is one kernel of a flavour, for each element type; the
// slices are (x or w, x or gy, out) as the op's inputs.
type convKernels struct {
	f32 func(g convGeom, a, b, out []float32)
	f64 func(g convGeom, a, b, out []float64)
}

func (k convKernels) run(g convGeom, a, b, out *tensor.Dense) {
	if isF32(out) {
		k.f32(g, sl[float32](a), sl[float32](b), sl[float32](out))
	} else {
		k.f64(g, sl[float64](a), sl[float64](b), sl[float64](out))
	}
}

var (
	fullConv = &convFlavour{name: "Conv2D", wDims: 4,
		xDesc: "(N,H,W,Cin)", wDesc: "4-D HWIO (KH,KW,Cin,Cout)", cName: "Cin", wWant: "(KH,KW,%d,Cout)",
		fwd:   convKernels{convForward[float32], convForward[float64]},
		gradX: convKernels{convGradX[float32], convGradX[float64]},
		gradW: convKernels{convGradW[float32], convGradW[float64]}}
	depthwiseConv = &convFlavour{name: "DepthwiseConv2D", wDims: 3,
		xDesc: "(N,H,W,C)", wDesc: "3-D (KH,KW,C)", cName: "C", wWant: "(KH,KW,%d)",
		fwd:   convKernels{dwForward[float32], dwForward[float64]},
		gradX: convKernels{dwGradX[float32], dwGradX[float64]},
		gradW: convKernels{dwGradW[float32], dwGradW[float64]}}
)

// geom validates x (N,H,W,C) and w and returns the geometry.
func (f *convFlavour) geom(op string, xs, ws tensor.Shape, stride int) (convGeom, error) {
	if stride < 1 {
		return convGeom{}, fmt.Errorf("%s: stride must be >= 1, got %d", op, stride)
	}
	if xs.Dims() != 4 {
		return convGeom{}, fmt.Errorf("%s: x must be 4-D NHWC %s, got shape %v", op, f.xDesc, xs)
	}
	if ws.Dims() != f.wDims {
		return convGeom{}, fmt.Errorf("%s: w must be %s, got shape %v", op, f.wDesc, ws)
	}
	for _, d := range append(xs.Clone(), ws...) {
		if d < 1 {
			return convGeom{}, fmt.Errorf("%s: empty dimension in x %v or w %v", op, xs, ws)
		}
	}
	if ws[2] != xs[3] {
		return convGeom{}, fmt.Errorf("%s: w %v has %s=%d but x %v has %d channels (want w "+f.wWant+")",
			op, ws, f.cName, ws[2], xs, xs[3], xs[3])
	}
	cout := xs[3]
	if f.wDims == 4 {
		cout = ws[3]
	}
	return newConvGeom(xs[0], xs[1], xs[2], xs[3], ws[0], ws[1], cout, stride), nil
}

// gradGeom is geom for a gradient op, which also checks the output
// gradient's shape.
func (f *convFlavour) gradGeom(op string, xs, ws, gys tensor.Shape, stride int) (convGeom, error) {
	g, err := f.geom(op, xs, ws, stride)
	if err != nil {
		return g, err
	}
	if want := g.outShape(); !gys.Eq(want) {
		return g, fmt.Errorf("%s: output gradient has shape %v, want %v", op, gys, want)
	}
	return g, nil
}

// applyConv checks the inputs of a convolution and adds it to the graph.
func applyConv(f *convFlavour, x, w *G.Node, stride int, noGradX bool) (*G.Node, error) {
	op := "ops." + f.name
	if err := checkFloatNode(op, "x", x, 4); err != nil {
		return nil, err
	}
	if err := checkFloatNode(op, "w", w, f.wDims); err != nil {
		return nil, err
	}
	if err := sameDtype(op, x, w); err != nil {
		return nil, err
	}
	if _, err := f.geom(op, x.Shape(), w.Shape(), stride); err != nil {
		return nil, err
	}
	return apply(convOp{f: f, stride: stride, noGradX: noGradX}, x, w)
}

// convOp: y = conv(x, w). Inputs (x, w).
type convOp struct {
	f       *convFlavour
	stride  int
	noGradX bool // Conv2DInput: no gradient with respect to x
}

func (op convOp) arity() int     { return 2 }
func (op convOp) typ() hm.Type   { return hm.NewFnType(tt(4), tt(op.f.wDims), tt(4)) }
func (op convOp) String() string { return fmt.Sprintf("%s{s=%d,same}", op.f.name, op.stride) }
func (op convOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops."+op.f.name, in, 2)
	if err != nil {
		return nil, err
	}
	g, err := op.f.geom("ops."+op.f.name, s[0], s[1], op.stride)
	if err != nil {
		return nil, err
	}
	return g.outShape(), nil
}
func (op convOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	g, err := op.f.geom("ops."+op.f.name, in[0].Shape(), in[1].Shape(), op.stride)
	if err != nil {
		return err
	}
	op.f.fwd.run(g, in[0], in[1], out)
	return nil
}
func (op convOp) diffWRT() []bool { return []bool{!op.noGradX, true} }
func (op convOp) symDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	var dx *G.Node
	if !op.noGradX {
		var err error
		if dx, err = apply(convGradXOp{f: op.f, stride: op.stride, xShape: in[0].Shape().Clone()}, in[1], grad); err != nil {
			return nil, err
		}
	}
	dw, err := apply(convGradWOp{f: op.f, stride: op.stride, wShape: in[1].Shape().Clone()}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// convGradXOp: dX from (w, gy).
type convGradXOp struct {
	f      *convFlavour
	stride int
	xShape tensor.Shape
}

func (op convGradXOp) name() string { return "ops." + op.f.name + "GradX" }
func (op convGradXOp) arity() int   { return 2 }
func (op convGradXOp) typ() hm.Type { return hm.NewFnType(tt(op.f.wDims), tt(4), tt(4)) }
func (op convGradXOp) String() string {
	return fmt.Sprintf("%sGradX{s=%d,x=%v}", op.f.name, op.stride, op.xShape)
}
func (op convGradXOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op.name(), in, 2)
	if err != nil {
		return nil, err
	}
	if _, err := op.f.gradGeom(op.name(), op.xShape, s[0], s[1], op.stride); err != nil {
		return nil, err
	}
	return op.xShape.Clone(), nil
}
func (op convGradXOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	g, err := op.f.gradGeom(op.name(), op.xShape, in[0].Shape(), in[1].Shape(), op.stride)
	if err != nil {
		return err
	}
	op.f.gradX.run(g, in[0], in[1], out)
	return nil
}

// convGradWOp: dW from (x, gy).
type convGradWOp struct {
	f      *convFlavour
	stride int
	wShape tensor.Shape
}

func (op convGradWOp) name() string { return "ops." + op.f.name + "GradW" }
func (op convGradWOp) arity() int   { return 2 }
func (op convGradWOp) typ() hm.Type { return hm.NewFnType(tt(4), tt(4), tt(op.f.wDims)) }
func (op convGradWOp) String() string {
	return fmt.Sprintf("%sGradW{s=%d,w=%v}", op.f.name, op.stride, op.wShape)
}
func (op convGradWOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op.name(), in, 2)
	if err != nil {
		return nil, err
	}
	if _, err := op.f.gradGeom(op.name(), s[0], op.wShape, s[1], op.stride); err != nil {
		return nil, err
	}
	return op.wShape.Clone(), nil
}
func (op convGradWOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	g, err := op.f.gradGeom(op.name(), in[0].Shape(), op.wShape, in[1].Shape(), op.stride)
	if err != nil {
		return err
	}
	op.f.gradW.run(g, in[0], in[1], out)
	return nil
}

// Convolution multiply-adds (timings): every output element of the
// forward op, and every output-gradient element of the gradient ops, takes
// one per weight tap feeding it: kh*kw*cin (kh*kw for depthwise), the
// weight shape without its last dimension.
func tapsPerOutput(w tensor.Shape) int64 {
	n := int64(1)
	for _, d := range w[:len(w)-1] {
		n *= int64(d)
	}
	return n
}

func (convOp) macs(out *tensor.Dense, in []*tensor.Dense) int64 {
	return int64(out.Shape().TotalSize()) * tapsPerOutput(in[1].Shape())
}

func (convGradXOp) macs(_ *tensor.Dense, in []*tensor.Dense) int64 {
	return int64(in[1].Shape().TotalSize()) * tapsPerOutput(in[0].Shape())
}

func (op convGradWOp) macs(_ *tensor.Dense, in []*tensor.Dense) int64 {
	return int64(in[1].Shape().TotalSize()) * tapsPerOutput(op.wShape)
}
