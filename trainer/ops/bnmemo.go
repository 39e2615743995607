package ops

import (
	"math"
	"sync"
	"unsafe"

	"gorgonia.org/tensor"
)

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
