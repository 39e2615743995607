package ops

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Defaults of the EfficientNetV2 reference code (TF convention).
const (
	DefaultBNMomentum = 0.9
	DefaultBNEpsilon  = 1e-3
)

var bnIDs atomic.Uint64

// BatchNorm is one batch-normalisation layer and its state. It replaces
// gorgonia's BatchNormOp, whose running statistics are reset by every machine
// construction (SetTraining), whose momentum follows the PyTorch convention
// and whose state cannot be recalibrated.
//
// The layer owns its running statistics (float64, per channel); building
// machines never touches them. Use one BatchNorm per layer: every Apply of the
// same BatchNorm shares (and updates) the same statistics, and two BatchNorm
// values never merge in a graph because each carries a unique id in its hash.
//
// Modes, read when the forward op executes (set them between runs, not during):
//   - Recalibrate (takes precedence): normalise with the batch statistics and
//     accumulate the cumulative average of the batch mean and variance into
//     the running statistics (call ResetStats first). This is the BN
//     re-estimation done before scoring a candidate.
//   - Training: normalise with the batch statistics (biased variance) and
//     update running = momentum*running + (1-momentum)*batch once per
//     forward execution; the running variance uses the unbiased batch
//     variance (M/(M-1), M = N*H*W), like TF's fused kernel and PyTorch.
//   - neither: normalise with the running statistics (evaluation).
type BatchNorm struct {
	// Training selects batch statistics and the running update (see above).
	Training bool
	// Recalibrate selects batch statistics and cumulative averaging.
	Recalibrate bool

	id       uint64
	channels int
	momentum float64
	eps      float64

	mu         sync.Mutex
	mean, vari []float64
	recalN     int

	// memo passes the batch statistics of the last forward execution to
	// the backward ops, and the gradient sums of one backward op to the
	// other, so a training step computes each once.
	memo bnMemo
}

// NewBatchNorm returns a layer for `channels` channels in training mode with
// running mean 0 and running variance 1. momentum is the TF-convention decay
// (DefaultBNMomentum = 0.9) in [0,1) and eps (DefaultBNEpsilon = 1e-3) > 0.
func NewBatchNorm(channels int, momentum, eps float64) (*BatchNorm, error) {
	if channels < 1 {
		return nil, fmt.Errorf("ops.NewBatchNorm: channels must be >= 1, got %d", channels)
	}
	if !(momentum >= 0 && momentum < 1) {
		return nil, fmt.Errorf("ops.NewBatchNorm: momentum must be in [0,1), got %v", momentum)
	}
	if !(eps > 0) {
		return nil, fmt.Errorf("ops.NewBatchNorm: eps must be > 0, got %v", eps)
	}
	bn := &BatchNorm{
		Training: true,
		id:       bnIDs.Add(1),
		channels: channels,
		momentum: momentum,
		eps:      eps,
		mean:     make([]float64, channels),
		vari:     make([]float64, channels),
	}
	for i := range bn.vari {
		bn.vari[i] = 1
	}
	return bn, nil
}

// Channels returns the number of channels.
func (bn *BatchNorm) Channels() int { return bn.channels }

// Momentum returns the running-average decay.
func (bn *BatchNorm) Momentum() float64 { return bn.momentum }

// Eps returns the variance epsilon.
func (bn *BatchNorm) Eps() float64 { return bn.eps }

// Stats returns copies of the running mean and variance.
func (bn *BatchNorm) Stats() (mean, variance []float64) {
	bn.mu.Lock()
	defer bn.mu.Unlock()
	return append([]float64(nil), bn.mean...), append([]float64(nil), bn.vari...)
}

// SetStats copies mean and variance (length Channels(), variance >= 0) into
// the running statistics, e.g. when loading a checkpoint.
func (bn *BatchNorm) SetStats(mean, variance []float64) error {
	if len(mean) != bn.channels || len(variance) != bn.channels {
		return fmt.Errorf("ops.BatchNorm.SetStats: want %d values each, got mean %d and variance %d", bn.channels, len(mean), len(variance))
	}
	for i, v := range variance {
		if !(v >= 0) || math.IsInf(v, 0) || math.IsNaN(mean[i]) || math.IsInf(mean[i], 0) {
			return fmt.Errorf("ops.BatchNorm.SetStats: channel %d: invalid mean %v / variance %v", i, mean[i], v)
		}
	}
	bn.mu.Lock()
	defer bn.mu.Unlock()
	copy(bn.mean, mean)
	copy(bn.vari, variance)
	return nil
}

// ResetStats sets the running mean to 0, the running variance to 1 and the
// recalibration batch count to 0.
func (bn *BatchNorm) ResetStats() {
	bn.mu.Lock()
	defer bn.mu.Unlock()
	clear(bn.mean)
	for i := range bn.vari {
		bn.vari[i] = 1
	}
	bn.recalN = 0
}

// RecalibrationBatches returns how many batches have been averaged into the
// running statistics since the last ResetStats.
func (bn *BatchNorm) RecalibrationBatches() int {
	bn.mu.Lock()
	defer bn.mu.Unlock()
	return bn.recalN
}

// batchMode reports whether the current mode normalises with batch statistics.
func (bn *BatchNorm) batchMode() bool { return bn.Training || bn.Recalibrate }

// update folds one batch's statistics into the running ones. n is the number
// of values per channel.
func (bn *BatchNorm) update(recal bool, mean, biasedVar []float64, n int) {
	corr := 1.0
	if n > 1 {
		corr = float64(n) / float64(n-1)
	}
	bn.mu.Lock()
	defer bn.mu.Unlock()
	if recal {
		bn.recalN++
		f := 1 / float64(bn.recalN)
		for i := range bn.mean {
			bn.mean[i] += (mean[i] - bn.mean[i]) * f
			bn.vari[i] += (biasedVar[i]*corr - bn.vari[i]) * f
		}
		return
	}
	m := bn.momentum
	for i := range bn.mean {
		bn.mean[i] = m*bn.mean[i] + (1-m)*mean[i]
		bn.vari[i] = m*bn.vari[i] + (1-m)*biasedVar[i]*corr
	}
}

// Apply returns gamma*(x-mean)/sqrt(var+eps)+beta for x (N,H,W,C) or (N,C)
// and gamma, beta (C).
func (bn *BatchNorm) Apply(x, gamma, beta *G.Node) (*G.Node, error) {
	return bn.apply(x, gamma, beta, false)
}

// ApplySiLU returns SiLU(Apply(x, gamma, beta)) as one op: the forward pass
// reads x and writes the activation once, and no normalised tensor is kept;
// the backward pass recomputes the normalised value from x to form the
// gradient at the SiLU input, then runs the BatchNorm backward ops on it.
func (bn *BatchNorm) ApplySiLU(x, gamma, beta *G.Node) (*G.Node, error) {
	return bn.apply(x, gamma, beta, true)
}

func (bn *BatchNorm) apply(x, gamma, beta *G.Node, silu bool) (*G.Node, error) {
	op := "ops.BatchNorm"
	if silu {
		op = "ops.BatchNormSiLU"
	}
	if bn == nil {
		return nil, fmt.Errorf("%s: nil layer (use NewBatchNorm)", op)
	}
	if err := checkFloatNode(op, "x", x, -1); err != nil {
		return nil, err
	}
	if d := x.Dims(); d != 2 && d != 4 {
		return nil, fmt.Errorf("%s: x must be (N,H,W,C) or (N,C), got shape %v", op, x.Shape())
	}
	if err := checkFloatNode(op, "gamma", gamma, 1); err != nil {
		return nil, err
	}
	if err := checkFloatNode(op, "beta", beta, 1); err != nil {
		return nil, err
	}
	if err := sameDtype(op, x, gamma, beta); err != nil {
		return nil, err
	}
	o := bnOp{bn: bn, dims: x.Dims(), silu: silu}
	if _, err := o.inferShape(x.Shape(), gamma.Shape(), beta.Shape()); err != nil {
		return nil, err
	}
	return apply(o, x, gamma, beta)
}

// bnCheck validates x (…,C) against the layer and returns the per-channel count.
func (bn *BatchNorm) check(op string, dims int, xs tensor.Shape, cs ...tensor.Shape) error {
	if xs.Dims() != dims {
		return fmt.Errorf("%s: x has shape %v, want %d dims", op, xs, dims)
	}
	if xs.TotalSize() == 0 {
		return fmt.Errorf("%s: x has empty shape %v", op, xs)
	}
	if c := xs[dims-1]; c != bn.channels {
		return fmt.Errorf("%s: x %v has %d channels, layer has %d", op, xs, c, bn.channels)
	}
	for _, s := range cs {
		if !s.Eq(tensor.Shape{bn.channels}) {
			return fmt.Errorf("%s: gamma/beta have shape %v, want (%d)", op, s, bn.channels)
		}
	}
	return nil
}
