package ops

import (
	"sync/atomic"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/effnas/effnas/trainer/kernels"
)

// Engine is a tensor engine for the machines that run graphs of these ops
// (gorgonia.WithEngine): the tape machine gives every value it computes
// its engine. It is gorgonia's standard engine except for
//   - Add of two float32 tensors of one shape, which gorgonia runs when it
//     sums the gradients a node gets from several consumers (a residual
//     block's input): the vector kernels, split over the kernels' team,
//     instead of one scalar loop. Each element is the one float32 addition
//     either way, so results are the same.
//   - MatMul of float32 matrices (gorgonia.Mul, the dense layers and their
//     gradients): kernels.Gemm rather than gonum's, whose parallel path
//     starts goroutines of its own on every call.
//
// Outputs of this package's ops made outside a machine carry it too.
var Engine tensor.Engine = engine{}

type engine struct{ G.StandardEngine }

// fastAdds and fastMatMuls count the operations engine took over (tests).
var fastAdds, fastMatMuls atomic.Int64

// Add is a + b; with a reuse tensor it writes the sum there, with UseUnsafe
// into a, with an incr tensor it adds the sum to it.
func (e engine) Add(a, b tensor.Tensor, opts ...tensor.FuncOpt) (tensor.Tensor, error) {
	if r, ok := fastAdd(a, b, opts); ok {
		return r, nil
	}
	return e.StdEng.Add(a, b, opts...)
}

// MatMul sets prealloc = a*b for matrices; transposed views (gorgonia's
// gradients of Mul) are read in place.
func (e engine) MatMul(a, b, prealloc tensor.Tensor) error {
	if fastMatMul(a, b, prealloc) {
		return nil
	}
	return e.StdEng.MatMul(a, b, prealloc)
}

// matrix32 returns a float32 matrix operand as kernels.Gemm takes it: its
// data, whether it is read transposed, and its row stride as stored.
func matrix32(t tensor.Tensor) (data []float32, trans bool, ld int, ok bool) {
	d, isDense := t.(*tensor.Dense)
	if !isDense || d.Dtype() != tensor.Float32 || d.Dims() != 2 {
		return nil, false, 0, false
	}
	st := d.Strides()
	if len(st) != 2 {
		return nil, false, 0, false
	}
	x, isF32 := d.Data().([]float32)
	if !isF32 {
		return nil, false, 0, false
	}
	switch {
	case st[1] == 1 && st[0] >= d.Shape()[1]:
		return x, false, st[0], true
	case st[0] == 1 && st[1] >= d.Shape()[0]:
		return x, true, st[1], true
	}
	return nil, false, 0, false
}

func fastMatMul(a, b, c tensor.Tensor) bool {
	as, bs, cs := a.Shape(), b.Shape(), c.Shape()
	if len(as) != 2 || len(bs) != 2 || len(cs) != 2 || as[1] != bs[0] || cs[0] != as[0] || cs[1] != bs[1] {
		return false
	}
	x, ta, lda, ok1 := matrix32(a)
	y, tb, ldb, ok2 := matrix32(b)
	z, tc, ldc, ok3 := matrix32(c)
	if !ok1 || !ok2 || !ok3 || tc {
		return false
	}
	m, k, n := as[0], as[1], bs[1]
	if len(z) < (m-1)*ldc+n || sameData(x, z) || sameData(y, z) {
		return false
	}
	kernels.Gemm(ta, tb, m, n, k, 1, x, lda, y, ldb, 0, z, ldc)
	fastMatMuls.Add(1)
	return true
}

// sameData reports whether two slices share their first element.
func sameData(a, b []float32) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }

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
