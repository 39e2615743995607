package ops

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestDescribeEveryOp builds a graph with every op of the package and its
// gradients and checks each node's description: every op of the package
// has a kind, and the attributes are those it was built with.
func TestDescribeEveryOp(t *testing.T) {
	g := G.NewGraph()
	in := func(name string, shape ...int) *G.Node {
		return G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))))
	}
	x := in("x", 2, 6, 6, 3)
	w0 := in("w0", 3, 3, 3, 8)
	w1 := in("w1", 3, 3, 8)
	w2 := in("w2", 1, 1, 8, 8)
	gamma, beta := in("gamma", 8), in("beta", 8)
	gamma2, beta2 := in("gamma2", 8), in("beta2", 8)
	wd, bd := in("wd", 8, 4), in("bd", 4)
	mask := in("mask", 2)
	y := in("y", 2, 4)
	bn, _ := NewBatchNorm(8, DefaultBNMomentum, DefaultBNEpsilon)
	bn2, _ := NewBatchNorm(8, DefaultBNMomentum, DefaultBNEpsilon)
	must := func(n *G.Node, err error) *G.Node {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	h := must(Conv2DInput(x, w0, 2))
	h = must(bn.ApplySiLU(h, gamma, beta))
	d := must(DepthwiseConv2D(h, w1, 1))
	d = must(SiLU(d))
	s := must(Sigmoid(must(GlobalAvgPool(d))))
	d = must(ChannelScale(d, s))
	d = must(bn2.Apply(must(Conv2D(d, w2, 1)), gamma2, beta2))
	d = must(SampleScale(d, mask))
	h = must(Add(d, h))
	z := must(BiasAdd(must(G.Mul(must(GlobalAvgPool(h)), wd)), bd))
	loss := must(SoftmaxCrossEntropy(z, y))
	if _, err := G.Grad(loss, w0, w1, w2, gamma, beta, gamma2, beta2, wd, bd); err != nil {
		t.Fatal(err)
	}
	seen := map[Kind]int{}
	for _, n := range g.AllNodes() {
		if n.Op() == nil {
			continue
		}
		desc, ok := Describe(n.Op())
		if !ok {
			continue // gorgonia's own ops
		}
		if desc.Kind == KindUnknown {
			t.Errorf("%v: no kind", n.Op())
		}
		seen[desc.Kind]++
		switch desc.Kind {
		case KindConv:
			if desc.Depthwise != (kids(n)[1] == w1) ||
				desc.NoGradX != (kids(n)[0] == x) {
				t.Errorf("%v: %+v", n.Op(), desc)
			}
		case KindConvGradW:
			if !desc.Shape.Eq(n.Shape()) {
				t.Errorf("%v: shape %v, node %v", n.Op(), desc.Shape, n.Shape())
			}
		case KindConvGradX, KindGlobalAvgPoolGrad:
			if !desc.Shape.Eq(n.Shape()) {
				t.Errorf("%v: shape %v, node %v", n.Op(), desc.Shape, n.Shape())
			}
		case KindBatchNorm:
			if desc.BN != bn && desc.BN != bn2 || desc.SiLU != (desc.BN == bn) {
				t.Errorf("%v: %+v", n.Op(), desc)
			}
		case KindBatchNormSiLUGrad, KindBatchNormGradX, KindBatchNormGradGamma, KindBatchNormGradBeta:
			if desc.BN != bn && desc.BN != bn2 {
				t.Errorf("%v: layer %p", n.Op(), desc.BN)
			}
		}
	}
	for k := KindConv; k <= KindSoftmaxCrossEntropyGrad; k++ {
		if seen[k] == 0 {
			t.Errorf("kind %v not in the graph", k)
		}
	}
	if _, ok := Describe(n0(g)); ok {
		t.Error("a gorgonia op described as one of ours")
	}
	if s := Kind(99).String(); s != "Kind(99)" {
		t.Errorf("Kind(99) = %q", s)
	}
}

// kids returns n's inputs in order.
func kids(n *G.Node) G.Nodes {
	var out G.Nodes
	for it := n.Graph().From(n.ID()); it.Next(); {
		out = append(out, it.Node().(*G.Node))
	}
	return out
}

// n0 returns the op of a gorgonia matrix product in g.
func n0(g *G.ExprGraph) G.Op {
	for _, n := range g.AllNodes() {
		if n.Op() != nil && n.Op().String() == "A × B" {
			return n.Op()
		}
	}
	return nil
}

func TestSetRecalibrationBatches(t *testing.T) {
	bn, _ := NewBatchNorm(2, DefaultBNMomentum, DefaultBNEpsilon)
	bn.SetRecalibrationBatches(3)
	if bn.RecalibrationBatches() != 3 {
		t.Fatal(bn.RecalibrationBatches())
	}
	bn.ResetStats()
	if bn.RecalibrationBatches() != 0 {
		t.Fatal(bn.RecalibrationBatches())
	}
}
