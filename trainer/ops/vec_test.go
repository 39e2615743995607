package ops

import (
	"math"
	"math/rand"
	"testing"

	"github.com/effnas/effnas/trainer/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestRowKernelsMatchRef compares every row kernel, through the names ops
// calls, on each backend of this machine with the reference loops (backend
// "ref") on lengths around the vector widths, with large arguments for the
// exponential. (Package kernels tests them more thoroughly.)
func TestRowKernelsMatchRef(t *testing.T) {
	defer kernels.SetBackend(kernels.Backend())
	rng := rand.New(rand.NewSource(1))
	randv := func(n int, scale float32) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64()) * scale
		}
		return s
	}
	type kern struct {
		name string
		run  func(dst []float32, in [][]float32)
		nin  int
		acc  bool // dst is an input too
	}
	ks := []kern{
		{"silu", func(d []float32, in [][]float32) { siluRow(d, in[0]) }, 1, false},
		{"sigmoid", func(d []float32, in [][]float32) { sigmoidRow(d, in[0]) }, 1, false},
		{"siluGrad", func(d []float32, in [][]float32) { siluGradRow(d, in[0], in[1]) }, 2, false},
		{"affineSiLU", func(d []float32, in [][]float32) { affineSiLURow(d, in[0], in[1], in[2]) }, 3, false},
		{"affineSiLUGrad", func(d []float32, in [][]float32) { affineSiLUGradRow(d, in[0], in[1], in[2], in[3]) }, 4, false},
		{"fma", func(d []float32, in [][]float32) { fmaRow(d, in[0], in[1]) }, 2, true},
		{"affine", func(d []float32, in [][]float32) { affineRow(d, in[0], in[1], in[2]) }, 3, false},
		{"affine2", func(d []float32, in [][]float32) { affine2Row(d, in[0], in[1], in[2], in[3], in[4]) }, 5, false},
		{"add", func(d []float32, in [][]float32) { addRow(d, in[0]) }, 1, true},
		{"copy", func(d []float32, in [][]float32) { copyRow(d, in[0]) }, 1, false},
		{"mul", func(d []float32, in [][]float32) { mulRow(d, in[0], in[1]) }, 2, false},
		{"sqDev", func(d []float32, in [][]float32) { sqDevRow(d, in[0], in[1]) }, 2, true},
		{"shiftSq.s1", func(d []float32, in [][]float32) { shiftSqRow(d, in[0], in[1], in[2]) }, 3, true},
		{"shiftSq.s2", func(d []float32, in [][]float32) { shiftSqRow(in[0][:len(d)], d, in[1], in[2]) }, 3, true},
		{"gradSums.s1", func(d []float32, in [][]float32) { gradSumsRow(d, in[0], in[1], in[2], in[3]) }, 4, true},
		{"gradSums.s2", func(d []float32, in [][]float32) { gradSumsRow(in[0][:len(d)], d, in[1], in[2], in[3]) }, 4, true},
	}
	for _, be := range kernels.Backends() {
		for _, k := range ks {
			for _, n := range []int{0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1000} {
				for _, scale := range []float32{1, 8, 200} {
					in := make([][]float32, k.nin)
					for i := range in {
						in[i] = randv(n+3, scale) // longer than n: only n are used
					}
					d0 := randv(n, 1)
					if n > 2 {
						d0[0], in[0][0] = 0, float32(math.Inf(1))
						in[0][1] = -1e30
					}
					want, got := append([]float32(nil), d0...), append([]float32(nil), d0...)
					if !k.acc {
						clear(want)
					}
					kernels.SetBackend("ref")
					k.run(want, in)
					kernels.SetBackend(be)
					k.run(got, in)
					tol := 2e-6 // scale > 1: FMA rounding of large products shows up
					if scale > 1 {
						tol = 2e-4
					}
					for i := range got {
						w, g := float64(want[i]), float64(got[i])
						if math.IsNaN(w) != math.IsNaN(g) || math.Abs(w-g) > tol*math.Max(1, math.Abs(w)) && !(math.IsInf(w, 0) && w == g) {
							t.Fatalf("%s n=%d scale=%v: [%d] %s %v, ref %v", k.name, n, scale, i, be, g, w)
						}
					}
				}
			}
		}
	}
}

// TestFloat32MatchesFloat64 runs every op of opCases in float32 (the
// vectorised paths) and compares with the float64 result.
func TestFloat32MatchesFloat64(t *testing.T) {
	for _, c := range opCases() {
		want := f64s(mustDo(t, c.op, c.in...))
		in32 := make([]G.Value, len(c.in))
		for i, v := range c.in {
			switch d := v.(type) {
			case *tensor.Dense:
				in32[i] = toF32(d)
			case *G.F64:
				in32[i] = G.NewF32(float32(*d))
			}
		}
		checkF32(t, c.op.String(), mustDo(t, c.op, in32...), want, 2e-4)
	}
}
