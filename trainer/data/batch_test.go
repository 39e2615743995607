package data

import (
	"math"
	"slices"
	"testing"
)

func TestBatcherFill(t *testing.T) {
	d := synth(t, SyntheticConfig{Size: 10, Channels: 3, Classes: 4, Count: 64, Seed: 2}, Train)
	tr, _, err := d.ValidationSplit(16, 1)
	if err != nil {
		t.Fatal(err)
	}
	norm := d.ChannelNorm(tr)
	aug := Augment{Pad: 2, Flip: true, RandAugN: 2, RandAugM: 10, MixupAlpha: 0.2, LabelSmoothing: 0.1}
	for _, pre := range []bool{false, true} {
		b, err := NewBatcher(d, BatchConfig{Size: 14, Norm: &norm, Aug: aug, Precompute: pre})
		if err != nil {
			t.Fatal(err)
		}
		h, w, c, k := b.Shape()
		if h != 14 || w != 14 || c != 3 || k != 4 || b.SampleLen() != 14*14*3 {
			t.Fatalf("shape %d %d %d %d", h, w, c, k)
		}
		const B = 8
		x, y := make([]float32, B*b.SampleLen()), make([]float32, B*k)
		fill := func(seed uint64) ([]float32, []float32) {
			n, err := b.Fill(x, y, tr[:B], NewRand(seed, 0))
			if err != nil || n != B {
				t.Fatalf("fill: %d %v", n, err)
			}
			return slices.Clone(x), slices.Clone(y)
		}
		x1, y1 := fill(5)
		x2, y2 := fill(5)
		if !slices.Equal(x1, x2) || !slices.Equal(y1, y2) {
			t.Fatal("same rng seed gave different batches")
		}
		if x3, _ := fill(6); slices.Equal(x1, x3) {
			t.Fatal("rng has no effect")
		}
		for i := 0; i < B; i++ {
			var s float32
			for _, v := range y1[i*k : (i+1)*k] {
				s += v
			}
			if math.Abs(float64(s-1)) > 1e-5 {
				t.Fatalf("target row %d sums to %v", i, s)
			}
		}
		rng := NewRand(1, 0)
		if a := testing.AllocsPerRun(20, func() { b.Fill(x, y, tr[:B], rng) }); a != 0 {
			t.Fatalf("Fill allocates %v times per call", a)
		}
	}
}

// TestBatcherPlain: without augmentation the batch is the resized,
// normalised image and a one-hot (smoothed) target.
func TestBatcherPlain(t *testing.T) {
	d := synth(t, SyntheticConfig{Size: 6, Classes: 3, Count: 9}, Train)
	norm := Norm{Mean: []float32{0.5}, Std: []float32{0.25}}
	b, err := NewBatcher(d, BatchConfig{Size: 9, Norm: &norm, Aug: Augment{LabelSmoothing: 0.3}})
	if err != nil {
		t.Fatal(err)
	}
	L := b.SampleLen()
	x, y := make([]float32, 4*L), make([]float32, 4*3)
	for i := range x {
		x[i] = 7 // garbage that padding must clear
	}
	n, err := b.Fill(x, y, []int{4, 2}, nil)
	if err != nil || n != 2 {
		t.Fatalf("fill: %d %v", n, err)
	}
	want := make([]float32, L)
	ResizeBilinear(want, 9, 9, d.Image(2), 6, 6, 1)
	norm.Apply(want, 1)
	if !slices.Equal(x[L:2*L], want) {
		t.Fatal("sample 1 is not the resized normalised image")
	}
	if slices.ContainsFunc(x[2*L:], func(v float32) bool { return v != 0 }) || slices.ContainsFunc(y[2*3:], func(v float32) bool { return v != 0 }) {
		t.Fatal("padding rows not zeroed")
	}
	for j, i := range []int{4, 2} {
		for c := 0; c < 3; c++ {
			want := float32(0.1)
			if c == d.Labels[i] {
				want = 0.8
			}
			if math.Abs(float64(y[j*3+c]-want)) > 1e-6 {
				t.Fatalf("target row %d = %v", j, y[j*3:j*3+3])
			}
		}
	}
	if _, err := b.Fill(x[:L], y, []int{1, 2}, nil); err == nil {
		t.Fatal("too small x accepted")
	}
	if _, err := b.Fill(x, y[:5], []int{1}, nil); err == nil {
		t.Fatal("wrong y accepted")
	}
	if _, err := b.Fill(x, nil, []int{99}, nil); err == nil {
		t.Fatal("bad index accepted")
	}
	ba, _ := NewBatcher(d, BatchConfig{Aug: Augment{Flip: true}})
	if _, err := ba.Fill(x[:2*36], nil, []int{1}, nil); err == nil {
		t.Fatal("random augmentation without rng accepted")
	}
	if _, err := NewBatcher(d, BatchConfig{Norm: &Norm{Mean: []float32{0, 0}, Std: []float32{1, 1}}}); err == nil {
		t.Fatal("norm with wrong channel count accepted")
	}
}

func TestSampler(t *testing.T) {
	idx := make([]int, 10)
	for i := range idx {
		idx[i] = 100 + i
	}
	train, _ := NewSampler(idx, 4, true)
	epoch := func(s *Sampler) [][]int {
		var out [][]int
		for b, ok := s.Next(); ok; b, ok = s.Next() {
			out = append(out, slices.Clone(b))
		}
		return out
	}
	train.Shuffle(EpochRand(9, 0))
	e0 := epoch(train)
	if len(e0) != 2 || train.Batches() != 2 || train.Samples() != 8 || len(e0[0]) != 4 || len(e0[1]) != 4 {
		t.Fatalf("drop-last epoch %v", e0)
	}
	train.Shuffle(EpochRand(9, 1))
	e1 := epoch(train)
	train.Shuffle(EpochRand(9, 0))
	if again := epoch(train); !slices.EqualFunc(again, e0, slices.Equal) {
		t.Fatal("epoch order depends on history")
	}
	if slices.EqualFunc(e0, e1, slices.Equal) {
		t.Fatal("epochs 0 and 1 have the same order")
	}
	rng := NewRand(1, 1)
	if a := testing.AllocsPerRun(10, func() {
		train.Shuffle(rng)
		for _, ok := train.Next(); ok; _, ok = train.Next() {
		}
	}); a != 0 {
		t.Fatalf("sampler allocates %v", a)
	}

	eval, _ := NewSampler(idx, 4, false)
	eval.Reset()
	got := epoch(eval)
	if len(got) != 3 || eval.Batches() != 3 || eval.Samples() != 10 || len(got[2]) != 2 || !slices.Equal(slices.Concat(got...), idx) {
		t.Fatalf("eval epoch %v", got)
	}
	if _, err := NewSampler(idx, 0, true); err == nil {
		t.Fatal("zero batch accepted")
	}
}

func BenchmarkFill(b *testing.B) {
	d, _ := Synthetic(SyntheticConfig{Size: 28, Count: 256}, Train)
	norm := d.ChannelNorm(d.All())
	bt, _ := NewBatcher(d, BatchConfig{Size: 32, Norm: &norm, Aug: Augment{Pad: 4, RandAugN: 2, RandAugM: 10, MixupAlpha: 0.2, LabelSmoothing: 0.1}})
	const B = 128
	x, y := make([]float32, B*bt.SampleLen()), make([]float32, B*10)
	idx := d.All()[:B]
	rng := NewRand(1, 0)
	b.ReportAllocs()
	for b.Loop() {
		bt.Fill(x, y, idx, rng)
	}
}
