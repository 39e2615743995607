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
	cpukernels "github.com/effnas/effnas/trainer/kernels"
	"github.com/effnas/effnas/trainer/ops"
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

func checkUnary(sigmoid bool) func(ch *checker) error {
	return func(ch *checker) error {
		shape := []int{3, 5, 7, 24}
		n := 3 * 5 * 7 * 24
		x := ch.rand(n, -8, 8)
		gy := ch.rand(n, -1, 1)
		name, f := "SiLU", ops.SiLU
		if sigmoid {
			name, f = "Sigmoid", ops.Sigmoid
		}
		out, grads, err := cpuRun([]cpuIn{{"x", shape, x, true}}, gy, func(in []*G.Node) (*G.Node, error) { return f(in[0]) })
		if err != nil {
			return err
		}
		xb, gb, yb, db := ch.up(x), ch.up(gy), ch.alloc(n), ch.alloc(n)
		if sigmoid {
			must(ch.k.Sigmoid(ch.c, yb, xb, n))
			must(ch.k.SigmoidGrad(ch.c, db, yb, gb, n))
		} else {
			must(ch.k.SiLU(ch.c, yb, xb, n))
			must(ch.k.SiLUGrad(ch.c, db, xb, gb, n))
		}
		op := name + " " + shapeStr(shape...)
		ch.add(op, "y", ch.down(yb, n), out, TolElementwise)
		ch.add(op, "dx", ch.down(db, n), grads[0], TolElementwise)
		return nil
	}
}

func checkAdd(ch *checker) error {
	shape := []int{2, 6, 6, 16}
	n := 2 * 6 * 6 * 16
	a, b := ch.rand(n, -2, 2), ch.rand(n, -2, 2)
	out, _, err := cpuRun([]cpuIn{{"a", shape, a, false}, {"b", shape, b, false}}, nil,
		func(in []*G.Node) (*G.Node, error) { return ops.Add(in[0], in[1]) })
	if err != nil {
		return err
	}
	yb := ch.alloc(n)
	must(ch.k.Add(ch.c, yb, ch.up(a), ch.up(b), n))
	ch.add("Add "+shapeStr(shape...), "y", ch.down(yb, n), out, TolElementwise)
	return nil
}

func checkMul(ch *checker) error {
	shape := []int{6, 40}
	n := 6 * 40
	a, b := ch.rand(n, -2, 2), ch.rand(n, -2, 2)
	out, _, err := cpuRun([]cpuIn{{"a", shape, a, false}, {"b", shape, b, false}}, nil,
		func(in []*G.Node) (*G.Node, error) { return G.HadamardProd(in[0], in[1]) })
	if err != nil {
		return err
	}
	yb := ch.alloc(n)
	must(ch.k.Mul(ch.c, yb, ch.up(a), ch.up(b), n))
	ch.add("Mul (HadamardProd) "+shapeStr(shape...), "y", ch.down(yb, n), out, TolElementwise)
	return nil
}

func checkBias(ch *checker) error {
	shape := []int{2, 4, 5, 40}
	rows, c := 2*4*5, 40
	x, b, gy := ch.rand(rows*c, -2, 2), ch.rand(c, -1, 1), ch.rand(rows*c, -1, 1)
	out, grads, err := cpuRun([]cpuIn{{"x", shape, x, false}, {"b", []int{c}, b, true}}, gy,
		func(in []*G.Node) (*G.Node, error) { return ops.BiasAdd(in[0], in[1]) })
	if err != nil {
		return err
	}
	yb, db := ch.alloc(rows*c), ch.alloc(c)
	must(ch.k.BiasAdd(ch.c, yb, ch.up(x), ch.up(b), rows, c))
	must(ch.k.ColumnSum(ch.c, db, ch.up(gy), rows, c))
	op := "BiasAdd " + shapeStr(shape...)
	ch.add(op, "y", ch.down(yb, rows*c), out, TolElementwise)
	ch.add(op, "db (ColumnSum)", ch.down(db, c), grads[0], TolReduction)
	return nil
}

func checkSampleScale(ch *checker) error {
	shape := []int{4, 3, 3, 8}
	n, per := 4*3*3*8, 3*3*8
	x, gy := ch.rand(n, -2, 2), ch.rand(n, -1, 1)
	m := []float32{0, 1.25, 1.25, 0}
	out, grads, err := cpuRun([]cpuIn{{"x", shape, x, true}, {"m", []int{4}, m, false}}, gy,
		func(in []*G.Node) (*G.Node, error) { return ops.SampleScale(in[0], in[1]) })
	if err != nil {
		return err
	}
	mb, yb, db := ch.up(m), ch.alloc(n), ch.alloc(n)
	must(ch.k.SampleScale(ch.c, yb, ch.up(x), mb, 4, per))
	must(ch.k.SampleScale(ch.c, db, ch.up(gy), mb, 4, per))
	op := "SampleScale " + shapeStr(shape...)
	ch.add(op, "y", ch.down(yb, n), out, TolElementwise)
	ch.add(op, "dx", ch.down(db, n), grads[0], TolElementwise)
	return nil
}

func checkChannelScale(ch *checker) error {
	nb, h, w, c := 3, 5, 5, 40
	shape := []int{nb, h, w, c}
	n := nb * h * w * c
	x, s, gy := ch.rand(n, -2, 2), ch.rand(nb*c, 0, 1), ch.rand(n, -1, 1)
	out, grads, err := cpuRun([]cpuIn{{"x", shape, x, true}, {"s", []int{nb, c}, s, true}}, gy,
		func(in []*G.Node) (*G.Node, error) { return ops.ChannelScale(in[0], in[1]) })
	if err != nil {
		return err
	}
	xb, sb, gb := ch.up(x), ch.up(s), ch.up(gy)
	yb, dxb, dsb := ch.alloc(n), ch.alloc(n), ch.alloc(nb*c)
	must(ch.k.ChannelScale(ch.c, yb, xb, sb, nb, h*w, c))
	must(ch.k.ChannelScale(ch.c, dxb, gb, sb, nb, h*w, c))
	must(ch.k.ChannelScaleGradS(ch.c, dsb, xb, gb, nb, h*w, c))
	op := "ChannelScale " + shapeStr(shape...)
	ch.add(op, "y", ch.down(yb, n), out, TolElementwise)
	ch.add(op, "dx", ch.down(dxb, n), grads[0], TolElementwise)
	ch.add(op, "ds", ch.down(dsb, nb*c), grads[1], TolReduction)
	return nil
}

func checkGAP(ch *checker) error {
	nb, h, w, c := 3, 6, 5, 40
	shape := []int{nb, h, w, c}
	n := nb * h * w * c
	x, gy := ch.rand(n, -2, 2), ch.rand(nb*c, -1, 1)
	out, grads, err := cpuRun([]cpuIn{{"x", shape, x, true}}, gy,
		func(in []*G.Node) (*G.Node, error) { return ops.GlobalAvgPool(in[0]) })
	if err != nil {
		return err
	}
	yb, db := ch.alloc(nb*c), ch.alloc(n)
	must(ch.k.GlobalAvgPool(ch.c, yb, ch.up(x), nb, h*w, c))
	must(ch.k.GlobalAvgPoolGrad(ch.c, db, ch.up(gy), nb, h*w, c))
	op := "GlobalAvgPool " + shapeStr(shape...)
	ch.add(op, "y", ch.down(yb, nb*c), out, TolReduction)
	ch.add(op, "dx", ch.down(db, n), grads[0], TolElementwise)
	return nil
}

func checkDepthwise(ch *checker) error {
	for _, g := range dwGeoms {
		oh, ow, _, _ := g.Out()
		nx, nw, ny := g.N*g.H*g.W*g.C, g.KH*g.KW*g.C, g.N*oh*ow*g.C
		x, w, gy := ch.rand(nx, -2, 2), ch.rand(nw, -1, 1), ch.rand(ny, -1, 1)
		out, grads, err := cpuRun([]cpuIn{{"x", []int{g.N, g.H, g.W, g.C}, x, true}, {"w", []int{g.KH, g.KW, g.C}, w, true}}, gy,
			func(in []*G.Node) (*G.Node, error) { return ops.DepthwiseConv2D(in[0], in[1], g.Stride) })
		if err != nil {
			return err
		}
		xb, wb, gb := ch.up(x), ch.up(w), ch.up(gy)
		yb, dxb, dwb := ch.alloc(ny), ch.alloc(nx), ch.alloc(nw)
		must(ch.k.DepthwiseForward(ch.c, yb, xb, wb, g))
		must(ch.k.DepthwiseGradX(ch.c, dxb, wb, gb, g))
		must(ch.k.DepthwiseGradW(ch.c, dwb, xb, gb, g))
		op := fmt.Sprintf("DepthwiseConv2D k%d s%d %s", g.KH, g.Stride, shapeStr(g.N, g.H, g.W, g.C))
		ch.add(op, "y", ch.down(yb, ny), out, TolReduction)
		ch.add(op, "dx", ch.down(dxb, nx), grads[0], TolReduction)
		ch.add(op, "dw", ch.down(dwb, nw), grads[1], TolReduction)
	}
	return nil
}

// dwGeoms are the depthwise convolutions of the check: k3 and k5, stride 1
// and 2, odd and even sizes (stride 2 on an even size pads asymmetrically).
var dwGeoms = []DWGeom{
	{N: 2, H: 9, W: 9, C: 40, KH: 3, KW: 3, Stride: 1},
	{N: 2, H: 8, W: 8, C: 24, KH: 3, KW: 3, Stride: 2},
	{N: 2, H: 7, W: 7, C: 16, KH: 5, KW: 5, Stride: 2},
	{N: 1, H: 12, W: 10, C: 33, KH: 5, KW: 5, Stride: 1},
}

// checkDepthwiseCuDNN runs the same convolutions as cuDNN grouped
// convolutions (the alternative to our kernels).
func checkDepthwiseCuDNN(ch *checker) error {
	for _, g := range dwGeoms {
		oh, ow, _, _ := g.Out()
		nx, nw, ny := g.N*g.H*g.W*g.C, g.KH*g.KW*g.C, g.N*oh*ow*g.C
		x, w, gy := ch.rand(nx, -2, 2), ch.rand(nw, -1, 1), ch.rand(ny, -1, 1)
		out, grads, err := cpuRun([]cpuIn{{"x", []int{g.N, g.H, g.W, g.C}, x, true}, {"w", []int{g.KH, g.KW, g.C}, w, true}}, gy,
			func(in []*G.Node) (*G.Node, error) { return ops.DepthwiseConv2D(in[0], in[1], g.Stride) })
		if err != nil {
			return err
		}
		cv, err := ch.k.NewConv(ch.c, ConvShape{N: g.N, H: g.H, W: g.W, Cin: g.C, KH: g.KH, KW: g.KW, Stride: g.Stride, Depthwise: true})
		if err != nil {
			return err
		}
		xb, wb, gb := ch.up(x), ch.up(w), ch.up(gy)
		yb, dxb, dwb := ch.alloc(ny), ch.alloc(nx), ch.alloc(nw)
		must(ch.k.ConvForward(ch.c, cv, yb, xb, wb))
		must(ch.k.ConvGradX(ch.c, cv, dxb, wb, gb))
		must(ch.k.ConvGradW(ch.c, cv, dwb, xb, gb))
		op := fmt.Sprintf("Depthwise cuDNN k%d s%d %s", g.KH, g.Stride, shapeStr(g.N, g.H, g.W, g.C))
		ch.add(op, "y", ch.down(yb, ny), out, ch.gemmTol())
		ch.add(op, "dx", ch.down(dxb, nx), grads[0], ch.gemmTol())
		ch.add(op, "dw", ch.down(dwb, nw), grads[1], ch.gemmTol())
		cv.Free(ch.c)
	}
	return nil
}

func checkBatchNorm(ch *checker) error {
	for _, tc := range []struct {
		shape []int
		silu  bool
	}{{[]int{4, 5, 5, 40}, true}, {[]int{4, 5, 5, 40}, false}, {[]int{16, 72}, true}, {[]int{2, 3, 3, 8}, true}} {
		c := tc.shape[len(tc.shape)-1]
		n := 1
		for _, v := range tc.shape {
			n *= v
		}
		rows := n / c
		x := ch.rand(n, -1.5, 2.5)
		gamma, beta, gy := ch.rand(c, 0.5, 1.5), ch.rand(c, -0.5, 0.5), ch.rand(n, -1, 1)
		bn, err := ops.NewBatchNorm(c, ops.DefaultBNMomentum, ops.DefaultBNEpsilon)
		if err != nil {
			return err
		}
		apply := bn.Apply
		name := "BatchNorm"
		if tc.silu {
			apply, name = bn.ApplySiLU, "BatchNorm+SiLU"
		}
		out, grads, err := cpuRun([]cpuIn{{"x", tc.shape, x, true}, {"gamma", []int{c}, gamma, true}, {"beta", []int{c}, beta, true}}, gy,
			func(in []*G.Node) (*G.Node, error) { return apply(in[0], in[1], in[2]) })
		if err != nil {
			return err
		}
		rm, rv := bn.Stats()
		dbn, err := ch.k.NewBatchNorm(ch.c, c, ops.DefaultBNMomentum, ops.DefaultBNEpsilon)
		if err != nil {
			return err
		}
		xb, gb, bb, gyb := ch.up(x), ch.up(gamma), ch.up(beta), ch.up(gy)
		yb, dxb, dgb, dbb, gz := ch.alloc(n), ch.alloc(n), ch.alloc(c), ch.alloc(c), ch.alloc(n)
		must(ch.k.BNForward(ch.c, dbn, BNTrain, tc.silu, yb, xb, gb, bb, rows))
		must(ch.k.BNBackward(ch.c, dbn, tc.silu, dxb, dgb, dbb, gyb, xb, gb, gz, rows))
		op := name + " train " + shapeStr(tc.shape...)
		ch.add(op, "y", ch.down(yb, n), out, TolReduction)
		ch.add(op, "dx", ch.down(dxb, n), grads[0], TolReduction)
		ch.add(op, "dgamma", ch.down(dgb, c), grads[1], TolReduction)
		ch.add(op, "dbeta", ch.down(dbb, c), grads[2], TolReduction)
		dm, dv, err := dbn.Stats(ch.c)
		must(err)
		ch.out = append(ch.out, compare64(op, "running mean", dm, rm, TolReduction), compare64(op, "running var", dv, rv, TolReduction))

		// evaluation with the running statistics, then recalibration over
		// two batches
		bn.Training = false
		out, _, err = cpuRun([]cpuIn{{"x", tc.shape, x, false}, {"gamma", []int{c}, gamma, false}, {"beta", []int{c}, beta, false}}, nil,
			func(in []*G.Node) (*G.Node, error) { return apply(in[0], in[1], in[2]) })
		if err != nil {
			return err
		}
		must(ch.k.BNForward(ch.c, dbn, BNEval, tc.silu, yb, xb, gb, bb, rows))
		ch.add(name+" eval "+shapeStr(tc.shape...), "y", ch.down(yb, n), out, TolReduction)
		bn.Recalibrate = true
		bn.ResetStats()
		must(dbn.ResetStats(ch.c))
		for b := 0; b < 2; b++ {
			xr := ch.rand(n, -1, 3)
			if _, _, err := cpuRun([]cpuIn{{"x", tc.shape, xr, false}, {"gamma", []int{c}, gamma, false}, {"beta", []int{c}, beta, false}}, nil,
				func(in []*G.Node) (*G.Node, error) { return apply(in[0], in[1], in[2]) }); err != nil {
				return err
			}
			must(ch.k.BNForward(ch.c, dbn, BNRecalibrate, tc.silu, yb, ch.up(xr), gb, bb, rows))
		}
		rm, rv = bn.Stats()
		dm, dv, err = dbn.Stats(ch.c)
		must(err)
		op = name + " recalibrate " + shapeStr(tc.shape...)
		ch.out = append(ch.out, compare64(op, "running mean", dm, rm, TolReduction), compare64(op, "running var", dv, rv, TolReduction))
		dbn.Free(ch.c)
	}
	return nil
}

// oneHot is trainer/data.OneHot.
func oneHot(row []float32, label int, eps float64) {
	off := float32(eps / float64(len(row)))
	for i := range row {
		row[i] = off
	}
	row[label] = float32(1-eps) + off
}

func checkCE(ch *checker) error {
	for _, tc := range []struct {
		n, k int
		eps  float64
	}{{16, 10, 0.1}, {5, 1000, 0.1}, {7, 3, 0}} {
		z := ch.rand(tc.n*tc.k, -6, 6)
		labels := make([]int32, tc.n)
		t := make([]float32, tc.n*tc.k)
		for i := range labels {
			labels[i] = int32(ch.rng.IntN(tc.k))
			oneHot(t[i*tc.k:(i+1)*tc.k], int(labels[i]), tc.eps)
		}
		shape := []int{tc.n, tc.k}
		out, grads, err := cpuRun([]cpuIn{{"z", shape, z, true}, {"t", shape, t, false}}, nil,
			func(in []*G.Node) (*G.Node, error) { return ops.SoftmaxCrossEntropy(in[0], in[1]) })
		if err != nil {
			return err
		}
		lb, err := ch.c.Alloc(tc.n)
		must(err)
		ch.bufs = append(ch.bufs, lb)
		must(cuda.Upload(ch.c, lb, labels))
		tb, zb, lossb, dzb, ab := ch.alloc(tc.n*tc.k), ch.up(z), ch.alloc(1), ch.alloc(tc.n*tc.k), ch.alloc(tc.n)
		must(ch.k.OneHot(ch.c, tb, lb, tc.n, tc.k, tc.eps))
		must(ch.k.SoftmaxCrossEntropy(ch.c, lossb, dzb, zb, tb, tc.n, tc.k, 1))
		must(ch.k.Argmax(ch.c, ab, zb, tc.n, tc.k))
		op := fmt.Sprintf("SoftmaxCrossEntropy eps=%g %s", tc.eps, shapeStr(shape...))
		ch.add(op, "targets (OneHot)", ch.down(tb, tc.n*tc.k), t, Tolerance{})
		ch.add(op, "loss", ch.down(lossb, 1), out, TolReduction)
		ch.add(op, "dlogits", ch.down(dzb, tc.n*tc.k), grads[0], TolReduction)
		am := make([]int32, tc.n)
		must(cuda.Download(ch.c, am, ab))
		want, err := ops.Argmax(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(z)))
		if err != nil {
			return err
		}
		got, ref := make([]float32, tc.n), make([]float32, tc.n)
		for i := range am {
			got[i], ref[i] = float32(am[i]), float32(want[i])
		}
		ch.add(op, "argmax", got, ref, Tolerance{})
	}
	return nil
}

// rmspropRef is the update of trainer/solver.go (PyTorch form) or the
// official TF form, in float32 as the CPU trainer computes it.
func rmspropRef(p RMSProp, w, g, ms, mom []float32) {
	for j, gj := range g {
		if p.WeightDecay != 0 {
			gj += p.WeightDecay * w[j]
		}
		ms[j] = p.Decay*ms[j] + (1-p.Decay)*gj*gj
		var d float32
		if p.Torch {
			d = float32(math.Sqrt(float64(ms[j]))) + p.Eps
		} else {
			d = float32(math.Sqrt(float64(ms[j] + p.Eps)))
		}
		mom[j] = p.Momentum*mom[j] + p.LR*gj/d
		w[j] -= mom[j]
	}
}

func checkRMSProp(ch *checker) error {
	for _, torch := range []bool{false, true} {
		n := 1000
		p := RMSProp{LR: 0.016, Decay: 0.9, Momentum: 0.9, Eps: 1e-3, WeightDecay: 1e-5, Torch: torch}
		w := ch.rand(n, -1, 1)
		ms, mom := make([]float32, n), make([]float32, n)
		wb, msb, momb := ch.up(w), ch.up(ms), ch.up(mom)
		for step := 0; step < 3; step++ {
			g := ch.rand(n, -0.1, 0.1)
			rmspropRef(p, w, g, ms, mom)
			must(ch.k.RMSPropStep(ch.c, wb, ch.up(g), msb, momb, n, p))
		}
		op := "RMSProp TF form (eps inside sqrt)"
		if torch {
			op = "RMSProp PyTorch form (eps outside)"
		}
		op += fmt.Sprintf(" n=%d, 3 steps", n)
		ch.add(op, "w", ch.down(wb, n), w, TolElementwise)
		ch.add(op, "ms", ch.down(msb, n), ms, TolElementwise)
		ch.add(op, "mom", ch.down(momb, n), mom, TolElementwise)
	}
	return nil
}

// adamRef and sgdRef are the updates of trainer/solver.go, in float32 as
// the CPU trainer computes them.
func adamRef(p Adam, w, g, m1, m2 []float32) {
	for j, gj := range g {
		if p.WeightDecay != 0 {
			gj += p.WeightDecay * w[j]
		}
		m1[j] = p.Beta1*m1[j] + (1-p.Beta1)*gj
		m2[j] = p.Beta2*m2[j] + (1-p.Beta2)*gj*gj
		w[j] -= p.Step * m1[j] / (float32(math.Sqrt(float64(m2[j]))) + p.Eps)
	}
}

func sgdRef(p SGD, w, g, mom []float32) {
	for j, gj := range g {
		if p.WeightDecay != 0 {
			gj += p.WeightDecay * w[j]
		}
		mom[j] = p.Momentum*mom[j] + gj
		w[j] -= p.LR * mom[j]
	}
}

func checkAdam(ch *checker) error {
	n := 1000
	w := ch.rand(n, -1, 1)
	m1, m2 := make([]float32, n), make([]float32, n)
	wb, m1b, m2b := ch.up(w), ch.up(m1), ch.up(m2)
	for t := 1; t <= 3; t++ {
		lr := 1e-3
		p := Adam{Step: float32(lr * math.Sqrt(1-math.Pow(0.999, float64(t))) / (1 - math.Pow(0.9, float64(t)))),
			Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-5}
		g := ch.rand(n, -0.1, 0.1)
		adamRef(p, w, g, m1, m2)
		must(ch.k.AdamStep(ch.c, wb, ch.up(g), m1b, m2b, n, p))
	}
	op := fmt.Sprintf("Adam n=%d, 3 steps", n)
	ch.add(op, "w", ch.down(wb, n), w, TolElementwise)
	ch.add(op, "m1", ch.down(m1b, n), m1, TolElementwise)
	ch.add(op, "m2", ch.down(m2b, n), m2, TolElementwise)
	return nil
}

func checkSGD(ch *checker) error {
	n := 1000
	p := SGD{LR: 0.05, Momentum: 0.9, WeightDecay: 1e-5}
	w := ch.rand(n, -1, 1)
	mom := make([]float32, n)
	wb, momb := ch.up(w), ch.up(mom)
	for step := 0; step < 3; step++ {
		g := ch.rand(n, -0.1, 0.1)
		sgdRef(p, w, g, mom)
		must(ch.k.SGDStep(ch.c, wb, ch.up(g), momb, n, p))
	}
	op := fmt.Sprintf("SGD momentum n=%d, 3 steps", n)
	ch.add(op, "w", ch.down(wb, n), w, TolElementwise)
	ch.add(op, "mom", ch.down(momb, n), mom, TolElementwise)
	return nil
}

func checkConv(ch *checker) error {
	for _, s := range []ConvShape{
		{N: 2, H: 5, W: 5, Cin: 24, KH: 1, KW: 1, Cout: 40, Stride: 1},   // pointwise: cuBLAS
		{N: 2, H: 9, W: 9, Cin: 3, KH: 3, KW: 3, Cout: 16, Stride: 1},    // stem
		{N: 2, H: 8, W: 8, Cin: 16, KH: 3, KW: 3, Cout: 24, Stride: 2},   // asymmetric padding
		{N: 1, H: 7, W: 9, Cin: 8, KH: 3, KW: 3, Cout: 12, Stride: 2},    // odd sizes: symmetric
		{N: 2, H: 6, W: 6, Cin: 32, KH: 1, KW: 1, Cout: 8, Stride: 2},    // strided 1x1: cuDNN
		{N: 2, H: 10, W: 10, Cin: 8, KH: 5, KW: 5, Cout: 8, Stride: 1},   // k5
		{N: 1, H: 12, W: 12, Cin: 16, KH: 3, KW: 3, Cout: 64, Stride: 1}, // fused-MBConv expansion
	} {
		cv, err := ch.k.NewConv(ch.c, s)
		if err != nil {
			return err
		}
		nx, nw, ny := cv.sizes()
		x, w, gy := ch.rand(nx, -1, 1), ch.rand(nw, -0.5, 0.5), ch.rand(ny, -1, 1)
		out, grads, err := cpuRun([]cpuIn{{"x", []int{s.N, s.H, s.W, s.Cin}, x, true}, {"w", []int{s.KH, s.KW, s.Cin, s.Cout}, w, true}}, gy,
			func(in []*G.Node) (*G.Node, error) { return ops.Conv2D(in[0], in[1], s.Stride) })
		if err != nil {
			return err
		}
		xb, wb, gb := ch.up(x), ch.up(w), ch.up(gy)
		yb, dxb, dwb := ch.alloc(ny), ch.alloc(nx), ch.alloc(nw)
		must(ch.k.ConvForward(ch.c, cv, yb, xb, wb))
		must(ch.k.ConvGradX(ch.c, cv, dxb, wb, gb))
		must(ch.k.ConvGradW(ch.c, cv, dwb, xb, gb))
		via := "cuDNN"
		if cv.gemm {
			via = "cuBLAS"
		}
		op := fmt.Sprintf("Conv2D k%d s%d %s->%d (%s)", s.KH, s.Stride, shapeStr(s.N, s.H, s.W, s.Cin), s.Cout, via)
		ch.add(op, "y", ch.down(yb, ny), out, ch.gemmTol())
		ch.add(op, "dx", ch.down(dxb, nx), grads[0], ch.gemmTol())
		ch.add(op, "dw", ch.down(dwb, nw), grads[1], ch.gemmTol())
		cv.Free(ch.c)
	}
	return nil
}

// checkGemm compares cuBLAS with trainer/kernels.Gemm in all transpose
// combinations (the dense layer and its gradients).
func checkGemm(ch *checker) error {
	m, n, kk := 33, 47, 29
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			lda, ldb, ldc := kk, n, n
			ra, rb := m, kk
			if ta {
				lda, ra = m, kk
			}
			if tb {
				ldb, rb = kk, n
			}
			a, b, c := ch.rand(ra*lda, -1, 1), ch.rand(rb*ldb, -1, 1), ch.rand(m*ldc, -1, 1)
			cb := ch.up(c)
			must(ch.c.Gemm(cuda.GemmArgs{TransA: ta, TransB: tb, M: m, N: n, K: kk, Alpha: 0.75, Beta: 0.5,
				A: ch.up(a), LDA: lda, B: ch.up(b), LDB: ldb, C: cb, LDC: ldc}))
			cpukernels.Gemm(ta, tb, m, n, kk, 0.75, a, lda, b, ldb, 0.5, c, ldc)
			ch.add(fmt.Sprintf("Gemm transA=%v transB=%v %dx%dx%d", ta, tb, m, n, kk), "C", ch.down(cb, m*ldc), c, ch.gemmTol())
		}
	}
	return nil
}
