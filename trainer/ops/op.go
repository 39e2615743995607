package ops

import (
	"fmt"
	"hash"
	"hash/fnv"
	"time"

	G "gorgonia.org/gorgonia"

	"github.com/chewxy/hm"
	"gorgonia.org/tensor"
)

// kernel is an op of this package without gorgonia's plumbing: its name
// and attributes, its type and shape rules and its computation. op wraps it
// into a gorgonia.Op; a forward op also implements differentiable. Adding
// an op is writing a kernel and a constructor that calls apply.
type kernel interface {
	// String names the op and its main attributes (errors, timings: the
	// op type is String up to the first '{' or '(').
	String() string
	arity() int
	typ() hm.Type
	// inferShape checks the input shapes and returns the output shape.
	inferShape(in ...G.DimSizer) (tensor.Shape, error)
	// exec computes the result into out, overwriting every element. The
	// inputs are contiguous dense tensors of out's dtype whose shapes
	// inferShape accepted.
	exec(out *tensor.Dense, in []*tensor.Dense) error
}

// differentiable is a kernel with a symbolic gradient. Kernels without it
// (the gradient ops) are not differentiable again: no second order.
type differentiable interface {
	diffWRT() []bool
	symDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error)
}

// valuer is a kernel whose result is not a dense tensor of its output
// shape (a scalar loss): it computes a fresh value instead of exec.
type valuer interface {
	value(in []*tensor.Dense) (G.Value, error)
}

// op adapts a kernel to gorgonia: every method gorgonia asks of an Op, the
// Do and UsePreallocDo plumbing, the hash (the kernel's type and every
// attribute) and the output cache. Nothing runs outside Go and no input is
// ever overwritten.
type op[K kernel] struct {
	k  K
	oc *outCache // nil for ops made outside a graph
}

// apply adds kernel k on the inputs to their graph, with its own output
// cache (an op value must never be shared by two nodes).
func apply[K kernel](k K, in ...*G.Node) (*G.Node, error) {
	return G.ApplyOp(op[K]{k: k, oc: new(outCache)}, in...)
}

// opOf wraps a kernel without an output cache (tests, benchmarks).
func opOf[K kernel](k K) op[K] { return op[K]{k: k} }

func (o op[K]) Arity() int     { return o.k.arity() }
func (o op[K]) Type() hm.Type  { return o.k.typ() }
func (o op[K]) String() string { return o.k.String() }

// WriteHash covers the kernel's type and every attribute (Go syntax, not
// String), so ops that differ in any of them never merge in a graph (a
// BatchNorm kernel's layer pointer keeps two layers on one input apart).
func (o op[K]) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%#v", o.k) }
func (o op[K]) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}
func (o op[K]) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return o.k.inferShape(in...) }
func (o op[K]) ReturnsPtr() bool                                  { return false }
func (o op[K]) CallsExtern() bool                                 { return false }
func (o op[K]) OverwritesInput() int                              { return -1 }

func (o op[K]) DiffWRT(n int) []bool {
	if d, ok := any(o.k).(differentiable); ok {
		return d.diffWRT()
	}
	return make([]bool, o.k.arity())
}

func (o op[K]) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if d, ok := any(o.k).(differentiable); ok {
		if len(in) != o.k.arity() {
			return nil, fmt.Errorf("%v: SymDiff wants %d inputs, got %d", o, o.k.arity(), len(in))
		}
		return d.symDiff(in, out, grad)
	}
	return nil, fmt.Errorf("%v: second-order gradients are not implemented", o)
}

// Do validates the inputs, takes the output tensor (the cached one when it
// fits) and runs the kernel.
func (o op[K]) Do(vals ...G.Value) (G.Value, error) {
	in, s, dt, err := o.inputs(vals)
	if err != nil {
		return nil, err
	}
	if v, ok := any(o.k).(valuer); ok {
		return v.value(in)
	}
	out := o.output(dt, s)
	if err := execTimed(o.k, out, in); err != nil {
		return nil, err
	}
	return out, nil
}

// UsePreallocDo runs the kernel into p. The tape machine may hand over a
// register that belonged to another node, so shape and dtype are checked
// before anything (including op side effects) happens; an error makes the
// machine fall back to Do. A valuer computes a fresh value.
func (o op[K]) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	if _, ok := any(o.k).(valuer); ok {
		return o.Do(vals...)
	}
	out, ok := p.(*tensor.Dense)
	if !ok || out.IsView() {
		return nil, fmt.Errorf("%v: preallocated value %T is not a contiguous dense tensor", o, p)
	}
	in, s, dt, err := o.inputs(vals)
	if err != nil {
		return nil, err
	}
	if !out.Shape().Eq(s) || out.Dtype() != dt {
		return nil, fmt.Errorf("%v: preallocated %v %v, want %v %v", o, out.Shape(), out.Dtype(), s, dt)
	}
	if err := execTimed(o.k, out, in); err != nil {
		return nil, err
	}
	return out, nil
}

// inputs prepares the values given to Do and infers the output shape.
func (o op[K]) inputs(vals []G.Value) ([]*tensor.Dense, tensor.Shape, tensor.Dtype, error) {
	in, shapes, dt, err := prepareInputs(o, vals)
	if err != nil {
		return nil, nil, dt, err
	}
	s, err := o.k.inferShape(shapes...)
	return in, s, dt, err
}

// execTimed runs k.exec, timing it when SetTiming is on.
func execTimed(k kernel, out *tensor.Dense, in []*tensor.Dense) error {
	if !timingOn.Load() {
		return k.exec(out, in)
	}
	t := time.Now()
	err := k.exec(out, in)
	record(k, out, in, time.Since(t))
	return err
}

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

// output returns the tensor a Do call writes: the cached one when dtype
// and shape match, else a new one (kept when the op has a cache).
func (o op[K]) output(dt tensor.Dtype, s tensor.Shape) *tensor.Dense {
	if o.oc == nil {
		return tensor.New(tensor.Of(dt), tensor.WithShape(s...), tensor.WithEngine(Engine))
	}
	if t := o.oc.t; t != nil && t.Dtype() == dt && t.Shape().Eq(s) {
		return t
	}
	o.oc.t = tensor.New(tensor.Of(dt), tensor.WithShape(s...), tensor.WithEngine(Engine))
	return o.oc.t
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
