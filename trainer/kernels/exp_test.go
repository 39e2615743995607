package kernels

import (
	"math"
	"testing"
)

func TestExp32Accuracy(t *testing.T) {
	worst := 0.0
	for x := -87.3; x <= 88.7; x += 0.000731 {
		v := float32(x)
		got, want := float64(exp32(v)), math.Exp(float64(v))
		if e := math.Abs(got-want) / want; e > worst {
			worst = e
		}
	}
	// a float32 ulp is 2^-23 ≈ 1.2e-7 relative
	if worst > 3e-7 {
		t.Errorf("exp32: max relative error %.3g", worst)
	}
	for _, v := range []float32{-200, -100, -87.5, -87.1, 88.1, 88.7, 89, 200} {
		got, want := float64(exp32(v)), float64(float32(math.Exp(float64(v))))
		if math.Abs(got-want) > 3e-7*want+2e-45 && !(math.IsInf(got, 1) && math.IsInf(want, 1)) {
			t.Errorf("exp32(%v) = %v, want %v", v, got, want)
		}
	}
	if e := exp32(float32(math.NaN())); e == e {
		t.Error("exp32(NaN) is not NaN")
	}
	t.Logf("exp32 max relative error %.3g", worst)
}
