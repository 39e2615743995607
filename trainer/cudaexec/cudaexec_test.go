package cudaexec

import (
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/effnas/effnas/trainer/cuda"
	"github.com/effnas/effnas/trainer/cuda/cudatest"
	"github.com/effnas/effnas/trainer/cudaops"
	"github.com/effnas/effnas/trainer/ops"
)

func TestMain(m *testing.M) { os.Exit(cudatest.Run(m)) }

// fakeDevice opens the fake GPU of package cudatest (kernels run on the
// CPU emulator) and loads the kernels.
func fakeDevice(t *testing.T) (*cuda.Device, *cudaops.Kernels, *cudatest.Control) {
	t.Helper()
	dir := cudatest.Dir(t, cudatest.Full)
	ctl := cudatest.Controls(t, dir)
	ctl.SetDevices(1, 9, 0)
	t.Setenv(cudaops.EnvCache, "off")
	d, err := cuda.Open(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var k *cudaops.Kernels
	if err := d.Do(func(c *cuda.Ctx) (err error) { k, err = cudaops.Load(c); return err }); err != nil {
		d.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Do(func(c *cuda.Ctx) error { return k.Close(c) })
		d.Close()
	})
	return d, k, ctl
}

// within checks |dev-cpu| <= rel*|cpu| + abs*max|cpu| elementwise.
func within(t *testing.T, what string, dev, cpu []float32, rel, abs float64) {
	t.Helper()
	if len(dev) != len(cpu) {
		t.Errorf("%s: %d values on the device, %d on the CPU", what, len(dev), len(cpu))
		return
	}
	scale := 0.0
	for _, v := range cpu {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range cpu {
		d := math.Abs(float64(dev[i]) - float64(cpu[i]))
		if !(d <= rel*math.Abs(float64(cpu[i]))+abs*scale) {
			t.Errorf("%s[%d]: device %v, CPU %v (scale %v)", what, i, dev[i], cpu[i], scale)
			return
		}
	}
}

// net is a small graph with every op the trainer's networks use: a
// strided stem convolution without input gradient, BatchNorm+SiLU, a
// depthwise convolution, squeeze-excite (pool, dense, SiLU, dense,
// sigmoid, gate), a 1x1 convolution with BatchNorm, drop-connect, a
// residual sum, pooling, dropout, a dense classifier and the loss.
type net struct {
	g                *G.ExprGraph
	x, y, mask, drop *G.Node
	params           []*G.Node
	bns              []*ops.BatchNorm
	loss, logits     *G.Node
}

func buildNet(t *testing.T, r *rand.Rand, train bool) *net {
	t.Helper()
	g := G.NewGraph()
	nt := &net{g: g}
	val := func(lo, hi float64, shape ...int) *tensor.Dense {
		v := make([]float32, tensor.Shape(shape).TotalSize())
		for i := range v {
			v[i] = float32(lo + (hi-lo)*r.Float64())
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	param := func(name string, lo, hi float64, shape ...int) *G.Node {
		n := G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(val(lo, hi, shape...)))
		nt.params = append(nt.params, n)
		return n
	}
	input := func(name string, shape ...int) *G.Node {
		return G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name))
	}
	must := func(n *G.Node, err error) *G.Node {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	bn := func(c int) *ops.BatchNorm {
		b, _ := ops.NewBatchNorm(c, ops.DefaultBNMomentum, ops.DefaultBNEpsilon)
		b.Training = train
		nt.bns = append(nt.bns, b)
		return b
	}
	const batch = 3
	nt.x = input("x", batch, 7, 7, 2)
	h := must(ops.Conv2DInput(nt.x, param("stem", -0.5, 0.5, 3, 3, 2, 8), 2))
	h = must(bn(8).ApplySiLU(h, param("g0", 0.5, 1.5, 8), param("b0", -0.2, 0.2, 8)))
	d := must(ops.DepthwiseConv2D(h, param("dw", -0.5, 0.5, 3, 3, 8), 1))
	d = must(bn(8).ApplySiLU(d, param("g1", 0.5, 1.5, 8), param("b1", -0.2, 0.2, 8)))
	s := must(ops.GlobalAvgPool(d))
	s = must(ops.SiLU(must(ops.BiasAdd(must(G.Mul(s, param("se1", -0.5, 0.5, 8, 2))), param("se1b", -0.1, 0.1, 2)))))
	s = must(ops.Sigmoid(must(ops.BiasAdd(must(G.Mul(s, param("se2", -0.5, 0.5, 2, 8))), param("se2b", -0.1, 0.1, 8)))))
	d = must(ops.ChannelScale(d, s))
	d = must(bn(8).Apply(must(ops.Conv2D(d, param("proj", -0.5, 0.5, 1, 1, 8, 8), 1)), param("g2", 0.5, 1.5, 8), param("b2", -0.2, 0.2, 8)))
	if train {
		nt.mask = input("mask", batch)
		d = must(ops.SampleScale(d, nt.mask))
	}
	h = must(ops.Add(d, h))
	h = must(ops.Conv2D(h, param("down", -0.5, 0.5, 3, 3, 8, 6), 2))
	h = must(ops.GlobalAvgPool(h))
	if train {
		nt.drop = input("drop", batch, 6)
		h = must(G.HadamardProd(h, nt.drop))
	}
	nt.logits = must(ops.BiasAdd(must(G.Mul(h, param("fc", -0.5, 0.5, 6, 5))), param("fcb", -0.1, 0.1, 5)))
	if train {
		nt.y = input("y", batch, 5)
		nt.loss = must(ops.SoftmaxCrossEntropy(nt.logits, nt.y))
		if _, err := G.Grad(nt.loss, nt.params...); err != nil {
			t.Fatal(err)
		}
	}
	return nt
}

// feed gives the graph's inputs values (and returns them for the device).
func (nt *net) feed(t *testing.T, r *rand.Rand) map[*G.Node][]float32 {
	t.Helper()
	vals := map[*G.Node][]float32{}
	for _, n := range []*G.Node{nt.x, nt.y, nt.mask, nt.drop} {
		if n == nil {
			continue
		}
		v := make([]float32, n.Shape().TotalSize())
		for i := range v {
			switch n {
			case nt.mask, nt.drop: // one dropped sample or unit, the rest scaled
				v[i] = 1.25
				if i == 1 {
					v[i] = 0
				}
			case nt.y:
				v[i] = float32(r.Float64())
			default:
				v[i] = float32(2*r.Float64() - 1)
			}
		}
		vals[n] = v
		if err := G.Let(n, tensor.New(tensor.WithShape(n.Shape()...), tensor.WithBacking(v))); err != nil {
			t.Fatal(err)
		}
	}
	return vals
}

// deviceRun compiles the graph on the device with the parameters bound,
// runs it in mode and returns the outputs' values and the layers'
// running statistics.
func deviceRun(t *testing.T, d *cuda.Device, k *cudaops.Kernels, nt *net, in map[*G.Node][]float32, outs []*G.Node,
	mode cudaops.BNMode) (vals [][]float32, stats [][]float64, st Stats) {
	t.Helper()
	err := d.Do(func(c *cuda.Ctx) error {
		bound := map[*G.Node]cuda.Buffer{}
		for _, p := range nt.params {
			b, err := c.Alloc(p.Shape().TotalSize())
			if err != nil {
				return err
			}
			defer c.Free(b)
			if err := c.Upload(b, p.Value().Data().([]float32)); err != nil {
				return err
			}
			bound[p] = b
		}
		layers := map[*ops.BatchNorm]*cudaops.BatchNorm{}
		for _, bn := range nt.bns {
			l, err := k.NewBatchNorm(c, bn.Channels(), bn.Momentum(), bn.Eps())
			if err != nil {
				return err
			}
			defer l.Free(c)
			m, v := bn.Stats()
			if err := l.SetStats(c, m, v); err != nil {
				return err
			}
			layers[bn] = l
		}
		var inputs []*G.Node
		for n := range in {
			inputs = append(inputs, n)
		}
		p, err := Compile(c, k, nt.g, Spec{Inputs: inputs, Bound: bound, Outputs: outs,
			BatchNorm: func(bn *ops.BatchNorm) (*cudaops.BatchNorm, error) { return layers[bn], nil }})
		if err != nil {
			return err
		}
		defer p.Free(c)
		st = p.Stats()
		for n, v := range in {
			b, ok := p.Buffer(n)
			if !ok {
				t.Fatalf("no buffer for input %s", n.Name())
			}
			if err := c.Upload(b, v); err != nil {
				return err
			}
		}
		if err := p.Run(c, mode); err != nil {
			return err
		}
		for _, n := range outs {
			b, ok := p.Buffer(n)
			if !ok {
				t.Fatalf("no buffer for output %s", n.Name())
			}
			v := make([]float32, size(n))
			if err := c.Download(v, b); err != nil {
				return err
			}
			vals = append(vals, v)
		}
		for _, bn := range nt.bns {
			m, v, err := layers[bn].Stats(c)
			if err != nil {
				return err
			}
			stats = append(stats, m, v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return vals, stats, st
}

func floats(v G.Value) []float32 {
	switch x := v.(type) {
	case *G.F32:
		return []float32{float32(*x)}
	case tensor.Tensor:
		return append([]float32(nil), x.Data().([]float32)...)
	}
	return nil
}

// TestTrainingGraphMatchesTheTapeMachine runs one forward and backward
// pass of a graph with every op of the trainer's networks on the device
// and on gorgonia's tape machine: loss, logits, every parameter's
// gradient and the BatchNorm running statistics agree to float32
// rounding (reductions in another order).
func TestTrainingGraphMatchesTheTapeMachine(t *testing.T) {
	d, k, _ := fakeDevice(t)
	r := rand.New(rand.NewPCG(1, 2))
	nt := buildNet(t, r, true)
	in := nt.feed(t, r)
	outs := append([]*G.Node{nt.loss, nt.logits}, derivs(t, nt.params)...)
	// the device starts from the statistics the CPU starts from
	dev, devStats, st := deviceRun(t, d, k, nt, in, outs, cudaops.BNTrain)
	var lossV, logitsV G.Value
	G.Read(nt.loss, &lossV)
	G.Read(nt.logits, &logitsV)
	m := G.NewTapeMachine(nt.g, G.BindDualValues(nt.params...))
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	within(t, "loss", dev[0], floats(lossV), 1e-5, 0)
	within(t, "logits", dev[1], floats(logitsV), 1e-5, 1e-6)
	for i, p := range nt.params {
		g, err := p.Grad()
		if err != nil {
			t.Fatal(err)
		}
		within(t, "gradient of "+p.Name(), dev[2+i], floats(g), 1e-4, 1e-5)
	}
	for i, bn := range nt.bns {
		mean, vari := bn.Stats()
		within(t, "running mean", f32(devStats[2*i]), f32(mean), 1e-5, 1e-6)
		within(t, "running variance", f32(devStats[2*i+1]), f32(vari), 1e-5, 1e-6)
	}
	// Plan, without a device, predicts the compiled program
	var inputs []*G.Node
	for n := range in {
		inputs = append(inputs, n)
	}
	bound := map[*G.Node]cuda.Buffer{}
	for _, p := range nt.params {
		bound[p] = cuda.Buffer{}
	}
	if ps, err := Plan(nt.g, Spec{Inputs: inputs, Bound: bound, Outputs: outs}); err != nil || ps != st {
		t.Errorf("Plan %+v, %v; compiled %+v", ps, err, st)
	}
	// reuse: the intermediate values share memory
	if st.ArenaBytes <= 0 || st.ArenaBytes*3 > st.NaiveBytes*2 {
		t.Errorf("arena %d bytes for %d bytes of values: no reuse", st.ArenaBytes, st.NaiveBytes)
	}
	t.Logf("%+v", st)
}

func derivs(t *testing.T, ps []*G.Node) []*G.Node {
	var out []*G.Node
	for _, p := range ps {
		if p.Deriv() == nil {
			t.Fatalf("no gradient node for %s", p.Name())
		}
		out = append(out, p.Deriv())
	}
	return out
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// TestInferenceGraph: the forward graph in evaluation mode (running
// statistics) and in recalibration mode (batch statistics averaged into
// the running ones) against the tape machine.
func TestInferenceGraph(t *testing.T) {
	d, k, _ := fakeDevice(t)
	for _, recal := range []bool{false, true} {
		r := rand.New(rand.NewPCG(3, 4))
		nt := buildNet(t, r, false)
		for i, bn := range nt.bns {
			mean, vari := make([]float64, bn.Channels()), make([]float64, bn.Channels())
			for j := range mean {
				mean[j], vari[j] = 0.1*float64(i+j), 0.5+0.1*float64(j)
			}
			bn.SetStats(mean, vari)
			bn.Recalibrate = recal
			if recal {
				bn.ResetStats()
			}
		}
		in := nt.feed(t, r)
		mode := cudaops.BNEval
		if recal {
			mode = cudaops.BNRecalibrate
		}
		dev, devStats, _ := deviceRun(t, d, k, nt, in, []*G.Node{nt.logits}, mode)
		var logitsV G.Value
		G.Read(nt.logits, &logitsV)
		m := G.NewTapeMachine(nt.g)
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		m.Close()
		within(t, "logits", dev[0], floats(logitsV), 1e-5, 1e-6)
		for i, bn := range nt.bns {
			mean, vari := bn.Stats()
			within(t, "running mean", f32(devStats[2*i]), f32(mean), 1e-5, 1e-6)
			within(t, "running variance", f32(devStats[2*i+1]), f32(vari), 1e-5, 1e-6)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	d, k, _ := fakeDevice(t)
	compile := func(g *G.ExprGraph, s Spec) error {
		return d.Do(func(c *cuda.Ctx) error {
			p, err := Compile(c, k, g, s)
			if err == nil {
				p.Free(c)
			}
			return err
		})
	}
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("x"))
	y := G.Must(G.Tanh(x))
	err := compile(g, Spec{Inputs: []*G.Node{x}, Outputs: []*G.Node{y}})
	if err == nil || !strings.Contains(err.Error(), "no device mapping") || !strings.Contains(err.Error(), "tanh") {
		t.Errorf("an op without a mapping: %v", err)
	}
	z := G.Must(ops.SiLU(x))
	err = compile(g, Spec{Outputs: []*G.Node{z}})
	if err == nil || !strings.Contains(err.Error(), `"x"`) || !strings.Contains(err.Error(), "neither bound nor among the inputs") {
		t.Errorf("an unbound input: %v", err)
	}
	if err := compile(g, Spec{Inputs: []*G.Node{x}}); err == nil {
		t.Error("no outputs: no error")
	}
	g64 := G.NewGraph()
	x64 := G.NewMatrix(g64, tensor.Float64, G.WithShape(2, 3), G.WithName("x"))
	if err := compile(g64, Spec{Inputs: []*G.Node{x64}, Outputs: []*G.Node{G.Must(ops.SiLU(x64))}}); err == nil ||
		!strings.Contains(err.Error(), "float32 only") {
		t.Errorf("float64: %v", err)
	}
	// a training program runs in training mode only
	r := rand.New(rand.NewPCG(1, 2))
	nt := buildNet(t, r, true)
	err = d.Do(func(c *cuda.Ctx) error {
		bound := map[*G.Node]cuda.Buffer{}
		for _, p := range nt.params {
			b, err := c.Alloc(p.Shape().TotalSize())
			if err != nil {
				return err
			}
			defer c.Free(b)
			bound[p] = b
		}
		var layers []*cudaops.BatchNorm
		p, err := Compile(c, k, nt.g, Spec{Inputs: []*G.Node{nt.x, nt.y, nt.mask, nt.drop}, Bound: bound,
			Outputs: append([]*G.Node{nt.loss}, derivs(t, nt.params)...),
			BatchNorm: func(bn *ops.BatchNorm) (*cudaops.BatchNorm, error) {
				l, err := k.NewBatchNorm(c, bn.Channels(), bn.Momentum(), bn.Eps())
				layers = append(layers, l)
				return l, err
			}})
		defer func() {
			for _, l := range layers {
				l.Free(c)
			}
		}()
		if err != nil {
			return err
		}
		defer p.Free(c)
		return p.Run(c, cudaops.BNEval)
	})
	if err == nil || !strings.Contains(err.Error(), "training mode only") {
		t.Errorf("a training program in evaluation mode: %v", err)
	}
}

func TestPlanner(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	type live struct{ off, n int }
	var pl planner
	var cur []live
	total, liveNow, maxLive := 0, 0, 0
	for step := 0; step < 4000; step++ {
		if len(cur) > 20 || len(cur) > 0 && r.IntN(2) == 0 {
			i := r.IntN(len(cur))
			pl.release(cur[i].off, cur[i].n)
			liveNow -= alignUp(cur[i].n)
			cur = append(cur[:i], cur[i+1:]...)
			continue
		}
		n := 1 + r.IntN(500)
		off := pl.alloc(n)
		total += alignUp(n)
		liveNow += alignUp(n)
		maxLive = max(maxLive, liveNow)
		if off%align != 0 {
			t.Fatalf("offset %d not aligned", off)
		}
		for _, l := range cur {
			if off < l.off+alignUp(l.n) && l.off < off+alignUp(n) {
				t.Fatalf("block [%d,+%d) overlaps a live one [%d,+%d)", off, n, l.off, l.n)
			}
		}
		if off+alignUp(n) > pl.Peak {
			t.Fatalf("block beyond the peak %d", pl.Peak)
		}
		cur = append(cur, live{off, n})
	}
	// fragmentation stays bounded: the peak is within twice the most
	// ever live at once, a small part of everything allocated
	if pl.Peak > 2*maxLive || pl.Peak > total/10 {
		t.Errorf("peak %d, at most %d live, %d allocated in all", pl.Peak, maxLive, total)
	}
	t.Logf("peak %d, at most %d live, %d allocated in all", pl.Peak, maxLive, total)
	for _, l := range cur {
		pl.release(l.off, l.n)
	}
	if pl.top != 0 || len(pl.free) != 0 {
		t.Errorf("everything released: top %d, free list %v", pl.top, pl.free)
	}
}
