package ops

import (
	"math/rand"
	"testing"

	"github.com/effnas/effnas/trainer/kernels"
)

// TestIm2colMatchesPixelLoop compares im2col and col2im (row segments with
// strided vector copies and adds) with the plain pixel-by-pixel loops, bit
// for bit, over geometries and chunk boundaries, on both backends.
func TestIm2colMatchesPixelLoop(t *testing.T) {
	defer kernels.SetBackend(kernels.Backend())
	rng := rand.New(rand.NewSource(3))
	geoms := []convGeom{
		newConvGeom(2, 7, 7, 16, 3, 3, 8, 1),
		newConvGeom(2, 8, 8, 5, 3, 3, 4, 2),
		newConvGeom(1, 7, 6, 3, 5, 5, 2, 2),
		newConvGeom(2, 5, 9, 17, 3, 1, 3, 1),
		newConvGeom(1, 4, 4, 2, 5, 5, 2, 1), // kernel wider than the input
		newConvGeom(3, 6, 6, 1, 3, 3, 4, 1),
	}
	for _, be := range []string{"go", "avx512"} {
		if err := kernels.SetBackend(be); err != nil {
			continue
		}
		for gi, g := range geoms {
			rows, kkc := g.n*g.oh*g.ow, g.kkc()
			x := make([]float32, g.n*g.h*g.w*g.cin)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			cols := make([]float32, rows*kkc)
			for i := range cols {
				cols[i] = float32(rng.NormFloat64())
			}
			for _, chunk := range []int{1, 3, g.ow, g.ow + 2, rows} {
				got, want := make([]float32, rows*kkc), make([]float32, rows*kkc)
				dxGot, dxWant := make([]float32, len(x)), make([]float32, len(x))
				for r0 := 0; r0 < rows; r0 += chunk {
					r1 := min(rows, r0+chunk)
					im2col(g, x, got[r0*kkc:r1*kkc], r0, r1)
					col2im(g, cols[r0*kkc:r1*kkc], dxGot, r0, r1)
				}
				for r := 0; r < rows; r++ {
					n, p := r/g.rowsPerSample, r%g.rowsPerSample
					xb := x[n*g.h*g.w*g.cin : (n+1)*g.h*g.w*g.cin]
					db := dxWant[n*g.h*g.w*g.cin : (n+1)*g.h*g.w*g.cin]
					im2colPixel(g, xb, want[r*kkc:(r+1)*kkc], p/g.ow, p%g.ow)
					col2imPixel(g, cols[r*kkc:(r+1)*kkc], db, p/g.ow, p%g.ow)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s geom %d chunk %d: im2col[%d] %v, want %v", be, gi, chunk, i, got[i], want[i])
					}
				}
				for i := range dxWant {
					if dxGot[i] != dxWant[i] {
						t.Fatalf("%s geom %d chunk %d: col2im[%d] %v, want %v", be, gi, chunk, i, dxGot[i], dxWant[i])
					}
				}
			}
		}
	}
}

func TestStrided2DKernels(t *testing.T) {
	defer kernels.SetBackend(kernels.Backend())
	rng := rand.New(rand.NewSource(4))
	for _, c := range []struct{ ds, xs, n, count int }{{48, 16, 48, 5}, {16, 48, 48, 5}, {20, 7, 17, 4}, {5, 5, 5, 9}, {64, 32, 33, 3}, {16, 16, 16, 1}} {
		dst0 := make([]float32, (c.count-1)*c.ds+c.n+3)
		x := make([]float32, (c.count-1)*c.xs+c.n+3)
		for i := range dst0 {
			dst0[i] = float32(rng.NormFloat64())
		}
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		var res [2][2][]float32
		for bi, be := range []string{"go", "avx512"} {
			if err := kernels.SetBackend(be); err != nil {
				res[bi] = res[0]
				continue
			}
			cp, ad := append([]float32(nil), dst0...), append([]float32(nil), dst0...)
			copy2DT(cp, c.ds, x, c.xs, c.n, c.count)
			add2DT(ad, c.ds, x, c.xs, c.n, c.count)
			res[bi] = [2][]float32{cp, ad}
		}
		for k := 0; k < 2; k++ {
			for i := range dst0 {
				if res[0][k][i] != res[1][k][i] {
					t.Fatalf("%+v kernel %d [%d]: go %v, avx512 %v", c, k, i, res[0][k][i], res[1][k][i])
				}
			}
		}
	}
}

// TestDWPixelKernel compares the register-accumulating depthwise pixel
// kernel with the plain loop (go backend) for channel counts around its
// 64- and 16-channel steps.
func TestDWPixelKernel(t *testing.T) {
	defer kernels.SetBackend(kernels.Backend())
	rng := rand.New(rand.NewSource(5))
	for _, c := range []int{1, 5, 16, 17, 48, 64, 65, 100, 130, 384} {
		for _, taps := range []int{0, 1, 4, 9} {
			x, w := make([]float32, 12*c), make([]float32, 9*c)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			for i := range w {
				w[i] = float32(rng.NormFloat64())
			}
			xo, wo := make([]int, taps), make([]int, taps)
			for i := range xo {
				xo[i], wo[i] = rng.Intn(12)*c, rng.Intn(9)*c
			}
			var res [2][]float32
			for bi, be := range []string{"go", "avx512"} {
				res[bi] = make([]float32, c+1)
				res[bi][c] = 42 // beyond c: untouched
				for i := 0; i < c; i++ {
					res[bi][i] = float32(i) // overwritten
				}
				if err := kernels.SetBackend(be); err != nil {
					copy(res[bi], res[0])
					continue
				}
				dwPixelT(res[bi], x, w, xo, wo, c)
			}
			for i := range res[0] {
				d := float64(res[0][i] - res[1][i])
				if d > 1e-5 || d < -1e-5 || res[1][c] != 42 {
					t.Fatalf("c=%d taps=%d [%d]: go %v, avx512 %v", c, taps, i, res[0][i], res[1][i])
				}
			}
		}
	}
}

// TestGuided checks the task boundaries: they cover [0, total) in order,
// every task holds between minSize and maxSize items (the last at least
// one), and the tail shrinks.
func TestGuided(t *testing.T) {
	for _, c := range []struct{ total, maxSize, minSize int }{
		{12544, 227, 28}, {3136, 151, 18}, {64, 1, 1}, {64, 3, 1}, {5, 100, 10}, {1, 1, 1}, {1000, 256, 128},
	} {
		b := guided(c.total, c.maxSize, c.minSize)
		if b[0] != 0 || b[len(b)-1] != c.total {
			t.Fatalf("%+v: boundaries %v", c, b)
		}
		for i := 1; i < len(b); i++ {
			d := b[i] - b[i-1]
			if d < 1 || d > c.maxSize || (d < min(c.minSize, c.maxSize) && i < len(b)-1) {
				t.Fatalf("%+v: task %d has %d items", c, i-1, d)
			}
			if i >= 2 && d > b[i-1]-b[i-2] {
				t.Fatalf("%+v: task %d (%d items) larger than the one before", c, i-1, d)
			}
		}
		if n := len(b) - 1; c.total >= 4*c.maxSize && b[n]-b[n-1] >= c.maxSize && c.minSize < c.maxSize {
			t.Fatalf("%+v: no shorter tasks at the end: %v", c, b[max(0, n-8):])
		}
	}
}
