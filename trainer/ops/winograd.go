package ops

import (
	"sync"

	"github.com/effnas/effnas/trainer/kernels"
)

// Winograd F(2x2, 3x3) for the float32 3x3 stride-1 convolutions (Lavin and
// Gray, "Fast algorithms for convolutional neural networks", 2016). The
// output is cut into 2x2 tiles, each computed from the 4x4 input tile
// around it: with the input tile d, the 3x3 kernel g and the transforms of
// kernels.WinoIn, WinoFilter and WinoOut (B^T, G, A^T), the output tile is
// A^T [(G g G^T) ⊙ (B^T d B)] A. Summed over input channels, each of the 16
// elements of the transformed tiles is one matrix product (tiles x Cin) x
// (Cin x Cout), so a tile costs 16*Cin*Cout multiply-adds instead of
// 4*9*Cin*Cout: 2.25 times fewer, less the tiles that overhang odd images.
//
//   - Forward: the 16 transformed weights are packed once
//     (kernels.PackedB); tasks of a block of tiles gather their input
//     tiles, transform them, run the 16 products and transform the results
//     back into y.
//   - Input gradient: stride 1 makes it the same convolution of gy with the
//     kernel turned by 180 degrees and its channels swapped.
//   - Weight gradient: each 3x3 window's sum over the 2x2 output-gradient
//     tile is F(3x3, 2x2) (G' and A'^T, kernels.WinoFilter2 and WinoOut3):
//     the 16 products (Cin x tiles) x (tiles x Cout) are summed over the
//     tiles in fixed chunks, the chunks' sums added in order, and the total
//     transformed back once.
//
// The transforms only add, subtract and halve, in one order on every
// backend; the products and the chunks depend on the geometry only, so
// results do not depend on GOMAXPROCS. Rounding differs from the im2col
// path (float64 keeps that one: gradient checks) by a few float32 ulps of
// the sums.

// winoMinC is the least number of input and output channels for which the
// Winograd path pays: below it the 16 small products cost more than the
// im2col product they replace.
const winoMinC = 16

// winoBudget bounds a task's transformed tiles, in floats: 16 matrices of
// tiles x (Cin + Cout) stay in a core's L2 cache.
const winoBudget = 1 << 18

// winograd reports whether the convolution runs as Winograd F(2x2, 3x3).
func (g convGeom) winograd() bool {
	return g.kh == 3 && g.kw == 3 && g.stride == 1 && g.cin >= winoMinC && g.cout >= winoMinC
}

// winoGeom is the tiling of a stride-1 3x3 convolution's output.
type winoGeom struct {
	n, h, w  int // image (input and output: stride 1, same padding)
	th, tw   int // tiles per column and row: ceil(h/2), ceil(w/2)
	tiles    int // n*th*tw, sample by sample, row by row
	cin, cou int // channels of the input tiles and of the output tiles
}

func newWinoGeom(n, h, w, cin, cout int) winoGeom {
	g := winoGeom{n: n, h: h, w: w, th: (h + 1) / 2, tw: (w + 1) / 2, cin: cin, cou: cout}
	g.tiles = n * g.th * g.tw
	return g
}

// blockTiles is the number of tiles per task for matrices of widths a + b.
func blockTiles(a, b int) int { return min(256, max(8, winoBudget/(16*(a+b)))) }

// tileRuns calls fn for each run of tiles of one tile row in [t0, t1):
// sample n, tile row ty, tile columns [tx0, tx1), the first at index at-t0.
func (g winoGeom) tileRuns(t0, t1 int, fn func(at, n, ty, tx0, tx1 int)) {
	for t := t0; t < t1; {
		n, r := t/(g.th*g.tw), t%(g.th*g.tw)
		ty, tx := r/g.tw, r%g.tw
		e := min(t1-t, g.tw-tx)
		fn(t-t0, n, ty, tx, tx+e)
		t += e
	}
}

// floorDiv is a/b rounded down (b > 0).
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// gatherIn writes the 4x4 input tiles of tiles [t0, t1) of x (N,H,W,C)
// into d: 16 matrices (one per tile position, row-major) of ld*C floats,
// tile t at row t-t0, zero where the tile overhangs the image.
func (g winoGeom) gatherIn(x, d []float32, ld, t0, t1 int) {
	c := g.cin
	g.tileRuns(t0, t1, func(at, n, ty, tx0, tx1 int) {
		for i := 0; i < 4; i++ {
			iy := 2*ty - 1 + i
			for j := 0; j < 4; j++ {
				dst := d[((4*i+j)*ld+at)*c:]
				if iy < 0 || iy >= g.h {
					clear(dst[:(tx1-tx0)*c])
					continue
				}
				// columns ix = 2tx-1+j inside [0, w): tx in [lo, hi)
				lo := tx0
				if j == 0 {
					lo = max(tx0, 1) // ix = 2tx-1 >= 0
				}
				hi := min(tx1, floorDiv(g.w-j, 2)+1)
				if lo > tx0 {
					clear(dst[:(lo-tx0)*c])
				}
				if hi > lo {
					src := x[((n*g.h+iy)*g.w+2*lo-1+j)*c:]
					kernels.Copy2D(dst[(lo-tx0)*c:], c, src, 2*c, c, hi-lo)
				}
				if hi < tx1 {
					clear(dst[(max(lo, hi)-tx0)*c : (tx1-tx0)*c])
				}
			}
		}
	})
}

// transformIn applies B^T . B to the 16 gathered matrices of nt tiles in
// place (rows of the 4x4 tile, then columns).
func transformIn(d []float32, ld, nt, c int) {
	m := func(p int) []float32 { return d[p*ld*c : p*ld*c+nt*c] }
	for i := 0; i < 4; i++ {
		kernels.WinoIn(m(4*i), m(4*i+1), m(4*i+2), m(4*i+3), m(4*i), m(4*i+1), m(4*i+2), m(4*i+3))
	}
	for j := 0; j < 4; j++ {
		kernels.WinoIn(m(j), m(4+j), m(8+j), m(12+j), m(j), m(4+j), m(8+j), m(12+j))
	}
}

// winoWeights is the forward's transformed kernel: U = G g G^T of each
// (input, output) channel pair, 16 matrices, packed for the products.
type winoWeights struct {
	p   [16]kernels.PackedB
	buf []float32
}

var winoWeightsPool sync.Pool

// newWinoWeights transforms w (3,3,Cin,Cout). With grad set it transforms
// the input gradient's kernel instead: w turned by 180 degrees, packed as
// (Cout x Cin).
func newWinoWeights(w []float32, cin, cout int, grad bool) *winoWeights {
	ww, _ := winoWeightsPool.Get().(*winoWeights)
	if ww == nil {
		ww = new(winoWeights)
	}
	ck := cin * cout
	if cap(ww.buf) < 28*ck {
		ww.buf = make([]float32, 28*ck)
	}
	tmp, u := ww.buf[:12*ck], ww.buf[12*ck:28*ck]
	// G g G^T lane by lane, in ranges of the Cin*Cout lanes on the team:
	// columns of the 3x3 kernel first, tmp[3*xi+b] = (G g)[xi][b]
	ranges := max(1, min(16, ck/4096))
	kernels.Parallel(ranges, func(_, r int) {
		lo, hi := r*ck/ranges, (r+1)*ck/ranges
		m := func(s []float32, p int) []float32 { return s[p*ck+lo : p*ck+hi] }
		tap := func(a, b int) []float32 {
			if grad {
				a, b = 2-a, 2-b
			}
			return m(w, 3*a+b)
		}
		for b := 0; b < 3; b++ {
			kernels.WinoFilter(m(tmp, b), m(tmp, 3+b), m(tmp, 6+b), m(tmp, 9+b), tap(0, b), tap(1, b), tap(2, b))
		}
		for xi := 0; xi < 4; xi++ {
			kernels.WinoFilter(m(u, 4*xi), m(u, 4*xi+1), m(u, 4*xi+2), m(u, 4*xi+3), m(tmp, 3*xi), m(tmp, 3*xi+1), m(tmp, 3*xi+2))
		}
	})
	kernels.Parallel(16, func(_, p int) {
		up := u[p*ck : (p+1)*ck]
		if grad {
			ww.p[p].Pack(true, cout, cin, 1, up, cout)
		} else {
			ww.p[p].Pack(false, cin, cout, 1, up, cout)
		}
	})
	return ww
}

// winoConv computes out (N,H,W,cou) = the stride-1 3x3 same convolution of
// in (N,H,W,cin) whose transformed kernel is ww.
func winoConv(g winoGeom, in, out []float32, ww *winoWeights) {
	ci, co := g.cin, g.cou
	tb := blockTiles(ci, co)
	per := 16 * tb * (ci + co)
	nw := kernels.Threads()
	bufAll, keep := getCol[float32](nw * per)
	defer colPool.Put(keep)
	bounds := guided(g.tiles, tb, tb/4)
	kernels.Parallel(len(bounds)-1, func(wk, task int) {
		t0, t1 := bounds[task], bounds[task+1]
		nt := t1 - t0
		buf := bufAll[wk*per : (wk+1)*per]
		d, m := buf[:16*tb*ci], buf[16*tb*ci:]
		g.gatherIn(in, d, tb, t0, t1)
		transformIn(d, tb, nt, ci)
		for p := 0; p < 16; p++ {
			kernels.GemmPacked(false, nt, d[p*tb*ci:], ci, &ww.p[p], 0, m[p*tb*co:], co)
		}
		mp := func(p int) []float32 { return m[p*tb*co : p*tb*co+nt*co] }
		// A^T . A: rows of the 4x4 into columns 0, 1, then those columns
		for i := 0; i < 4; i++ {
			kernels.WinoOut(mp(4*i), mp(4*i+1), mp(4*i), mp(4*i+1), mp(4*i+2), mp(4*i+3))
		}
		for j := 0; j < 2; j++ {
			kernels.WinoOut(mp(j), mp(4+j), mp(j), mp(4+j), mp(8+j), mp(12+j))
		}
		// scatter the 2x2 output tiles (position (a, b) in matrix 4a+b)
		g.tileRuns(t0, t1, func(at, n, ty, tx0, tx1 int) {
			for a := 0; a < 2; a++ {
				oy := 2*ty + a
				if oy >= g.h {
					continue
				}
				for b := 0; b < 2; b++ {
					hi := min(tx1, (g.w-b+1)/2) // columns 2tx+b < w
					if hi > tx0 {
						kernels.Copy2D(out[((n*g.h+oy)*g.w+2*tx0+b)*co:], 2*co, m[((4*a+b)*tb+at)*co:], co, co, hi-tx0)
					}
				}
			}
		})
	})
}

// winoForward computes y = conv(x, w) (see winograd.go's comment).
func winoForward(g convGeom, x, w, y []float32) {
	ww := newWinoWeights(w, g.cin, g.cout, false)
	defer winoWeightsPool.Put(ww)
	winoConv(newWinoGeom(g.n, g.h, g.w, g.cin, g.cout), x, y, ww)
}

// winoGradX computes dx from w and gy: the convolution of gy with w turned
// by 180 degrees, input and output channels swapped.
func winoGradX(g convGeom, w, gy, dx []float32) {
	ww := newWinoWeights(w, g.cin, g.cout, true)
	defer winoWeightsPool.Put(ww)
	winoConv(newWinoGeom(g.n, g.h, g.w, g.cout, g.cin), gy, dx, ww)
}

// winoChunkTiles is the least number of tiles of a weight-gradient chunk
// (each chunk past the first costs 16 Cin x Cout sums to add), and
// winoMaxChunks the most chunks.
const (
	winoChunkTiles = 256
	winoMaxChunks  = 8
)

// winoGradW computes dw (3,3,Cin,Cout) from x and gy (see winograd.go's
// comment): chunk by chunk of tiles the transformed sums S (16 matrices Cin
// x Cout), added in chunk order, then dw = A'^T S A'.
func winoGradW(g convGeom, x, gy, dw []float32) {
	ci, co := g.cin, g.cout
	wg := newWinoGeom(g.n, g.h, g.w, ci, co)
	ck := ci * co
	tb := blockTiles(ci, co)
	per := 16 * tb * (ci + co)
	chunk := max(winoChunkTiles, (wg.tiles+winoMaxChunks-1)/winoMaxChunks)
	bounds := guided(wg.tiles, chunk, winoChunkTiles/2)
	chunks := len(bounds) - 1
	nw := kernels.Threads()
	bufAll, keep := getCol[float32](nw*per + chunks*16*ck + 12*ck)
	defer colPool.Put(keep)
	sums := bufAll[nw*per : nw*per+chunks*16*ck]
	kernels.Parallel(chunks, func(wk, ch int) {
		buf := bufAll[wk*per : (wk+1)*per]
		d, u := buf[:16*tb*ci], buf[16*tb*ci:]
		s := sums[ch*16*ck : (ch+1)*16*ck]
		for t0 := bounds[ch]; t0 < bounds[ch+1]; t0 += tb {
			t1 := min(bounds[ch+1], t0+tb)
			nt := t1 - t0
			wg.gatherIn(x, d, tb, t0, t1)
			transformIn(d, tb, nt, ci)
			wg.gatherGrad(gy, u, tb, t0, t1)
			beta := float32(1)
			if t0 == bounds[ch] {
				beta = 0
			}
			for p := 0; p < 16; p++ {
				kernels.Gemm(true, false, ci, co, nt, 1, d[p*tb*ci:], ci, u[p*tb*co:], co, beta, s[p*ck:], co)
			}
		}
	})
	if chunks > 1 {
		parallelRange(16*ck, elemGrain, func(_, lo, hi int) {
			for ch := 1; ch < chunks; ch++ {
				kernels.Add(sums[lo:hi], sums[ch*16*ck+lo:ch*16*ck+hi])
			}
		})
	}
	// dw = A'^T S A': rows of the 4x4 into three columns, then those columns
	// (matrix 4*xi+nu of S; the 3x3 taps of dw in its (KH,KW) order)
	rbuf := bufAll[nw*per+chunks*16*ck:]
	ranges := max(1, min(16, ck/4096))
	kernels.Parallel(ranges, func(_, rg int) {
		lo, hi := rg*ck/ranges, (rg+1)*ck/ranges
		sp := func(p int) []float32 { return sums[p*ck+lo : p*ck+hi] }
		rp := func(xi, b int) []float32 { return rbuf[(3*xi+b)*ck+lo : (3*xi+b)*ck+hi] }
		for xi := 0; xi < 4; xi++ {
			kernels.WinoOut3(rp(xi, 0), rp(xi, 1), rp(xi, 2), sp(4*xi), sp(4*xi+1), sp(4*xi+2), sp(4*xi+3))
		}
		wp := func(a, b int) []float32 { return dw[(3*a+b)*ck+lo : (3*a+b)*ck+hi] }
		for b := 0; b < 3; b++ {
			kernels.WinoOut3(wp(0, b), wp(1, b), wp(2, b), rp(0, b), rp(1, b), rp(2, b), rp(3, b))
		}
	})
}

// gatherGrad writes the transformed 2x2 output-gradient tiles of tiles
// [t0, t1) of gy (N,H,W,Cout) into u: G' g G'^T as 16 matrices of ld*Cout
// floats (zero where a tile overhangs the image).
func (g winoGeom) gatherGrad(gy, u []float32, ld, t0, t1 int) {
	c := g.cou
	nt := t1 - t0
	// the 2x2 tile into matrices 0, 1, 4, 5 (positions (q, r) at 4q+r)
	g.tileRuns(t0, t1, func(at, n, ty, tx0, tx1 int) {
		for q := 0; q < 2; q++ {
			oy := 2*ty + q
			for r := 0; r < 2; r++ {
				dst := u[((4*q+r)*ld+at)*c:]
				if oy >= g.h {
					clear(dst[:(tx1-tx0)*c])
					continue
				}
				hi := min(tx1, (g.w-r+1)/2) // columns 2tx+r < w
				if hi > tx0 {
					kernels.Copy2D(dst, c, gy[((n*g.h+oy)*g.w+2*tx0+r)*c:], 2*c, c, hi-tx0)
				}
				if hi < tx1 {
					clear(dst[(max(hi, tx0)-tx0)*c : (tx1-tx0)*c])
				}
			}
		}
	})
	m := func(p int) []float32 { return u[p*ld*c : p*ld*c+nt*c] }
	// columns: row q's two values into positions 4q..4q+3, then each column
	// nu's two rows (matrices nu, 4+nu) into 4 rows. Rows 0 and 1 first
	// move out of the way of the outputs that overwrite them.
	kernels.WinoFilter2(m(8), m(9), m(10), m(11), m(4), m(5))
	kernels.WinoFilter2(m(12), m(13), m(14), m(15), m(0), m(1))
	// now row 0 of the columns' result is in 12..15 and row 1 in 8..11
	for nu := 0; nu < 4; nu++ {
		kernels.WinoFilter2(m(nu), m(4+nu), m(8+nu), m(12+nu), m(12+nu), m(8+nu))
	}
}
