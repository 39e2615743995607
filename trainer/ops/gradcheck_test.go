package ops

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gcInput is one input of a gradient check.
type gcInput struct {
	name string
	val  *tensor.Dense // float64
	diff bool          // check the gradient wrt this input
}

// randDense returns a float64 tensor of the given shape with values in
// [lo,hi), drawn from rng.
func randDense(rng *rand.Rand, lo, hi float64, shape ...int) *tensor.Dense {
	n := tensor.Shape(shape).TotalSize()
	d := make([]float64, n)
	for i := range d {
		d[i] = lo + (hi-lo)*rng.Float64()
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
}

const (
	gcEps = 1e-6 // central-difference step
	gcTol = 1e-6 // max relative error
)

// gcRelErr is the relative error used by the checker: |a-n| / max(|a|,|n|,1).
// The floor of 1 keeps near-zero gradients from turning round-off (about
// 1e-10 here) into large relative errors; real gradient bugs are O(1).
func gcRelErr(a, n float64) float64 {
	return math.Abs(a-n) / math.Max(1, math.Max(math.Abs(a), math.Abs(n)))
}

// gradCheck builds y = build(inputs) in a fresh graph, takes
// cost = sum(y ⊙ R) for a fixed random R (cost = y*R for a scalar y),
// differentiates with G.Grad, runs a TapeMachine, and compares the gradient
// of every input marked diff with central differences of the cost computed
// by re-running the same machine. It returns the largest relative error.
// gcT is the part of testing.TB the checker uses (so a test can check that
// the checker itself fails on a wrong gradient).
type gcT interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

func gradCheck(t gcT, label string, inputs []gcInput, build func(in []*G.Node) (*G.Node, error)) float64 {
	t.Helper()
	g := G.NewGraph()
	nodes := make([]*G.Node, len(inputs))
	var wrt G.Nodes
	for i, in := range inputs {
		nodes[i] = G.NewTensor(g, tensor.Float64, in.val.Dims(), G.WithShape(in.val.Shape()...),
			G.WithName(fmt.Sprintf("%s.%s", label, in.name)), G.WithValue(in.val))
		if in.diff {
			wrt = append(wrt, nodes[i])
		}
	}
	y, err := build(nodes)
	if err != nil {
		t.Fatalf("%s: build: %v", label, err)
	}
	rng := rand.New(rand.NewSource(99))
	var cost *G.Node
	if y.IsScalar() {
		r := G.NewScalar(g, tensor.Float64, G.WithName(label+".R"), G.WithValue(1.7))
		cost = G.Must(G.Mul(y, r))
	} else {
		r := G.NewTensor(g, tensor.Float64, y.Dims(), G.WithShape(y.Shape()...), G.WithName(label+".R"),
			G.WithValue(randDense(rng, -1, 1, y.Shape()...)))
		cost = G.Must(G.Sum(G.Must(G.HadamardProd(y, r))))
	}
	var costV G.Value
	G.Read(cost, &costV)
	if _, err := G.Grad(cost, wrt...); err != nil {
		t.Fatalf("%s: Grad: %v", label, err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(wrt...))
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatalf("%s: RunAll: %v", label, err)
	}
	analytic := make([][]float64, len(wrt))
	for i, n := range wrt {
		gv, err := n.Grad()
		if err != nil {
			t.Fatalf("%s: grad of %v: %v", label, n.Name(), err)
		}
		analytic[i] = append([]float64(nil), gv.Data().([]float64)...)
	}
	run := func() float64 {
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatalf("%s: RunAll: %v", label, err)
		}
		return float64(*costV.(*G.F64))
	}
	worst := 0.0
	k := 0
	for _, in := range inputs {
		if !in.diff {
			continue
		}
		x := in.val.Data().([]float64)
		inWorst, at := 0.0, -1
		for i := range x {
			orig := x[i]
			x[i] = orig + gcEps
			cp := run()
			x[i] = orig - gcEps
			cm := run()
			x[i] = orig
			num := (cp - cm) / (2 * gcEps)
			if e := gcRelErr(analytic[k][i], num); e > inWorst || math.IsNaN(e) {
				inWorst, at = e, i
				if math.IsNaN(e) {
					inWorst = math.Inf(1)
				}
			}
		}
		if inWorst > gcTol {
			t.Errorf("%s: d/d%s: max relative error %.3g at element %d (analytic %v, numeric differs)", label, in.name, inWorst, at, analytic[k][at])
		}
		worst = math.Max(worst, inWorst)
		k++
	}
	if testing.Verbose() {
		t.Logf("%s: max relative error %.2g", label, worst)
	}
	return worst
}

func TestGradConv2D(t *testing.T) {
	cases := []struct{ n, h, w, cin, kh, kw, cout, s int }{
		{2, 5, 5, 3, 3, 3, 4, 1},
		{1, 7, 7, 2, 3, 3, 3, 2}, // odd input, stride 2: pad (1,1)
		{2, 6, 6, 2, 3, 3, 2, 2}, // even input, stride 2: asymmetric pad (0,1)
		{1, 7, 7, 2, 5, 5, 2, 2},
		{1, 6, 5, 2, 5, 5, 3, 1},
		{2, 4, 3, 3, 1, 1, 5, 1}, // pointwise GEMM path
		{1, 5, 5, 2, 1, 1, 3, 2}, // 1x1 stride 2 (im2col path)
		{1, 5, 6, 2, 3, 1, 2, 2}, // non-square kernel
	}
	for _, c := range cases {
		rng := rand.New(rand.NewSource(int64(c.h*100 + c.kh*10 + c.s)))
		label := fmt.Sprintf("conv_%dx%dx%dx%d_k%dx%d_o%d_s%d", c.n, c.h, c.w, c.cin, c.kh, c.kw, c.cout, c.s)
		gradCheck(t, label, []gcInput{
			{"x", randDense(rng, -1, 1, c.n, c.h, c.w, c.cin), true},
			{"w", randDense(rng, -1, 1, c.kh, c.kw, c.cin, c.cout), true},
		}, func(in []*G.Node) (*G.Node, error) { return Conv2D(in[0], in[1], c.s) })
	}
}

func TestGradConv2DInput(t *testing.T) {
	// No gradient wrt x: only the weight gradient is built and checked.
	rng := rand.New(rand.NewSource(11))
	gradCheck(t, "conv_input", []gcInput{
		{"x", randDense(rng, -1, 1, 2, 5, 5, 1), false},
		{"w", randDense(rng, -1, 1, 3, 3, 1, 4), true},
	}, func(in []*G.Node) (*G.Node, error) { return Conv2DInput(in[0], in[1], 2) })
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, 4, 4, 1), G.WithName("x"), G.WithInit(G.Zeroes()))
	w := G.NewTensor(g, tensor.Float64, 4, G.WithShape(3, 3, 1, 2), G.WithName("w"), G.WithInit(G.Zeroes()))
	y, err := Conv2DInput(x, w, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(G.Must(G.Sum(y)), x); err == nil {
		t.Error("gradient with respect to the input of Conv2DInput")
	}
}

func TestGradConv2DSmallChunks(t *testing.T) {
	// Force sub-sample im2col chunks so the chunked paths are differentiated too.
	defer func(b int) { colBudget = b }(colBudget)
	colBudget = 20
	rng := rand.New(rand.NewSource(5))
	gradCheck(t, "conv_chunked", []gcInput{
		{"x", randDense(rng, -1, 1, 2, 5, 5, 2), true},
		{"w", randDense(rng, -1, 1, 3, 3, 2, 3), true},
	}, func(in []*G.Node) (*G.Node, error) { return Conv2D(in[0], in[1], 2) })
}

func TestGradDepthwise(t *testing.T) {
	cases := []struct{ n, h, w, c, k, s int }{
		{2, 5, 5, 3, 3, 1},
		{1, 7, 7, 2, 3, 2},
		{2, 6, 6, 2, 3, 2},
		{1, 7, 7, 2, 5, 2},
		{1, 5, 6, 3, 5, 1},
		{2, 3, 3, 2, 1, 1},
	}
	for _, c := range cases {
		rng := rand.New(rand.NewSource(int64(c.h*100 + c.k*10 + c.s)))
		label := fmt.Sprintf("dw_%dx%dx%dx%d_k%d_s%d", c.n, c.h, c.w, c.c, c.k, c.s)
		gradCheck(t, label, []gcInput{
			{"x", randDense(rng, -1, 1, c.n, c.h, c.w, c.c), true},
			{"w", randDense(rng, -1, 1, c.k, c.k, c.c), true},
		}, func(in []*G.Node) (*G.Node, error) { return DepthwiseConv2D(in[0], in[1], c.s) })
	}
}

func TestGradBatchNorm(t *testing.T) {
	for _, mode := range []string{"train", "eval", "recalibrate"} {
		for _, shape := range [][]int{{2, 3, 3, 4}, {5, 3}} {
			rng := rand.New(rand.NewSource(int64(len(shape))))
			c := shape[len(shape)-1]
			bn, err := NewBatchNorm(c, DefaultBNMomentum, DefaultBNEpsilon)
			if err != nil {
				t.Fatal(err)
			}
			// non-trivial running statistics for eval mode
			mean, vari := make([]float64, c), make([]float64, c)
			for i := range mean {
				mean[i], vari[i] = rng.Float64()-0.5, 0.5+rng.Float64()
			}
			if err := bn.SetStats(mean, vari); err != nil {
				t.Fatal(err)
			}
			bn.Training = mode == "train"
			bn.Recalibrate = mode == "recalibrate"
			gradCheck(t, fmt.Sprintf("bn_%s_%v", mode, shape), []gcInput{
				{"x", randDense(rng, -2, 2, shape...), true},
				{"gamma", randDense(rng, 0.5, 1.5, c), true},
				{"beta", randDense(rng, -1, 1, c), true},
			}, func(in []*G.Node) (*G.Node, error) { return bn.Apply(in[0], in[1], in[2]) })
		}
	}
}

func TestGradBatchNormSiLU(t *testing.T) {
	for _, mode := range []string{"train", "eval", "recalibrate"} {
		for _, shape := range [][]int{{2, 3, 3, 4}, {5, 3}} {
			rng := rand.New(rand.NewSource(int64(7 * len(shape))))
			c := shape[len(shape)-1]
			bn, err := NewBatchNorm(c, DefaultBNMomentum, DefaultBNEpsilon)
			if err != nil {
				t.Fatal(err)
			}
			mean, vari := make([]float64, c), make([]float64, c)
			for i := range mean {
				mean[i], vari[i] = rng.Float64()-0.5, 0.5+rng.Float64()
			}
			if err := bn.SetStats(mean, vari); err != nil {
				t.Fatal(err)
			}
			bn.Training = mode == "train"
			bn.Recalibrate = mode == "recalibrate"
			gradCheck(t, fmt.Sprintf("bnsilu_%s_%v", mode, shape), []gcInput{
				{"x", randDense(rng, -2, 2, shape...), true},
				{"gamma", randDense(rng, 0.5, 1.5, c), true},
				{"beta", randDense(rng, -1, 1, c), true},
			}, func(in []*G.Node) (*G.Node, error) { return bn.ApplySiLU(in[0], in[1], in[2]) })
		}
	}
}

func TestGradAdd(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	gradCheck(t, "add", []gcInput{
		{"a", randDense(rng, -1, 1, 2, 3, 3, 4), true},
		{"b", randDense(rng, -1, 1, 2, 3, 3, 4), true},
	}, func(in []*G.Node) (*G.Node, error) { return Add(in[0], in[1]) })
	// a residual: the same node on both paths
	gradCheck(t, "add_residual", []gcInput{
		{"x", randDense(rng, -1, 1, 2, 3, 3, 4), true},
	}, func(in []*G.Node) (*G.Node, error) {
		s, err := SiLU(in[0])
		if err != nil {
			return nil, err
		}
		return Add(s, in[0])
	})
}

func TestGradActivations(t *testing.T) {
	for _, shape := range [][]int{{2, 3, 3, 4}, {5, 7}} {
		rng := rand.New(rand.NewSource(3))
		gradCheck(t, fmt.Sprintf("silu_%v", shape), []gcInput{{"x", randDense(rng, -4, 4, shape...), true}},
			func(in []*G.Node) (*G.Node, error) { return SiLU(in[0]) })
		gradCheck(t, fmt.Sprintf("sigmoid_%v", shape), []gcInput{{"x", randDense(rng, -4, 4, shape...), true}},
			func(in []*G.Node) (*G.Node, error) { return Sigmoid(in[0]) })
	}
}

func TestGradGlobalAvgPool(t *testing.T) {
	for _, shape := range [][]int{{2, 3, 4, 5}, {1, 7, 7, 2}} {
		rng := rand.New(rand.NewSource(4))
		gradCheck(t, fmt.Sprintf("gap_%v", shape), []gcInput{{"x", randDense(rng, -1, 1, shape...), true}},
			func(in []*G.Node) (*G.Node, error) { return GlobalAvgPool(in[0]) })
	}
}

func TestGradChannelScale(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	gradCheck(t, "chanscale", []gcInput{
		{"x", randDense(rng, -1, 1, 2, 3, 3, 4), true},
		{"s", randDense(rng, 0, 1, 2, 4), true},
	}, func(in []*G.Node) (*G.Node, error) { return ChannelScale(in[0], in[1]) })
}

func TestGradSampleScale(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	mask := tensor.New(tensor.WithShape(3), tensor.WithBacking([]float64{1.25, 0, 1.25}))
	gradCheck(t, "samplescale4d", []gcInput{
		{"x", randDense(rng, -1, 1, 3, 2, 2, 4), true},
		{"m", mask, false},
	}, func(in []*G.Node) (*G.Node, error) { return SampleScale(in[0], in[1]) })
	mask2 := tensor.New(tensor.WithShape(3), tensor.WithBacking([]float64{0, 2, 0.5}))
	gradCheck(t, "samplescale2d", []gcInput{
		{"x", randDense(rng, -1, 1, 3, 5), true},
		{"m", mask2, false},
	}, func(in []*G.Node) (*G.Node, error) { return SampleScale(in[0], in[1]) })
}

func TestGradBiasAdd(t *testing.T) {
	for _, shape := range [][]int{{2, 3, 3, 4}, {5, 3}} {
		rng := rand.New(rand.NewSource(8))
		c := shape[len(shape)-1]
		gradCheck(t, fmt.Sprintf("bias_%v", shape), []gcInput{
			{"x", randDense(rng, -1, 1, shape...), true},
			{"b", randDense(rng, -1, 1, c), true},
		}, func(in []*G.Node) (*G.Node, error) { return BiasAdd(in[0], in[1]) })
	}
}

func TestGradSoftmaxCrossEntropy(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	// smoothed one-hot targets (rows sum to 1)
	n, k := 4, 5
	tg := make([]float64, n*k)
	for r := 0; r < n; r++ {
		for i := 0; i < k; i++ {
			tg[r*k+i] = 0.1 / float64(k)
		}
		tg[r*k+rng.Intn(k)] += 0.9
	}
	gradCheck(t, "sce_smoothed", []gcInput{
		{"logits", randDense(rng, -3, 3, n, k), true},
		{"targets", tensor.New(tensor.WithShape(n, k), tensor.WithBacking(tg)), false},
	}, func(in []*G.Node) (*G.Node, error) { return SoftmaxCrossEntropy(in[0], in[1]) })
	// unnormalised targets exercise the general gradient p*sum(t) - t
	gradCheck(t, "sce_general", []gcInput{
		{"logits", randDense(rng, -3, 3, 3, 4), true},
		{"targets", randDense(rng, 0, 1, 3, 4), false},
	}, func(in []*G.Node) (*G.Node, error) { return SoftmaxCrossEntropy(in[0], in[1]) })
}

// TestGradMBConvChain differentiates a small MBConv-like chain end to end, so
// the ops are also checked when composed (shared inputs, gradient sums).
func TestGradMBConvChain(t *testing.T) {
	rng := rand.New(rand.NewSource(10))
	bn, _ := NewBatchNorm(4, DefaultBNMomentum, DefaultBNEpsilon)
	gradCheck(t, "mbconv", []gcInput{
		{"x", randDense(rng, -1, 1, 2, 5, 5, 2), true},
		{"we", randDense(rng, -1, 1, 1, 1, 2, 4), true},
		{"wd", randDense(rng, -1, 1, 3, 3, 4), true},
		{"gamma", randDense(rng, 0.5, 1.5, 4), true},
		{"beta", randDense(rng, -1, 1, 4), true},
		{"wse", randDense(rng, -1, 1, 4, 4), true},
		{"bse", randDense(rng, -1, 1, 4), true},
		{"wp", randDense(rng, -1, 1, 1, 1, 4, 2), true},
		{"m", tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{1.25, 1.25})), false},
	}, func(in []*G.Node) (*G.Node, error) {
		h, err := Conv2D(in[0], in[1], 1)
		if err != nil {
			return nil, err
		}
		if h, err = SiLU(h); err != nil {
			return nil, err
		}
		if h, err = DepthwiseConv2D(h, in[2], 1); err != nil {
			return nil, err
		}
		if h, err = bn.Apply(h, in[3], in[4]); err != nil {
			return nil, err
		}
		if h, err = SiLU(h); err != nil {
			return nil, err
		}
		s, err := GlobalAvgPool(h)
		if err != nil {
			return nil, err
		}
		if s, err = G.Mul(s, in[5]); err != nil {
			return nil, err
		}
		if s, err = BiasAdd(s, in[6]); err != nil {
			return nil, err
		}
		if s, err = Sigmoid(s); err != nil {
			return nil, err
		}
		if h, err = ChannelScale(h, s); err != nil {
			return nil, err
		}
		if h, err = Conv2D(h, in[7], 1); err != nil {
			return nil, err
		}
		if h, err = SampleScale(h, in[8]); err != nil {
			return nil, err
		}
		return G.Add(h, in[0])
	})
}

// wrongSiLU is SiLU with a deliberately wrong gradient (the sigmoid's).
type wrongSiLU struct{ unaryOp }

func (op wrongSiLU) symDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	s, err := apply(unaryOp{kind: kSigmoid, dims: op.dims}, in[0])
	if err != nil {
		return nil, err
	}
	g, err := apply(unaryOp{kind: kSigmoidGrad, dims: op.dims}, s, grad)
	return G.Nodes{g}, err
}

// recorder collects checker failures instead of failing the test.
type recorder struct {
	testing.TB
	errors int
}

func (r *recorder) Errorf(string, ...any) { r.errors++ }

func TestGradCheckDetectsWrongGradient(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	r := &recorder{TB: t}
	worst := gradCheck(r, "wrong_silu", []gcInput{{"x", randDense(rng, -2, 2, 3, 4), true}},
		func(in []*G.Node) (*G.Node, error) {
			return apply(wrongSiLU{unaryOp{kind: kSiLU, dims: 2}}, in[0])
		})
	if r.errors == 0 || worst < 1e-2 {
		t.Fatalf("checker accepted a wrong gradient (errors %d, worst %.3g)", r.errors, worst)
	}
}
