package ops

import (
	"fmt"
	"hash"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/chewxy/hm"
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
	if _, err := o.InferShape(x.Shape(), gamma.Shape(), beta.Shape()); err != nil {
		return nil, err
	}
	o.pure = cached()
	return G.ApplyOp(o, x, gamma, beta)
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

// bnOp: the forward op; inputs (x, gamma, beta).
type bnOp struct {
	pure
	bn   *BatchNorm
	dims int
	silu bool // SiLU of the normalised value (ApplySiLU)
}

func (op bnOp) Arity() int { return 3 }
func (op bnOp) Type() hm.Type {
	return hm.NewFnType(tt(op.dims), tt(1), tt(1), tt(op.dims))
}
func (op bnOp) String() string {
	if op.silu {
		return fmt.Sprintf("BatchNormSiLU{id=%d}", op.bn.id)
	}
	return fmt.Sprintf("BatchNorm{id=%d}", op.bn.id)
}
func (op bnOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "ops.BatchNorm{id=%d,dims=%d,C=%d,momentum=%v,eps=%v,silu=%v}", op.bn.id, op.dims, op.bn.channels, op.bn.momentum, op.bn.eps, op.silu)
}
func (op bnOp) Hashcode() uint32 { return hashOf(op) }
func (op bnOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf("ops.BatchNorm", in, 3)
	if err != nil {
		return nil, err
	}
	if err := op.bn.check("ops.BatchNorm", op.dims, s[0], s[1], s[2]); err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}
func (op bnOp) Do(v ...G.Value) (G.Value, error) { return doOp(op, v) }
func (op bnOp) UsePreallocDo(p G.Value, v ...G.Value) (G.Value, error) {
	return preallocOp(op, p, v)
}
func (op bnOp) DiffWRT(int) []bool { return []bool{true, true, true} }
func (op bnOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if op.silu {
		// gradient at the SiLU input, then plain BatchNorm backward
		gz, err := G.ApplyOp(bnSiLUGradOp{pure: cached(), bn: op.bn, dims: op.dims}, in[0], in[1], in[2], grad)
		if err != nil {
			return nil, err
		}
		grad = gz
	}
	dx, err := G.ApplyOp(bnGradXOp{pure: cached(), bn: op.bn, dims: op.dims}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	dg, err := G.ApplyOp(bnGradGammaOp{pure: cached(), bn: op.bn, dims: op.dims}, in[0], grad)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(bnGradGammaOp{pure: cached(), bn: op.bn, dims: op.dims, beta: true}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dg, db}, nil
}

// exec runs the forward pass and, in a batch mode, folds the batch
// statistics into the running ones: exactly once per execution, after the
// inputs have been validated by doOp/preallocOp.
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

// bnMemo holds what one BatchNorm's ops share within a run. Entries are
// keyed by the identity (first element address and length) of the tensors
// they were computed from: within a training run the forward input x stays
// unchanged until the backward ops that read it have run.
type bnMemo struct {
	mu        sync.Mutex
	x         *byte
	n         int
	mean, inv []float64
	gen       uint64 // forward executions in batch mode
	// gradient sums and how many more backward ops will read them: dx (in
	// a batch mode), dgamma and dbeta all use them; the first to run
	// computes them for the others, or the fused BatchNorm+SiLU gradient
	// op computes them with gz for all three
	sx, sgy *byte
	sgen    uint64
	sg, sgx []float64
	sumUses int
}

func dataID(d *tensor.Dense) *byte {
	if d.Shape().TotalSize() == 0 {
		return nil
	}
	switch v := d.Data().(type) {
	case []float32:
		return (*byte)(unsafe.Pointer(&v[0]))
	case []float64:
		return (*byte)(unsafe.Pointer(&v[0]))
	}
	return nil
}

func (bn *BatchNorm) remember(x *tensor.Dense, mean, vari []float64) {
	inv := make([]float64, len(vari))
	for i, v := range vari {
		inv[i] = 1 / math.Sqrt(v+bn.eps)
	}
	m := &bn.memo
	m.mu.Lock()
	m.x, m.n, m.mean, m.inv = dataID(x), x.Shape().TotalSize(), mean, inv
	m.gen++
	m.sumUses = 0
	m.mu.Unlock()
}

// gradSums returns bnGradSums for (x, gy), computed once for the pair of
// backward ops of a run.
func (bn *BatchNorm) gradSums(x, gy *tensor.Dense, mean, inv []float64) (sg, sgx []float64) {
	m := &bn.memo
	m.mu.Lock()
	if m.sumUses > 0 && m.sx == dataID(x) && m.sgy == dataID(gy) && m.sgen == m.gen {
		sg, sgx = m.sg, m.sgx
		m.sumUses--
		m.mu.Unlock()
		return sg, sgx
	}
	m.mu.Unlock()
	c := bn.channels
	if isF32(x) {
		sg, sgx = bnGradSums(c, mean, inv, sl[float32](x), sl[float32](gy))
	} else {
		sg, sgx = bnGradSums(c, mean, inv, sl[float64](x), sl[float64](gy))
	}
	// the other backward ops of the layer that read them: dgamma and dbeta,
	// and dx in a batch mode
	uses := 1
	if bn.batchMode() {
		uses = 2
	}
	bn.storeGradSums(x, gy, sg, sgx, uses)
	return sg, sgx
}

// storeGradSums keeps the gradient sums of (x, gy) for `uses` more reads.
func (bn *BatchNorm) storeGradSums(x, gy *tensor.Dense, sg, sgx []float64, uses int) {
	m := &bn.memo
	m.mu.Lock()
	m.sx, m.sgy, m.sgen, m.sg, m.sgx, m.sumUses = dataID(x), dataID(gy), m.gen, sg, sgx, uses
	m.mu.Unlock()
}

// statsFor returns the mean and 1/sqrt(var+eps) the forward pass used for x.
func (bn *BatchNorm) statsFor(x *tensor.Dense) (mean, invStd []float64) {
	var vari []float64
	if bn.batchMode() {
		m := &bn.memo
		m.mu.Lock()
		if m.x != nil && m.x == dataID(x) && m.n == x.Shape().TotalSize() {
			mean, invStd = m.mean, m.inv
		}
		m.mu.Unlock()
		if mean != nil {
			return mean, invStd
		}
		if isF32(x) {
			mean, vari = moments(bn.channels, sl[float32](x))
		} else {
			mean, vari = moments(bn.channels, sl[float64](x))
		}
	} else {
		mean, vari = bn.Stats()
	}
	for i, v := range vari {
		vari[i] = 1 / math.Sqrt(v+bn.eps)
	}
	return mean, vari
}

// bnGradXOp: dx from (x, gamma, gy).
type bnGradXOp struct {
	pure
	bn   *BatchNorm
	dims int
}

func (op bnGradXOp) Arity() int { return 3 }
func (op bnGradXOp) Type() hm.Type {
	return hm.NewFnType(tt(op.dims), tt(1), tt(op.dims), tt(op.dims))
}
func (op bnGradXOp) String() string { return fmt.Sprintf("BatchNormGradX{id=%d}", op.bn.id) }
func (op bnGradXOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "ops.BatchNormGradX{id=%d,dims=%d}", op.bn.id, op.dims)
}
func (op bnGradXOp) Hashcode() uint32 { return hashOf(op) }
func (op bnGradXOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
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
func (op bnGradXOp) Do(v ...G.Value) (G.Value, error) { return doOp(op, v) }
func (op bnGradXOp) UsePreallocDo(p G.Value, v ...G.Value) (G.Value, error) {
	return preallocOp(op, p, v)
}
func (op bnGradXOp) DiffWRT(int) []bool { return []bool{false, false, false} }
func (op bnGradXOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second-order gradients are not implemented", op)
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
	pure
	bn   *BatchNorm
	dims int
	beta bool
}

func (op bnGradGammaOp) Arity() int { return 2 }
func (op bnGradGammaOp) Type() hm.Type {
	return hm.NewFnType(tt(op.dims), tt(op.dims), tt(1))
}
func (op bnGradGammaOp) String() string {
	if op.beta {
		return fmt.Sprintf("BatchNormGradBeta{id=%d}", op.bn.id)
	}
	return fmt.Sprintf("BatchNormGradGamma{id=%d}", op.bn.id)
}
func (op bnGradGammaOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "ops.BatchNormGradGamma{id=%d,dims=%d,beta=%v}", op.bn.id, op.dims, op.beta)
}
func (op bnGradGammaOp) Hashcode() uint32 { return hashOf(op) }
func (op bnGradGammaOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
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
func (op bnGradGammaOp) Do(v ...G.Value) (G.Value, error) { return doOp(op, v) }
func (op bnGradGammaOp) UsePreallocDo(p G.Value, v ...G.Value) (G.Value, error) {
	return preallocOp(op, p, v)
}
func (op bnGradGammaOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op bnGradGammaOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second-order gradients are not implemented", op)
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

// ---- kernels ----

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
