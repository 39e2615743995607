package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SoftmaxCrossEntropy returns the scalar mean over the batch of
// -sum_k targets[n,k]*log(softmax(logits[n])_k) for logits and targets of
// shape (N,K). Targets are probabilities (one-hot, or smoothed by the
// caller). It is computed with log-sum-exp; the gradient wrt logits is
// (softmax*sum_k targets - targets)/N, i.e. (softmax-targets)/N for rows that
// sum to 1. Targets get no gradient.
func SoftmaxCrossEntropy(logits, targets *G.Node) (*G.Node, error) {
	const op = "ops.SoftmaxCrossEntropy"
	if err := checkFloatNode(op, "logits", logits, 2); err != nil {
		return nil, err
	}
	if err := checkFloatNode(op, "targets", targets, 2); err != nil {
		return nil, err
	}
	if err := sameDtype(op, logits, targets); err != nil {
		return nil, err
	}
	if _, err := (sceOp{}).inferShape(logits.Shape(), targets.Shape()); err != nil {
		return nil, err
	}
	return apply(sceOp{}, logits, targets)
}

func sceShapes(op string, ls, ts tensor.Shape) error {
	if ls.Dims() != 2 || ls.TotalSize() == 0 {
		return fmt.Errorf("%s: logits must be non-empty (N,K), got shape %v", op, ls)
	}
	if !ts.Eq(ls) {
		return fmt.Errorf("%s: targets have shape %v, want %v like logits", op, ts, ls)
	}
	return nil
}

type sceOp struct{}

func (op sceOp) arity() int     { return 2 }
func (op sceOp) typ() hm.Type   { return hm.NewFnType(tt(2), tt(2), scalarT()) }
func (op sceOp) String() string { return "SoftmaxCrossEntropy" }
func (op sceOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.SoftmaxCrossEntropy", in, 2)
	if err != nil {
		return nil, err
	}
	if err := sceShapes("ops.SoftmaxCrossEntropy", s[0], s[1]); err != nil {
		return nil, err
	}
	return tensor.ScalarShape(), nil
}

// value returns a scalar (*gorgonia.F32 or *gorgonia.F64): a scalar has no
// buffer worth reusing.
func (op sceOp) value(in []*tensor.Dense) (G.Value, error) {
	s := in[0].Shape()
	if isF32(in[0]) {
		return G.NewF32(float32(sceLoss(s[0], s[1], sl[float32](in[0]), sl[float32](in[1])))), nil
	}
	return G.NewF64(sceLoss(s[0], s[1], sl[float64](in[0]), sl[float64](in[1]))), nil
}

// exec is never called: the loss is a valuer.
func (op sceOp) exec(*tensor.Dense, []*tensor.Dense) error {
	return fmt.Errorf("ops.SoftmaxCrossEntropy: computes a scalar value, not into a tensor")
}

func (op sceOp) diffWRT() []bool { return []bool{true, false} }
func (op sceOp) symDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dl, err := apply(sceGradOp{}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dl, nil}, nil
}

// logSumExp returns log(sum(exp(z))) computed stably.
func logSumExp[T Float](z []T) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	if math.IsInf(m, 0) {
		return m
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

func sceLoss[T Float](n, k int, z, t []T) float64 {
	var total float64
	for r := 0; r < n; r++ {
		zr, tr := z[r*k:(r+1)*k], t[r*k:(r+1)*k]
		lse := logSumExp(zr)
		for i, tv := range tr {
			if tv != 0 {
				total += float64(tv) * (lse - float64(zr[i]))
			}
		}
	}
	return total / float64(n)
}

// sceGradOp: dlogits from (logits, targets, g) with g the scalar gradient.
type sceGradOp struct{}

func (op sceGradOp) arity() int     { return 3 }
func (op sceGradOp) typ() hm.Type   { return hm.NewFnType(tt(2), tt(2), scalarT(), tt(2)) }
func (op sceGradOp) String() string { return "SoftmaxCrossEntropyGrad" }
func (op sceGradOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.SoftmaxCrossEntropyGrad", in, 3)
	if err != nil {
		return nil, err
	}
	if err := sceShapes("ops.SoftmaxCrossEntropyGrad", s[0], s[1]); err != nil {
		return nil, err
	}
	if !s[2].IsScalarEquiv() {
		return nil, fmt.Errorf("ops.SoftmaxCrossEntropyGrad: output gradient must be a scalar, got shape %v", s[2])
	}
	return s[0].Clone(), nil
}
func (op sceGradOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	if isF32(out) {
		sceGrad(s[0], s[1], sl[float32](in[0]), sl[float32](in[1]), sl[float32](in[2])[0], sl[float32](out))
	} else {
		sceGrad(s[0], s[1], sl[float64](in[0]), sl[float64](in[1]), sl[float64](in[2])[0], sl[float64](out))
	}
	return nil
}

func sceGrad[T Float](n, k int, z, t []T, g T, dz []T) {
	scale := float64(g) / float64(n)
	for r := 0; r < n; r++ {
		zr, tr, dr := z[r*k:(r+1)*k], t[r*k:(r+1)*k], dz[r*k:(r+1)*k]
		lse := logSumExp(zr)
		var st float64
		for _, tv := range tr {
			st += float64(tv)
		}
		for i := range dr {
			p := math.Exp(float64(zr[i]) - lse)
			dr[i] = T((p*st - float64(tr[i])) * scale)
		}
	}
}

// ---- evaluation helpers (plain tensors, not graph nodes) ----

// rowsOf returns the rows and columns of a 2-D float tensor.
func rowsOf(fn string, t tensor.Tensor) (n, k int, err error) {
	if t == nil || t.Shape().Dims() != 2 || t.Shape().TotalSize() == 0 {
		var s tensor.Shape
		if t != nil {
			s = t.Shape()
		}
		return 0, 0, fmt.Errorf("ops.%s: want a non-empty (N,K) tensor, got shape %v", fn, s)
	}
	return t.Shape()[0], t.Shape()[1], nil
}

func denseData(fn string, t tensor.Tensor) (any, error) {
	d, ok := t.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("ops.%s: want *tensor.Dense, got %T", fn, t)
	}
	if d.IsView() {
		d = tensor.Materialize(d).(*tensor.Dense)
	}
	switch d.Dtype() {
	case tensor.Float32, tensor.Float64:
		return d.Data(), nil
	}
	return nil, fmt.Errorf("ops.%s: dtype %v not supported (float32, float64)", fn, d.Dtype())
}

// Softmax returns the row-wise softmax of logits (N,K) as a new tensor of the
// same dtype.
func Softmax(logits tensor.Tensor) (*tensor.Dense, error) {
	n, k, err := rowsOf("Softmax", logits)
	if err != nil {
		return nil, err
	}
	data, err := denseData("Softmax", logits)
	if err != nil {
		return nil, err
	}
	switch z := data.(type) {
	case []float32:
		out := make([]float32, len(z))
		softmaxRows(n, k, z, out)
		return tensor.New(tensor.WithShape(n, k), tensor.WithBacking(out)), nil
	default:
		z64 := z.([]float64)
		out := make([]float64, len(z64))
		softmaxRows(n, k, z64, out)
		return tensor.New(tensor.WithShape(n, k), tensor.WithBacking(out)), nil
	}
}

func softmaxRows[T Float](n, k int, z, out []T) {
	for r := 0; r < n; r++ {
		zr, or := z[r*k:(r+1)*k], out[r*k:(r+1)*k]
		lse := logSumExp(zr)
		for i, v := range zr {
			or[i] = T(math.Exp(float64(v) - lse))
		}
	}
}

// Argmax returns, for each row of a (N,K) tensor, the index of its largest
// value (the first one on ties).
func Argmax(t tensor.Tensor) ([]int, error) {
	n, k, err := rowsOf("Argmax", t)
	if err != nil {
		return nil, err
	}
	data, err := denseData("Argmax", t)
	if err != nil {
		return nil, err
	}
	if z, ok := data.([]float32); ok {
		return argmaxRows(n, k, z), nil
	}
	return argmaxRows(n, k, data.([]float64)), nil
}

func argmaxRows[T Float](n, k int, z []T) []int {
	out := make([]int, n)
	for r := 0; r < n; r++ {
		best := 0
		for i, v := range z[r*k : (r+1)*k] {
			if v > z[r*k+best] {
				best = i
			}
		}
		out[r] = best
	}
	return out
}
