package cudaops

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"text/tabwriter"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/effnas/effnas/trainer/cuda"
)

// Tolerance bounds |device - cpu| elementwise by Rel*|cpu| + Abs*max|cpu|
// (Abs is relative to the largest reference value, so that values near
// zero after cancellation are judged on the scale of the output).
type Tolerance struct{ Rel, Abs float64 }

// The tolerances of the parity check (float32 on both sides).
var (
	// TolElementwise: one rounding or a few ulps of expf apart.
	TolElementwise = Tolerance{Rel: 1e-5, Abs: 1e-6}
	// TolReduction: sums in another order (float64 on the device,
	// float32 blocks on the CPU), convolutions and GEMMs in FP32.
	TolReduction = Tolerance{Rel: 1e-4, Abs: 1e-5}
	// TolTF32: GEMMs and convolutions with TF32 tensor cores (10-bit
	// mantissa products).
	TolTF32 = Tolerance{Rel: 1e-2, Abs: 2e-3}
)

// Result is the comparison of one output of one device op with the CPU.
type Result struct {
	Op     string // the op and its shape
	Output string // which output
	N      int    // elements compared
	MaxAbs float64
	// Worst is the largest |device-cpu| / (Rel*|cpu| + Abs*max|cpu|): at
	// most 1 passes.
	Worst float64
	Tol   Tolerance
	Pass  bool
	Err   error // the op failed to run (Pass is false)
}

// compare fills a Result.
func compare(op, output string, dev, cpu []float32, tol Tolerance) Result {
	r := Result{Op: op, Output: output, N: len(cpu), Tol: tol}
	if len(dev) != len(cpu) {
		r.Err = fmt.Errorf("device gave %d values, CPU %d", len(dev), len(cpu))
		return r
	}
	scale := 0.0
	for _, v := range cpu {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range cpu {
		d := math.Abs(float64(dev[i]) - float64(cpu[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		r.MaxAbs = math.Max(r.MaxAbs, d)
		bound := tol.Rel*math.Abs(float64(cpu[i])) + tol.Abs*scale
		if bound == 0 {
			bound = math.SmallestNonzeroFloat64
		}
		r.Worst = math.Max(r.Worst, d/bound)
	}
	r.Pass = r.Worst <= 1
	return r
}

func compare64(op, output string, dev, cpu []float64, tol Tolerance) Result {
	a, b := make([]float32, len(dev)), make([]float32, len(cpu))
	for i := range dev {
		a[i] = float32(dev[i])
	}
	for i := range cpu {
		b[i] = float32(cpu[i])
	}
	return compare(op, output, a, b, tol)
}

// CheckOptions select and seed the parity check.
type CheckOptions struct {
	Seed uint64
	// Only runs the cases whose name contains it (all when empty).
	Only string
}

// checker runs cases on one device and collects results.
type checker struct {
	c    *cuda.Ctx
	k    *Kernels
	rng  *rand.Rand
	out  []Result
	bufs []cuda.Buffer
	tf32 bool
}

// Check runs every device op of the package on random inputs and compares
// each output with the CPU ops of trainer/ops (and trainer/kernels.Gemm,
// and the trainer's RMSProp update) on the same inputs. It returns one
// Result per output; an error only when the device cannot be used at all.
func Check(c *cuda.Ctx, k *Kernels, opt CheckOptions) ([]Result, error) {
	ch := &checker{c: c, k: k, rng: rand.New(rand.NewPCG(opt.Seed, 0x9a1)), tf32: c.Device().Precision() == "TF32"}
	defer ch.freeAll()
	for _, cs := range cases {
		if opt.Only != "" && !strings.Contains(cs.name, opt.Only) {
			continue
		}
		if err := cs.run(ch); err != nil {
			// the rows compared before the failure stay
			ch.out = append(ch.out, Result{Op: cs.name, Output: "-", Err: err})
		}
		ch.freeAll()
	}
	return ch.out, nil
}

// PrintResults writes the results as a table and returns the number of
// failures.
func PrintResults(w io.Writer, rs []Result) int {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "op\toutput\telements\tmax |dev-cpu|\tworst/tol\ttolerance (rel, abs*max)\tresult")
	fails := 0
	for _, r := range rs {
		res := "ok"
		if !r.Pass {
			res = "MISMATCH"
			fails++
		}
		if r.Err != nil {
			res = "ERROR: " + strings.ReplaceAll(r.Err.Error(), "\n", "; ")
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t%s\n", r.Op, r.Output, res)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.3g\t%.3f\t%g, %g\t%s\n", r.Op, r.Output, r.N, r.MaxAbs, r.Worst, r.Tol.Rel, r.Tol.Abs, res)
	}
	tw.Flush()
	return fails
}

func (ch *checker) freeAll() {
	for _, b := range ch.bufs {
		ch.c.Free(b)
	}
	ch.bufs = nil
}

// up uploads v into a new buffer.
func (ch *checker) up(v []float32) cuda.Buffer {
	b, err := ch.c.Alloc(max(1, len(v)))
	if err != nil {
		panic(checkPanic{err})
	}
	ch.bufs = append(ch.bufs, b)
	if err := ch.c.Upload(b, v); err != nil {
		panic(checkPanic{err})
	}
	return b
}

// alloc returns a buffer of n elements.
func (ch *checker) alloc(n int) cuda.Buffer { return ch.up(make([]float32, n)) }

// down downloads n values.
func (ch *checker) down(b cuda.Buffer, n int) []float32 {
	out := make([]float32, n)
	if err := ch.c.Download(out, b); err != nil {
		panic(checkPanic{err})
	}
	return out
}

// must stops the case on a device error.
func must(err error) {
	if err != nil {
		panic(checkPanic{err})
	}
}

type checkPanic struct{ err error }

func (ch *checker) rand(n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*ch.rng.Float64())
	}
	return v
}

func (ch *checker) add(op, output string, dev, cpu []float32, tol Tolerance) {
	ch.out = append(ch.out, compare(op, output, dev, cpu, tol))
}

// gemmTol is the tolerance of cuBLAS/cuDNN results.
func (ch *checker) gemmTol() Tolerance {
	if ch.tf32 {
		return TolTF32
	}
	return TolReduction
}

// ---- CPU references through gorgonia graphs of trainer/ops ----

type cpuIn struct {
	name  string
	shape []int
	val   []float32
	diff  bool
}

// cpuRun builds out = build(inputs), runs it forward and backward with
// output gradient gy (cost = sum(out*gy); a scalar out is the cost), and
// returns out and the gradients of the inputs marked diff, in order.
func cpuRun(ins []cpuIn, gy []float32, build func(in []*G.Node) (*G.Node, error)) (out []float32, grads [][]float32, err error) {
	g := G.NewGraph()
	nodes := make([]*G.Node, len(ins))
	var wrt G.Nodes
	for i, in := range ins {
		t := tensor.New(tensor.WithShape(in.shape...), tensor.WithBacking(append([]float32(nil), in.val...)))
		nodes[i] = G.NewTensor(g, tensor.Float32, len(in.shape), G.WithShape(in.shape...), G.WithName(in.name), G.WithValue(t))
		if in.diff {
			wrt = append(wrt, nodes[i])
		}
	}
	y, err := build(nodes)
	if err != nil {
		return nil, nil, err
	}
	var yv G.Value
	G.Read(y, &yv)
	if len(wrt) > 0 {
		cost := y
		if !y.IsScalar() {
			n := y.Shape().TotalSize()
			flat := G.Must(G.Reshape(y, tensor.Shape{n}))
			r := G.NewTensor(g, tensor.Float32, 1, G.WithShape(n), G.WithName("cpu.gy"),
				G.WithValue(tensor.New(tensor.WithShape(n), tensor.WithBacking(append([]float32(nil), gy...)))))
			cost = G.Must(G.Sum(G.Must(G.HadamardProd(flat, r))))
		}
		if _, err := G.Grad(cost, wrt...); err != nil {
			return nil, nil, err
		}
	}
	m := G.NewTapeMachine(g, G.BindDualValues(wrt...))
	defer m.Close()
	if err := m.RunAll(); err != nil {
		return nil, nil, err
	}
	switch v := yv.(type) {
	case *tensor.Dense:
		out = append([]float32(nil), v.Data().([]float32)...)
	case *G.F32:
		out = []float32{float32(*v)}
	default:
		return nil, nil, fmt.Errorf("unexpected output %T", yv)
	}
	for _, n := range wrt {
		gv, err := n.Grad()
		if err != nil {
			return nil, nil, err
		}
		grads = append(grads, append([]float32(nil), gv.Data().([]float32)...))
	}
	return out, grads, nil
}

// checkCase is one op (or a family of shapes of one op).
type checkCase struct {
	name string
	run  func(ch *checker) error
}

// run wraps a case body: device errors abort the case with an error result.
func runCase(fn func(ch *checker) error) func(ch *checker) error {
	return func(ch *checker) (err error) {
		defer func() {
			if r := recover(); r != nil {
				p, ok := r.(checkPanic)
				if !ok {
					panic(r)
				}
				err = p.err
			}
		}()
		return fn(ch)
	}
}

func shapeStr(s ...int) string {
	p := make([]string, len(s))
	for i, v := range s {
		p[i] = fmt.Sprint(v)
	}
	return "(" + strings.Join(p, ",") + ")"
}

var cases = []checkCase{
	{"SiLU", runCase(checkUnary(false))},
	{"Sigmoid", runCase(checkUnary(true))},
	{"Add", runCase(checkAdd)},
	{"Mul", runCase(checkMul)},
	{"BiasAdd", runCase(checkBias)},
	{"SampleScale", runCase(checkSampleScale)},
	{"ChannelScale", runCase(checkChannelScale)},
	{"GlobalAvgPool", runCase(checkGAP)},
	{"DepthwiseConv2D", runCase(checkDepthwise)},
	{"Depthwise cuDNN", runCase(checkDepthwiseCuDNN)},
	{"BatchNorm", runCase(checkBatchNorm)},
	{"SoftmaxCrossEntropy", runCase(checkCE)},
	{"RMSProp", runCase(checkRMSProp)},
	{"Adam", runCase(checkAdam)},
	{"SGD", runCase(checkSGD)},
	{"Conv2D", runCase(checkConv)},
	{"Gemm", runCase(checkGemm)},
}
