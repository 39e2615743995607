package ops

import (
	"fmt"
	"hash"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/chewxy/hm"
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

// bnSiLUGradOp: gz from (x, gamma, beta, gy).
type bnSiLUGradOp struct {
	pure
	bn   *BatchNorm
	dims int
}

func (op bnSiLUGradOp) Arity() int { return 4 }
func (op bnSiLUGradOp) Type() hm.Type {
	return hm.NewFnType(tt(op.dims), tt(1), tt(1), tt(op.dims), tt(op.dims))
}
func (op bnSiLUGradOp) String() string { return fmt.Sprintf("BatchNormSiLUGrad{id=%d}", op.bn.id) }
func (op bnSiLUGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "ops.BatchNormSiLUGrad{id=%d,dims=%d}", op.bn.id, op.dims)
}
func (op bnSiLUGradOp) Hashcode() uint32 { return hashOf(op) }
func (op bnSiLUGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.BatchNormSiLUGrad", in, 4)
	if err != nil {
		return nil, err
	}
	if err := op.bn.check("ops.BatchNormSiLUGrad", op.dims, s[0], s[1], s[2]); err != nil {
		return nil, err
	}
	if !s[3].Eq(s[0]) {
		return nil, fmt.Errorf("ops.BatchNormSiLUGrad: output gradient has shape %v, want %v", s[3], s[0])
	}
	return s[0].Clone(), nil
}
func (op bnSiLUGradOp) Do(v ...G.Value) (G.Value, error) { return doOp(op, v) }
func (op bnSiLUGradOp) UsePreallocDo(p G.Value, v ...G.Value) (G.Value, error) {
	return preallocOp(op, p, v)
}
func (op bnSiLUGradOp) DiffWRT(int) []bool { return []bool{false, false, false, false} }
func (op bnSiLUGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second-order gradients are not implemented", op)
}
func (op bnSiLUGradOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	mean, inv := op.bn.statsFor(in[0])
	c := op.bn.channels
	if isF32(out) && op.bn.batchMode() {
		// gz and the BatchNorm gradient sums in one pass; the three backward
		// ops that follow read the sums from the memo
		scale, shift := bnSiLUScaleShift(mean, inv, sl[float32](in[1]), sl[float32](in[2]))
		sg, sgx := bnSiLUGradSums32(c, mean, inv, sl[float32](in[0]), sl[float32](in[3]), sl[float32](out), scale, shift)
		op.bn.storeGradSums(in[0], out, sg, sgx, 3) // dx, dgamma, dbeta
		return nil
	}
	if isF32(out) {
		bnSiLUGrad(c, mean, inv, sl[float32](in[0]), sl[float32](in[1]), sl[float32](in[2]), sl[float32](in[3]), sl[float32](out))
	} else {
		bnSiLUGrad(c, mean, inv, sl[float64](in[0]), sl[float64](in[1]), sl[float64](in[2]), sl[float64](in[3]), sl[float64](out))
	}
	return nil
}

// bnSiLUGradSums32 writes gz = gy*silu'(x*scale+shift) and returns the
// BatchNorm gradient sums of (x, gz), exactly as bnGradSums32 would compute
// them from gz, in one pass (see gradSums32).
func bnSiLUGradSums32(c int, mean, inv []float64, x, gy, gz, scale, shift []float32) (sg, sgx []float64) {
	return gradSums32(c, mean, inv, x, gy, gz, scale, shift)
}
