package ops

import (
	G "gorgonia.org/gorgonia"
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

func dwForward[T Float](g convGeom, x, w, y []T) {
	c := g.cin
	runTasks(g.n, dwWorkers(g), func(_, b int) {
		xb := x[b*g.h*g.w*c : (b+1)*g.h*g.w*c]
		yb := y[b*g.rowsPerSample*c : (b+1)*g.rowsPerSample*c]
		xo, wo := make([]int, g.kh*g.kw), make([]int, g.kh*g.kw)
		for oy := 0; oy < g.oh; oy++ {
			for ox := 0; ox < g.ow; ox++ {
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
						xo[t], wo[t] = (iy*g.w+ix)*c, (ky*g.kw+kx)*c
						t++
					}
				}
				dwPixelT(yb[(oy*g.ow+ox)*c:], xb, w, xo[:t], wo[:t], c)
			}
		}
	})
}

func dwGradX[T Float](g convGeom, w, gy, dx []T) {
	c := g.cin
	runTasks(g.n, dwWorkers(g), func(_, b int) {
		db := dx[b*g.h*g.w*c : (b+1)*g.h*g.w*c]
		gb := gy[b*g.rowsPerSample*c : (b+1)*g.rowsPerSample*c]
		xo, wo := make([]int, g.kh*g.kw), make([]int, g.kh*g.kw)
		// gather: input pixel (iy, ix) gets gy(oy, ox)*w(ky, kx) for every
		// tap with oy*stride - padT + ky = iy (and likewise x), in tap order
		for iy := 0; iy < g.h; iy++ {
			for ix := 0; ix < g.w; ix++ {
				t := 0
				for ky := 0; ky < g.kh; ky++ {
					ny := iy + g.padT - ky
					if ny < 0 || ny%g.stride != 0 || ny/g.stride >= g.oh {
						continue
					}
					oy := ny / g.stride
					for kx := 0; kx < g.kw; kx++ {
						nx := ix + g.padL - kx
						if nx < 0 || nx%g.stride != 0 || nx/g.stride >= g.ow {
							continue
						}
						xo[t], wo[t] = (oy*g.ow+nx/g.stride)*c, (ky*g.kw+kx)*c
						t++
					}
				}
				dwPixelT(db[(iy*g.w+ix)*c:], gb, w, xo[:t], wo[:t], c)
			}
		}
	})
}

// dwGradW sums over the batch in fixed parts of samples (each part in
// sample order into its own buffer), then adds the parts in order.
func dwGradW[T Float](g convGeom, x, gy, dw []T) {
	c := g.cin
	np := fixedParts(g.n, max(1, elemGrain/(g.rowsPerSample*g.kh*g.kw*c)))
	acc := make([][]T, np)
	acc[0] = dw
	for i := 1; i < np; i++ {
		acc[i] = make([]T, len(dw))
	}
	clear(dw)
	runParts(g.n, np, func(pi, lo, hi int) {
		a := acc[pi]
		// per sample and tap: the sum over the output pixels whose window
		// has the tap inside the input, accumulated in registers
		goff, xoff := make([]int, g.rowsPerSample), make([]int, g.rowsPerSample)
		tmp := make([]T, c)
		for b := lo; b < hi; b++ {
			xb := x[b*g.h*g.w*c : (b+1)*g.h*g.w*c]
			gb := gy[b*g.rowsPerSample*c : (b+1)*g.rowsPerSample*c]
			for ky := 0; ky < g.kh; ky++ {
				for kx := 0; kx < g.kw; kx++ {
					n := 0
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
							goff[n], xoff[n] = (oy*g.ow+ox)*c, (iy*g.w+ix)*c
							n++
						}
					}
					dwPixelT(tmp, gb, xb, goff[:n], xoff[:n], c)
					addT(a[(ky*g.kw+kx)*c:(ky*g.kw+kx+1)*c], tmp)
				}
			}
		}
	})
	sumInto(dw, acc[1:])
}
