package trainer

import (
	"math"
	"testing"

	"github.com/effnas/effnas/searchspace"
	"gorgonia.org/tensor"
)

// The official initialisers: convolutions, depthwise and squeeze-excite
// kernels (Conv2D layers in the official code) normal(0, sqrt(2/fan_out)),
// the classifier uniform(+-1/sqrt(classes)). The sample standard
// deviations of efficientnetv2-b0's largest kernels are within 5%.
func TestInitialisers(t *testing.T) {
	a, err := searchspace.Reference("efficientnetv2-b0")
	if err != nil {
		t.Fatal(err)
	}
	net, err := NewNet(a, tensor.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	std := func(p *Param) float64 {
		s := 0.0
		for _, v := range p.Value.Data().([]float32) {
			s += float64(v) * float64(v)
		}
		return math.Sqrt(s / float64(p.Size()))
	}
	for name, want := range map[string]struct {
		kind ParamKind
		std  float64
	}{
		"s6.b7.se.reduce.w": {KindPointwise, math.Sqrt(2.0 / 48)},   // (1152, 48): fan_out 48
		"s6.b7.se.expand.w": {KindPointwise, math.Sqrt(2.0 / 1152)}, // (48, 1152)
		"s6.b7.expand.w":    {KindConv, math.Sqrt(2.0 / 1152)},      // 1x1, 192 -> 1152
		"s6.b7.dw.w":        {KindDepthwise, math.Sqrt(2.0 / 9)},    // 3x3
		"classifier.w":      {KindDense, 1 / math.Sqrt(3*1000)},     // uniform(+-1/sqrt(1000)): std lim/sqrt(3)
	} {
		p := net.byName[name]
		if p == nil {
			t.Fatalf("no parameter %s", name)
		}
		if got := std(p); p.Kind != want.kind || math.Abs(got/want.std-1) > 0.05 || !p.Kind.Decays() {
			t.Errorf("%s: kind %d, std %.5f, want kind %d, std %.5f, decaying", name, p.Kind, got, want.kind, want.std)
		}
	}
}
