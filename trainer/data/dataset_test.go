package data

import (
	"math"
	"slices"
	"testing"
)

func synth(t *testing.T, cfg SyntheticConfig, split string) *Dataset {
	t.Helper()
	d, err := Synthetic(cfg, split)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestValidationSplit(t *testing.T) {
	d := synth(t, SyntheticConfig{Size: 4, Classes: 3, Count: 301, Seed: 1}, Train)
	tr, val, err := d.ValidationSplit(60, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(val) != 60 || len(tr) != 241 {
		t.Fatalf("sizes %d/%d", len(tr), len(val))
	}
	seen := make([]int, d.N)
	for _, i := range tr {
		seen[i]++
	}
	for _, i := range val {
		seen[i]++
	}
	for i, s := range seen {
		if s != 1 {
			t.Fatalf("sample %d appears %d times in train+val", i, s)
		}
	}
	for _, c := range d.ClassCounts(val) { // 101/100/100 of 301, 60 held out
		if c < 19 || c > 21 {
			t.Fatalf("not stratified: %v", d.ClassCounts(val))
		}
	}
	tr2, val2, _ := d.ValidationSplit(60, 7)
	if !slices.Equal(val, val2) || !slices.Equal(tr, tr2) {
		t.Fatal("same seed gave a different split")
	}
	_, val3, _ := d.ValidationSplit(60, 8)
	if slices.Equal(val, val3) {
		t.Fatal("different seeds gave the same split")
	}
	if _, _, err := d.ValidationSplit(302, 1); err == nil {
		t.Fatal("oversized split accepted")
	}

	sub, err := d.SampleSubset(tr, 30, 3)
	if err != nil || len(sub) != 30 {
		t.Fatalf("subset %d %v", len(sub), err)
	}
	sub2, _ := d.SampleSubset(tr, 30, 3)
	if !slices.Equal(sub, sub2) {
		t.Fatal("subset not deterministic")
	}
	for _, i := range sub {
		if _, ok := slices.BinarySearch(tr, i); !ok {
			t.Fatalf("subset index %d not in the training indices", i)
		}
	}
	if c := d.ClassCounts(sub); slices.Min(c) != 10 || slices.Max(c) != 10 {
		t.Fatalf("subset not stratified: %v", c)
	}
}

func TestResizeConstant(t *testing.T) {
	src := make([]float32, 5*7*2)
	for i := range src {
		src[i] = []float32{0.25, 0.75}[i%2]
	}
	for _, sz := range [][2]int{{3, 3}, {10, 13}, {5, 7}, {1, 1}, {32, 32}} {
		dst := make([]float32, sz[0]*sz[1]*2)
		ResizeBilinear(dst, sz[0], sz[1], src, 5, 7, 2)
		for i, v := range dst {
			if math.Abs(float64(v-src[i%2])) > 1e-6 {
				t.Fatalf("%v: value %d = %v want %v", sz, i, v, src[i%2])
			}
		}
	}
}

func TestResizeGradient(t *testing.T) {
	// 1x2 image [0, 1] upsampled to 1x4 with half-pixel centers samples
	// x = -0.25, 0.25, 0.75, 1.25 (clamped): 0, 0.25, 0.75, 1.
	dst := make([]float32, 4)
	ResizeBilinear(dst, 1, 4, []float32{0, 1}, 1, 2, 1)
	if !slices.Equal(dst, []float32{0, 0.25, 0.75, 1}) {
		t.Fatalf("upsample = %v", dst)
	}
	// Linear ramp v = x over 8 columns downsampled to 4: samples at
	// x = 0.5, 2.5, 4.5, 6.5 give exactly those values; rows unchanged.
	src := make([]float32, 2*8)
	for y := 0; y < 2; y++ {
		for x := 0; x < 8; x++ {
			src[y*8+x] = float32(x)
		}
	}
	dst = make([]float32, 2*4)
	ResizeBilinear(dst, 2, 4, src, 2, 8, 1)
	if !slices.Equal(dst, []float32{0.5, 2.5, 4.5, 6.5, 0.5, 2.5, 4.5, 6.5}) {
		t.Fatalf("downsample = %v", dst)
	}
	// Vertical 3 -> 2: y = 0.25, 1.75 on rows 0, 10, 20.
	dst = make([]float32, 2)
	ResizeBilinear(dst, 2, 1, []float32{0, 10, 20}, 3, 1, 1)
	if math.Abs(float64(dst[0]-2.5)) > 1e-5 || math.Abs(float64(dst[1]-17.5)) > 1e-5 {
		t.Fatalf("vertical = %v", dst)
	}
}

func TestResizedCache(t *testing.T) {
	d := synth(t, SyntheticConfig{Size: 8, Count: 20}, Train)
	r := d.Resized(12, 12)
	if r.H != 12 || r.N != 20 || len(r.Images) != 20*144 || d.Resized(12, 12) != r || d.Resized(8, 8) != d {
		t.Fatal("resized cache")
	}
	want := make([]float32, 144)
	ResizeBilinear(want, 12, 12, d.Image(3), 8, 8, 1)
	if !slices.Equal(r.Image(3), want) {
		t.Fatal("cached copy differs from ResizeBilinear")
	}
	d.DropResized()
	if d.Resized(12, 12) == r {
		t.Fatal("DropResized kept the copy")
	}
}

func TestChannelNorm(t *testing.T) {
	d := synth(t, SyntheticConfig{Size: 6, Channels: 3, Count: 50}, Train)
	idx := d.All()
	n := d.ChannelNorm(idx)
	x := d.Subset(idx)
	for i := 0; i < x.N; i++ {
		n.Apply(x.Image(i), 3)
	}
	m := x.ChannelNorm(x.All())
	for k := 0; k < 3; k++ {
		if math.Abs(float64(m.Mean[k])) > 1e-4 || math.Abs(float64(m.Std[k])-1) > 1e-3 {
			t.Fatalf("channel %d after norm: mean %v std %v", k, m.Mean[k], m.Std[k])
		}
	}
}

// TestSyntheticSeparable: a nearest-class-mean classifier fit on the train
// split labels the test split almost perfectly, so tiny nets can learn it.
func TestSyntheticSeparable(t *testing.T) {
	cfg := SyntheticConfig{Size: 12, Classes: 6, Count: 600, Seed: 3}
	tr, te := synth(t, cfg, Train), synth(t, cfg, Test)
	if te.N != 120 || tr.NumClasses != 6 {
		t.Fatalf("sizes %d %d", te.N, tr.NumClasses)
	}
	L := tr.ImageLen()
	means := make([]float64, 6*L)
	counts := tr.ClassCounts(tr.All())
	for i := 0; i < tr.N; i++ {
		for p, v := range tr.Image(i) {
			means[tr.Labels[i]*L+p] += float64(v) / float64(counts[tr.Labels[i]])
		}
	}
	right := 0
	for i := 0; i < te.N; i++ {
		best, bestD := -1, math.Inf(1)
		for k := 0; k < 6; k++ {
			var dist float64
			for p, v := range te.Image(i) {
				e := float64(v) - means[k*L+p]
				dist += e * e
			}
			if dist < bestD {
				best, bestD = k, dist
			}
		}
		if best == te.Labels[i] {
			right++
		}
	}
	if right < te.N*95/100 {
		t.Fatalf("nearest mean: %d/%d right", right, te.N)
	}
	again := synth(t, cfg, Test)
	if !slices.Equal(again.Images, te.Images) {
		t.Fatal("synthetic data not deterministic")
	}
	if slices.Equal(tr.Images[:L], te.Images[:L]) {
		t.Fatal("train and test share images")
	}
}
