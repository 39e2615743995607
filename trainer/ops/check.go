package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// checkFloatNode checks that n is a float32 or float64 tensor node with the
// given number of dimensions (dims < 0: any).
func checkFloatNode(op, what string, n *G.Node, dims int) error {
	if n == nil {
		return fmt.Errorf("%s: %s is nil", op, what)
	}
	dt := n.Dtype()
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return fmt.Errorf("%s: %s must be float32 or float64, got %v", op, what, dt)
	}
	if dims >= 0 && n.Shape().Dims() != dims {
		return fmt.Errorf("%s: %s must be %d-D, got shape %v", op, what, dims, n.Shape())
	}
	return nil
}

// sameDtype checks that all nodes share the dtype of the first.
func sameDtype(op string, ns ...*G.Node) error {
	for _, n := range ns[1:] {
		if n.Dtype() != ns[0].Dtype() {
			return fmt.Errorf("%s: dtype mismatch: %v and %v", op, ns[0].Dtype(), n.Dtype())
		}
	}
	return nil
}

// shapesOf converts the DimSizers given to InferShape into shapes.
func shapesOf(op string, in []G.DimSizer, arity int) ([]tensor.Shape, error) {
	if len(in) != arity {
		return nil, fmt.Errorf("%s: want %d inputs, got %d", op, arity, len(in))
	}
	out := make([]tensor.Shape, len(in))
	for i, d := range in {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("%s: input %d: want a tensor.Shape, got %T", op, i, d)
		}
		out[i] = s
	}
	return out, nil
}
