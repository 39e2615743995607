package ops

import (
	G "gorgonia.org/gorgonia"

	"github.com/effnas/effnas/trainer/kernels"
)

// DepthwiseConv2D returns the same-padded depthwise convolution (channel
// multiplier 1) of x (N,H,W,C) with w (KH,KW,C): shape (N,ceil(H/s),ceil(W/s),C).
func DepthwiseConv2D(x, w *G.Node, stride int) (*G.Node, error) {
	return applyConv(depthwiseConv, x, w, stride, false)
}

// ---- kernels: NHWC, innermost loop over channels ----

// dwWorkers returns the goroutine count for a per-sample loop.
func dwWorkers(g convGeom) int {
	return workersFor(g.n, g.rowsPerSample*g.kh*g.kw*g.cin, elemGrain)
}

// dwTaps lists the taps of one output pixel: offsets into the input (or
// output gradient) sample and into the weights, in tap order.
type dwTaps struct{ xo, wo []int }

// newDWTaps returns n tap lists with room for taps taps each.
func newDWTaps(n, taps int) []dwTaps {
	ts := make([]dwTaps, n)
	for i := range ts {
		ts[i] = dwTaps{make([]int, 0, taps), make([]int, 0, taps)}
	}
	return ts
}

// dwForward: every output pixel sums its taps in registers (DWPixel). The
// pixels whose window lies inside the input columns share one tap list per
// output row, shifted by the pixel's column; the border pixels build their
// own.
func dwForward[T Float](g convGeom, x, w, y []T) {
	c := g.cin
	lo, hi := g.interiorCols()
	nw := kernels.Threads()
	rows, pxs := newDWTaps(nw, g.kh*g.kw), newDWTaps(nw, g.kh*g.kw)
	runTasks(g.n, dwWorkers(g), func(wk, b int) {
		xb := x[b*g.h*g.w*c : (b+1)*g.h*g.w*c]
		yb := y[b*g.rowsPerSample*c : (b+1)*g.rowsPerSample*c]
		row, px := &rows[wk], &pxs[wk]
		for oy := 0; oy < g.oh; oy++ {
			// the row's taps for a window starting at input column 0
			row.xo, row.wo = row.xo[:0], row.wo[:0]
			for ky := 0; ky < g.kh; ky++ {
				iy := oy*g.stride - g.padT + ky
				if iy < 0 || iy >= g.h {
					continue
				}
				for kx := 0; kx < g.kw; kx++ {
					row.xo = append(row.xo, (iy*g.w+kx)*c)
					row.wo = append(row.wo, (ky*g.kw+kx)*c)
				}
			}
			for ox := 0; ox < g.ow; ox++ {
				dst := yb[(oy*g.ow+ox)*c:]
				if ox >= lo && ox < hi {
					dwPixelT(dst, xb[(ox*g.stride-g.padL)*c:], w, row.xo, row.wo, c)
					continue
				}
				t := 0
				for ky := 0; ky < g.kh; ky++ {
					iy := oy*g.stride - g.padT + ky
					if iy < 0 || iy >= g.h {
						continue
					}
					for kx := 0; kx < g.kw; kx++ {
						ix := ox*g.stride - g.padL + kx
						if ix < 0 || ix >= g.w {
							continue
						}
						px.xo, px.wo = append(px.xo[:t], (iy*g.w+ix)*c), append(px.wo[:t], (ky*g.kw+kx)*c)
						t++
					}
				}
				dwPixelT(dst, xb, w, px.xo[:t], px.wo[:t], c)
			}
		}
	})
}

// dwGradX gathers: input pixel (iy, ix) gets gy(oy, ox)*w(ky, kx) for every
// tap with oy*stride - padT + ky = iy (and likewise x), in tap order. The
// taps of a column depend on its class (ix+padL) mod stride; columns of one
// class whose taps all lie inside the output columns share one tap list per
// input row, shifted by the column.
func dwGradX[T Float](g convGeom, w, gy, dx []T) {
	c, s := g.cin, g.stride
	// interior[ix]: every tap kx with (ix+padL-kx) divisible by s has its
	// output column in [0, ow)
	interior := make([]bool, g.w)
	for ix := range interior {
		interior[ix] = true
		for kx := 0; kx < g.kw; kx++ {
			if nx := ix + g.padL - kx; nx%s == 0 && (nx < 0 || nx/s >= g.ow) {
				interior[ix] = false
			}
		}
	}
	// per column class p: the taps relative to output column base+mrel,
	// base = (ix+padL-p)/s, mrel = the least (p-kx)/s of its taps
	mrel := make([]int, s)
	for p := range mrel {
		for kx := 0; kx < g.kw; kx++ {
			if (p-kx)%s == 0 {
				mrel[p] = min(mrel[p], (p-kx)/s)
			}
		}
	}
	nw := kernels.Threads()
	rowsAll, pxs := newDWTaps(nw*s, g.kh*g.kw), newDWTaps(nw, g.kh*g.kw)
	runTasks(g.n, dwWorkers(g), func(wk, b int) {
		db := dx[b*g.h*g.w*c : (b+1)*g.h*g.w*c]
		gb := gy[b*g.rowsPerSample*c : (b+1)*g.rowsPerSample*c]
		row, px := rowsAll[wk*s:(wk+1)*s], &pxs[wk]
		for iy := 0; iy < g.h; iy++ {
			for p := range row {
				r := &row[p]
				r.xo, r.wo = r.xo[:0], r.wo[:0]
				for ky := 0; ky < g.kh; ky++ {
					ny := iy + g.padT - ky
					if ny < 0 || ny%s != 0 || ny/s >= g.oh {
						continue
					}
					oy := ny / s
					for kx := 0; kx < g.kw; kx++ {
						if (p-kx)%s != 0 {
							continue
						}
						r.xo = append(r.xo, (oy*g.ow+(p-kx)/s-mrel[p])*c)
						r.wo = append(r.wo, (ky*g.kw+kx)*c)
					}
				}
			}
			for ix := 0; ix < g.w; ix++ {
				dst := db[(iy*g.w+ix)*c:]
				if interior[ix] {
					p := (ix + g.padL) % s
					col := (ix+g.padL-p)/s + mrel[p]
					dwPixelT(dst, gb[col*c:], w, row[p].xo, row[p].wo, c)
					continue
				}
				t := 0
				for ky := 0; ky < g.kh; ky++ {
					ny := iy + g.padT - ky
					if ny < 0 || ny%s != 0 || ny/s >= g.oh {
						continue
					}
					oy := ny / s
					for kx := 0; kx < g.kw; kx++ {
						nx := ix + g.padL - kx
						if nx < 0 || nx%s != 0 || nx/s >= g.ow {
							continue
						}
						px.xo, px.wo = append(px.xo[:t], (oy*g.ow+nx/s)*c), append(px.wo[:t], (ky*g.kw+kx)*c)
						t++
					}
				}
				dwPixelT(dst, gb, w, px.xo[:t], px.wo[:t], c)
			}
		}
	})
}

// dwGradW sums over the batch in fixed parts of samples (each part in
// sample order into its own buffer), then adds the parts in order. The
// pixels each tap sums over are the same for every sample: listed once.
func dwGradW[T Float](g convGeom, x, gy, dw []T) {
	c := g.cin
	np := fixedParts(g.n, max(1, elemGrain/(g.rowsPerSample*g.kh*g.kw*c)))
	acc := make([][]T, np)
	acc[0] = dw
	for i := 1; i < np; i++ {
		acc[i] = make([]T, len(dw))
	}
	clear(dw)
	// per tap: the output pixels whose window has the tap inside the input
	taps := make([]dwTaps, g.kh*g.kw)
	for ky := 0; ky < g.kh; ky++ {
		for kx := 0; kx < g.kw; kx++ {
			tp := dwTaps{make([]int, 0, g.rowsPerSample), make([]int, 0, g.rowsPerSample)}
			for oy := 0; oy < g.oh; oy++ {
				iy := oy*g.stride - g.padT + ky
				if iy < 0 || iy >= g.h {
					continue
				}
				for ox := 0; ox < g.ow; ox++ {
					ix := ox*g.stride - g.padL + kx
					if ix < 0 || ix >= g.w {
						continue
					}
					tp.xo = append(tp.xo, (oy*g.ow+ox)*c)
					tp.wo = append(tp.wo, (iy*g.w+ix)*c)
				}
			}
			taps[ky*g.kw+kx] = tp
		}
	}
	runParts(g.n, np, func(pi, lo, hi int) {
		a := acc[pi]
		tmp := make([]T, c)
		for b := lo; b < hi; b++ {
			xb := x[b*g.h*g.w*c : (b+1)*g.h*g.w*c]
			gb := gy[b*g.rowsPerSample*c : (b+1)*g.rowsPerSample*c]
			for t, tp := range taps {
				// the sum over those pixels, accumulated in registers
				dwPixelT(tmp, gb, xb, tp.xo, tp.wo, c)
				addT(a[t*c:(t+1)*c], tmp)
			}
		}
	})
	sumInto(dw, acc[1:])
}
