package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SiLU returns x*sigmoid(x) elementwise (Swish), as one fused op.
func SiLU(x *G.Node) (*G.Node, error) {
	if err := checkFloatNode("ops.SiLU", "x", x, -1); err != nil {
		return nil, err
	}
	if x.Dims() == 0 {
		return nil, fmt.Errorf("ops.SiLU: x must be a tensor, got a scalar")
	}
	return apply(unaryOp{kind: kSiLU, dims: x.Dims()}, x)
}

// Sigmoid returns 1/(1+exp(-x)) elementwise.
func Sigmoid(x *G.Node) (*G.Node, error) {
	if err := checkFloatNode("ops.Sigmoid", "x", x, -1); err != nil {
		return nil, err
	}
	if x.Dims() == 0 {
		return nil, fmt.Errorf("ops.Sigmoid: x must be a tensor, got a scalar")
	}
	return apply(unaryOp{kind: kSigmoid, dims: x.Dims()}, x)
}

type unaryKind int

const (
	kSiLU unaryKind = iota
	kSigmoid
	kSiLUGrad    // inputs (x, gy): gy * s(x) * (1 + x*(1-s(x)))
	kSigmoidGrad // inputs (y, gy): gy * y * (1-y)
)

var unaryNames = [...]string{"SiLU", "Sigmoid", "SiLUGrad", "SigmoidGrad"}

// unaryOp is an elementwise op: SiLU and Sigmoid (arity 1) and their
// gradients (arity 2, second input the output gradient).
type unaryOp struct {
	kind unaryKind
	dims int
}

func (op unaryOp) arity() int {
	if op.kind >= kSiLUGrad {
		return 2
	}
	return 1
}
func (op unaryOp) typ() hm.Type {
	if op.arity() == 2 {
		return hm.NewFnType(tt(op.dims), tt(op.dims), tt(op.dims))
	}
	return hm.NewFnType(tt(op.dims), tt(op.dims))
}
func (op unaryOp) String() string { return unaryNames[op.kind] }
func (op unaryOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	name := "ops." + unaryNames[op.kind]
	s, err := shapesOf(name, in, op.arity())
	if err != nil {
		return nil, err
	}
	if s[0].Dims() != op.dims {
		return nil, fmt.Errorf("%s: input has shape %v, want %d dims", name, s[0], op.dims)
	}
	if len(s) == 2 && !s[1].Eq(s[0]) {
		return nil, fmt.Errorf("%s: output gradient has shape %v, want %v", name, s[1], s[0])
	}
	return s[0].Clone(), nil
}
func (op unaryOp) diffWRT() []bool {
	if op.arity() == 2 {
		return []bool{false, false}
	}
	return []bool{true}
}
func (op unaryOp) symDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	var g *G.Node
	var err error
	switch op.kind {
	case kSiLU:
		g, err = apply(unaryOp{kind: kSiLUGrad, dims: op.dims}, in[0], grad)
	case kSigmoid:
		g, err = apply(unaryOp{kind: kSigmoidGrad, dims: op.dims}, out, grad)
	default:
		return nil, fmt.Errorf("%v: second-order gradients are not implemented", op)
	}
	if err != nil {
		return nil, err
	}
	return G.Nodes{g}, nil
}
func (op unaryOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		var b []float32
		if len(in) == 2 {
			b = sl[float32](in[1])
		}
		unaryF32(op.kind, sl[float32](out), sl[float32](in[0]), b)
	} else {
		var b []float64
		if len(in) == 2 {
			b = sl[float64](in[1])
		}
		unaryF64(op.kind, sl[float64](out), sl[float64](in[0]), b)
	}
	return nil
}

// sigmoid64 is a numerically stable float64 logistic function.
func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func unaryF32(k unaryKind, dst, a, b []float32) {
	parallelRange(len(dst), elemGrain, func(_, lo, hi int) {
		d, x := dst[lo:hi], a[lo:hi]
		switch k {
		case kSiLU:
			siluRow(d, x)
		case kSigmoid:
			sigmoidRow(d, x)
		case kSiLUGrad:
			siluGradRow(d, x, b[lo:hi])
		case kSigmoidGrad:
			g := b[lo:hi]
			for i, y := range x {
				d[i] = g[i] * y * (1 - y)
			}
		}
	})
}

func unaryF64(k unaryKind, dst, a, b []float64) {
	parallelRange(len(dst), elemGrain, func(_, lo, hi int) {
		d, x := dst[lo:hi], a[lo:hi]
		switch k {
		case kSiLU:
			for i, v := range x {
				d[i] = v * sigmoid64(v)
			}
		case kSigmoid:
			for i, v := range x {
				d[i] = sigmoid64(v)
			}
		case kSiLUGrad:
			g := b[lo:hi]
			for i, v := range x {
				s := sigmoid64(v)
				d[i] = g[i] * s * (1 + v*(1-s))
			}
		case kSigmoidGrad:
			g := b[lo:hi]
			for i, y := range x {
				d[i] = g[i] * y * (1 - y)
			}
		}
	})
}
