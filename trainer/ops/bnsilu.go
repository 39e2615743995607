package ops

import (
	"math"
)

// Fused BatchNorm + SiLU (BatchNorm.ApplySiLU). The forward op is bnOp with
// silu set; its backward is bnSiLUGradOp (the gradient at the SiLU input,
// gz = gy*silu'(z) with z the normalised value recomputed from x) followed
// by the plain BatchNorm backward ops on gz.

// bnSiLUScaleShift returns z = x*scale + shift's per-channel factors:
// scale = gamma*inv, shift = beta - mean*scale, inv = 1/sqrt(var+eps) as
// statsFor computes it, so forward and backward form the same z.
func bnSiLUScaleShift[T Float](mean, inv []float64, gamma, beta []T) (scale, shift []T) {
	c := len(mean)
	scale, shift = make([]T, c), make([]T, c)
	for i := 0; i < c; i++ {
		s := float64(gamma[i]) * inv[i]
		scale[i] = T(s)
		shift[i] = T(float64(beta[i]) - mean[i]*s)
	}
	return scale, shift
}

// bnApplySiLU writes y = silu(x*scale + shift).
func bnApplySiLU[T Float](c int, eps float64, mean, vari []float64, x, gamma, beta, y []T) {
	inv := make([]float64, c)
	for i, v := range vari {
		inv[i] = 1 / math.Sqrt(v+eps)
	}
	scale, shift := bnSiLUScaleShift(mean, inv, gamma, beta)
	rows := len(x) / c
	if x32, ok := any(x).([]float32); ok {
		y32 := any(y).([]float32)
		k := rowTile(c)
		s32, t32 := tiled(any(scale).([]float32), k), tiled(any(shift).([]float32), k)
		parallelRange(rows, bnGrain(c), func(_, lo, hi int) {
			for r := lo; r < hi; r += k {
				e := min(hi, r+k)
				affineSiLURow(y32[r*c:e*c], x32[r*c:e*c], s32, t32)
			}
		})
		return
	}
	parallelRange(rows, bnGrain(c), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*c:(r+1)*c], y[r*c:(r+1)*c]
			for i := range yr {
				z := float64(xr[i]*scale[i] + shift[i])
				yr[i] = T(z * sigmoid64(z))
			}
		}
	})
}

// bnSiLUGrad writes gz = gy*silu'(x*scale + shift).
func bnSiLUGrad[T Float](c int, mean, inv []float64, x, gamma, beta, gy, gz []T) {
	scale, shift := bnSiLUScaleShift(mean, inv, gamma, beta)
	rows := len(x) / c
	if x32, ok := any(x).([]float32); ok {
		g32, z32 := any(gy).([]float32), any(gz).([]float32)
		k := rowTile(c)
		s32, t32 := tiled(any(scale).([]float32), k), tiled(any(shift).([]float32), k)
		parallelRange(rows, bnGrain(c), func(_, lo, hi int) {
			for r := lo; r < hi; r += k {
				e := min(hi, r+k)
				affineSiLUGradRow(z32[r*c:e*c], x32[r*c:e*c], g32[r*c:e*c], s32, t32)
			}
		})
		return
	}
	parallelRange(rows, bnGrain(c), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, gr, dr := x[r*c:(r+1)*c], gy[r*c:(r+1)*c], gz[r*c:(r+1)*c]
			for i := range dr {
				z := float64(xr[i]*scale[i] + shift[i])
				s := sigmoid64(z)
				dr[i] = T(float64(gr[i]) * s * (1 + z*(1-s)))
			}
		}
	})
}

// bnSiLUGradSums32 writes gz = gy*silu'(x*scale+shift) and returns the
// BatchNorm gradient sums of (x, gz), exactly as bnGradSums32 would compute
// them from gz, in one pass (see gradSums32).
func bnSiLUGradSums32(c int, mean, inv []float64, x, gy, gz, scale, shift []float32) (sg, sgx []float64) {
	return gradSums32(c, mean, inv, x, gy, gz, scale, shift)
}
