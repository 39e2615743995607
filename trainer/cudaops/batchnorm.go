package cudaops

import (
	"fmt"

	"github.com/effnas/effnas/trainer/cuda"
)

// BNMode is how a BatchNorm forward pass normalises (see ops.BatchNorm).
type BNMode int

const (
	// BNTrain: batch statistics; running = momentum*running +
	// (1-momentum)*batch (unbiased variance), once per forward pass.
	BNTrain BNMode = iota
	// BNRecalibrate: batch statistics; the running statistics become the
	// cumulative average of the batches since ResetStats.
	BNRecalibrate
	// BNEval: the running statistics.
	BNEval
)

// BatchNorm is one batch-normalisation layer's device state: float64
// running statistics, and what a training forward pass leaves for its
// backward pass (batch mean and 1/sqrt(var+eps), per-channel scale and
// shift). The math and the TF conventions are those of ops.BatchNorm.
type BatchNorm struct {
	C        int
	Momentum float64
	Eps      float64

	runMean, runVar cuda.Buffer // float64
	mean, inv       cuda.Buffer // float64, from the last batch-mode forward pass
	scale, shift    cuda.Buffer // float32
	k, kb, cst      cuda.Buffer // float32, backward coefficients
	recalN          int
}

// NewBatchNorm allocates a layer of ch channels with running mean 0 and
// variance 1 (momentum: TF convention, 0.9; eps 1e-3 by default in
// ops.DefaultBNMomentum / ops.DefaultBNEpsilon).
func (k *Kernels) NewBatchNorm(c *cuda.Ctx, ch int, momentum, eps float64) (*BatchNorm, error) {
	if ch < 1 || !(momentum >= 0 && momentum < 1) || !(eps > 0) {
		return nil, fmt.Errorf("cudaops.NewBatchNorm: want channels >= 1, momentum in [0,1), eps > 0; got %d, %v, %v", ch, momentum, eps)
	}
	bn := &BatchNorm{C: ch, Momentum: momentum, Eps: eps}
	for _, b := range []*cuda.Buffer{&bn.runMean, &bn.runVar, &bn.mean, &bn.inv} {
		buf, err := c.AllocBytes(8 * ch)
		if err != nil {
			bn.Free(c)
			return nil, err
		}
		*b = buf
	}
	for _, b := range []*cuda.Buffer{&bn.scale, &bn.shift, &bn.k, &bn.kb, &bn.cst} {
		buf, err := c.Alloc(ch)
		if err != nil {
			bn.Free(c)
			return nil, err
		}
		*b = buf
	}
	if err := bn.ResetStats(c); err != nil {
		bn.Free(c)
		return nil, err
	}
	return bn, nil
}

// Free releases the layer's memory.
func (bn *BatchNorm) Free(c *cuda.Ctx) {
	for _, b := range []cuda.Buffer{bn.runMean, bn.runVar, bn.mean, bn.inv, bn.scale, bn.shift, bn.k, bn.kb, bn.cst} {
		c.Free(b)
	}
	*bn = BatchNorm{C: bn.C, Momentum: bn.Momentum, Eps: bn.Eps}
}

// ResetStats sets the running mean to 0, the variance to 1 and the
// recalibration count to 0.
func (bn *BatchNorm) ResetStats(c *cuda.Ctx) error {
	mean, vari := make([]float64, bn.C), make([]float64, bn.C)
	for i := range vari {
		vari[i] = 1
	}
	bn.recalN = 0
	return bn.SetStats(c, mean, vari)
}

// RecalibrationBatches is how many batches BNRecalibrate has averaged
// into the running statistics since ResetStats.
func (bn *BatchNorm) RecalibrationBatches() int { return bn.recalN }

// SetRecalibrationBatches sets that count, for statistics recalibrated
// elsewhere and copied in with SetStats: recalibration continues the
// cumulative average from it.
func (bn *BatchNorm) SetRecalibrationBatches(n int) { bn.recalN = max(0, n) }

// SetStats copies running statistics to the device.
func (bn *BatchNorm) SetStats(c *cuda.Ctx, mean, variance []float64) error {
	if len(mean) != bn.C || len(variance) != bn.C {
		return fmt.Errorf("cudaops.BatchNorm.SetStats: want %d values each, got %d and %d", bn.C, len(mean), len(variance))
	}
	if err := cuda.Upload(c, bn.runMean, mean); err != nil {
		return err
	}
	return cuda.Upload(c, bn.runVar, variance)
}

// Stats copies the running statistics from the device.
func (bn *BatchNorm) Stats(c *cuda.Ctx) (mean, variance []float64, err error) {
	mean, variance = make([]float64, bn.C), make([]float64, bn.C)
	if err = cuda.Download(c, mean, bn.runMean); err != nil {
		return nil, nil, err
	}
	err = cuda.Download(c, variance, bn.runVar)
	return mean, variance, err
}

// BNForward: y = gamma*(x-mean)/sqrt(var+eps)+beta for x (rows, C), and
// SiLU of it when silu is set (ops.BatchNorm.ApplySiLU). In the batch
// modes the statistics are the batch's (two-stage, float64, fixed parts)
// and the running ones are updated.
func (k *Kernels) BNForward(c *cuda.Ctx, bn *BatchNorm, mode BNMode, silu bool, y, x, gamma, beta cuda.Buffer, rows int) error {
	ch := bn.C
	n := rows * ch
	if err := need("BNForward", "y", y, n, "x", x, n, "gamma", gamma, ch, "beta", beta, ch); err != nil {
		return err
	}
	if err := positive("BNForward", rows); err != nil {
		return err
	}
	if mode == BNEval {
		if err := k.launchN(c, "bn_eval_coef", ch, cuda.BufArg(bn.scale), cuda.BufArg(bn.shift), cuda.BufArg(bn.runMean),
			cuda.BufArg(bn.runVar), cuda.BufArg(gamma), cuda.BufArg(beta), cuda.DoubleArg(bn.Eps)); err != nil {
			return err
		}
	} else {
		p := parts(rows)
		part, err := k.scratchFor(c, 2*p*ch)
		if err != nil {
			return err
		}
		p1, p2 := part.Slice(0, 2*p*ch), part.Slice(2*p*ch, 2*p*ch)
		if err := k.launch(c, "bn_stats_part", cuda.Dim3{X: (ch + 31) / 32, Y: p, Z: 1}, cuda.Dim3{X: 32, Y: 8, Z: 1},
			cuda.BufArg(p1), cuda.BufArg(p2), cuda.BufArg(x), cuda.IntArg(rows), cuda.IntArg(ch)); err != nil {
			return err
		}
		recal := 0
		if mode == BNRecalibrate {
			bn.recalN++
			recal = bn.recalN
		}
		if err := k.launchN(c, "bn_stats_final", ch, cuda.BufArg(bn.mean), cuda.BufArg(bn.inv), cuda.BufArg(bn.scale), cuda.BufArg(bn.shift),
			cuda.BufArg(bn.runMean), cuda.BufArg(bn.runVar), cuda.BufArg(p1), cuda.BufArg(p2), cuda.BufArg(x), cuda.BufArg(gamma),
			cuda.BufArg(beta), cuda.IntArg(p), cuda.IntArg(rows), cuda.DoubleArg(bn.Eps), cuda.DoubleArg(bn.Momentum), cuda.IntArg(recal)); err != nil {
			return err
		}
	}
	name := "bn_apply"
	if silu {
		name = "bn_apply_silu"
	}
	return k.launchN(c, name, n, cuda.BufArg(y), cuda.BufArg(x), cuda.BufArg(bn.scale), cuda.BufArg(bn.shift), cuda.IntArg(ch))
}

// BNBackward is the training-mode backward pass of the last BNForward in
// a batch mode, on the same x: dx, dgamma and dbeta from gy. With silu,
// gz (rows*C scratch) receives the gradient at the SiLU input first, as
// the fused CPU op forms it.
func (k *Kernels) BNBackward(c *cuda.Ctx, bn *BatchNorm, silu bool, dx, dgamma, dbeta, gy, x, gamma, gz cuda.Buffer, rows int) error {
	ch := bn.C
	n := rows * ch
	if err := need("BNBackward", "dx", dx, n, "dgamma", dgamma, ch, "dbeta", dbeta, ch, "gy", gy, n, "x", x, n, "gamma", gamma, ch); err != nil {
		return err
	}
	p := parts(rows)
	part, err := k.scratchFor(c, 2*p*ch)
	if err != nil {
		return err
	}
	p1, p2 := part.Slice(0, 2*p*ch), part.Slice(2*p*ch, 2*p*ch)
	grid, block := cuda.Dim3{X: (ch + 31) / 32, Y: p, Z: 1}, cuda.Dim3{X: 32, Y: 8, Z: 1}
	g := gy
	if silu {
		if err := need("BNBackward", "gz", gz, n); err != nil {
			return err
		}
		if err := k.launch(c, "bn_silu_grad_part", grid, block, cuda.BufArg(p1), cuda.BufArg(p2), cuda.BufArg(gz), cuda.BufArg(gy),
			cuda.BufArg(x), cuda.BufArg(bn.scale), cuda.BufArg(bn.shift), cuda.BufArg(bn.mean), cuda.IntArg(rows), cuda.IntArg(ch)); err != nil {
			return err
		}
		g = gz
	} else if err := k.launch(c, "bn_grad_part", grid, block, cuda.BufArg(p1), cuda.BufArg(p2), cuda.BufArg(gy), cuda.BufArg(x),
		cuda.BufArg(bn.mean), cuda.IntArg(rows), cuda.IntArg(ch)); err != nil {
		return err
	}
	if err := k.launchN(c, "bn_grad_final", ch, cuda.BufArg(bn.k), cuda.BufArg(bn.kb), cuda.BufArg(bn.cst), cuda.BufArg(dgamma),
		cuda.BufArg(dbeta), cuda.BufArg(p1), cuda.BufArg(p2), cuda.BufArg(bn.mean), cuda.BufArg(bn.inv), cuda.BufArg(gamma),
		cuda.IntArg(p), cuda.IntArg(rows)); err != nil {
		return err
	}
	return k.launchN(c, "bn_grad_x", n, cuda.BufArg(dx), cuda.BufArg(g), cuda.BufArg(x), cuda.BufArg(bn.k), cuda.BufArg(bn.kb),
		cuda.BufArg(bn.cst), cuda.IntArg(ch))
}
