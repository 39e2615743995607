package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ---- GlobalAvgPool ----

// GlobalAvgPool returns the mean over H and W of x (N,H,W,C): shape (N,C).
func GlobalAvgPool(x *G.Node) (*G.Node, error) {
	if err := checkFloatNode("ops.GlobalAvgPool", "x", x, 4); err != nil {
		return nil, err
	}
	if _, err := (gapOp{}).inferShape(x.Shape()); err != nil {
		return nil, err
	}
	return apply(gapOp{}, x)
}

type gapOp struct{}

func (op gapOp) arity() int     { return 1 }
func (op gapOp) typ() hm.Type   { return hm.NewFnType(tt(4), tt(2)) }
func (op gapOp) String() string { return "GlobalAvgPool" }
func (op gapOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.GlobalAvgPool", in, 1)
	if err != nil {
		return nil, err
	}
	if s[0].Dims() != 4 || s[0].TotalSize() == 0 {
		return nil, fmt.Errorf("ops.GlobalAvgPool: x must be non-empty 4-D (N,H,W,C), got shape %v", s[0])
	}
	return tensor.Shape{s[0][0], s[0][3]}, nil
}
func (op gapOp) diffWRT() []bool { return []bool{true} }
func (op gapOp) symDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := apply(gapGradOp{xShape: in[0].Shape().Clone()}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g}, nil
}
func (op gapOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	if isF32(out) {
		gapForward(s[0], s[1]*s[2], s[3], sl[float32](in[0]), sl[float32](out))
	} else {
		gapForward(s[0], s[1]*s[2], s[3], sl[float64](in[0]), sl[float64](out))
	}
	return nil
}

func gapForward[T Float](n, hw, c int, x, y []T) {
	inv := 1 / T(hw)
	runTasks(n, workersFor(n, hw*c, elemGrain), func(_, b int) {
		yr := y[b*c : (b+1)*c]
		clear(yr)
		xb := x[b*hw*c : (b+1)*hw*c]
		for p := 0; p < hw; p++ {
			addT(yr, xb[p*c:(p+1)*c])
		}
		for i := range yr {
			yr[i] *= inv
		}
	})
}

// gapGradOp: dx (N,H,W,C) = gy (N,C) / (H*W), broadcast.
type gapGradOp struct {
	xShape tensor.Shape
}

func (op gapGradOp) arity() int     { return 1 }
func (op gapGradOp) typ() hm.Type   { return hm.NewFnType(tt(2), tt(4)) }
func (op gapGradOp) String() string { return fmt.Sprintf("GlobalAvgPoolGrad{x=%v}", op.xShape) }
func (op gapGradOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.GlobalAvgPoolGrad", in, 1)
	if err != nil {
		return nil, err
	}
	if want := (tensor.Shape{op.xShape[0], op.xShape[3]}); !s[0].Eq(want) {
		return nil, fmt.Errorf("ops.GlobalAvgPoolGrad: output gradient has shape %v, want %v", s[0], want)
	}
	return op.xShape.Clone(), nil
}
func (op gapGradOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := op.xShape
	if isF32(out) {
		gapBackward(s[0], s[1]*s[2], s[3], sl[float32](in[0]), sl[float32](out))
	} else {
		gapBackward(s[0], s[1]*s[2], s[3], sl[float64](in[0]), sl[float64](out))
	}
	return nil
}

func gapBackward[T Float](n, hw, c int, gy, dx []T) {
	inv := 1 / T(hw)
	runTasks(n, workersFor(n, hw*c, elemGrain), func(_, b int) {
		gr := gy[b*c : (b+1)*c]
		db := dx[b*hw*c : (b+1)*hw*c]
		if hw == 0 {
			return
		}
		first := db[:c]
		for i := range first {
			first[i] = gr[i] * inv
		}
		for p := 1; p < hw; p++ {
			copyT(db[p*c:(p+1)*c], first)
		}
	})
}

// ---- ChannelScale ----

// ChannelScale returns x (N,H,W,C) multiplied by s (N,C) broadcast over H and
// W: the squeeze-and-excitation gate.
func ChannelScale(x, s *G.Node) (*G.Node, error) {
	const op = "ops.ChannelScale"
	if err := checkFloatNode(op, "x", x, 4); err != nil {
		return nil, err
	}
	if err := checkFloatNode(op, "s", s, 2); err != nil {
		return nil, err
	}
	if err := sameDtype(op, x, s); err != nil {
		return nil, err
	}
	if _, err := (csOp{}).inferShape(x.Shape(), s.Shape()); err != nil {
		return nil, err
	}
	return apply(csOp{}, x, s)
}

type csOp struct{}

func (op csOp) arity() int     { return 2 }
func (op csOp) typ() hm.Type   { return hm.NewFnType(tt(4), tt(2), tt(4)) }
func (op csOp) String() string { return "ChannelScale" }
func (op csOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.ChannelScale", in, 2)
	if err != nil {
		return nil, err
	}
	if s[0].Dims() != 4 {
		return nil, fmt.Errorf("ops.ChannelScale: x must be 4-D (N,H,W,C), got shape %v", s[0])
	}
	if want := (tensor.Shape{s[0][0], s[0][3]}); !s[1].Eq(want) {
		return nil, fmt.Errorf("ops.ChannelScale: s has shape %v, want %v for x %v", s[1], want, s[0])
	}
	return s[0].Clone(), nil
}
func (op csOp) diffWRT() []bool { return []bool{true, true} }
func (op csOp) symDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := apply(csOp{}, grad, in[1])
	if err != nil {
		return nil, err
	}
	ds, err := apply(csGradSOp{}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, ds}, nil
}
func (op csOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	if isF32(out) {
		csForward(s[0], s[1]*s[2], s[3], sl[float32](in[0]), sl[float32](in[1]), sl[float32](out))
	} else {
		csForward(s[0], s[1]*s[2], s[3], sl[float64](in[0]), sl[float64](in[1]), sl[float64](out))
	}
	return nil
}

func csForward[T Float](n, hw, c int, x, s, y []T) {
	runTasks(n, workersFor(n, hw*c, elemGrain), func(_, b int) {
		sr := s[b*c : (b+1)*c]
		for p := b * hw; p < (b+1)*hw; p++ {
			mulT(y[p*c:(p+1)*c], x[p*c:(p+1)*c], sr)
		}
	})
}

// csGradSOp: ds (N,C) = sum over H,W of x*gy. Inputs (x, gy).
type csGradSOp struct{}

func (op csGradSOp) arity() int     { return 2 }
func (op csGradSOp) typ() hm.Type   { return hm.NewFnType(tt(4), tt(4), tt(2)) }
func (op csGradSOp) String() string { return "ChannelScaleGradS" }
func (op csGradSOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.ChannelScaleGradS", in, 2)
	if err != nil {
		return nil, err
	}
	if s[0].Dims() != 4 || !s[1].Eq(s[0]) {
		return nil, fmt.Errorf("ops.ChannelScaleGradS: want x and gy of one 4-D shape, got %v and %v", s[0], s[1])
	}
	return tensor.Shape{s[0][0], s[0][3]}, nil
}
func (op csGradSOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	if isF32(out) {
		csGradS(s[0], s[1]*s[2], s[3], sl[float32](in[0]), sl[float32](in[1]), sl[float32](out))
	} else {
		csGradS(s[0], s[1]*s[2], s[3], sl[float64](in[0]), sl[float64](in[1]), sl[float64](out))
	}
	return nil
}

func csGradS[T Float](n, hw, c int, x, gy, ds []T) {
	runTasks(n, workersFor(n, hw*c, elemGrain), func(_, b int) {
		dr := ds[b*c : (b+1)*c]
		clear(dr)
		for p := b * hw; p < (b+1)*hw; p++ {
			fmaT(dr, x[p*c:(p+1)*c], gy[p*c:(p+1)*c])
		}
	})
}

// ---- SampleScale ----

// SampleScale returns x (N,...) with sample n multiplied by m[n]; m has shape
// (N). It implements drop-connect (stochastic depth): the caller fills m with
// 0 or 1/survival from its own seeded RNG each step (all ones to evaluate).
// m gets no gradient.
func SampleScale(x, m *G.Node) (*G.Node, error) {
	const op = "ops.SampleScale"
	if err := checkFloatNode(op, "x", x, -1); err != nil {
		return nil, err
	}
	if err := checkFloatNode(op, "m", m, 1); err != nil {
		return nil, err
	}
	if err := sameDtype(op, x, m); err != nil {
		return nil, err
	}
	o := ssOp{dims: x.Dims()}
	if _, err := o.inferShape(x.Shape(), m.Shape()); err != nil {
		return nil, err
	}
	return apply(o, x, m)
}

type ssOp struct {
	dims int
}

func (op ssOp) arity() int     { return 2 }
func (op ssOp) typ() hm.Type   { return hm.NewFnType(tt(op.dims), tt(1), tt(op.dims)) }
func (op ssOp) String() string { return "SampleScale" }
func (op ssOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.SampleScale", in, 2)
	if err != nil {
		return nil, err
	}
	if s[0].Dims() != op.dims || op.dims < 1 {
		return nil, fmt.Errorf("ops.SampleScale: x has shape %v, want %d dims (N,...)", s[0], op.dims)
	}
	if !s[1].Eq(tensor.Shape{s[0][0]}) {
		return nil, fmt.Errorf("ops.SampleScale: m has shape %v, want (%d) for x %v", s[1], s[0][0], s[0])
	}
	return s[0].Clone(), nil
}
func (op ssOp) diffWRT() []bool { return []bool{true, false} }
func (op ssOp) symDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := apply(op, grad, in[1]) // a new node, with its own output buffer
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, nil}, nil
}
func (op ssOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	n := in[0].Shape()[0]
	per := in[0].Shape().TotalSize() / n
	if isF32(out) {
		ssForward(n, per, sl[float32](in[0]), sl[float32](in[1]), sl[float32](out))
	} else {
		ssForward(n, per, sl[float64](in[0]), sl[float64](in[1]), sl[float64](out))
	}
	return nil
}

func ssForward[T Float](n, per int, x, m, y []T) {
	runTasks(n, workersFor(n, per, elemGrain), func(_, b int) {
		xr, yr, s := x[b*per:(b+1)*per], y[b*per:(b+1)*per], m[b]
		if s == 0 {
			clear(yr)
			return
		}
		for i := range yr {
			yr[i] = xr[i] * s
		}
	})
}

// ---- BiasAdd ----

// BiasAdd returns x (...,C) plus b (C) broadcast over the leading axes.
func BiasAdd(x, b *G.Node) (*G.Node, error) {
	const op = "ops.BiasAdd"
	if err := checkFloatNode(op, "x", x, -1); err != nil {
		return nil, err
	}
	if err := checkFloatNode(op, "b", b, 1); err != nil {
		return nil, err
	}
	if err := sameDtype(op, x, b); err != nil {
		return nil, err
	}
	o := biasOp{dims: x.Dims()}
	if _, err := o.inferShape(x.Shape(), b.Shape()); err != nil {
		return nil, err
	}
	return apply(o, x, b)
}

type biasOp struct {
	dims int
}

func (op biasOp) arity() int     { return 2 }
func (op biasOp) typ() hm.Type   { return hm.NewFnType(tt(op.dims), tt(1), tt(op.dims)) }
func (op biasOp) String() string { return "BiasAdd" }
func (op biasOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.BiasAdd", in, 2)
	if err != nil {
		return nil, err
	}
	if s[0].Dims() != op.dims || op.dims < 1 {
		return nil, fmt.Errorf("ops.BiasAdd: x has shape %v, want %d dims (...,C)", s[0], op.dims)
	}
	if c := s[0][op.dims-1]; !s[1].Eq(tensor.Shape{c}) {
		return nil, fmt.Errorf("ops.BiasAdd: b has shape %v, want (%d) for x %v", s[1], c, s[0])
	}
	return s[0].Clone(), nil
}
func (op biasOp) diffWRT() []bool { return []bool{true, true} }
func (op biasOp) symDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	db, err := apply(chanSumOp{dims: op.dims}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{grad, db}, nil
}
func (op biasOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	c := in[1].Shape()[0]
	if isF32(out) {
		biasForward(c, sl[float32](in[0]), sl[float32](in[1]), sl[float32](out))
	} else {
		biasForward(c, sl[float64](in[0]), sl[float64](in[1]), sl[float64](out))
	}
	return nil
}

func biasForward[T Float](c int, x, b, y []T) {
	rows := len(x) / c
	parallelRange(rows, max(1, elemGrain/c), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*c:(r+1)*c], y[r*c:(r+1)*c]
			for i := range yr {
				yr[i] = xr[i] + b[i]
			}
		}
	})
}

// chanSumOp sums a (...,C) tensor over every axis but the last: the bias
// (and BatchNorm beta) gradient.
type chanSumOp struct {
	dims int
}

func (op chanSumOp) arity() int     { return 1 }
func (op chanSumOp) typ() hm.Type   { return hm.NewFnType(tt(op.dims), tt(1)) }
func (op chanSumOp) String() string { return "ChannelSum" }
func (op chanSumOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.ChannelSum", in, 1)
	if err != nil {
		return nil, err
	}
	if s[0].Dims() != op.dims || op.dims < 1 {
		return nil, fmt.Errorf("ops.ChannelSum: input has shape %v, want %d dims", s[0], op.dims)
	}
	return tensor.Shape{s[0][op.dims-1]}, nil
}
func (op chanSumOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	c := out.Shape()[0]
	if isF32(out) {
		channelSum(c, sl[float32](in[0]), sl[float32](out))
	} else {
		channelSum(c, sl[float64](in[0]), sl[float64](out))
	}
	return nil
}

// channelSum writes the per-channel sum of x (rows, c) into dst (c).
func channelSum[T Float](c int, x, dst []T) {
	rows := len(x) / c
	np := fixedParts(rows, max(1, elemGrain/c))
	parts := make([][]T, np)
	parts[0] = dst
	for i := 1; i < np; i++ {
		parts[i] = make([]T, c)
	}
	clear(dst)
	runParts(rows, np, func(pi, lo, hi int) {
		acc := parts[pi]
		for r := lo; r < hi; r++ {
			addT(acc, x[r*c:(r+1)*c])
		}
	})
	sumInto(dst, parts[1:])
}
