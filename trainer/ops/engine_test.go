package ops

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestEngineAdd checks the engine's Add against gorgonia's standard engine
// bit for bit, for each way gorgonia calls it: into a new tensor, into a
// reuse tensor (a third one, or one of the operands), and into a (unsafe).
func TestEngineAdd(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	mk := func(e tensor.Engine) (*tensor.Dense, *tensor.Dense, *tensor.Dense) {
		r := rand.New(rand.NewSource(rng.Int63()))
		var ts [3]*tensor.Dense
		for i := range ts {
			ts[i] = tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(3, 5, 7, 11), tensor.WithEngine(e))
			for j, d := 0, ts[i].Data().([]float32); j < len(d); j++ {
				d[j] = float32(r.NormFloat64())
			}
		}
		return ts[0], ts[1], ts[2]
	}
	cases := []struct {
		name string
		opts func(a, b, c *tensor.Dense) []tensor.FuncOpt
	}{
		{"new", func(_, _, _ *tensor.Dense) []tensor.FuncOpt { return nil }},
		{"reuse", func(_, _, c *tensor.Dense) []tensor.FuncOpt { return []tensor.FuncOpt{tensor.WithReuse(c)} }},
		{"reuse a", func(a, _, _ *tensor.Dense) []tensor.FuncOpt { return []tensor.FuncOpt{tensor.WithReuse(a)} }},
		{"reuse b", func(_, b, _ *tensor.Dense) []tensor.FuncOpt { return []tensor.FuncOpt{tensor.WithReuse(b)} }},
		{"unsafe", func(_, _, _ *tensor.Dense) []tensor.FuncOpt { return []tensor.FuncOpt{tensor.UseUnsafe()} }},
	}
	defer func(e int) { elemGrain = e }(elemGrain)
	elemGrain = 64 // several parallel ranges
	for _, c := range cases {
		seed := rng.Int63()
		rng.Seed(seed)
		a0, b0, c0 := mk(tensor.StdEng{})
		want, err := tensor.Add(a0, b0, c.opts(a0, b0, c0)...)
		if err != nil {
			t.Fatal(err)
		}
		rng.Seed(seed)
		a1, b1, c1 := mk(Engine)
		before := fastAdds.Load()
		got, err := tensor.Add(a1, b1, c.opts(a1, b1, c1)...)
		if err != nil {
			t.Fatal(err)
		}
		if fastAdds.Load() == before {
			t.Fatalf("%s: the engine did not take the addition", c.name)
		}
		w, g := want.Data().([]float32), got.Data().([]float32)
		for i := range w {
			if math.Float32bits(w[i]) != math.Float32bits(g[i]) {
				t.Fatalf("%s: element %d is %v, want %v", c.name, i, g[i], w[i])
			}
		}
		if !got.Shape().Eq(want.Shape()) {
			t.Fatalf("%s: shape %v, want %v", c.name, got.Shape(), want.Shape())
		}
	}
}

// TestGradientSumUsesEngine checks that gorgonia sums the two gradients of
// a node with two consumers (the residual pattern, with this package's ops
// around it) through the engine, and gets the right values.
func TestGradientSumUsesEngine(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 2, G.WithShape(64, 300), G.WithName("x"), G.WithInit(G.RangedFrom(0)))
	a := G.Must(SiLU(x))
	y := G.Must(Add(a, x))
	loss := G.Must(G.Sum(G.Must(SiLU(y)))) // dloss/dx = silu'(y)*(silu'(x) + 1)
	if _, err := G.Grad(loss, x); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g, G.WithEngine(Engine))
	defer m.Close()
	before := fastAdds.Load()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	if fastAdds.Load() == before {
		t.Fatal("the gradient sum did not go through the engine")
	}
	gv, err := x.Grad()
	if err != nil {
		t.Fatal(err)
	}
	dsilu := func(v float64) float64 { s := 1 / (1 + math.Exp(-v)); return s * (1 + v*(1-s)) }
	xs, gs := x.Value().Data().([]float32), gv.Data().([]float32)
	for i := range xs {
		v := float64(xs[i])
		want := dsilu(v*(1/(1+math.Exp(-v)))+v) * (dsilu(v) + 1)
		if math.Abs(float64(gs[i])-want) > 1e-5*math.Max(1, math.Abs(want)) {
			t.Fatalf("gradient %d at x=%v: %v, want %v", i, v, gs[i], want)
		}
	}
}

// TestEngineMatMul checks the engine's MatMul against gorgonia's standard
// engine for plain and transposed operands, and that a dense layer's
// forward and backward products in a machine go through it.
func TestEngineMatMul(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	mk := func(e tensor.Engine, r, c int) *tensor.Dense {
		d := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(r, c), tensor.WithEngine(e))
		for i, v := 0, d.Data().([]float32); i < len(v); i++ {
			v[i] = float32(rng.NormFloat64())
		}
		return d
	}
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		const m, k, n = 37, 70, 19
		ar, ac, br, bc := m, k, k, n
		if tr[0] {
			ar, ac = k, m
		}
		if tr[1] {
			br, bc = n, k
		}
		a, b := mk(Engine, ar, ac), mk(Engine, br, bc)
		a0, b0 := a.Clone().(*tensor.Dense), b.Clone().(*tensor.Dense)
		tensor.WithEngine(tensor.StdEng{})(a0)
		tensor.WithEngine(tensor.StdEng{})(b0)
		if tr[0] {
			a.T()
			a0.T()
		}
		if tr[1] {
			b.T()
			b0.T()
		}
		before := fastMatMuls.Load()
		got, err := a.MatMul(b)
		if err != nil {
			t.Fatal(err)
		}
		if fastMatMuls.Load() == before {
			t.Fatalf("transposes %v: the engine did not take the product", tr)
		}
		want, err := a0.MatMul(b0)
		if err != nil {
			t.Fatal(err)
		}
		w, g := want.Data().([]float32), got.Data().([]float32)
		if !got.Shape().Eq(tensor.Shape{m, n}) {
			t.Fatalf("transposes %v: shape %v", tr, got.Shape())
		}
		for i := range w {
			if math.Abs(float64(w[i]-g[i])) > 1e-4*(1+math.Abs(float64(w[i]))) {
				t.Fatalf("transposes %v: element %d is %v, want %v", tr, i, g[i], w[i])
			}
		}
	}

	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(8, 30), G.WithName("x"), G.WithInit(G.Gaussian(0, 1)))
	w := G.NewMatrix(g, tensor.Float32, G.WithShape(30, 5), G.WithName("w"), G.WithInit(G.Gaussian(0, 1)))
	loss := G.Must(G.Sum(G.Must(G.Mul(x, w))))
	if _, err := G.Grad(loss, x, w); err != nil {
		t.Fatal(err)
	}
	mach := G.NewTapeMachine(g, G.WithEngine(Engine))
	defer mach.Close()
	before := fastMatMuls.Load()
	if err := mach.RunAll(); err != nil {
		t.Fatal(err)
	}
	if n := fastMatMuls.Load() - before; n < 3 {
		t.Fatalf("%d of the dense layer's 3 products went through the engine", n)
	}
	// d sum(xw)/dw[i][j] = sum over rows of x[:, i]
	gw, _ := w.Grad()
	xs, gws := x.Value().Data().([]float32), gw.Data().([]float32)
	for i := 0; i < 30; i++ {
		s := 0.0
		for r := 0; r < 8; r++ {
			s += float64(xs[r*30+i])
		}
		for j := 0; j < 5; j++ {
			if d := math.Abs(float64(gws[i*5+j]) - s); d > 1e-4 {
				t.Fatalf("dw[%d][%d] = %v, want %v", i, j, gws[i*5+j], s)
			}
		}
	}
}
