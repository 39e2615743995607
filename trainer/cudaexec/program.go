package cudaexec

import (
	"fmt"
	"reflect"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/effnas/effnas/trainer/cuda"
	"github.com/effnas/effnas/trainer/cudaops"
	"github.com/effnas/effnas/trainer/ops"
)

// Spec says what a program reads, keeps and where its state lives.
type Spec struct {
	// Inputs are the nodes the caller fills before each run (images,
	// targets, masks): each gets a device buffer of its own
	// (Program.Buffer) that the program only reads.
	Inputs []*G.Node
	// Bound are nodes whose values live in device buffers the caller owns
	// (the parameters, resident for the whole of training). The program
	// only reads them.
	Bound map[*G.Node]cuda.Buffer
	// Into are outputs the program writes into buffers the caller owns
	// (the gradients, laid out next to each other for one optimizer
	// launch over all of them).
	Into map[*G.Node]cuda.Buffer
	// Outputs are the nodes the caller reads after a run (the loss, the
	// logits, the parameters' gradients): their buffers hold the values
	// until the next run. Everything else a run computes lives only as
	// long as a later instruction reads it.
	Outputs []*G.Node
	// BatchNorm returns the device state of a BatchNorm layer of the graph
	// (running statistics, and what a training forward pass leaves for its
	// backward pass); the caller owns it, so that the programs of one
	// network (training, evaluation) share their layers.
	BatchNorm func(*ops.BatchNorm) (*cudaops.BatchNorm, error)
}

// Program is a gorgonia graph compiled for one device: a list of
// instructions, each a launch wrapper of package cudaops (or a cuBLAS
// GEMM) on buffers of one arena. Use it on the device thread that
// compiled it (inside Device.Do); it is not safe for concurrent use.
type Program struct {
	k      *cudaops.Kernels
	instrs []*instr
	bufs   map[*G.Node]cuda.Buffer
	// the inputs and constants (a buffer each), the arena's placements
	persistent []*G.Node
	offs       map[*G.Node]int
	peak       int
	// memory the program owns: the arena, the inputs, constants, unused
	// outputs of grouped instructions, convolution plans
	arena cuda.Buffer
	owned []cuda.Buffer
	convs map[cudaops.ConvShape]*cudaops.Conv
	// backward says whether a run needs the batch statistics of its own
	// forward pass (a training graph)
	backward bool
	stats    Stats
}

// Stats describes a compiled program.
type Stats struct {
	// Instructions is the number of instructions of a run; Nodes the
	// graph's nodes that a run computes (grouped ops count once each).
	Instructions, Nodes int
	// ArenaBytes is the memory of the intermediate values with reuse;
	// NaiveBytes what they would take with a buffer each.
	ArenaBytes, NaiveBytes int64
	// InputBytes counts the input buffers and constants.
	InputBytes int64
}

// Stats describes the program.
func (p *Program) Stats() Stats { return p.stats }

// instr is one step of a run: it writes the buffers of out, reading those
// of in, with exec made once the buffers are placed.
type instr struct {
	op   string // what it runs, for errors and profiles
	out  []*G.Node
	in   []*G.Node
	make func(p *Program, c *cuda.Ctx) (execFn, error)
	exec execFn
	// bn: a BatchNorm forward (mode applies) or backward (needs BNTrain)
	bnFwd, bnBwd bool
}

type execFn func(c *cuda.Ctx, mode cudaops.BNMode) error

// Compile compiles the nodes of g that s.Outputs depend on into a
// program for c's device. Every op must have a device mapping (the ops
// of package trainer/ops, gorgonia's matrix product, elementwise sum and
// product); any other op, an input that is neither in s.Inputs nor
// bound, or a dtype other than float32 is an error naming the node.
func Compile(c *cuda.Ctx, k *cudaops.Kernels, g *G.ExprGraph, s Spec) (prog *Program, err error) {
	p, err := lowerGraph(k, g, s, true)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.Free(c)
			prog = nil
		}
	}()
	if err := p.allocate(c); err != nil {
		return nil, err
	}
	for _, in := range p.instrs {
		if in.exec, err = in.make(p, c); err != nil {
			return nil, fmt.Errorf("cudaexec: %s: %w", in.op, err)
		}
	}
	return p, nil
}

// Plan is Compile without a device: it maps every op and places the
// values, and returns what the program would be and take (Stats), so
// that a graph's memory is known before a device is involved. The
// buffers of s.Bound and s.Into are not looked at, only their nodes.
func Plan(g *G.ExprGraph, s Spec) (Stats, error) {
	p, err := lowerGraph(nil, g, s, false)
	if err != nil {
		return Stats{}, err
	}
	return p.stats, nil
}

// lowerGraph maps the nodes s.Outputs depend on to instructions and
// places their values (placements only: no device memory yet).
func lowerGraph(k *cudaops.Kernels, g *G.ExprGraph, s Spec, checkBuffers bool) (*Program, error) {
	if len(s.Outputs) == 0 {
		return nil, fmt.Errorf("cudaexec: no outputs to compute")
	}
	sorted, err := G.Sort(g)
	if err != nil {
		return nil, fmt.Errorf("cudaexec: ordering the graph: %w", err)
	}
	// gorgonia sorts from the outputs to the inputs
	order := make([]*G.Node, len(sorted))
	for i, n := range sorted {
		order[len(sorted)-1-i] = n
	}
	needed := map[*G.Node]bool{}
	var mark func(n *G.Node)
	mark = func(n *G.Node) {
		if needed[n] {
			return
		}
		needed[n] = true
		for _, ch := range inputs(n) {
			mark(ch)
		}
	}
	for _, n := range s.Outputs {
		if n == nil {
			return nil, fmt.Errorf("cudaexec: a nil output node")
		}
		mark(n)
	}
	p := &Program{k: k, bufs: map[*G.Node]cuda.Buffer{}, convs: map[cudaops.ConvShape]*cudaops.Conv{}, offs: map[*G.Node]int{}}
	isInput := map[*G.Node]bool{}
	for _, n := range s.Inputs {
		isInput[n] = true
	}
	lw := &lowering{p: p, spec: s, needed: needed, done: map[*G.Node]bool{}, bns: map[*ops.BatchNorm]*cudaops.BatchNorm{},
		fwdOf: map[*ops.BatchNorm]*G.Node{}}
	for _, n := range order {
		if !needed[n] {
			continue
		}
		if n.Dtype() != tensor.Float32 {
			return nil, fmt.Errorf("cudaexec: node %s is %v: the device runs float32 only", name(n), n.Dtype())
		}
		if b, ok := s.Bound[n]; ok {
			if checkBuffers && b.Len() < size(n) {
				return nil, fmt.Errorf("cudaexec: node %s needs %d elements, its bound buffer holds %d", name(n), size(n), b.Len())
			}
			p.bufs[n] = b
			continue
		}
		switch {
		case isInput[n], isConstant(n):
			p.persistent = append(p.persistent, n)
			p.stats.InputBytes += 4 * int64(size(n))
			continue
		case n.Op() == nil:
			return nil, fmt.Errorf("cudaexec: node %s is an input of the graph that is neither bound nor among the inputs", name(n))
		}
		if lw.done[n] {
			continue // computed by an instruction of its group
		}
		in, err := lw.lower(n)
		if err != nil {
			return nil, err
		}
		p.instrs = append(p.instrs, in)
		p.backward = p.backward || in.bnBwd
		p.stats.Nodes += len(in.out)
	}
	p.stats.Instructions = len(p.instrs)
	if err := p.plan(s.Outputs, s.Into, checkBuffers); err != nil {
		return nil, err
	}
	return p, nil
}

// plan places every value the instructions write: outputs written into
// the caller's buffers there, the rest in the arena from the instruction
// that writes it to the last that reads it (outputs: to the end of the
// run).
func (p *Program) plan(outputs []*G.Node, into map[*G.Node]cuda.Buffer, checkBuffers bool) error {
	end := len(p.instrs)
	last := map[*G.Node]int{}
	for i, in := range p.instrs {
		for _, n := range in.in {
			last[n] = i
		}
	}
	for _, n := range outputs {
		last[n] = end
	}
	var pl planner
	written := map[*G.Node]bool{}
	for i, in := range p.instrs {
		for _, n := range in.out {
			if _, bound := p.bufs[n]; bound || written[n] {
				return fmt.Errorf("cudaexec: node %s written twice", name(n))
			}
			written[n] = true
			if b, ok := into[n]; ok {
				if checkBuffers && b.Len() < size(n) {
					return fmt.Errorf("cudaexec: node %s needs %d elements, its output buffer holds %d", name(n), size(n), b.Len())
				}
				p.bufs[n] = b
				continue
			}
			if _, read := last[n]; !read {
				last[n] = i // never read: free right after
			}
			p.offs[n] = pl.alloc(size(n))
			p.stats.NaiveBytes += 4 * int64(alignUp(size(n)))
		}
		for _, n := range append(append([]*G.Node(nil), in.in...), in.out...) {
			if o, ok := p.offs[n]; ok && last[n] == i {
				pl.release(o, size(n))
				delete(last, n) // a node read twice by one instruction is released once
			}
		}
	}
	p.peak = pl.Peak
	p.stats.ArenaBytes = 4 * int64(pl.Peak)
	return nil
}

// allocate makes the device memory of a planned program: a buffer for
// each input and constant (constants filled now) and the arena.
func (p *Program) allocate(c *cuda.Ctx) error {
	for _, n := range p.persistent {
		b, err := c.Alloc(size(n))
		if err != nil {
			return err
		}
		p.owned = append(p.owned, b)
		p.bufs[n] = b
		if isConstant(n) {
			v, err := constantValues(n)
			if err != nil {
				return err
			}
			if err := c.Upload(b, v); err != nil {
				return err
			}
		}
	}
	if p.peak > 0 {
		a, err := c.Alloc(p.peak)
		if err != nil {
			return fmt.Errorf("cudaexec: the arena of %d MiB: %w", p.peak*4>>20, err)
		}
		p.arena = a
	}
	for n, o := range p.offs {
		p.bufs[n] = p.arena.Slice(o, size(n))
	}
	return nil
}

// Buffer returns the device buffer of a node: an input (to fill before a
// run), an output (to read after one) or a bound node.
func (p *Program) Buffer(n *G.Node) (cuda.Buffer, bool) {
	b, ok := p.bufs[n]
	return b, ok && b.Bytes() > 0
}

// Run queues one execution of the program. mode is how BatchNorm forward
// passes normalise: a program with a backward pass needs BNTrain (its
// gradients use the batch statistics of its own forward pass).
func (p *Program) Run(c *cuda.Ctx, mode cudaops.BNMode) error {
	if err := p.checkMode(mode); err != nil {
		return err
	}
	for _, in := range p.instrs {
		if err := in.exec(c, mode); err != nil {
			return fmt.Errorf("cudaexec: %s: %w", in.op, err)
		}
	}
	return nil
}

// OpTime is the device time of the instructions of one op and shape.
type OpTime struct {
	Op    string
	Total time.Duration
	Calls int
}

// Profile runs the program once with an event pair around every
// instruction and returns the device time per op and shape, in program
// order of first appearance. Events cost a little, so the sum exceeds
// an unprofiled run.
func (p *Program) Profile(c *cuda.Ctx, mode cudaops.BNMode) ([]OpTime, error) {
	if err := p.checkMode(mode); err != nil {
		return nil, err
	}
	evs := make([]cuda.Event, len(p.instrs)+1)
	defer func() {
		for _, e := range evs {
			c.FreeEvent(e)
		}
	}()
	for i := range evs {
		e, err := c.NewEvent()
		if err != nil {
			return nil, err
		}
		evs[i] = e
	}
	if err := c.Record(evs[0]); err != nil {
		return nil, err
	}
	for i, in := range p.instrs {
		if err := in.exec(c, mode); err != nil {
			return nil, fmt.Errorf("cudaexec: %s: %w", in.op, err)
		}
		if err := c.Record(evs[i+1]); err != nil {
			return nil, err
		}
	}
	var out []OpTime
	at := map[string]int{}
	for i, in := range p.instrs {
		d, err := c.Elapsed(evs[i], evs[i+1])
		if err != nil {
			return nil, err
		}
		j, ok := at[in.op]
		if !ok {
			j = len(out)
			at[in.op] = j
			out = append(out, OpTime{Op: in.op})
		}
		out[j].Total += d
		out[j].Calls++
	}
	return out, nil
}

// Free releases the program's memory (not the bound buffers nor the
// BatchNorm layers, which the caller owns).
func (p *Program) Free(c *cuda.Ctx) {
	c.Free(p.arena)
	p.arena = cuda.Buffer{}
	for _, b := range p.owned {
		c.Free(b)
	}
	p.owned = nil
	for _, cv := range p.convs {
		cv.Free(c)
	}
	p.convs = map[cudaops.ConvShape]*cudaops.Conv{}
	p.instrs = nil
}

// conv returns the prepared convolution of a shape (shared by the
// forward and gradient instructions of every layer of that shape: one
// stream orders their use of its scratch memory).
func (p *Program) conv(c *cuda.Ctx, s cudaops.ConvShape) (*cudaops.Conv, error) {
	if cv, ok := p.convs[s]; ok {
		return cv, nil
	}
	cv, err := p.k.NewConv(c, s)
	if err != nil {
		return nil, err
	}
	p.convs[s] = cv
	return cv, nil
}

// scratch allocates a buffer the program owns (an output of a grouped
// instruction that the graph does not have or need).
func (p *Program) scratch(c *cuda.Ctx, n int) (cuda.Buffer, error) {
	b, err := c.Alloc(max(1, n))
	if err == nil {
		p.owned = append(p.owned, b)
	}
	return b, err
}

// inputs returns n's input nodes in order.
func inputs(n *G.Node) []*G.Node {
	var out []*G.Node
	for it := n.Graph().From(n.ID()); it.Next(); {
		out = append(out, it.Node().(*G.Node))
	}
	return out
}

// size is the number of float32 elements of n's value (1 for a scalar).
func size(n *G.Node) int { return max(1, n.Shape().TotalSize()) }

func name(n *G.Node) string {
	if n.Op() == nil {
		return fmt.Sprintf("%q", n.Name())
	}
	return fmt.Sprintf("%q (%v, shape %v)", n.Name(), n.Op(), n.Shape())
}

// isConstant reports a gorgonia constant (G.NewConstant, the 1 that
// starts the backward pass).
func isConstant(n *G.Node) bool {
	if n.Op() == nil {
		return false
	}
	switch reflect.TypeOf(n.Op()).String() {
	case "gorgonia.constantScalar", "gorgonia.constantTensor":
		return true
	}
	return false
}

// constantValues returns a constant's values as float32.
func constantValues(n *G.Node) ([]float32, error) {
	switch v := n.Value().(type) {
	case *G.F32:
		return []float32{float32(*v)}, nil
	case tensor.Tensor:
		if d, ok := v.Data().([]float32); ok {
			return append([]float32(nil), d...), nil
		}
		if d, ok := v.Data().(float32); ok {
			return []float32{d}, nil
		}
	}
	return nil, fmt.Errorf("cudaexec: constant %s of type %T is not float32", name(n), n.Value())
}

// checkMode refuses a BatchNorm mode other than training for a program
// with a backward pass.
func (p *Program) checkMode(mode cudaops.BNMode) error {
	if p.backward && mode != cudaops.BNTrain {
		return fmt.Errorf("cudaexec: a program with a BatchNorm backward pass runs in training mode only")
	}
	return nil
}
