package ops

import (
	"testing"

	G "gorgonia.org/gorgonia"
)

// The timings count the multiply-adds of each convolution pass: N*OH*OW*Cout
// outputs times kh*kw*Cin (kh*kw for depthwise), for forward and both
// gradients alike.
func TestTimingsCountMultiplyAdds(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, G.Float64, 4, G.WithShape(2, 6, 6, 3), G.WithName("x"), G.WithInit(G.RangedFrom(0)))
	w := G.NewTensor(g, G.Float64, 4, G.WithShape(3, 3, 3, 4), G.WithName("w"), G.WithInit(G.RangedFrom(0)))
	dw := G.NewTensor(g, G.Float64, 3, G.WithShape(3, 3, 4), G.WithName("dw"), G.WithInit(G.RangedFrom(0)))
	y, err := Conv2D(x, w, 2)
	if err != nil {
		t.Fatal(err)
	}
	z, err := DepthwiseConv2D(y, dw, 1)
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Sum(z))
	if _, err := G.Grad(cost, x, w, dw); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	ResetTimings()
	SetTiming(true)
	err = m.RunAll()
	SetTiming(false)
	if err != nil {
		t.Fatal(err)
	}
	conv := int64(2*3*3*4) * 3 * 3 * 3 // outputs (2,3,3,4) x kh*kw*cin
	depth := int64(2*3*3*4) * 3 * 3    // outputs (2,3,3,4) x kh*kw
	want := map[string]int64{"Conv2D": conv, "Conv2DGradX": conv, "Conv2DGradW": conv,
		"DepthwiseConv2D": depth, "DepthwiseConv2DGradX": depth, "DepthwiseConv2DGradW": depth}
	got := map[string]int64{}
	for _, o := range Timings() {
		got[o.Op] += o.MACs
	}
	for op, n := range want {
		if got[op] != n {
			t.Errorf("%s: %d multiply-adds recorded, want %d (all: %v)", op, got[op], n, got)
		}
	}
}
