package ops

import (
	"math"
	"sync"
)

// BatchNorm kernels: batch moments, normalisation and the backward
// passes, with float32 paths that run the row kernels (vec.go) on tiles of
// channels.

// bnGrain is the smallest number of rows worth a goroutine.
func bnGrain(c int) int { return max(1, elemGrain/c) }

// moments returns the per-channel mean and biased variance of x (rows, c),
// accumulated in float64 (two passes).
func moments[T Float](c int, x []T) (mean, vari []float64) {
	if x32, ok := any(x).([]float32); ok {
		return moments32(c, x32)
	}
	rows := len(x) / c
	np := fixedParts(rows, bnGrain(c))
	parts := make([][]float64, np)
	runParts(rows, np, func(pi, lo, hi int) {
		acc := make([]float64, c)
		for r := lo; r < hi; r++ {
			for i, v := range x[r*c : (r+1)*c] {
				acc[i] += float64(v)
			}
		}
		parts[pi] = acc
	})
	mean = make([]float64, c)
	for _, p := range parts {
		for i, v := range p {
			mean[i] += v
		}
	}
	for i := range mean {
		mean[i] /= float64(rows)
	}
	runParts(rows, np, func(pi, lo, hi int) {
		acc := parts[pi]
		clear(acc)
		for r := lo; r < hi; r++ {
			for i, v := range x[r*c : (r+1)*c] {
				d := float64(v) - mean[i]
				acc[i] += d * d
			}
		}
	})
	vari = make([]float64, c)
	for _, p := range parts {
		for i, v := range p {
			vari[i] += v
		}
	}
	for i := range vari {
		vari[i] /= float64(rows)
	}
	return mean, vari
}

// bnApply writes y = x*scale + shift with scale = gamma/sqrt(var+eps) and
// shift = beta - mean*scale.
func bnApply[T Float](c int, eps float64, mean, vari []float64, x, gamma, beta, y []T) {
	scale, shift := make([]T, c), make([]T, c)
	for i := 0; i < c; i++ {
		s := float64(gamma[i]) / math.Sqrt(vari[i]+eps)
		scale[i] = T(s)
		shift[i] = T(float64(beta[i]) - mean[i]*s)
	}
	rows := len(x) / c
	if x32, ok := any(x).([]float32); ok {
		y32 := any(y).([]float32)
		k := rowTile(c)
		s32, t32 := tiled(any(scale).([]float32), k), tiled(any(shift).([]float32), k)
		parallelRange(rows, bnGrain(c), func(_, lo, hi int) {
			for r := lo; r < hi; r += k {
				e := min(hi, r+k)
				affineRow(y32[r*c:e*c], x32[r*c:e*c], s32, t32)
			}
		})
		return
	}
	parallelRange(rows, bnGrain(c), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*c:(r+1)*c], y[r*c:(r+1)*c]
			for i := range yr {
				yr[i] = xr[i]*scale[i] + shift[i]
			}
		}
	})
}

// bnGradSums returns per-channel sums of gy and gy*xhat.
func bnGradSums[T Float](c int, mean, inv []float64, x, gy []T) (sg, sgx []float64) {
	if x32, ok := any(x).([]float32); ok {
		return bnGradSums32(c, mean, inv, x32, any(gy).([]float32))
	}
	rows := len(x) / c
	np := fixedParts(rows, bnGrain(c))
	a, b := make([][]float64, np), make([][]float64, np)
	runParts(rows, np, func(pi, lo, hi int) {
		s1, s2 := make([]float64, c), make([]float64, c)
		for r := lo; r < hi; r++ {
			xr, gr := x[r*c:(r+1)*c], gy[r*c:(r+1)*c]
			for i := range xr {
				g := float64(gr[i])
				s1[i] += g
				s2[i] += g * (float64(xr[i]) - mean[i])
			}
		}
		a[pi], b[pi] = s1, s2
	})
	sg, sgx = make([]float64, c), make([]float64, c)
	for p := range a {
		for i := 0; i < c; i++ {
			sg[i] += a[p][i]
			sgx[i] += b[p][i]
		}
	}
	for i := range sgx {
		sgx[i] *= inv[i]
	}
	return sg, sgx
}

// bnGradX writes dx. With batch statistics:
// dx = gamma*inv*(gy - mean(gy) - xhat*mean(gy*xhat)); with running ones:
// dx = gamma*inv*gy.
func bnGradX[T Float](c int, batch bool, mean, inv, sg, sgx []float64, x, gamma, gy, dx []T) {
	rows := len(x) / c
	k := make([]T, c)  // gamma*inv
	a := make([]T, c)  // mean(gy)
	b := make([]T, c)  // mean(gy*xhat)*inv, applied to (x-mean)
	mu := make([]T, c) // mean
	for i := 0; i < c; i++ {
		k[i] = T(float64(gamma[i]) * inv[i])
		mu[i] = T(mean[i])
	}
	var a64, b64 []float64
	if batch {
		a64, b64 = make([]float64, c), make([]float64, c)
		for i := 0; i < c; i++ {
			a64[i] = sg[i] / float64(rows)
			b64[i] = sgx[i] / float64(rows) * inv[i]
			a[i], b[i] = T(a64[i]), T(b64[i])
		}
	}
	if x32, ok := any(x).([]float32); ok && batch {
		// dx = gy*k + x*(-k*b) + k*(b*mu - a)
		g32, d32 := any(gy).([]float32), any(dx).([]float32)
		kb, cst := make([]float32, c), make([]float32, c)
		for i := 0; i < c; i++ {
			kk, bb := float64(gamma[i])*inv[i], b64[i]
			kb[i] = float32(-kk * bb)
			cst[i] = float32(kk * (bb*mean[i] - a64[i]))
		}
		t := rowTile(c)
		k32 := tiled(any(k).([]float32), t)
		kb, cst = tiled(kb, t), tiled(cst, t)
		parallelRange(rows, bnGrain(c), func(_, lo, hi int) {
			for r := lo; r < hi; r += t {
				e := min(hi, r+t)
				affine2Row(d32[r*c:e*c], g32[r*c:e*c], k32, x32[r*c:e*c], kb, cst)
			}
		})
		return
	}
	parallelRange(rows, bnGrain(c), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, gr, dr := x[r*c:(r+1)*c], gy[r*c:(r+1)*c], dx[r*c:(r+1)*c]
			if !batch {
				for i := range dr {
					dr[i] = k[i] * gr[i]
				}
				continue
			}
			for i := range dr {
				dr[i] = k[i] * (gr[i] - a[i] - (xr[i]-mu[i])*b[i])
			}
		}
	})
}

// flushRows is how many rows a float32 partial sum takes before it is added
// into the part's float64 sum.
const flushRows = 64

// tileElems is the least number of elements a BatchNorm row-kernel call
// covers: narrow layers pass rowTile(c) rows per call, with the per-channel
// vectors (and partial sums) tiled that many times, so calls are few and
// their loads and stores of partial sums do not form one long chain.
const tileElems = 256

// rowTile is the number of rows per row-kernel call for c channels.
func rowTile(c int) int { return max(1, tileElems/c) }

// tiled returns k copies of v back to back.
func tiled(v []float32, k int) []float32 {
	if k == 1 {
		return v
	}
	out := make([]float32, len(v)*k)
	for j := 0; j < k; j++ {
		copy(out[j*len(v):], v)
	}
	return out
}

// foldInto adds the k tiled float32 partial sums blk (k*c) into acc (c),
// copy by copy in order.
func foldInto(acc []float64, blk []float32, c int) {
	for j := 0; j < len(blk)/c; j++ {
		for i, v := range blk[j*c : (j+1)*c] {
			acc[i] += float64(v)
		}
	}
}

// rowSums32 runs the reduction of moments32 and the gradient sums: the rows
// are split into fixed parts; each part adds blocks of flushRows*rowTile(c)
// rows, in calls of rowTile(c) rows, into tiled float32 partial sums (so
// each float32 sum takes at most flushRows rows), which are folded into the
// part's float64 sums after each block; the parts are added in order. fn(b1, b2, r0, r1) adds rows [r0,r1) into the partial sums
// b1, b2 (length (r1-r0)*c); b2 is nil when only one sum is wanted.
func rowSums32(c, rows int, two bool, fn func(b1, b2 []float32, r0, r1 int)) (s1, s2 []float64) {
	np := fixedParts(rows, bnGrain(c))
	k := rowTile(c)
	sc := getSumScratch(np*c, np*k*c)
	defer sumScratchPool.Put(sc)
	a, b, blk1, blk2 := sc.a, sc.b, sc.blk1, sc.blk2
	runParts(rows, np, func(pi, lo, hi int) {
		acc1, acc2 := a[pi*c:(pi+1)*c], b[pi*c:(pi+1)*c]
		p1, p2 := blk1[pi*k*c:(pi+1)*k*c], blk2[pi*k*c:(pi+1)*k*c]
		for r0 := lo; r0 < hi; r0 += flushRows * k {
			clear(p1)
			var q2 []float32
			if two {
				clear(p2)
				q2 = p2
			}
			re := min(hi, r0+flushRows*k)
			for r := r0; r < re; r += k {
				e := min(re, r+k)
				if two {
					fn(p1[:(e-r)*c], q2[:(e-r)*c], r, e)
				} else {
					fn(p1[:(e-r)*c], nil, r, e)
				}
			}
			foldInto(acc1, p1, c)
			if two {
				foldInto(acc2, p2, c)
			}
		}
	})
	s1, s2 = make([]float64, c), make([]float64, c)
	for p := 0; p < np; p++ {
		for i := 0; i < c; i++ {
			s1[i] += a[p*c+i]
			s2[i] += b[p*c+i]
		}
	}
	return s1, s2
}

// momentSample is how many rows, evenly spaced, give moments32 its shift.
const momentSample = 64

// sumScratch is rowSums32's scratch, recycled between calls.
type sumScratch struct {
	a, b       []float64
	blk1, blk2 []float32
}

var sumScratchPool sync.Pool

// getSumScratch returns zeroed float64 sums of length n64 and float32
// blocks of length n32 (the blocks are cleared before use anyway).
func getSumScratch(n64, n32 int) *sumScratch {
	sc, _ := sumScratchPool.Get().(*sumScratch)
	if sc == nil {
		sc = &sumScratch{}
	}
	if cap(sc.a) < n64 {
		sc.a, sc.b = make([]float64, n64), make([]float64, n64)
	}
	if cap(sc.blk1) < n32 {
		sc.blk1, sc.blk2 = make([]float32, n32), make([]float32, n32)
	}
	sc.a, sc.b, sc.blk1, sc.blk2 = sc.a[:n64], sc.b[:n64], sc.blk1[:n32], sc.blk2[:n32]
	clear(sc.a)
	clear(sc.b)
	return sc
}

// moments32 is moments for float32 in one pass of rowSums32: the sums of
// d = x-k and d*d, with k per channel the mean of momentSample evenly spaced
// rows (close to the batch mean, so the variance E[d^2]-E[d]^2 loses
// nothing to cancellation), accumulated like the other BatchNorm sums.
func moments32(c int, x []float32) (mean, vari []float64) {
	rows := len(x) / c
	ns := min(rows, momentSample)
	k64 := make([]float64, c)
	for j := 0; j < ns; j++ {
		r := j * rows / ns
		for i, v := range x[r*c : (r+1)*c] {
			k64[i] += float64(v)
		}
	}
	k32 := make([]float32, c)
	for i := range k64 {
		k32[i] = float32(k64[i] / float64(ns))
	}
	kt := tiled(k32, rowTile(c))
	s1, s2 := rowSums32(c, rows, true, func(b1, b2 []float32, r0, r1 int) {
		shiftSqRow(b1, b2, x[r0*c:r1*c], kt)
	})
	mean, vari = s1, s2
	for i := range mean {
		d := s1[i] / float64(rows)
		mean[i] = float64(k32[i]) + d
		vari[i] = max(0, s2[i]/float64(rows)-d*d)
	}
	return mean, vari
}

// bnGradSums32 is bnGradSums for float32, summed like moments32.
func bnGradSums32(c int, mean, inv []float64, x, gy []float32) (sg, sgx []float64) {
	return gradSums32(c, mean, inv, x, gy, nil, nil, nil)
}

// gradSums32 returns the per-channel sums of g and g*xhat, g = gy; with
// scale set it first writes g = gz = gy*silu'(x*scale+shift), row group by
// row group, each summed while it is still in cache (the results are the
// same as gz's sums computed afterwards).
func gradSums32(c int, mean, inv []float64, x, gy, gz, scale, shift []float32) (sg, sgx []float64) {
	rows := len(x) / c
	k := rowTile(c)
	m32 := make([]float32, c)
	for i, v := range mean {
		m32[i] = float32(v)
	}
	mt := tiled(m32, k)
	var st, tt []float32
	if scale != nil {
		st, tt = tiled(scale, k), tiled(shift, k)
	}
	sg, sgx = rowSums32(c, rows, true, func(b1, b2 []float32, r0, r1 int) {
		g, xr := gy[r0*c:r1*c], x[r0*c:r1*c]
		if st != nil {
			affineSiLUGradRow(gz[r0*c:r1*c], xr, g, st, tt)
			g = gz[r0*c : r1*c]
		}
		gradSumsRow(b1, b2, g, xr, mt)
	})
	for i := range sgx {
		// sum g*(x-mean) = sum g*(x-m32) + (m32-mean)*sum g
		sgx[i] = (sgx[i] + (float64(m32[i])-mean[i])*sg[i]) * inv[i]
	}
	return sg, sgx
}
