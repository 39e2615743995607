package ops

import (
	"fmt"
	"hash"
	"hash/fnv"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Float is the set of element types every kernel of this package is written
// for: float32 to train, float64 for gradient checks.
type Float interface{ float32 | float64 }

// tt is the gorgonia type of a tensor with the given number of dimensions and
// the shared element type variable 'a'.
func tt(dims int) hm.Type { return G.TensorType{Dims: dims, Of: hm.TypeVariable('a')} }

// scalarT is the type of a scalar with the shared element type 'a'.
func scalarT() hm.Type { return hm.TypeVariable('a') }

// hashOf returns the 32-bit FNV hash of what w writes.
func hashOf(w interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	w.WriteHash(h)
	return h.Sum32()
}

// pure supplies the Op methods that are identical for every op of this
// package: nothing runs outside Go and no input is ever overwritten. It also
// holds the node's output cache (nil for ops made outside a graph).
type pure struct{ oc *outCache }

// outCache keeps the output tensor of one graph node between executions. A
// TapeMachine executes each node once per run and Reset drops every
// register, so without it every step re-allocates (and the GC and the kernel
// re-zero) every activation and gradient. Handing the same tensor back to
// the node at its next execution is safe because the previous execution's
// output is dead by then: the machine's registers were reset, and within a
// run a register holding it was only reused by later nodes once it was dead.
// Callers that keep a node's value across runs must copy it (gorgonia.Read
// values and Node.Value are overwritten by the next run).
type outCache struct{ t *tensor.Dense }

// cached returns a fresh output cache: each node made by G.ApplyOp gets its
// own (an op value must never be shared by two nodes).
func cached() pure { return pure{oc: new(outCache)} }

// output returns the tensor a Do call writes: the cached one when dtype and
// shape match, else a new one (kept when the op has a cache).
func (p pure) output(dt tensor.Dtype, s tensor.Shape) *tensor.Dense {
	if p.oc == nil {
		return tensor.New(tensor.Of(dt), tensor.WithShape(s...))
	}
	if t := p.oc.t; t != nil && t.Dtype() == dt && t.Shape().Eq(s) {
		return t
	}
	p.oc.t = tensor.New(tensor.Of(dt), tensor.WithShape(s...))
	return p.oc.t
}

func (pure) ReturnsPtr() bool     { return false }
func (pure) CallsExtern() bool    { return false }
func (pure) OverwritesInput() int { return -1 }

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

// kernelOp is the part of every op that the shared Do/UsePreallocDo plumbing
// needs: shape inference and a kernel that fully overwrites out.
type kernelOp interface {
	G.Op
	// exec computes the result into out, overwriting every element. The
	// inputs are contiguous dense tensors of out's dtype whose shapes
	// InferShape accepted.
	exec(out *tensor.Dense, in []*tensor.Dense) error
	output(dt tensor.Dtype, s tensor.Shape) *tensor.Dense
}

// prepareInputs turns the values given to Do into contiguous dense tensors of
// one float dtype. A scalar value becomes a 1-element vector.
func prepareInputs(op G.Op, vals []G.Value) ([]*tensor.Dense, []G.DimSizer, tensor.Dtype, error) {
	if op.Arity() >= 0 && len(vals) != op.Arity() {
		return nil, nil, tensor.Dtype{}, fmt.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(vals))
	}
	ds := make([]*tensor.Dense, len(vals))
	shapes := make([]G.DimSizer, len(vals))
	var dt tensor.Dtype
	for i, v := range vals {
		var d *tensor.Dense
		switch t := v.(type) {
		case *tensor.Dense:
			d = t
			if d.IsView() {
				m, ok := tensor.Materialize(d).(*tensor.Dense)
				if !ok {
					return nil, nil, dt, fmt.Errorf("%v: input %d: cannot materialise view", op, i)
				}
				d = m
			}
			shapes[i] = d.Shape()
			if d.Shape().Dims() == 0 {
				switch sv := d.ScalarValue().(type) {
				case float32:
					d = tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{sv}))
				case float64:
					d = tensor.New(tensor.WithShape(1), tensor.WithBacking([]float64{sv}))
				default:
					return nil, nil, dt, fmt.Errorf("%v: input %d: unsupported scalar %T", op, i, sv)
				}
			}
		case *G.F32:
			d = tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{float32(*t)}))
			shapes[i] = tensor.ScalarShape()
		case *G.F64:
			d = tensor.New(tensor.WithShape(1), tensor.WithBacking([]float64{float64(*t)}))
			shapes[i] = tensor.ScalarShape()
		default:
			return nil, nil, dt, fmt.Errorf("%v: input %d: unsupported value type %T", op, i, v)
		}
		if i == 0 {
			dt = d.Dtype()
			if dt != tensor.Float32 && dt != tensor.Float64 {
				return nil, nil, dt, fmt.Errorf("%v: input %d: dtype %v not supported (float32, float64)", op, i, dt)
			}
		} else if d.Dtype() != dt {
			return nil, nil, dt, fmt.Errorf("%v: input %d: dtype %v, want %v", op, i, d.Dtype(), dt)
		}
		ds[i] = d
	}
	return ds, shapes, dt, nil
}

// doOp is the shared Do: validate, allocate, run the kernel.
func doOp(op kernelOp, vals []G.Value) (G.Value, error) {
	in, shapes, dt, err := prepareInputs(op, vals)
	if err != nil {
		return nil, err
	}
	s, err := op.InferShape(shapes...)
	if err != nil {
		return nil, err
	}
	out := op.output(dt, s)
	if err := execTimed(op, out, in); err != nil {
		return nil, err
	}
	return out, nil
}

// execTimed runs op.exec, timing it when SetTiming is on.
func execTimed(op kernelOp, out *tensor.Dense, in []*tensor.Dense) error {
	if !timingOn.Load() {
		return op.exec(out, in)
	}
	t := time.Now()
	err := op.exec(out, in)
	record(op, out, in, time.Since(t))
	return err
}

// preallocOp is the shared UsePreallocDo. The tape machine may hand over a
// register that belonged to another node, so shape and dtype are checked
// before anything (including op side effects) happens; an error makes the
// machine fall back to Do.
func preallocOp(op kernelOp, p G.Value, vals []G.Value) (G.Value, error) {
	out, ok := p.(*tensor.Dense)
	if !ok || out.IsView() {
		return nil, fmt.Errorf("%v: preallocated value %T is not a contiguous dense tensor", op, p)
	}
	in, shapes, dt, err := prepareInputs(op, vals)
	if err != nil {
		return nil, err
	}
	s, err := op.InferShape(shapes...)
	if err != nil {
		return nil, err
	}
	if !out.Shape().Eq(s) || out.Dtype() != dt {
		return nil, fmt.Errorf("%v: preallocated %v %v, want %v %v", op, out.Shape(), out.Dtype(), s, dt)
	}
	if err := execTimed(op, out, in); err != nil {
		return nil, err
	}
	return out, nil
}

// sl returns the backing slice of a dense tensor whose dtype is known to be T.
func sl[T Float](d *tensor.Dense) []T { return d.Data().([]T) }

func isF32(d *tensor.Dense) bool { return d.Dtype() == tensor.Float32 }

// ---- parallel helpers ----

// workersFor returns how many goroutines to use for n independent tasks of
// about `work` elements each, so that each goroutine gets at least minWork
// elements.
func workersFor(n, work, minWork int) int {
	w := runtime.GOMAXPROCS(0)
	if w > n {
		w = n
	}
	if work > 0 && minWork > 0 {
		if byWork := n * work / minWork; byWork < w {
			w = byWork
		}
	}
	if w < 1 {
		w = 1
	}
	return w
}

// runTasks runs fn(worker, task) for task in [0,n) on `workers` goroutines
// with dynamic scheduling; worker is in [0,workers).
func runTasks(n, workers int, fn func(worker, task int)) {
	if workers <= 1 || n <= 1 {
		for t := 0; t < n; t++ {
			fn(0, t)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func(w int) {
			defer wg.Done()
			for {
				t := int(next.Add(1)) - 1
				if t >= n {
					return
				}
				fn(w, t)
			}
		}(w)
	}
	wg.Wait()
}

// parallelRange splits [0,n) into contiguous ranges (one per worker, each
// with at least minPer items) and runs fn on them concurrently. It returns
// the number of ranges; fn's first argument is the range index. Only for
// independent work: the split depends on GOMAXPROCS, so a reduction must use
// fixedParts/runParts instead.
func parallelRange(n, minPer int, fn func(part, lo, hi int)) int {
	if n <= 0 {
		return 0
	}
	w := runtime.GOMAXPROCS(0)
	if minPer < 1 {
		minPer = 1
	}
	if m := n / minPer; m < w {
		w = m
	}
	if w <= 1 {
		fn(0, 0, n)
		return 1
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for p := 1; p < w; p++ {
		lo, hi := p*n/w, (p+1)*n/w
		go func(p, lo, hi int) {
			defer wg.Done()
			fn(p, lo, hi)
		}(p, lo, hi)
	}
	fn(0, 0, n/w)
	wg.Wait()
	return w
}

// maxParts bounds the number of parts of a reduction. Reductions split their
// input into fixedParts(n, minPer) contiguous parts, a number that depends on
// the problem size only (never on GOMAXPROCS or timing); each part sums its
// range in order into its own accumulator and the accumulators are added in
// part order. So results are bit-identical from run to run and across
// machines with different core counts.
const maxParts = 8

// fixedParts returns the number of parts for a reduction over n items with at
// least minPer items per part (1 to maxParts).
func fixedParts(n, minPer int) int {
	if minPer < 1 {
		minPer = 1
	}
	p := n / minPer
	if p > maxParts {
		p = maxParts
	}
	if p < 1 {
		p = 1
	}
	return p
}

// partRange is part p of parts over [0,n).
func partRange(n, parts, p int) (lo, hi int) { return p * n / parts, (p + 1) * n / parts }

// runParts runs fn(part, lo, hi) for each of the parts of [0,n) (see
// fixedParts), scheduled dynamically on up to GOMAXPROCS goroutines.
func runParts(n, parts int, fn func(part, lo, hi int)) {
	runTasks(parts, workersFor(parts, 1, 1), func(_, p int) {
		lo, hi := partRange(n, parts, p)
		fn(p, lo, hi)
	})
}

// elemGrain is the smallest number of elements worth a goroutine in
// elementwise loops (a variable so tests can force the parallel paths).
var elemGrain = 1 << 14
