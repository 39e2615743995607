package ops

import (
	"math"
	"math/rand"
	"runtime"
	"testing"
)

// TestWinogradMatchesIm2col runs the float32 Winograd forward, input and
// weight gradient against the float64 im2col path on geometries with odd
// and even sides, single-pixel images, tiles that overhang, channel counts
// at the threshold, and blocks and chunks of many tiles; the error must stay
// within float32 rounding of the sums.
func TestWinogradMatchesIm2col(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for _, c := range []struct{ n, h, w, ci, co int }{
		{2, 7, 7, 16, 16}, {3, 5, 6, 17, 20}, {1, 1, 1, 16, 16}, {2, 2, 3, 16, 32}, {1, 3, 1, 20, 16},
		{4, 14, 14, 32, 64}, {64, 7, 7, 48, 96}, {9, 28, 28, 16, 16},
	} {
		g := newConvGeom(c.n, c.h, c.w, c.ci, 3, 3, c.co, 1)
		if !g.winograd() {
			t.Fatalf("%+v: not a Winograd geometry", c)
		}
		rng := rand.New(rand.NewSource(int64(c.h*c.w + c.ci)))
		x := f64s(randDense(rng, -1, 1, c.n, c.h, c.w, c.ci))
		w := f64s(randDense(rng, -1, 1, 3, 3, c.ci, c.co))
		gy := f64s(randDense(rng, -1, 1, c.n, c.h, c.w, c.co))
		y, dx, dw := make([]float64, len(gy)), make([]float64, len(x)), make([]float64, len(w))
		convForward(g, x, w, y)
		convGradX(g, w, gy, dx)
		convGradW(g, x, gy, dw)
		y32, dx32, dw32 := make([]float32, len(gy)), make([]float32, len(x)), make([]float32, len(w))
		for i := range dx32 { // stale values must be overwritten
			dx32[i] = float32(math.NaN())
		}
		winoForward(g, to32(x), to32(w), y32)
		winoGradX(g, to32(w), to32(gy), dx32)
		winoGradW(g, to32(x), to32(gy), dw32)
		for _, p := range []struct {
			name string
			want []float64
			got  []float32
			k    int // terms per sum
		}{{"y", y, y32, 9 * c.ci}, {"dx", dx, dx32, 9 * c.co}, {"dw", dw, dw32, c.n * c.h * c.w * c.co}} {
			// the terms are products of two values in [-1, 1]
			tol := 2e-7 * 16 * math.Sqrt(float64(p.k)) * 4
			for i, v := range p.want {
				if d := math.Abs(float64(p.got[i]) - v); !(d <= tol) {
					t.Fatalf("%+v %s[%d] = %v, want %v (tolerance %.2g)", c, p.name, i, p.got[i], v, tol)
				}
			}
		}
	}
}

func to32(s []float64) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = float32(v)
	}
	return out
}

// TestWinogradOnlyWhereItPays: 3x3 stride-1 float32 convolutions with at
// least winoMinC channels on both sides take the Winograd path, others
// im2col.
func TestWinogradOnlyWhereItPays(t *testing.T) {
	for _, c := range []struct {
		k, s, ci, co int
		want         bool
	}{{3, 1, 16, 16, true}, {3, 1, 64, 384, true}, {3, 2, 64, 64, false}, {1, 1, 64, 64, false}, {5, 1, 64, 64, false}, {3, 1, 8, 64, false}, {3, 1, 64, 1, false}} {
		if got := newConvGeom(2, 8, 8, c.ci, c.k, c.k, c.co, c.s).winograd(); got != c.want {
			t.Errorf("%+v: winograd() = %v", c, got)
		}
	}
}
