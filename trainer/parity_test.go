package trainer

import (
	"math"
	"slices"
	"testing"

	"github.com/effnas/effnas/safetensors"
	"github.com/effnas/effnas/searchspace"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// parityLoss is the training-mode loss of net on the parity batch with the
// parity's masks, leaving the BatchNorm statistics as they were.
func parityLoss(t *testing.T, net *Net, p *Parity) float64 {
	t.Helper()
	saved := snapshot(net)
	defer saved.restore(net)
	a := net.Arch
	gr, err := net.Build(p.Batch, p.Size, true)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(gr.G)
	defer vm.Close()
	let := func(n *G.Node, v []float32, shape ...int) {
		if err := G.Let(n, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(slices.Clone(v)))); err != nil {
			t.Fatal(err)
		}
	}
	let(gr.X, p.X, p.Batch, p.Size, p.Size, a.InputChannels)
	let(gr.Y, p.Y, p.Batch, a.NumClasses)
	if gr.DropMask != nil {
		let(gr.DropMask, p.DropMask, p.Batch, a.HeadChannels)
	}
	blocks := map[string]int{}
	for i, b := range a.Blocks() {
		blocks[blockPrefix(b)+".depth.mask"] = i
	}
	for _, dm := range gr.DepthMasks {
		let(dm.Node, p.DepthMasks[blocks[dm.Node.Name()]], p.Batch)
	}
	net.SetBNMode(true, false)
	defer net.SetBNMode(false, false)
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return scalar(gr.lossV)
}

// TestParityDump runs the parity sequence on bench-dw and on a network with
// every block kind and stochastic depth, and checks the recorded gradients
// against central differences of the recorded loss (largest entry of
// every fifth parameter tensor), the BatchNorm update, and the file.
func TestParityDump(t *testing.T) {
	dw, _ := searchspace.Reference("bench-dw")
	for _, c := range []struct {
		arch        searchspace.Arch
		batch, size int
	}{{dw, 4, 28}, {modelProblem(t).Arch, 6, 13}} {
		a := c.arch
		net, err := NewNet(a, tensor.Float32, 2)
		if err != nil {
			t.Fatal(err)
		}
		before := snapshot(net)
		x, y, src, err := ParityBatch(net, nil, nil, c.batch, c.size, 1)
		if err != nil {
			t.Fatal(err)
		}
		p, err := RunParity(net, x, y, c.batch, c.size, 1)
		if err != nil {
			t.Fatal(err)
		}
		p.Source = src
		for i := range net.Params {
			if !slices.Equal(net.Params[i].Value.Data().([]float32), before.params[i]) {
				t.Fatalf("%s: parameter %s changed", a.Name, net.Params[i].Name)
			}
		}
		if (p.DropMask != nil) != (a.Dropout > 0) || len(p.DepthMasks) == 0 != (a.SurvivalProb == 1) {
			t.Errorf("%s: dropout mask %v, %d drop-connect masks", a.Name, p.DropMask != nil, len(p.DepthMasks))
		}
		// BatchNorm: running = 0.9 running + 0.1 batch statistics, from mean 0, variance 1
		// (layers whose input is a BatchNorm output, or a sum of them,
		// through a 1x1 convolution have batch means 0 up to rounding; the
		// stem's input is the image)
		for i := range net.BNs {
			for j, v := range p.VarAfter[i] {
				if v < 0.9 {
					t.Fatalf("%s: BatchNorm %s channel %d after the step: variance %v", a.Name, net.BNNames[i], j, v)
				}
			}
		}
		if m := p.MeanAfter[0]; slices.Max(m) < 1e-4 && slices.Min(m) > -1e-4 {
			t.Errorf("%s: stem BatchNorm running mean %v after the step", a.Name, m)
		}
		if slices.Equal(p.EvalLogits, p.EvalLogitsAfter) || slices.Equal(p.EvalLogits, p.TrainLogits) {
			t.Errorf("%s: evaluation logits do not depend on the statistics", a.Name)
		}
		// restore the statistics before the step for the loss probes
		before.restore(net)
		if l := parityLoss(t, net, p); l != p.Loss {
			t.Fatalf("%s: loss %v, the parity run recorded %v", a.Name, l, p.Loss)
		}
		for i := 0; i < len(net.Params); i += 5 {
			w := net.Params[i].Value.Data().([]float32)
			g := p.Grads[i]
			j := 0
			for k := range g {
				if math.Abs(float64(g[k])) > math.Abs(float64(g[j])) {
					j = k
				}
			}
			orig := w[j]
			h := float32(1e-2) * max(1, float32(math.Abs(float64(orig))))
			w[j] = orig + h
			lp := parityLoss(t, net, p)
			w[j] = orig - h
			lm := parityLoss(t, net, p)
			w[j] = orig
			fd := (lp - lm) / float64(2*h)
			if d := math.Abs(fd - float64(g[j])); d > 0.05*math.Abs(float64(g[j]))+2e-4 {
				t.Errorf("%s: %s[%d]: gradient %v, central difference %v", a.Name, net.Params[i].Name, j, g[j], fd)
			}
		}
		f, err := p.File(net)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := f.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := safetensors.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"x", "y", "eval.logits", "train.logits", "train.loss", "grad.stem.conv.weight",
			"grad.head.dense.bias", "after.head.bn.running_var", "eval_after.logits"} {
			if _, ok := back.Tensor(name); !ok {
				t.Errorf("%s: no %q in the parity file", a.Name, name)
			}
		}
		if x, _ := back.Tensor("x"); !slices.Equal(x.Shape, []int{c.batch, c.size, c.size, 1}) {
			t.Errorf("%s: x shape %v", a.Name, x.Shape)
		}
		if a.SurvivalProb < 1 {
			if _, ok := back.Tensor("mask.blocks.1"); ok {
				t.Errorf("%s: a drop-connect mask for block 1, which has no shortcut", a.Name)
			}
			if _, ok := back.Tensor("mask.blocks.2"); !ok {
				t.Errorf("%s: no drop-connect mask for block 2", a.Name)
			}
		}
	}
}
