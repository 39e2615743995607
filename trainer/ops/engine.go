package ops

import (
	"sync/atomic"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Engine is a tensor engine for the machines that run graphs of these ops
// (gorgonia.WithEngine): the tape machine gives every value it computes
// its engine. It is gorgonia's standard engine except for Add of two
// float32 tensors of one shape, which gorgonia runs when it sums the
// gradients a node gets from several consumers (a residual block's input):
// the vector kernels, split over the kernels' team, instead of one scalar
// loop. Each element is the one float32 addition either way, so results
// are the same. Outputs of this package's ops made outside a machine carry
// it too.
var Engine tensor.Engine = engine{}

type engine struct{ G.StandardEngine }

// fastAdds counts the additions engine took over (tests).
var fastAdds atomic.Int64

// Add is a + b; with a reuse tensor it writes the sum there, with UseUnsafe
// into a, with an incr tensor it adds the sum to it.
func (e engine) Add(a, b tensor.Tensor, opts ...tensor.FuncOpt) (tensor.Tensor, error) {
	if r, ok := fastAdd(a, b, opts); ok {
		return r, nil
	}
	return e.StdEng.Add(a, b, opts...)
}

// dense32 returns t's data when t is a contiguous float32 *tensor.Dense of
// shape s (nil s: any shape).
func dense32(t tensor.Tensor, s tensor.Shape) ([]float32, bool) {
	d, ok := t.(*tensor.Dense)
	if !ok || d == nil || d.Dtype() != tensor.Float32 || d.IsView() || d.IsScalar() {
		return nil, false
	}
	if s != nil && !d.Shape().Eq(s) {
		return nil, false
	}
	x, ok := d.Data().([]float32)
	return x, ok
}

func fastAdd(a, b tensor.Tensor, opts []tensor.FuncOpt) (tensor.Tensor, bool) {
	x, ok := dense32(a, nil)
	if !ok {
		return nil, false
	}
	y, ok := dense32(b, a.Shape())
	if !ok {
		return nil, false
	}
	fo := tensor.ParseFuncOpts(opts...)
	incr, reuse, safe := fo.Incr(), fo.Reuse(), fo.Safe()
	if incr != nil || fo.As() != (tensor.Dtype{}) {
		return nil, false
	}
	var dst tensor.Tensor
	switch {
	case reuse != nil:
		dst = reuse
	case !safe:
		dst = a
	default:
		dst = tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(a.Shape().Clone()...), tensor.WithEngine(Engine))
	}
	z, ok := dense32(dst, nil)
	if !ok || len(z) != len(x) {
		return nil, false
	}
	fastAdds.Add(1)
	parallelRange(len(z), elemGrain, func(_, lo, hi int) {
		switch {
		case &z[0] == &x[0]:
			addRow(z[lo:hi], y[lo:hi])
		case &z[0] == &y[0]:
			addRow(z[lo:hi], x[lo:hi])
		default:
			copyRow(z[lo:hi], x[lo:hi])
			addRow(z[lo:hi], y[lo:hi])
		}
	})
	return dst, true
}
