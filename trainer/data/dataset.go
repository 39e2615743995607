package data

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
)

// Split names understood by the loaders.
const (
	Train = "train"
	Test  = "test"
)

// Dataset is an in-memory image classification dataset.
//
// Images holds N images of H x W x C float32 values in [0, 1], NHWC layout
// (image i starts at i*H*W*C; within an image, row-major with channels
// innermost). Labels[i] is in [0, NumClasses). A Dataset is read-only after
// loading and safe for concurrent readers.
type Dataset struct {
	Name       string
	Split      string
	Images     []float32
	Labels     []int
	N, H, W, C int
	NumClasses int
	ClassNames []string

	cache *resizeCache
}

// NewDataset wraps images and labels into a Dataset after checking that the
// lengths agree and every label is in range. Class names default to "0",
// "1", ... when names is nil.
func NewDataset(name, split string, images []float32, labels []int, h, w, c, numClasses int, names []string) (*Dataset, error) {
	if h <= 0 || w <= 0 || c <= 0 {
		return nil, fmt.Errorf("data: %s: bad image shape %dx%dx%d", name, h, w, c)
	}
	if numClasses <= 0 {
		return nil, fmt.Errorf("data: %s: class count %d must be positive", name, numClasses)
	}
	n := len(labels)
	if len(images) != n*h*w*c {
		return nil, fmt.Errorf("data: %s: %d image values for %d labels of %dx%dx%d", name, len(images), n, h, w, c)
	}
	for i, l := range labels {
		if l < 0 || l >= numClasses {
			return nil, fmt.Errorf("data: %s: label %d of sample %d outside [0,%d)", name, l, i, numClasses)
		}
	}
	if names == nil {
		names = make([]string, numClasses)
		for i := range names {
			names[i] = fmt.Sprint(i)
		}
	}
	if len(names) != numClasses {
		return nil, fmt.Errorf("data: %s: %d class names for %d classes", name, len(names), numClasses)
	}
	return &Dataset{
		Name: name, Split: split, Images: images, Labels: labels,
		N: n, H: h, W: w, C: c, NumClasses: numClasses, ClassNames: names,
		cache: &resizeCache{m: map[[2]int]*Dataset{}},
	}, nil
}

// ImageLen is the number of float32 values in one image (H*W*C).
func (d *Dataset) ImageLen() int { return d.H * d.W * d.C }

// Image returns image i as a view (not a copy) of H*W*C values.
func (d *Dataset) Image(i int) []float32 {
	n := d.ImageLen()
	return d.Images[i*n : (i+1)*n : (i+1)*n]
}

// All returns the indices 0..N-1.
func (d *Dataset) All() []int {
	idx := make([]int, d.N)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// ClassCounts returns how many of the given samples fall in each class.
func (d *Dataset) ClassCounts(idx []int) []int {
	counts := make([]int, d.NumClasses)
	for _, i := range idx {
		counts[d.Labels[i]]++
	}
	return counts
}

// Subset copies the samples at idx into a new Dataset (same classes and
// image size).
func (d *Dataset) Subset(idx []int) *Dataset {
	n := d.ImageLen()
	imgs := make([]float32, len(idx)*n)
	labels := make([]int, len(idx))
	for j, i := range idx {
		copy(imgs[j*n:], d.Image(i))
		labels[j] = d.Labels[i]
	}
	s, err := NewDataset(d.Name, d.Split, imgs, labels, d.H, d.W, d.C, d.NumClasses, d.ClassNames)
	if err != nil {
		panic(err) // unreachable: shape and labels come from a valid dataset
	}
	return s
}

// NewRand returns a PCG-backed generator for the given seed and stream. All
// seeded helpers in this package derive their generators this way, so equal
// (seed, stream) pairs give equal sequences.
func NewRand(seed, stream uint64) *rand.Rand {
	return rand.New(NewPCG(seed, stream))
}

// NewPCG returns the source of NewRand(seed, stream), for a caller that
// saves the generator's state (rand.PCG.MarshalBinary) to continue it.
func NewPCG(seed, stream uint64) *rand.PCG {
	return rand.NewPCG(seed, stream^0x9e3779b97f4a7c15)
}

// EpochRand returns the generator for one epoch of a seeded run: shuffling
// with EpochRand(seed, e) gives the same batch order for epoch e on every run,
// independent of how many random numbers earlier epochs consumed.
func EpochRand(seed uint64, epoch int) *rand.Rand {
	return NewRand(seed, 0x5eed0000+uint64(epoch))
}

// StratifiedSplit picks n of the samples idx, keeping class proportions (the
// per-class quotas are rounded by largest remainder so they sum to n). It
// returns the picked and remaining indices, each sorted ascending. The choice
// depends only on (labels, idx, n, seed).
func StratifiedSplit(labels []int, idx []int, n int, seed uint64) (picked, rest []int, err error) {
	if n < 0 || n > len(idx) {
		return nil, nil, fmt.Errorf("data: cannot pick %d of %d samples", n, len(idx))
	}
	byClass := map[int][]int{}
	for _, i := range idx {
		byClass[labels[i]] = append(byClass[labels[i]], i)
	}
	classes := make([]int, 0, len(byClass))
	for c := range byClass {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	rng := NewRand(seed, 0x57a7)
	quota := make([]int, len(classes))
	type rem struct {
		k    int
		frac float64
	}
	rems := make([]rem, len(classes))
	total := 0
	for k, c := range classes {
		members := byClass[c]
		slices.Sort(members)
		rng.Shuffle(len(members), func(a, b int) { members[a], members[b] = members[b], members[a] })
		exact := float64(n) * float64(len(members)) / float64(len(idx))
		quota[k] = int(exact)
		rems[k] = rem{k, exact - float64(quota[k])}
		total += quota[k]
	}
	slices.SortStableFunc(rems, func(a, b rem) int {
		switch {
		case a.frac > b.frac:
			return -1
		case a.frac < b.frac:
			return 1
		}
		return a.k - b.k
	})
	for j := 0; total < n; j++ {
		k := rems[j%len(rems)].k
		if quota[k] < len(byClass[classes[k]]) {
			quota[k]++
			total++
		}
	}
	picked = make([]int, 0, n)
	rest = make([]int, 0, len(idx)-n)
	for k, c := range classes {
		members := byClass[c]
		picked = append(picked, members[:quota[k]]...)
		rest = append(rest, members[quota[k]:]...)
	}
	slices.Sort(picked)
	slices.Sort(rest)
	return picked, rest, nil
}

// ValidationSplit holds out nVal samples of d (normally the training split)
// as a validation set, stratified by class and seeded. It returns the
// remaining training indices and the validation indices, disjoint, sorted and
// together covering 0..N-1. The architecture search trains on train and
// scores on val; it never looks at the test split.
func (d *Dataset) ValidationSplit(nVal int, seed uint64) (train, val []int, err error) {
	val, train, err = StratifiedSplit(d.Labels, d.All(), nVal, seed)
	if err != nil {
		return nil, nil, fmt.Errorf("data: %s validation split: %w", d.Name, err)
	}
	return train, val, nil
}

// SampleSubset returns n of the indices idx (stratified, seeded, sorted):
// a smaller training set for cheap proxy training. n >= len(idx) returns a
// copy of idx.
func (d *Dataset) SampleSubset(idx []int, n int, seed uint64) ([]int, error) {
	if n >= len(idx) {
		return slices.Clone(idx), nil
	}
	picked, _, err := StratifiedSplit(d.Labels, idx, n, seed^0x5b5e7)
	if err != nil {
		return nil, fmt.Errorf("data: %s subset: %w", d.Name, err)
	}
	return picked, nil
}

// Resized returns d with every image resized to h x w by ResizeBilinear. The
// copy is computed once per size and cached on d (safe for concurrent use),
// since progressive learning revisits the same few sizes stage after stage.
// The native size returns d itself. Use DropResized to free cached copies.
func (d *Dataset) Resized(h, w int) *Dataset {
	if h == d.H && w == d.W {
		return d
	}
	c := d.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.m[[2]int{h, w}]; ok {
		return r
	}
	src, dst := d.ImageLen(), h*w*d.C
	imgs := make([]float32, d.N*dst)
	for i := 0; i < d.N; i++ {
		ResizeBilinear(imgs[i*dst:(i+1)*dst], h, w, d.Images[i*src:(i+1)*src], d.H, d.W, d.C)
	}
	r := &Dataset{
		Name: d.Name, Split: d.Split, Images: imgs, Labels: d.Labels,
		N: d.N, H: h, W: w, C: d.C, NumClasses: d.NumClasses, ClassNames: d.ClassNames,
		cache: &resizeCache{m: map[[2]int]*Dataset{}},
	}
	c.m[[2]int{h, w}] = r
	return r
}

// DropResized forgets the cached resized copies of d.
func (d *Dataset) DropResized() {
	d.cache.mu.Lock()
	clear(d.cache.m)
	d.cache.mu.Unlock()
}

type resizeCache struct {
	mu sync.Mutex
	m  map[[2]int]*Dataset
}
