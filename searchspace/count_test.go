package searchspace

import (
	"math"
	"testing"
)

// The official automl test (effnetv2_model_test.py) pins Keras'
// count_params(), which includes BatchNorm moving statistics; the trainable
// counts agree with timm's param_count.
func TestReferenceCountsExact(t *testing.T) {
	cases := []struct {
		name                string
		trainable, total    int64
		imageSize           int
		officialGMACs, tolr float64
	}{
		{"efficientnetv2-b0", 7139704, 7200312, 224, 0.72, 0.01},
		{"efficientnetv2-s", 21458488, 21612360, 384, 8.4, 0.01},
		{"efficientnetv2-m", 54139356, 54431388, 480, 24.7, 0.01},
		{"efficientnetv2-l", 118515272, 119027848, 480, 56.3, 0.01},
	}
	for _, c := range cases {
		a, err := Reference(c.name)
		if err != nil {
			t.Fatal(err)
		}
		acc, err := a.Count(c.imageSize, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if acc.Total.Params != c.trainable {
			t.Errorf("%s: trainable params %d, want %d", c.name, acc.Total.Params, c.trainable)
		}
		if acc.Total.ParamsTotal != c.total {
			t.Errorf("%s: total params %d, want %d", c.name, acc.Total.ParamsTotal, c.total)
		}
		g := float64(acc.Total.MACs) / 1e9
		if math.Abs(g-c.officialGMACs)/c.officialGMACs > c.tolr {
			t.Errorf("%s: %.4f GMACs at %d, want %.2f within 1%%", c.name, g, c.imageSize, c.officialGMACs)
		}
	}
}

func TestBenchNetworkCounts(t *testing.T) {
	// Figures of the PyTorch anchor (shared bench README): params at 1x28x28,
	// multiply-adds per image at 1x28x28 and 3x32x32.
	dw, _ := Reference("bench-dw")
	acc, err := dw.Count(28, 10)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Total.Params != 225034 {
		t.Errorf("bench-dw params %d, want 225034", acc.Total.Params)
	}
	if got := float64(acc.Total.MACs) / 1e6; math.Abs(got-19.42) > 0.005 {
		t.Errorf("bench-dw MACs %.3f M, want 19.42 M", got)
	}
	rgb := dw.WithInput(32, 3, 10, true)
	acc, _ = rgb.Count(0, 0)
	if acc.Total.Params != 225322 {
		t.Errorf("bench-dw 3x32x32 params %d, want 225322", acc.Total.Params)
	}
	if got := float64(acc.Total.MACs) / 1e6; math.Abs(got-25.65) > 0.005 {
		t.Errorf("bench-dw 3x32x32 MACs %.3f M, want 25.65 M", got)
	}
	fused, _ := Reference("bench-fused")
	acc, _ = fused.Count(28, 10)
	if acc.Total.Params != 627818 {
		t.Errorf("bench-fused params %d, want 627818", acc.Total.Params)
	}
	if got := float64(acc.Total.MACs) / 1e6; math.Abs(got-38.65) > 0.005 {
		t.Errorf("bench-fused MACs %.3f M, want 38.65 M", got)
	}
}

func TestEfficientNetB0(t *testing.T) {
	// EfficientNet-B0: 5.3M params and 0.39B FLOPs (paper); 5,288,548 is the
	// widely reproduced trainable count (Keras' EfficientNetB0 minus BN stats).
	a, _ := Reference("efficientnet-b0")
	acc, err := a.Count(224, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Total.Params != 5288548 {
		t.Errorf("efficientnet-b0 trainable %d, want 5288548", acc.Total.Params)
	}
	if g := float64(acc.Total.MACs) / 1e9; math.Abs(g-0.39)/0.39 > 0.02 {
		t.Errorf("efficientnet-b0 %.4f GMACs, want about 0.39", g)
	}
}

func TestCountPartsSumAndResolution(t *testing.T) {
	a, _ := Reference("efficientnetv2-s")
	acc, _ := a.Count(384, 1000)
	var sum Count
	for _, p := range acc.Parts {
		sum.add(p.Count)
	}
	if sum != acc.Total {
		t.Fatalf("parts sum %+v != total %+v", sum, acc.Total)
	}
	wantOut := []int{192, 192, 96, 48, 24, 24, 12, 12, 1}
	for i, p := range acc.Parts {
		if p.OutSize != wantOut[i] {
			t.Errorf("%s: out size %d, want %d", p.Name, p.OutSize, wantOut[i])
		}
	}
	// Classes change only the classifier.
	acc10, _ := a.Count(384, 10)
	if d := acc.Total.Params - acc10.Total.Params; d != 990*1281 {
		t.Errorf("1000 vs 10 classes differ by %d params, want %d", d, 990*1281)
	}
}
