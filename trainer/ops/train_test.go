package ops

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// normal32 returns a float32 tensor with N(0, std²) entries from rng.
func normal32(rng *rand.Rand, std float64, shape ...int) *tensor.Dense {
	d := make([]float32, tensor.Shape(shape).TotalSize())
	for i := range d {
		d[i] = float32(rng.NormFloat64() * std)
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
}

func filled32(v float32, n int) *tensor.Dense {
	d := make([]float32, n)
	for i := range d {
		d[i] = v
	}
	return tensor.New(tensor.WithShape(n), tensor.WithBacking(d))
}

// TestTrainTinyConvNet trains conv-BN-SiLU-conv(s2)-BN-SiLU-GAP-dense-softmax
// CE with Adam on one fixed random batch (float32) and expects the loss to
// fall.
func TestTrainTinyConvNet(t *testing.T) {
	const (
		n, hw, cin, c1, c2, k = 8, 8, 3, 8, 16, 4
		steps                 = 30
	)
	rng := rand.New(rand.NewSource(42))
	g := G.NewGraph()
	f32 := tensor.Float32
	x := G.NewTensor(g, f32, 4, G.WithShape(n, hw, hw, cin), G.WithName("x"))
	y := G.NewMatrix(g, f32, G.WithShape(n, k), G.WithName("y"))
	w1 := G.NewTensor(g, f32, 4, G.WithShape(3, 3, cin, c1), G.WithName("conv1.w"), G.WithValue(normal32(rng, math.Sqrt(2.0/(9*c1)), 3, 3, cin, c1)))
	g1 := G.NewVector(g, f32, G.WithShape(c1), G.WithName("bn1.gamma"), G.WithValue(filled32(1, c1)))
	b1 := G.NewVector(g, f32, G.WithShape(c1), G.WithName("bn1.beta"), G.WithValue(filled32(0, c1)))
	w2 := G.NewTensor(g, f32, 4, G.WithShape(3, 3, c1, c2), G.WithName("conv2.w"), G.WithValue(normal32(rng, math.Sqrt(2.0/(9*c2)), 3, 3, c1, c2)))
	g2 := G.NewVector(g, f32, G.WithShape(c2), G.WithName("bn2.gamma"), G.WithValue(filled32(1, c2)))
	b2 := G.NewVector(g, f32, G.WithShape(c2), G.WithName("bn2.beta"), G.WithValue(filled32(0, c2)))
	wd := G.NewMatrix(g, f32, G.WithShape(c2, k), G.WithName("dense.w"), G.WithValue(normal32(rng, 1/math.Sqrt(k), c2, k)))
	bd := G.NewVector(g, f32, G.WithShape(k), G.WithName("dense.b"), G.WithValue(filled32(0, k)))
	params := G.Nodes{w1, g1, b1, w2, g2, b2, wd, bd}

	bn1, _ := NewBatchNorm(c1, DefaultBNMomentum, DefaultBNEpsilon)
	bn2, _ := NewBatchNorm(c2, DefaultBNMomentum, DefaultBNEpsilon)
	must := func(n *G.Node, err error) *G.Node {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	h := must(Conv2D(x, w1, 1))
	h = must(SiLU(must(bn1.Apply(h, g1, b1))))
	h = must(Conv2D(h, w2, 2))
	h = must(SiLU(must(bn2.Apply(h, g2, b2))))
	logits := must(BiasAdd(must(G.Mul(must(GlobalAvgPool(h)), wd)), bd))
	loss := must(SoftmaxCrossEntropy(logits, y))
	var lossV G.Value
	G.Read(loss, &lossV)
	if _, err := G.Grad(loss, params...); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(params...))
	defer m.Close()
	solver := G.NewAdamSolver(G.WithLearnRate(0.02))

	xv := normal32(rng, 1, n, hw, hw, cin)
	yv := make([]float32, n*k)
	for i := 0; i < n; i++ {
		yv[i*k+rng.Intn(k)] = 1
	}
	ten := tensor.New(tensor.WithShape(n, k), tensor.WithBacking(yv))
	var losses []float64
	for s := 0; s < steps; s++ {
		if err := G.Let(x, xv); err != nil {
			t.Fatal(err)
		}
		if err := G.Let(y, ten); err != nil {
			t.Fatal(err)
		}
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		losses = append(losses, float64(*lossV.(*G.F32)))
		if err := solver.Step(G.NodesToValueGrads(params)); err != nil {
			t.Fatal(err)
		}
		m.Reset()
	}
	first, last := losses[0], losses[len(losses)-1]
	t.Logf("loss %.4f -> %.4f", first, last)
	if math.IsNaN(last) || last > 0.5*first {
		t.Errorf("loss did not fall enough: %v", losses)
	}
	if mean, _ := bn1.Stats(); mean[0] == 0 {
		t.Error("BN running statistics were not updated during training")
	}
}
