package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The BatchNorm ops: the forward op (also fused with SiLU) and the
// backward ops. They read and update their layer (batchnorm.go) and share
// statistics and gradient sums through its memo (bnmemo.go).

// bnOp: the forward op; inputs (x, gamma, beta).
type bnOp struct {
	bn   *BatchNorm
	dims int
	silu bool // SiLU of the normalised value (ApplySiLU)
}

func (op bnOp) arity() int { return 3 }
func (op bnOp) typ() hm.Type {
	return hm.NewFnType(tt(op.dims), tt(1), tt(1), tt(op.dims))
}
func (op bnOp) String() string {
	if op.silu {
		return fmt.Sprintf("BatchNormSiLU{id=%d}", op.bn.id)
	}
	return fmt.Sprintf("BatchNorm{id=%d}", op.bn.id)
}
func (op bnOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.BatchNorm", in, 3)
	if err != nil {
		return nil, err
	}
	if err := op.bn.check("ops.BatchNorm", op.dims, s[0], s[1], s[2]); err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}
func (op bnOp) diffWRT() []bool { return []bool{true, true, true} }
func (op bnOp) symDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if op.silu {
		// gradient at the SiLU input, then plain BatchNorm backward
		gz, err := apply(bnSiLUGradOp{bn: op.bn, dims: op.dims}, in[0], in[1], in[2], grad)
		if err != nil {
			return nil, err
		}
		grad = gz
	}
	dx, err := apply(bnGradXOp{bn: op.bn, dims: op.dims}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	dg, err := apply(bnGradGammaOp{bn: op.bn, dims: op.dims}, in[0], grad)
	if err != nil {
		return nil, err
	}
	db, err := apply(bnGradGammaOp{bn: op.bn, dims: op.dims, beta: true}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dg, db}, nil
}

// exec runs the forward pass and, in a batch mode, folds the batch
// statistics into the running ones: exactly once per execution, after the
// inputs have been validated by op.Do or op.UsePreallocDo.
func (op bnOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	bn := op.bn
	recal, batch := bn.Recalibrate, bn.batchMode()
	c := bn.channels
	var mean, vari []float64
	if batch {
		if isF32(out) {
			mean, vari = moments(c, sl[float32](in[0]))
		} else {
			mean, vari = moments(c, sl[float64](in[0]))
		}
	} else {
		mean, vari = bn.Stats()
	}
	switch {
	case op.silu && isF32(out):
		bnApplySiLU(c, bn.eps, mean, vari, sl[float32](in[0]), sl[float32](in[1]), sl[float32](in[2]), sl[float32](out))
	case op.silu:
		bnApplySiLU(c, bn.eps, mean, vari, sl[float64](in[0]), sl[float64](in[1]), sl[float64](in[2]), sl[float64](out))
	case isF32(out):
		bnApply(c, bn.eps, mean, vari, sl[float32](in[0]), sl[float32](in[1]), sl[float32](in[2]), sl[float32](out))
	default:
		bnApply(c, bn.eps, mean, vari, sl[float64](in[0]), sl[float64](in[1]), sl[float64](in[2]), sl[float64](out))
	}
	if batch {
		bn.update(recal, mean, vari, in[0].Shape().TotalSize()/c)
		bn.remember(in[0], mean, vari)
	}
	return nil
}

// bnGradXOp: dx from (x, gamma, gy).
type bnGradXOp struct {
	bn   *BatchNorm
	dims int
}

func (op bnGradXOp) arity() int { return 3 }
func (op bnGradXOp) typ() hm.Type {
	return hm.NewFnType(tt(op.dims), tt(1), tt(op.dims), tt(op.dims))
}
func (op bnGradXOp) String() string { return fmt.Sprintf("BatchNormGradX{id=%d}", op.bn.id) }
func (op bnGradXOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.BatchNormGradX", in, 3)
	if err != nil {
		return nil, err
	}
	if err := op.bn.check("ops.BatchNormGradX", op.dims, s[0], s[1]); err != nil {
		return nil, err
	}
	if !s[2].Eq(s[0]) {
		return nil, fmt.Errorf("ops.BatchNormGradX: output gradient has shape %v, want %v", s[2], s[0])
	}
	return s[0].Clone(), nil
}
func (op bnGradXOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	batch := op.bn.batchMode()
	mean, inv := op.bn.statsFor(in[0])
	c := op.bn.channels
	var sg, sgx []float64
	if batch {
		sg, sgx = op.bn.gradSums(in[0], in[2], mean, inv)
	}
	if isF32(out) {
		bnGradX(c, batch, mean, inv, sg, sgx, sl[float32](in[0]), sl[float32](in[1]), sl[float32](in[2]), sl[float32](out))
	} else {
		bnGradX(c, batch, mean, inv, sg, sgx, sl[float64](in[0]), sl[float64](in[1]), sl[float64](in[2]), sl[float64](out))
	}
	return nil
}

// bnGradGammaOp: dgamma (C) = sum of gy*xhat, or with beta set dbeta (C) =
// sum of gy, from (x, gy); both come from the layer's gradient sums.
type bnGradGammaOp struct {
	bn   *BatchNorm
	dims int
	beta bool
}

func (op bnGradGammaOp) arity() int { return 2 }
func (op bnGradGammaOp) typ() hm.Type {
	return hm.NewFnType(tt(op.dims), tt(op.dims), tt(1))
}
func (op bnGradGammaOp) String() string {
	if op.beta {
		return fmt.Sprintf("BatchNormGradBeta{id=%d}", op.bn.id)
	}
	return fmt.Sprintf("BatchNormGradGamma{id=%d}", op.bn.id)
}
func (op bnGradGammaOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.BatchNormGradGamma", in, 2)
	if err != nil {
		return nil, err
	}
	if err := op.bn.check("ops.BatchNormGradGamma", op.dims, s[0]); err != nil {
		return nil, err
	}
	if !s[1].Eq(s[0]) {
		return nil, fmt.Errorf("ops.BatchNormGradGamma: output gradient has shape %v, want %v", s[1], s[0])
	}
	return tensor.Shape{op.bn.channels}, nil
}
func (op bnGradGammaOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	mean, inv := op.bn.statsFor(in[0])
	sg, sgx := op.bn.gradSums(in[0], in[1], mean, inv)
	if op.beta {
		sgx = sg
	}
	if isF32(out) {
		o := sl[float32](out)
		for i := range o {
			o[i] = float32(sgx[i])
		}
	} else {
		copy(sl[float64](out), sgx)
	}
	return nil
}

// bnSiLUGradOp: gz from (x, gamma, beta, gy).
type bnSiLUGradOp struct {
	bn   *BatchNorm
	dims int
}

func (op bnSiLUGradOp) arity() int { return 4 }
func (op bnSiLUGradOp) typ() hm.Type {
	return hm.NewFnType(tt(op.dims), tt(1), tt(1), tt(op.dims), tt(op.dims))
}
func (op bnSiLUGradOp) String() string { return fmt.Sprintf("BatchNormSiLUGrad{id=%d}", op.bn.id) }
func (op bnSiLUGradOp) inferShape(in ...G.DimSizer) (tensor.Shape, error) {
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
