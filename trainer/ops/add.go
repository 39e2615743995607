package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Add returns a + b for two tensors of one shape (the residual connection).
// gorgonia's Add runs a scalar loop; this one uses the vector row kernels
// and writes into the op's own buffer. The gradient passes to both inputs
// unchanged.
func Add(a, b *G.Node) (*G.Node, error) {
	const op = "ops.Add"
	if err := checkFloatNode(op, "a", a, -1); err != nil {
		return nil, err
	}
	if err := checkFloatNode(op, "b", b, -1); err != nil {
		return nil, err
	}
	if err := sameDtype(op, a, b); err != nil {
		return nil, err
	}
	o := addOp{dims: a.Dims()}
	if _, err := o.inferShape(a.Shape(), b.Shape()); err != nil {
		return nil, err
	}
	return apply(o, a, b)
}

type addOp struct {
	dims int
}

func (op addOp) arity() int     { return 2 }
func (op addOp) typ() hm.Type   { return hm.NewFnType(tt(op.dims), tt(op.dims), tt(op.dims)) }
func (op addOp) String() string { return "Add" }
func (op addOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.Add", in, 2)
	if err != nil {
		return nil, err
	}
	if s[0].Dims() != op.dims || op.dims < 1 || s[0].TotalSize() == 0 {
		return nil, fmt.Errorf("ops.Add: a has shape %v, want a non-empty %d-D tensor", s[0], op.dims)
	}
	if !s[1].Eq(s[0]) {
		return nil, fmt.Errorf("ops.Add: b has shape %v, want a's shape %v", s[1], s[0])
	}
	return s[0].Clone(), nil
}
func (op addOp) diffWRT() []bool { return []bool{true, true} }
func (op addOp) symDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return G.Nodes{grad, grad}, nil
}
func (op addOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		addInto(sl[float32](out), sl[float32](in[0]), sl[float32](in[1]))
	} else {
		addInto(sl[float64](out), sl[float64](in[0]), sl[float64](in[1]))
	}
	return nil
}

// addChunk is how many elements addInto copies and then adds while they are
// in cache.
const addChunk = 2048

// addInto writes dst = a + b (dst may be a or b).
func addInto[T Float](dst, a, b []T) {
	parallelRange(len(dst), elemGrain, func(_, lo, hi int) {
		for i := lo; i < hi; i += addChunk {
			e := min(hi, i+addChunk)
			switch {
			case &dst[i] == &b[i]:
				addT(dst[i:e], a[i:e])
			default:
				if &dst[i] != &a[i] {
					copyT(dst[i:e], a[i:e])
				}
				addT(dst[i:e], b[i:e])
			}
		}
	})
}
