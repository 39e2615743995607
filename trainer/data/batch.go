package data

import (
	"fmt"
	"math/rand/v2"
)

// Augment selects the training-time augmentations. The zero value is no
// augmentation (what evaluation uses).
type Augment struct {
	// Pad > 0 enables random cropping: the image (at the output size) is
	// zero-padded by Pad pixels and cropped back at a random offset.
	Pad int
	// Flip mirrors left-right with probability 1/2. Off by default: it is
	// wrong for digits and for the synthetic gratings.
	Flip bool
	// RandAugN ops at magnitude RandAugM (0..30, see Op) per image; 0 = off.
	RandAugN int
	RandAugM float64
	// RandAugOps restricts the ops drawn (nil: DefaultOps).
	RandAugOps []Op
	// Fill is the value (in [0,1] pixel units, before normalisation) of pixels
	// uncovered by rotate/shear/translate and of cutout squares. The zero
	// value is black, right for the dark backgrounds of (Fashion-)MNIST; the
	// official code fills with 0.5 gray.
	Fill float32
	// MixupAlpha > 0 mixes pairs of samples with Beta(alpha, alpha) weights
	// (see Mixup).
	MixupAlpha float64
	// LabelSmoothing eps turns one-hot targets into 1-eps+eps/K and eps/K.
	LabelSmoothing float64
}

func (a Augment) random() bool {
	return a.Pad > 0 || a.Flip || a.RandAugN > 0 || a.MixupAlpha > 0
}

// BatchConfig configures a Batcher.
type BatchConfig struct {
	// Size is the output image side S; 0 keeps the native H x W.
	Size int
	// Norm, when not nil, normalises every image after augmentation.
	Norm *Norm
	// Aug selects the augmentations.
	Aug Augment
	// Precompute resizes the whole dataset once (Dataset.Resized, cached per
	// size on the dataset) instead of resizing each sample as it is drawn.
	// Faster when a size is used for many epochs, at the cost of memory.
	Precompute bool
}

// Batcher fills caller-owned batch buffers from a dataset: resize, augment,
// normalise, then build (smoothed, mixed) soft targets. After construction
// Fill does not allocate. A Batcher is not safe for concurrent use; make one
// per goroutine (they may share the Dataset). Progressive learning makes a
// new Batcher per stage, with that stage's size and augmentation strength.
type Batcher struct {
	ds        *Dataset // source (possibly a cached resized copy)
	cfg       BatchConfig
	h, w, c   int
	k         int
	work, tmp []float32
}

// NewBatcher prepares a Batcher over ds.
func NewBatcher(ds *Dataset, cfg BatchConfig) (*Batcher, error) {
	if cfg.Size < 0 {
		return nil, fmt.Errorf("data: batcher: negative size %d", cfg.Size)
	}
	h, w := ds.H, ds.W
	if cfg.Size > 0 {
		h, w = cfg.Size, cfg.Size
	}
	if err := cfg.Norm.check(ds.C); err != nil {
		return nil, err
	}
	a := cfg.Aug
	if a.Pad < 0 || a.RandAugN < 0 || a.RandAugM < 0 || a.RandAugM > MaxMagnitude || a.MixupAlpha < 0 ||
		a.LabelSmoothing < 0 || a.LabelSmoothing >= 1 {
		return nil, fmt.Errorf("data: batcher: bad augmentation settings %+v", a)
	}
	for _, op := range a.RandAugOps {
		if op < 0 || op >= numOps {
			return nil, fmt.Errorf("data: batcher: unknown augmentation op %d", int(op))
		}
	}
	if a.RandAugOps != nil && len(a.RandAugOps) == 0 && a.RandAugN > 0 {
		return nil, fmt.Errorf("data: batcher: RandAugN %d with an empty op list", a.RandAugN)
	}
	if cfg.Precompute {
		ds = ds.Resized(h, w)
	}
	n := h * w * ds.C
	return &Batcher{ds: ds, cfg: cfg, h: h, w: w, c: ds.C, k: ds.NumClasses,
		work: make([]float32, n), tmp: make([]float32, n)}, nil
}

// Shape returns the output image shape (H, W, C) and the class count K: x
// rows hold H*W*C values and y rows K.
func (b *Batcher) Shape() (h, w, c, k int) { return b.h, b.w, b.c, b.k }

// SampleLen is H*W*C, the length of one row of x.
func (b *Batcher) SampleLen() int { return b.h * b.w * b.c }

// Fill writes the samples idx of the dataset into x (B rows of H*W*C values,
// NHWC) and their soft targets into y (B rows of K values; y may be nil),
// where B = len(x)/SampleLen() must be at least len(idx). Rows past
// len(idx) are zeroed (padding): evaluation can use one fixed-size buffer and
// count only the returned n = len(idx) rows. Random augmentation draws from
// rng only (nil is allowed when Aug selects nothing random), in a fixed
// order, so equal rng states give equal batches.
func (b *Batcher) Fill(x, y []float32, idx []int, rng *rand.Rand) (int, error) {
	L := b.SampleLen()
	if L == 0 || len(x)%L != 0 || len(x)/L < len(idx) {
		return 0, fmt.Errorf("data: batcher: x has %d values, want a multiple of %d (H*W*C = %dx%dx%d) for at least %d samples", len(x), L, b.h, b.w, b.c, len(idx))
	}
	rows := len(x) / L
	if y != nil && len(y) != rows*b.k {
		return 0, fmt.Errorf("data: batcher: y has %d values, want %d (%d rows x %d classes)", len(y), rows*b.k, rows, b.k)
	}
	a := &b.cfg.Aug
	if rng == nil && a.random() {
		return 0, fmt.Errorf("data: batcher: random augmentation needs a *rand.Rand")
	}
	d := b.ds
	for j, i := range idx {
		if i < 0 || i >= d.N {
			return 0, fmt.Errorf("data: batcher: sample index %d outside [0,%d)", i, d.N)
		}
		row := x[j*L : (j+1)*L]
		src := d.Image(i)
		crop := a.Pad > 0 || a.Flip
		dst := row
		if crop {
			dst = b.work
		}
		ResizeBilinear(dst, b.h, b.w, src, d.H, d.W, d.C)
		if crop {
			RandomCropFlip(row, b.work, b.h, b.w, b.c, a.Pad, a.Flip, rng)
		}
		if a.RandAugN > 0 {
			RandAugment(row, b.tmp, b.h, b.w, b.c, a.RandAugN, a.RandAugM, a.RandAugOps, a.Fill, rng)
		}
		b.cfg.Norm.Apply(row, b.c)
		if y != nil {
			OneHot(y[j*b.k:(j+1)*b.k], d.Labels[i], a.LabelSmoothing)
		}
	}
	n := len(idx)
	clear(x[n*L:])
	if y != nil {
		clear(y[n*b.k:])
	}
	Mixup(x, L, y, b.k, n, a.MixupAlpha, rng)
	return n, nil
}

// Sampler walks a fixed set of sample indices in batches. Training uses
// dropLast = true: every batch is full and the last partial batch of an
// epoch is dropped (each epoch's shuffle drops different samples).
// Evaluation uses dropLast = false: every sample is visited once and the
// final batch may be short (fill a full-size buffer with Batcher.Fill, which
// pads and returns the count, or size it to the batch). Next does not
// allocate.
type Sampler struct {
	idx, order []int
	batch, pos int
	dropLast   bool
}

// NewSampler returns a Sampler over a copy of idx in the given order.
func NewSampler(idx []int, batch int, dropLast bool) (*Sampler, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("data: sampler: batch size %d must be positive", batch)
	}
	s := &Sampler{idx: append([]int(nil), idx...), order: append([]int(nil), idx...), batch: batch, dropLast: dropLast}
	return s, nil
}

// Shuffle starts a new epoch in an order drawn from rng. The order depends
// only on rng, not on earlier epochs: with EpochRand(seed, epoch) each
// epoch's batch order is reproducible on its own.
func (s *Sampler) Shuffle(rng *rand.Rand) {
	copy(s.order, s.idx)
	rng.Shuffle(len(s.order), func(i, j int) { s.order[i], s.order[j] = s.order[j], s.order[i] })
	s.pos = 0
}

// Reset starts a new epoch in the original order (evaluation).
func (s *Sampler) Reset() {
	copy(s.order, s.idx)
	s.pos = 0
}

// Next returns the next batch of indices (a view, valid until the next
// Shuffle or Reset) and false when the epoch is over.
func (s *Sampler) Next() ([]int, bool) {
	rest := len(s.order) - s.pos
	if rest <= 0 || (s.dropLast && rest < s.batch) {
		return nil, false
	}
	n := min(s.batch, rest)
	b := s.order[s.pos : s.pos+n]
	s.pos += n
	return b, true
}

// Batches is the number of batches per epoch.
func (s *Sampler) Batches() int {
	if s.dropLast {
		return len(s.idx) / s.batch
	}
	return (len(s.idx) + s.batch - 1) / s.batch
}

// Samples is the number of samples visited per epoch.
func (s *Sampler) Samples() int {
	if s.dropLast {
		return s.Batches() * s.batch
	}
	return len(s.idx)
}
