package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// rowKernel runs one exported row kernel on dst and the inputs.
type rowKernel struct {
	name string
	nin  int
	acc  bool // dst is read too
	run  func(dst []float32, in [][]float32)
}

var rowKernels = []rowKernel{
	{"SiLU", 1, false, func(d []float32, in [][]float32) { SiLU(d, in[0]) }},
	{"Sigmoid", 1, false, func(d []float32, in [][]float32) { Sigmoid(d, in[0]) }},
	{"SiLUGrad", 2, false, func(d []float32, in [][]float32) { SiLUGrad(d, in[0], in[1]) }},
	{"AffineSiLU", 3, false, func(d []float32, in [][]float32) { AffineSiLU(d, in[0], in[1], in[2]) }},
	{"AffineSiLUGrad", 4, false, func(d []float32, in [][]float32) { AffineSiLUGrad(d, in[0], in[1], in[2], in[3]) }},
	{"FMA", 2, true, func(d []float32, in [][]float32) { FMA(d, in[0], in[1]) }},
	{"Affine", 3, false, func(d []float32, in [][]float32) { Affine(d, in[0], in[1], in[2]) }},
	{"Affine2", 5, false, func(d []float32, in [][]float32) { Affine2(d, in[0], in[1], in[2], in[3], in[4]) }},
	{"Add", 1, true, func(d []float32, in [][]float32) { Add(d, in[0]) }},
	{"Copy", 1, false, func(d []float32, in [][]float32) { Copy(d, in[0]) }},
	{"Mul", 2, false, func(d []float32, in [][]float32) { Mul(d, in[0], in[1]) }},
	{"SqDev", 2, true, func(d []float32, in [][]float32) { SqDev(d, in[0], in[1]) }},
	// Two-output kernels: each output checked as dst, the other given
	// (and updated) as in[0].
	{"ShiftSq.s1", 3, true, func(d []float32, in [][]float32) { ShiftSq(d, in[0], in[1], in[2]) }},
	{"ShiftSq.s2", 3, true, func(d []float32, in [][]float32) { ShiftSq(in[0][:len(d)], d, in[1], in[2]) }},
	{"GradSums.s1", 4, true, func(d []float32, in [][]float32) { GradSums(d, in[0], in[1], in[2], in[3]) }},
	{"GradSums.s2", 4, true, func(d []float32, in [][]float32) { GradSums(in[0][:len(d)], d, in[1], in[2], in[3]) }},
	// 2-D kernels: three runs of len(d)/3 at strides that overlap for Add2D.
	{"Copy2D", 1, true, func(d []float32, in [][]float32) {
		n := len(d) / 3
		Copy2D(d, n, in[0], n+1, n, 3)
	}},
	{"Add2D", 1, true, func(d []float32, in [][]float32) {
		n := len(d) / 3
		Add2D(d, max(1, n-1), in[0], n+2, n, 3)
	}},
	// Depthwise pixel: taps at offsets into x and w, in order.
	{"DWPixel", 2, false, func(d []float32, in [][]float32) {
		xoff, woff := []int{0, 2, 1, 3}, []int{3, 0, 2, 1}
		DWPixel(d, in[0], in[1], xoff, woff, len(d))
	}},
}

// agree reports whether an assembly result g is within the tolerance of the
// reference w (relative to max(1, |w|)); NaN must match NaN, Inf must match.
func agree(w, g float32, tol float64) bool {
	wf, gf := float64(w), float64(g)
	if math.IsNaN(wf) || math.IsNaN(gf) {
		return math.IsNaN(wf) == math.IsNaN(gf)
	}
	if math.IsInf(wf, 0) || math.IsInf(gf, 0) {
		return wf == gf
	}
	return math.Abs(wf-gf) <= tol*math.Max(1, math.Abs(wf))
}

// TestRowKernelsMatchRef runs every row kernel on every backend of this
// machine against the ref loops: lengths 0..67 (whole vectors of 4, 8 and
// 16 lanes and every tail), operands starting 0..3 floats into their
// buffers (no alignment), three input scales and special values for the
// exponential. The go backend must match ref bit for bit.
func TestRowKernelsMatchRef(t *testing.T) {
	defer SetBackend(Backend())
	rng := rand.New(rand.NewSource(1))
	randv := func(n int, scale float32) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64()) * scale
		}
		return s
	}
	for _, be := range testBackends() {
		if be == "ref" {
			continue
		}
		t.Run(be, func(t *testing.T) {
			for _, k := range rowKernels {
				for n := 0; n <= 67; n++ {
					for off := 0; off < 4; off++ {
						for _, scale := range []float32{1, 8, 200} {
							in := make([][]float32, k.nin)
							for i := range in {
								in[i] = randv(off+n+8, scale)[off:] // longer than n
							}
							d0 := randv(off+n, 1)[off:]
							if n > 2 && k.name != "Copy2D" && k.name != "Add2D" {
								in[0][0], in[0][1] = float32(math.Inf(1)), -1e30
								in[0][2] = float32(math.Inf(-1))
							}
							want, got := append([]float32(nil), d0...), append([]float32(nil), d0...)
							inW, inG := cloneAll(in), cloneAll(in)
							if !k.acc {
								clear(want)
							}
							must(t, SetBackend("ref"))
							k.run(want, inW)
							must(t, SetBackend(be))
							k.run(got, inG)
							tol := 2e-6
							if scale > 1 {
								tol = 2e-4 // FMA rounding of large products
							}
							for i := range got {
								ok := agree(want[i], got[i], tol)
								if be == "go" {
									ok = math.Float32bits(want[i]) == math.Float32bits(got[i]) || want[i] != want[i] && got[i] != got[i]
								}
								if !ok {
									t.Fatalf("%s n=%d off=%d scale=%v: [%d] = %v, ref %v", k.name, n, off, scale, i, got[i], want[i])
								}
							}
						}
					}
				}
			}
		})
	}
}

func cloneAll(in [][]float32) [][]float32 {
	out := make([][]float32, len(in))
	for i, s := range in {
		out[i] = append([]float32(nil), s...)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSigmoidExact pins the reference sigmoid and its branch-free twin on
// values where the exponential takes each path, and on exact results.
func TestSigmoidExact(t *testing.T) {
	for _, x := range []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.3, -0.3, 20, -20, 87.5, -87.5, 88.5, -88.5, 100, -100, 1e30, -1e30,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
		a, b := sigmoid32(x), sigmoidGo(x)
		if math.Float32bits(a) != math.Float32bits(b) && !(a != a && b != b) {
			t.Errorf("sigmoid(%v): ref %v, go %v", x, a, b)
		}
		want := 1 / (1 + math.Exp(-float64(x)))
		if x == x && math.Abs(float64(a)-want) > 1e-6*math.Max(want, 1e-30) && math.Abs(float64(a)-want) > 1e-44 {
			t.Errorf("sigmoid(%v) = %v, want %v", x, a, want)
		}
	}
	if sigmoid32(0) != 0.5 {
		t.Errorf("sigmoid(0) = %v", sigmoid32(0))
	}
}

// TestRowKernelsPanicOnShortInput: an operand shorter than dst is an error,
// not a read past its end.
func TestRowKernelsPanicOnShortInput(t *testing.T) {
	defer SetBackend(Backend())
	for _, be := range Backends() {
		must(t, SetBackend(be))
		for _, k := range rowKernels {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s %s: no panic for a short input", be, k.name)
					}
				}()
				in := make([][]float32, k.nin)
				for i := range in {
					in[i] = make([]float32, 2)
				}
				k.run(make([]float32, 30), in)
			}()
		}
	}
}

// BenchmarkRowKernels times each row kernel per backend on rows of 4096
// floats (in L1/L2), reporting GB/s of operands touched.
func BenchmarkRowKernels(b *testing.B) {
	defer SetBackend(Backend())
	const n = 4096
	rng := rand.New(rand.NewSource(1))
	for _, be := range Backends() {
		for _, k := range rowKernels {
			in := make([][]float32, k.nin)
			for i := range in {
				in[i] = randSlice(rng, n+8)
			}
			d := randSlice(rng, n)
			b.Run(fmt.Sprintf("%s/%s", be, k.name), func(b *testing.B) {
				must2(b, SetBackend(be))
				for i := 0; i < b.N; i++ {
					k.run(d, in)
				}
				b.ReportMetric(float64(4*n*(k.nin+1))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}

func must2(b *testing.B, err error) {
	if err != nil {
		b.Fatal(err)
	}
}
