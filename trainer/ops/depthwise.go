package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// dwShapes validates x (N,H,W,C) and w (KH,KW,C) and returns the geometry.
func dwShapes(op string, xs, ws tensor.Shape, stride int) (convGeom, error) {
	if stride < 1 {
		return convGeom{}, fmt.Errorf("%s: stride must be >= 1, got %d", op, stride)
	}
	if xs.Dims() != 4 {
		return convGeom{}, fmt.Errorf("%s: x must be 4-D NHWC (N,H,W,C), got shape %v", op, xs)
	}
	if ws.Dims() != 3 {
		return convGeom{}, fmt.Errorf("%s: w must be 3-D (KH,KW,C), got shape %v", op, ws)
	}
	for _, d := range append(xs.Clone(), ws...) {
		if d < 1 {
			return convGeom{}, fmt.Errorf("%s: empty dimension in x %v or w %v", op, xs, ws)
		}
	}
	if ws[2] != xs[3] {
		return convGeom{}, fmt.Errorf("%s: w %v has C=%d but x %v has %d channels (want w (KH,KW,%d))", op, ws, ws[2], xs, xs[3], xs[3])
	}
	return newConvGeom(xs[0], xs[1], xs[2], xs[3], ws[0], ws[1], xs[3], stride), nil
}

// DepthwiseConv2D returns the same-padded depthwise convolution (channel
// multiplier 1) of x (N,H,W,C) with w (KH,KW,C): shape (N,ceil(H/s),ceil(W/s),C).
func DepthwiseConv2D(x, w *G.Node, stride int) (*G.Node, error) {
	const op = "ops.DepthwiseConv2D"
	if err := checkFloatNode(op, "x", x, 4); err != nil {
		return nil, err
	}
	if err := checkFloatNode(op, "w", w, 3); err != nil {
		return nil, err
	}
	if err := sameDtype(op, x, w); err != nil {
		return nil, err
	}
	if _, err := dwShapes(op, x.Shape(), w.Shape(), stride); err != nil {
		return nil, err
	}
	return G.ApplyOp(dwConvOp{pure: cached(), stride: stride}, x, w)
}

// dwConvOp: y = depthwise(x, w). Inputs (x, w).
type dwConvOp struct {
	pure
	stride int
}

func (op dwConvOp) Arity() int     { return 2 }
func (op dwConvOp) Type() hm.Type  { return hm.NewFnType(tt(4), tt(3), tt(4)) }
func (op dwConvOp) String() string { return fmt.Sprintf("DepthwiseConv2D{s=%d,same}", op.stride) }
func (op dwConvOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "ops.DepthwiseConv2D{stride=%d}", op.stride)
}
func (op dwConvOp) Hashcode() uint32 { return hashOf(op) }
func (op dwConvOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.DepthwiseConv2D", in, 2)
	if err != nil {
		return nil, err
	}
	g, err := dwShapes("ops.DepthwiseConv2D", s[0], s[1], op.stride)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{g.n, g.oh, g.ow, g.cin}, nil
}
func (op dwConvOp) Do(v ...G.Value) (G.Value, error) { return doOp(op, v) }
func (op dwConvOp) UsePreallocDo(p G.Value, v ...G.Value) (G.Value, error) {
	return preallocOp(op, p, v)
}
func (op dwConvOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	g, err := dwShapes("ops.DepthwiseConv2D", in[0].Shape(), in[1].Shape(), op.stride)
	if err != nil {
		return err
	}
	if isF32(out) {
		dwForward(g, sl[float32](in[0]), sl[float32](in[1]), sl[float32](out))
	} else {
		dwForward(g, sl[float64](in[0]), sl[float64](in[1]), sl[float64](out))
	}
	return nil
}
func (op dwConvOp) DiffWRT(int) []bool { return []bool{true, true} }
func (op dwConvOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("ops.DepthwiseConv2D: SymDiff wants 2 inputs, got %d", len(in))
	}
	dx, err := G.ApplyOp(dwGradXOp{pure: cached(), stride: op.stride, xShape: in[0].Shape().Clone()}, in[1], grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(dwGradWOp{pure: cached(), stride: op.stride, wShape: in[1].Shape().Clone()}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// dwGradXOp: dX from (w, gy).
type dwGradXOp struct {
	pure
	stride int
	xShape tensor.Shape
}

func (op dwGradXOp) Arity() int    { return 2 }
func (op dwGradXOp) Type() hm.Type { return hm.NewFnType(tt(3), tt(4), tt(4)) }
func (op dwGradXOp) String() string {
	return fmt.Sprintf("DepthwiseConv2DGradX{s=%d,x=%v}", op.stride, op.xShape)
}
func (op dwGradXOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "ops.DepthwiseConv2DGradX{stride=%d,x=%v}", op.stride, op.xShape)
}
func (op dwGradXOp) Hashcode() uint32 { return hashOf(op) }
func (op dwGradXOp) geom(ws, gys tensor.Shape) (convGeom, error) {
	g, err := dwShapes("ops.DepthwiseConv2DGradX", op.xShape, ws, op.stride)
	if err != nil {
		return g, err
	}
	if want := (tensor.Shape{g.n, g.oh, g.ow, g.cin}); !gys.Eq(want) {
		return g, fmt.Errorf("ops.DepthwiseConv2DGradX: output gradient has shape %v, want %v", gys, want)
	}
	return g, nil
}
func (op dwGradXOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.DepthwiseConv2DGradX", in, 2)
	if err != nil {
		return nil, err
	}
	if _, err := op.geom(s[0], s[1]); err != nil {
		return nil, err
	}
	return op.xShape.Clone(), nil
}
func (op dwGradXOp) Do(v ...G.Value) (G.Value, error) { return doOp(op, v) }
func (op dwGradXOp) UsePreallocDo(p G.Value, v ...G.Value) (G.Value, error) {
	return preallocOp(op, p, v)
}
func (op dwGradXOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op dwGradXOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second-order gradients are not implemented", op)
}
func (op dwGradXOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	g, err := op.geom(in[0].Shape(), in[1].Shape())
	if err != nil {
		return err
	}
	if isF32(out) {
		dwGradX(g, sl[float32](in[0]), sl[float32](in[1]), sl[float32](out))
	} else {
		dwGradX(g, sl[float64](in[0]), sl[float64](in[1]), sl[float64](out))
	}
	return nil
}

// dwGradWOp: dW from (x, gy).
type dwGradWOp struct {
	pure
	stride int
	wShape tensor.Shape
}

func (op dwGradWOp) Arity() int    { return 2 }
func (op dwGradWOp) Type() hm.Type { return hm.NewFnType(tt(4), tt(4), tt(3)) }
func (op dwGradWOp) String() string {
	return fmt.Sprintf("DepthwiseConv2DGradW{s=%d,w=%v}", op.stride, op.wShape)
}
func (op dwGradWOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "ops.DepthwiseConv2DGradW{stride=%d,w=%v}", op.stride, op.wShape)
}
func (op dwGradWOp) Hashcode() uint32 { return hashOf(op) }
func (op dwGradWOp) geom(xs, gys tensor.Shape) (convGeom, error) {
	g, err := dwShapes("ops.DepthwiseConv2DGradW", xs, op.wShape, op.stride)
	if err != nil {
		return g, err
	}
	if want := (tensor.Shape{g.n, g.oh, g.ow, g.cin}); !gys.Eq(want) {
		return g, fmt.Errorf("ops.DepthwiseConv2DGradW: output gradient has shape %v, want %v", gys, want)
	}
	return g, nil
}
func (op dwGradWOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.DepthwiseConv2DGradW", in, 2)
	if err != nil {
		return nil, err
	}
	if _, err := op.geom(s[0], s[1]); err != nil {
		return nil, err
	}
	return op.wShape.Clone(), nil
}
func (op dwGradWOp) Do(v ...G.Value) (G.Value, error) { return doOp(op, v) }
func (op dwGradWOp) UsePreallocDo(p G.Value, v ...G.Value) (G.Value, error) {
	return preallocOp(op, p, v)
}
func (op dwGradWOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op dwGradWOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second-order gradients are not implemented", op)
}
func (op dwGradWOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	g, err := op.geom(in[0].Shape(), in[1].Shape())
	if err != nil {
		return err
	}
	if isF32(out) {
		dwGradW(g, sl[float32](in[0]), sl[float32](in[1]), sl[float32](out))
	} else {
		dwGradW(g, sl[float64](in[0]), sl[float64](in[1]), sl[float64](out))
	}
	return nil
}

// ---- kernels: NHWC, innermost loop over channels ----

// dwWorkers returns the goroutine count for a per-sample loop.
func dwWorkers(g convGeom) int {
	return workersFor(g.n, g.rowsPerSample*g.kh*g.kw*g.cin, elemGrain)
}

func dwForward[T Float](g convGeom, x, w, y []T) {
	c := g.cin
	runTasks(g.n, dwWorkers(g), func(_, b int) {
		xb := x[b*g.h*g.w*c : (b+1)*g.h*g.w*c]
		yb := y[b*g.rowsPerSample*c : (b+1)*g.rowsPerSample*c]
		xo, wo := make([]int, g.kh*g.kw), make([]int, g.kh*g.kw)
		for oy := 0; oy < g.oh; oy++ {
			for ox := 0; ox < g.ow; ox++ {
				t := 0
				for ky := 0; ky < g.kh; ky++ {
					iy := oy*g.stride - g.padT + ky
					if iy < 0 || iy >= g.h {
						continue
					}
					for kx := 0; kx < g.kw; kx++ {
						ix := ox*g.stride - g.padL + kx
						if ix < 0 || ix >= g.w {
							continue
						}
						xo[t], wo[t] = (iy*g.w+ix)*c, (ky*g.kw+kx)*c
						t++
					}
				}
				dwPixelT(yb[(oy*g.ow+ox)*c:], xb, w, xo[:t], wo[:t], c)
			}
		}
	})
}

func dwGradX[T Float](g convGeom, w, gy, dx []T) {
	c := g.cin
	runTasks(g.n, dwWorkers(g), func(_, b int) {
		db := dx[b*g.h*g.w*c : (b+1)*g.h*g.w*c]
		gb := gy[b*g.rowsPerSample*c : (b+1)*g.rowsPerSample*c]
		xo, wo := make([]int, g.kh*g.kw), make([]int, g.kh*g.kw)
		// gather: input pixel (iy, ix) gets gy(oy, ox)*w(ky, kx) for every
		// tap with oy*stride - padT + ky = iy (and likewise x), in tap order
		for iy := 0; iy < g.h; iy++ {
			for ix := 0; ix < g.w; ix++ {
				t := 0
				for ky := 0; ky < g.kh; ky++ {
					ny := iy + g.padT - ky
					if ny < 0 || ny%g.stride != 0 || ny/g.stride >= g.oh {
						continue
					}
					oy := ny / g.stride
					for kx := 0; kx < g.kw; kx++ {
						nx := ix + g.padL - kx
						if nx < 0 || nx%g.stride != 0 || nx/g.stride >= g.ow {
							continue
						}
						xo[t], wo[t] = (oy*g.ow+nx/g.stride)*c, (ky*g.kw+kx)*c
						t++
					}
				}
				dwPixelT(db[(iy*g.w+ix)*c:], gb, w, xo[:t], wo[:t], c)
			}
		}
	})
}

// dwGradW sums over the batch in fixed parts of samples (each part in
// sample order into its own buffer), then adds the parts in order.
func dwGradW[T Float](g convGeom, x, gy, dw []T) {
	c := g.cin
	np := fixedParts(g.n, max(1, elemGrain/(g.rowsPerSample*g.kh*g.kw*c)))
	acc := make([][]T, np)
	acc[0] = dw
	for i := 1; i < np; i++ {
		acc[i] = make([]T, len(dw))
	}
	clear(dw)
	runParts(g.n, np, func(pi, lo, hi int) {
		a := acc[pi]
		// per sample and tap: the sum over the output pixels whose window
		// has the tap inside the input, accumulated in registers
		goff, xoff := make([]int, g.rowsPerSample), make([]int, g.rowsPerSample)
		tmp := make([]T, c)
		for b := lo; b < hi; b++ {
			xb := x[b*g.h*g.w*c : (b+1)*g.h*g.w*c]
			gb := gy[b*g.rowsPerSample*c : (b+1)*g.rowsPerSample*c]
			for ky := 0; ky < g.kh; ky++ {
				for kx := 0; kx < g.kw; kx++ {
					n := 0
					for oy := 0; oy < g.oh; oy++ {
						iy := oy*g.stride - g.padT + ky
						if iy < 0 || iy >= g.h {
							continue
						}
						for ox := 0; ox < g.ow; ox++ {
							ix := ox*g.stride - g.padL + kx
							if ix < 0 || ix >= g.w {
								continue
							}
							goff[n], xoff[n] = (oy*g.ow+ox)*c, (iy*g.w+ix)*c
							n++
						}
					}
					dwPixelT(tmp, gb, xb, goff[:n], xoff[:n], c)
					addT(a[(ky*g.kw+kx)*c:(ky*g.kw+kx+1)*c], tmp)
				}
			}
		}
	})
	sumInto(dw, acc[1:])
}
