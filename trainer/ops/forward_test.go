package ops

import (
	"math"
	"math/rand"
	"runtime"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func vec(shape []int, data []float64) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

func f64s(v G.Value) []float64 { return v.Data().([]float64) }

func maxAbsDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

func mustDo(t *testing.T, k kernel, in ...G.Value) G.Value {
	t.Helper()
	op := opOf(k)
	v, err := op.Do(in...)
	if err != nil {
		t.Fatalf("%v.Do: %v", op, err)
	}
	return v
}

func TestSamePadding(t *testing.T) {
	cases := []struct{ in, k, s, out, before, after int }{
		{28, 3, 2, 14, 0, 1},
		{7, 3, 2, 4, 1, 1},
		{7, 5, 2, 4, 2, 2},
		{6, 3, 2, 3, 0, 1},
		{5, 3, 1, 5, 1, 1},
		{5, 5, 1, 5, 2, 2},
		{5, 1, 2, 3, 0, 0},
		{224, 3, 2, 112, 0, 1},
		{1, 3, 2, 1, 1, 1},
	}
	for _, c := range cases {
		out, b, a := SamePadding(c.in, c.k, c.s)
		if out != c.out || b != c.before || a != c.after {
			t.Errorf("SamePadding(%d,%d,%d) = %d,(%d,%d), want %d,(%d,%d)", c.in, c.k, c.s, out, b, a, c.out, c.before, c.after)
		}
	}
}

func TestConv2DHandComputed(t *testing.T) {
	x := vec([]int{1, 3, 3, 1}, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9})
	w := vec([]int{3, 3, 1, 1}, []float64{1, 1, 1, 1, 1, 1, 1, 1, 1})
	y := mustDo(t, convOp{f: fullConv, stride: 1}, x, w)
	want := []float64{12, 21, 16, 27, 45, 33, 24, 39, 28}
	if !y.Shape().Eq(tensor.Shape{1, 3, 3, 1}) || maxAbsDiff(f64s(y), want) != 0 {
		t.Errorf("stride 1: got %v %v, want %v", y.Shape(), f64s(y), want)
	}
	y = mustDo(t, convOp{f: fullConv, stride: 2}, x, w)
	want = []float64{12, 16, 24, 28}
	if !y.Shape().Eq(tensor.Shape{1, 2, 2, 1}) || maxAbsDiff(f64s(y), want) != 0 {
		t.Errorf("stride 2: got %v %v, want %v", y.Shape(), f64s(y), want)
	}
	// 4x4 input, stride 2: pad (0,1), so output (0,0) is the top-left 3x3 window.
	x4 := make([]float64, 16)
	for i := range x4 {
		x4[i] = float64(i + 1)
	}
	y = mustDo(t, convOp{f: fullConv, stride: 2}, vec([]int{1, 4, 4, 1}, x4), w)
	// windows: rows 0-2/cols 0-2; rows 0-2/cols 2-3(+pad); rows 2-3/cols 0-2; rows 2-3/cols 2-3
	want = []float64{1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11, 3 + 4 + 7 + 8 + 11 + 12, 9 + 10 + 11 + 13 + 14 + 15, 11 + 12 + 15 + 16}
	if maxAbsDiff(f64s(y), want) != 0 {
		t.Errorf("4x4 stride 2: got %v, want %v", f64s(y), want)
	}
	// two output channels, two input channels, 1x1: a plain matrix product.
	x2 := vec([]int{1, 1, 2, 2}, []float64{1, 2, 3, 4})
	w2 := vec([]int{1, 1, 2, 2}, []float64{1, 10, 100, 1000})
	y = mustDo(t, convOp{f: fullConv, stride: 1}, x2, w2)
	want = []float64{201, 2010, 403, 4030}
	if maxAbsDiff(f64s(y), want) != 0 {
		t.Errorf("1x1: got %v, want %v", f64s(y), want)
	}
}

// naiveConv is the textbook same-padded NHWC x HWIO convolution.
func naiveConv(x []float64, n, h, w, cin int, wt []float64, kh, kw, cout, s int) []float64 {
	oh, pt, _ := SamePadding(h, kh, s)
	ow, pl, _ := SamePadding(w, kw, s)
	y := make([]float64, n*oh*ow*cout)
	for b := 0; b < n; b++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for co := 0; co < cout; co++ {
					var sum float64
					for ky := 0; ky < kh; ky++ {
						for kx := 0; kx < kw; kx++ {
							iy, ix := oy*s-pt+ky, ox*s-pl+kx
							if iy < 0 || iy >= h || ix < 0 || ix >= w {
								continue
							}
							for ci := 0; ci < cin; ci++ {
								sum += x[((b*h+iy)*w+ix)*cin+ci] * wt[((ky*kw+kx)*cin+ci)*cout+co]
							}
						}
					}
					y[((b*oh+oy)*ow+ox)*cout+co] = sum
				}
			}
		}
	}
	return y
}

func naiveDepthwise(x []float64, n, h, w, c int, wt []float64, k, s int) []float64 {
	oh, pt, _ := SamePadding(h, k, s)
	ow, pl, _ := SamePadding(w, k, s)
	y := make([]float64, n*oh*ow*c)
	for b := 0; b < n; b++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for ch := 0; ch < c; ch++ {
					var sum float64
					for ky := 0; ky < k; ky++ {
						for kx := 0; kx < k; kx++ {
							iy, ix := oy*s-pt+ky, ox*s-pl+kx
							if iy >= 0 && iy < h && ix >= 0 && ix < w {
								sum += x[((b*h+iy)*w+ix)*c+ch] * wt[(ky*k+kx)*c+ch]
							}
						}
					}
					y[((b*oh+oy)*ow+ox)*c+ch] = sum
				}
			}
		}
	}
	return y
}

func toF32(d *tensor.Dense) *tensor.Dense {
	src := d.Data().([]float64)
	out := make([]float32, len(src))
	for i, v := range src {
		out[i] = float32(v)
	}
	return tensor.New(tensor.WithShape(d.Shape()...), tensor.WithBacking(out))
}

// checkF32 compares a float32 result with the float64 one.
func checkF32(t *testing.T, what string, v32 G.Value, want []float64, tol float64) {
	t.Helper()
	got := v32.Data().([]float32)
	for i, v := range got {
		if math.Abs(float64(v)-want[i]) > tol*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("%s: float32 %v vs float64 %v at %d", what, v, want[i], i)
		}
	}
}

func TestConv2DMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	cases := []struct{ n, h, w, cin, k, cout, s int }{
		{2, 7, 7, 3, 3, 4, 2}, {3, 8, 6, 2, 3, 5, 1}, {2, 9, 9, 4, 5, 3, 2}, {1, 5, 5, 3, 5, 2, 1},
		{4, 6, 6, 8, 1, 16, 1}, {2, 7, 7, 4, 1, 3, 2}, {1, 28, 28, 2, 3, 3, 2}, {1, 2, 2, 2, 5, 2, 2},
	}
	for _, c := range cases {
		x := randDense(rng, -1, 1, c.n, c.h, c.w, c.cin)
		w := randDense(rng, -1, 1, c.k, c.k, c.cin, c.cout)
		want := naiveConv(f64s(x), c.n, c.h, c.w, c.cin, f64s(w), c.k, c.k, c.cout, c.s)
		y := mustDo(t, convOp{f: fullConv, stride: c.s}, x, w)
		oh, _, _ := SamePadding(c.h, c.k, c.s)
		ow, _, _ := SamePadding(c.w, c.k, c.s)
		if !y.Shape().Eq(tensor.Shape{c.n, oh, ow, c.cout}) {
			t.Fatalf("%+v: shape %v", c, y.Shape())
		}
		if d := maxAbsDiff(f64s(y), want); d > 1e-12 {
			t.Errorf("%+v: max diff vs naive %g", c, d)
		}
		y32 := mustDo(t, convOp{f: fullConv, stride: c.s}, toF32(x), toF32(w))
		checkF32(t, "conv", y32, want, 1e-5)
	}
}

// TestConv2DChunkingInvariant runs forward and both gradients with im2col
// budgets that force multi-sample chunks, single-sample chunks and
// sub-sample chunks, and expects the same results.
func TestConv2DChunkingInvariant(t *testing.T) {
	defer func(b int) { colBudget = b }(colBudget)
	rng := rand.New(rand.NewSource(2))
	n, h, w, cin, k, cout, s := 5, 7, 6, 3, 3, 4, 2
	x := randDense(rng, -1, 1, n, h, w, cin)
	wt := randDense(rng, -1, 1, k, k, cin, cout)
	g := newConvGeom(n, h, w, cin, k, k, cout, s)
	gy := randDense(rng, -1, 1, n, g.oh, g.ow, cout)
	run := func() (y, dx, dw []float64) {
		y = make([]float64, n*g.oh*g.ow*cout)
		dx = make([]float64, n*h*w*cin)
		dw = make([]float64, k*k*cin*cout)
		for i := range dx { // stale data must be overwritten
			dx[i] = math.NaN()
		}
		for i := range dw {
			dw[i] = math.NaN()
		}
		convForward(g, f64s(x), f64s(wt), y)
		convGradX(g, f64s(wt), f64s(gy), dx)
		convGradW(g, f64s(x), f64s(gy), dw)
		return
	}
	y0, dx0, dw0 := run()
	for _, b := range []int{1, 27, 60, 300, 1 << 20} {
		colBudget = b
		y, dx, dw := run()
		if d := math.Max(maxAbsDiff(y, y0), math.Max(maxAbsDiff(dx, dx0), maxAbsDiff(dw, dw0))); d > 1e-12 || math.IsNaN(d) {
			t.Errorf("budget %d: results differ by %g", b, d)
		}
		plan := g.plan()
		if max(plan.blockRows, plan.xRows)*g.kkc() > max(b, g.kkc()) {
			t.Errorf("budget %d: blocks of %d and %d rows x %d exceed it", b, plan.blockRows, plan.xRows, g.kkc())
		}
		for i := 1; i < len(plan.fwd); i++ {
			if d := plan.fwd[i] - plan.fwd[i-1]; d < 1 || d > plan.blockRows {
				t.Errorf("budget %d: forward task of %d rows (blocks of %d)", b, d, plan.blockRows)
			}
		}
	}
}

func TestDepthwiseMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	cases := []struct{ n, h, w, c, k, s int }{
		{2, 7, 7, 3, 3, 2}, {3, 8, 6, 5, 3, 1}, {2, 9, 9, 4, 5, 2}, {1, 5, 5, 3, 5, 1}, {2, 4, 4, 6, 1, 1}, {1, 6, 6, 2, 3, 2},
	}
	for _, c := range cases {
		x := randDense(rng, -1, 1, c.n, c.h, c.w, c.c)
		w := randDense(rng, -1, 1, c.k, c.k, c.c)
		want := naiveDepthwise(f64s(x), c.n, c.h, c.w, c.c, f64s(w), c.k, c.s)
		y := mustDo(t, convOp{f: depthwiseConv, stride: c.s}, x, w)
		if d := maxAbsDiff(f64s(y), want); d > 1e-12 {
			t.Errorf("%+v: max diff vs naive %g", c, d)
		}
		y32 := mustDo(t, convOp{f: depthwiseConv, stride: c.s}, toF32(x), toF32(w))
		checkF32(t, "depthwise", y32, want, 1e-5)
	}
}

func TestActivationValues(t *testing.T) {
	x := vec([]int{5}, []float64{0, 1, -1, 30, -30})
	y := f64s(mustDo(t, unaryOp{kind: kSiLU, dims: 1}, x))
	e30 := math.Exp(-30)
	want := []float64{0, 0.7310585786300049, -0.2689414213699951, 30 / (1 + e30), -30 * e30 / (1 + e30)}
	if d := maxAbsDiff(y, want); d > 1e-14 {
		t.Errorf("SiLU: got %v, want %v", y, want)
	}
	s := f64s(mustDo(t, unaryOp{kind: kSigmoid, dims: 1}, x))
	wantS := []float64{0.5, 0.7310585786300049, 0.2689414213699951, 1 / (1 + e30), e30 / (1 + e30)}
	if d := maxAbsDiff(s, wantS); d > 1e-15 {
		t.Errorf("Sigmoid: got %v, want %v", s, wantS)
	}
	// float32 math agrees with float64 over a wide range and stays finite.
	rng := rand.New(rand.NewSource(4))
	big := randDense(rng, -90, 90, 4, 1000)
	for _, k := range []unaryKind{kSiLU, kSigmoid} {
		want := f64s(mustDo(t, unaryOp{kind: k, dims: 2}, big))
		checkF32(t, unaryNames[k], mustDo(t, unaryOp{kind: k, dims: 2}, toF32(big)), want, 1e-6)
	}
}

func TestChannelOpsForward(t *testing.T) {
	// x (1,2,2,2): pixels (1,10) (2,20) (3,30) (4,40)
	x := vec([]int{1, 2, 2, 2}, []float64{1, 10, 2, 20, 3, 30, 4, 40})
	if y := f64s(mustDo(t, gapOp{}, x)); maxAbsDiff(y, []float64{2.5, 25}) != 0 {
		t.Errorf("GlobalAvgPool: %v", y)
	}
	s := vec([]int{1, 2}, []float64{2, 0.5})
	if y := f64s(mustDo(t, csOp{}, x, s)); maxAbsDiff(y, []float64{2, 5, 4, 10, 6, 15, 8, 20}) != 0 {
		t.Errorf("ChannelScale: %v", y)
	}
	b := vec([]int{2}, []float64{1, -1})
	if y := f64s(mustDo(t, biasOp{dims: 4}, x, b)); maxAbsDiff(y, []float64{2, 9, 3, 19, 4, 29, 5, 39}) != 0 {
		t.Errorf("BiasAdd: %v", y)
	}
	x2 := vec([]int{2, 3}, []float64{1, 2, 3, 4, 5, 6})
	m := vec([]int{2}, []float64{0, 1.25})
	if y := f64s(mustDo(t, ssOp{dims: 2}, x2, m)); maxAbsDiff(y, []float64{0, 0, 0, 5, 6.25, 7.5}) != 0 {
		t.Errorf("SampleScale: %v", y)
	}
	if y := f64s(mustDo(t, chanSumOp{dims: 2}, x2)); maxAbsDiff(y, []float64{5, 7, 9}) != 0 {
		t.Errorf("ChannelSum: %v", y)
	}
}

func TestSoftmaxCrossEntropyValues(t *testing.T) {
	n, k := 3, 7
	z := vec([]int{n, k}, make([]float64, n*k))
	tg := make([]float64, n*k)
	for r := 0; r < n; r++ {
		tg[r*k+r] = 1
	}
	l := mustDo(t, sceOp{}, z, vec([]int{n, k}, tg))
	if got := float64(*l.(*G.F64)); math.Abs(got-math.Log(float64(k))) > 1e-15 {
		t.Errorf("zero logits: loss %v, want log(%d) = %v", got, k, math.Log(float64(k)))
	}
	// hand case: logits (1,2,3), class 2; large logits must not overflow.
	z2 := vec([]int{2, 3}, []float64{1, 2, 3, 1001, 1002, 1003})
	t2 := vec([]int{2, 3}, []float64{0, 0, 1, 0, 0, 1})
	want := math.Log(math.Exp(1)+math.Exp(2)+math.Exp(3)) - 3
	if got := float64(*mustDo(t, sceOp{}, z2, t2).(*G.F64)); math.Abs(got-want) > 1e-12 {
		t.Errorf("hand case: loss %v, want %v", got, want)
	}
	l32 := mustDo(t, sceOp{}, toF32(z2), toF32(t2))
	if got := float64(*l32.(*G.F32)); math.Abs(got-want) > 1e-6 {
		t.Errorf("float32: loss %v, want %v", got, want)
	}
	// softmax / argmax helpers
	p, err := Softmax(z2)
	if err != nil {
		t.Fatal(err)
	}
	e := []float64{math.Exp(1), math.Exp(2), math.Exp(3)}
	sum := e[0] + e[1] + e[2]
	wantP := []float64{e[0] / sum, e[1] / sum, e[2] / sum, e[0] / sum, e[1] / sum, e[2] / sum}
	if d := maxAbsDiff(f64s(p), wantP); d > 1e-13 {
		t.Errorf("Softmax: %v, want %v", f64s(p), wantP)
	}
	am, err := Argmax(toF32(vec([]int{3, 3}, []float64{0, 5, 1, 9, 2, 3, 1, 1, 1})))
	if err != nil || am[0] != 1 || am[1] != 0 || am[2] != 0 {
		t.Errorf("Argmax: %v %v", am, err)
	}
	if _, err := Argmax(vec([]int{3}, []float64{1, 2, 3})); err == nil {
		t.Error("Argmax accepted a vector")
	}
}

type opCase struct {
	op kernel
	in []G.Value
}

// opCases returns one float64 instance of every op and gradient op.
func opCases() []opCase {
	rng := rand.New(rand.NewSource(5))
	x := randDense(rng, -1, 1, 2, 5, 5, 3)
	bn, _ := NewBatchNorm(3, DefaultBNMomentum, DefaultBNEpsilon)
	bn.Training = false
	bnT, _ := NewBatchNorm(3, DefaultBNMomentum, DefaultBNEpsilon)
	return []opCase{
		{bnOp{bn: bnT, dims: 4}, []G.Value{x, randDense(rng, -1, 1, 3), randDense(rng, -1, 1, 3)}},
		{bnGradXOp{bn: bnT, dims: 4}, []G.Value{x, randDense(rng, -1, 1, 3), x}},
		{bnGradGammaOp{bn: bnT, dims: 4}, []G.Value{x, x}},
		{bnOp{bn: bnT, dims: 2}, []G.Value{randDense(rng, -1, 1, 7, 3), randDense(rng, -1, 1, 3), randDense(rng, -1, 1, 3)}},
		{convOp{f: fullConv, stride: 2}, []G.Value{x, randDense(rng, -1, 1, 3, 3, 3, 4)}},
		{convOp{f: fullConv, stride: 1}, []G.Value{x, randDense(rng, -1, 1, 1, 1, 3, 4)}},
		{convGradXOp{f: fullConv, stride: 2, xShape: tensor.Shape{2, 5, 5, 3}}, []G.Value{randDense(rng, -1, 1, 3, 3, 3, 4), randDense(rng, -1, 1, 2, 3, 3, 4)}},
		{convGradWOp{f: fullConv, stride: 2, wShape: tensor.Shape{3, 3, 3, 4}}, []G.Value{x, randDense(rng, -1, 1, 2, 3, 3, 4)}},
		{convGradXOp{f: fullConv, stride: 1, xShape: tensor.Shape{2, 5, 5, 3}}, []G.Value{randDense(rng, -1, 1, 1, 1, 3, 4), randDense(rng, -1, 1, 2, 5, 5, 4)}},
		{convGradWOp{f: fullConv, stride: 1, wShape: tensor.Shape{1, 1, 3, 4}}, []G.Value{x, randDense(rng, -1, 1, 2, 5, 5, 4)}},
		{convOp{f: depthwiseConv, stride: 2}, []G.Value{x, randDense(rng, -1, 1, 3, 3, 3)}},
		{convGradXOp{f: depthwiseConv, stride: 2, xShape: tensor.Shape{2, 5, 5, 3}}, []G.Value{randDense(rng, -1, 1, 3, 3, 3), randDense(rng, -1, 1, 2, 3, 3, 3)}},
		{convGradWOp{f: depthwiseConv, stride: 2, wShape: tensor.Shape{3, 3, 3}}, []G.Value{x, randDense(rng, -1, 1, 2, 3, 3, 3)}},
		{unaryOp{kind: kSiLU, dims: 4}, []G.Value{x}},
		{unaryOp{kind: kSigmoid, dims: 4}, []G.Value{x}},
		{unaryOp{kind: kSiLUGrad, dims: 4}, []G.Value{x, x}},
		{unaryOp{kind: kSigmoidGrad, dims: 4}, []G.Value{x, x}},
		{gapOp{}, []G.Value{x}},
		{gapGradOp{xShape: tensor.Shape{2, 5, 5, 3}}, []G.Value{randDense(rng, -1, 1, 2, 3)}},
		{csOp{}, []G.Value{x, randDense(rng, -1, 1, 2, 3)}},
		{csGradSOp{}, []G.Value{x, x}},
		{ssOp{dims: 4}, []G.Value{x, vec([]int{2}, []float64{0, 1.25})}},
		{biasOp{dims: 4}, []G.Value{x, randDense(rng, -1, 1, 3)}},
		{chanSumOp{dims: 4}, []G.Value{x}},
		{bnOp{bn: bn, dims: 4}, []G.Value{x, randDense(rng, -1, 1, 3), randDense(rng, -1, 1, 3)}},
		{bnGradXOp{bn: bn, dims: 4}, []G.Value{x, randDense(rng, -1, 1, 3), x}},
		{bnGradGammaOp{bn: bn, dims: 4}, []G.Value{x, x}},
		{bnGradGammaOp{bn: bnT, dims: 4, beta: true}, []G.Value{x, x}},
		{bnOp{bn: bn, dims: 4, silu: true}, []G.Value{x, randDense(rng, -1, 1, 3), randDense(rng, -1, 1, 3)}},
		{bnOp{bn: bnT, dims: 2, silu: true}, []G.Value{randDense(rng, -1, 1, 7, 3), randDense(rng, -1, 1, 3), randDense(rng, -1, 1, 3)}},
		{bnSiLUGradOp{bn: bnT, dims: 4}, []G.Value{x, randDense(rng, -1, 1, 3), randDense(rng, -1, 1, 3), x}},
		{bnSiLUGradOp{bn: bn, dims: 4}, []G.Value{x, randDense(rng, -1, 1, 3), randDense(rng, -1, 1, 3), x}},
		{sceGradOp{}, []G.Value{randDense(rng, -1, 1, 4, 3), randDense(rng, 0, 1, 4, 3), G.NewF64(0.5)}},
		{addOp{dims: 4}, []G.Value{x, randDense(rng, -1, 1, 2, 5, 5, 3)}},
	}
}

// TestUsePreallocDo checks every op: a foreign buffer full of NaN is fully
// overwritten with the Do result, and a wrongly shaped one is refused.
func TestUsePreallocDo(t *testing.T) {
	for _, c := range opCases() {
		op := opOf(c.op)
		want, err := op.Do(c.in...)
		if err != nil {
			t.Fatalf("%v: Do: %v", c.op, err)
		}
		buf := tensor.New(tensor.WithShape(want.Shape()...), tensor.Of(tensor.Float64))
		for i := range f64s(buf) {
			f64s(buf)[i] = math.NaN()
		}
		got, err := op.UsePreallocDo(buf, c.in...)
		if err != nil {
			t.Fatalf("%v: UsePreallocDo: %v", c.op, err)
		}
		if got != G.Value(buf) {
			t.Errorf("%v: UsePreallocDo did not return the buffer", c.op)
		}
		if d := maxAbsDiff(f64s(got), f64s(want)); d != 0 {
			t.Errorf("%v: prealloc result differs from Do by %v", c.op, d)
		}
		wrong := tensor.New(tensor.WithShape(want.Shape().TotalSize()+1), tensor.Of(tensor.Float64))
		if _, err := op.UsePreallocDo(wrong, c.in...); err == nil {
			t.Errorf("%v: accepted a buffer of shape %v", c.op, wrong.Shape())
		}
		wrongDt := tensor.New(tensor.WithShape(want.Shape()...), tensor.Of(tensor.Float32))
		if _, err := op.UsePreallocDo(wrongDt, c.in...); err == nil {
			t.Errorf("%v: accepted a float32 buffer for float64 inputs", c.op)
		}
	}
}

func TestOpContract(t *testing.T) {
	bn, _ := NewBatchNorm(3, DefaultBNMomentum, DefaultBNEpsilon)
	all := []kernel{
		convOp{f: fullConv, stride: 1}, convGradXOp{f: fullConv}, convGradWOp{f: fullConv}, convOp{f: depthwiseConv}, convGradXOp{f: depthwiseConv}, convGradWOp{f: depthwiseConv},
		unaryOp{kind: kSiLU, dims: 4}, unaryOp{kind: kSigmoidGrad, dims: 2}, gapOp{}, gapGradOp{}, csOp{}, csGradSOp{},
		ssOp{dims: 4}, biasOp{dims: 2}, chanSumOp{dims: 2}, bnOp{bn: bn, dims: 4}, bnGradXOp{bn: bn, dims: 4},
		bnGradGammaOp{bn: bn, dims: 4}, sceOp{}, sceGradOp{}, addOp{dims: 4}, bnOp{bn: bn, dims: 4, silu: true}, bnSiLUGradOp{bn: bn, dims: 4},
	}
	for _, k := range all {
		op := opOf(k)
		var _ G.Op = op
		if op.ReturnsPtr() || op.CallsExtern() || op.OverwritesInput() != -1 {
			t.Errorf("%v: ReturnsPtr %v CallsExtern %v OverwritesInput %d", op, op.ReturnsPtr(), op.CallsExtern(), op.OverwritesInput())
		}
		if _, ok := any(op).(G.UsePreallocDoer); !ok {
			t.Errorf("%v: no UsePreallocDo", op)
		}
		if _, ok := any(op).(G.SDOp); !ok {
			t.Errorf("%v: not an SDOp", op)
		}
	}
	// attributes reach the hash
	distinct := [][2]kernel{
		{convOp{f: fullConv, stride: 1}, convOp{f: fullConv, stride: 2}},
		{convOp{f: fullConv, stride: 1}, convOp{f: fullConv, stride: 1, noGradX: true}},
		{convOp{f: depthwiseConv, stride: 1}, convOp{f: depthwiseConv, stride: 2}},
		{convGradXOp{f: fullConv, stride: 1, xShape: tensor.Shape{1, 4, 4, 2}}, convGradXOp{f: fullConv, stride: 1, xShape: tensor.Shape{1, 3, 3, 2}}},
		{unaryOp{kind: kSiLU, dims: 4}, unaryOp{kind: kSigmoid, dims: 4}},
		{unaryOp{kind: kSiLU, dims: 4}, unaryOp{kind: kSiLU, dims: 2}},
		{bnOp{bn: bn, dims: 4}, bnOp{bn: bn, dims: 4, silu: true}},
		{bnGradGammaOp{bn: bn, dims: 4}, bnGradGammaOp{bn: bn, dims: 4, beta: true}},
		{biasOp{dims: 4}, biasOp{dims: 2}},
		{addOp{dims: 4}, addOp{dims: 2}},
		{gapGradOp{xShape: tensor.Shape{1, 2, 2, 3}}, gapGradOp{xShape: tensor.Shape{1, 4, 4, 3}}},
	}
	for _, p := range distinct {
		if opOf(p[0]).Hashcode() == opOf(p[1]).Hashcode() {
			t.Errorf("%v and %v hash alike", p[0], p[1])
		}
	}
}

func TestConstructorErrors(t *testing.T) {
	g := G.NewGraph()
	n := func(name string, dt tensor.Dtype, shape ...int) *G.Node {
		return G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name))
	}
	f64, f32 := tensor.Float64, tensor.Float32
	x := n("x", f64, 2, 5, 5, 3)
	bn, _ := NewBatchNorm(4, 0.9, 1e-3)
	cases := []struct {
		name, wantOp string
		build        func() (*G.Node, error)
	}{
		{"conv x 3-D", "ops.Conv2D", func() (*G.Node, error) { return Conv2D(n("x3", f64, 5, 5, 3), n("w1", f64, 3, 3, 3, 4), 1) }},
		{"conv cin", "ops.Conv2D", func() (*G.Node, error) { return Conv2D(x, n("w2", f64, 3, 3, 2, 4), 1) }},
		{"conv stride", "ops.Conv2D", func() (*G.Node, error) { return Conv2D(x, n("w3", f64, 3, 3, 3, 4), 0) }},
		{"conv dtype", "ops.Conv2D", func() (*G.Node, error) { return Conv2D(x, n("w4", f32, 3, 3, 3, 4), 1) }},
		{"conv int", "ops.Conv2D", func() (*G.Node, error) {
			return Conv2D(n("xi", tensor.Int, 2, 5, 5, 3), n("w5", tensor.Int, 3, 3, 3, 4), 1)
		}},
		{"dw w 4-D", "ops.DepthwiseConv2D", func() (*G.Node, error) { return DepthwiseConv2D(x, n("w6", f64, 3, 3, 3, 1), 1) }},
		{"dw channels", "ops.DepthwiseConv2D", func() (*G.Node, error) { return DepthwiseConv2D(x, n("w7", f64, 3, 3, 4), 2) }},
		{"bn channels", "ops.BatchNorm", func() (*G.Node, error) { return bn.Apply(x, n("g1", f64, 4), n("b1", f64, 4)) }},
		{"bn 3-D", "ops.BatchNorm", func() (*G.Node, error) { return bn.Apply(n("x5", f64, 2, 3, 4), n("g2", f64, 4), n("b2", f64, 4)) }},
		{"bn gamma", "ops.BatchNorm", func() (*G.Node, error) {
			return bn.Apply(n("x6", f64, 2, 2, 2, 4), n("g3", f64, 3), n("b3", f64, 4))
		}},
		{"gap 2-D", "ops.GlobalAvgPool", func() (*G.Node, error) { return GlobalAvgPool(n("x7", f64, 2, 3)) }},
		{"chanscale", "ops.ChannelScale", func() (*G.Node, error) { return ChannelScale(x, n("s1", f64, 2, 4)) }},
		{"samplescale", "ops.SampleScale", func() (*G.Node, error) { return SampleScale(x, n("m1", f64, 3)) }},
		{"bias", "ops.BiasAdd", func() (*G.Node, error) { return BiasAdd(x, n("bb", f64, 5)) }},
		{"sce", "ops.SoftmaxCrossEntropy", func() (*G.Node, error) {
			return SoftmaxCrossEntropy(n("l1", f64, 4, 3), n("t1", f64, 4, 2))
		}},
		{"silu scalar", "ops.SiLU", func() (*G.Node, error) { return SiLU(G.NewScalar(g, f64, G.WithName("sc"))) }},
		{"nil", "ops.Sigmoid", func() (*G.Node, error) { return Sigmoid(nil) }},
	}
	for _, c := range cases {
		y, err := c.build()
		if err == nil {
			t.Errorf("%s: no error (node %v)", c.name, y)
			continue
		}
		if !strings.Contains(err.Error(), c.wantOp) {
			t.Errorf("%s: error %q does not name %s", c.name, err, c.wantOp)
		}
	}
	if _, err := NewBatchNorm(0, 0.9, 1e-3); err == nil {
		t.Error("NewBatchNorm accepted 0 channels")
	}
	if _, err := NewBatchNorm(3, 1, 1e-3); err == nil {
		t.Error("NewBatchNorm accepted momentum 1")
	}
	if _, err := NewBatchNorm(3, 0.9, 0); err == nil {
		t.Error("NewBatchNorm accepted eps 0")
	}
}

// TestParallelMatchesSerial runs every op once on one goroutine and once with
// the parallel paths forced (tiny grains, small im2col chunks, 4 workers) and
// expects the same results; run with -race to check the parallel kernels.
func TestParallelMatchesSerial(t *testing.T) {
	defer func(p, e, c int) {
		runtime.GOMAXPROCS(p)
		elemGrain, colBudget = e, c
	}(runtime.GOMAXPROCS(0), elemGrain, colBudget)
	runtime.GOMAXPROCS(1)
	var serial [][]float64
	for _, c := range opCases() {
		serial = append(serial, append([]float64(nil), f64s(mustDo(t, c.op, c.in...))...))
	}
	runtime.GOMAXPROCS(4)
	elemGrain, colBudget = 1, 40
	for i, c := range opCases() {
		got := f64s(mustDo(t, c.op, c.in...))
		if d := maxAbsDiff(got, serial[i]); d > 1e-12 || math.IsNaN(d) {
			t.Errorf("%v: parallel result differs from serial by %g", c.op, d)
		}
	}
}
