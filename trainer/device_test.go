package trainer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer/cuda"
	"github.com/effnas/effnas/trainer/cuda/cudatest"
	"github.com/effnas/effnas/trainer/cudaexec"
	"github.com/effnas/effnas/trainer/cudaops"
	"github.com/effnas/effnas/trainer/data"
)

func TestMain(m *testing.M) { os.Exit(cudatest.Run(m)) }

// The tolerances of the device against the CPU trainer (float32 on both
// sides; |device-cpu| <= rel*|cpu| + abs*max|cpu| elementwise):
var (
	// tolLoss: the loss and logits, sums of a few hundred products in
	// another order.
	tolLoss = tol{1e-5, 1e-6}
	// tolGrad: gradients, after a backward pass whose every reduction
	// (BatchNorm, convolution weights, pooling) sums in another order
	// (float64 parts on the device, float32 blocks on the CPU).
	tolGrad = tol{2e-4, 2e-5}
	// tolUpdate: the change of the parameters and of the optimizer state
	// in a step from the same gradients (the CPU solver is given the
	// device's): elementwise float32 formulas, a rounding apart. (From
	// each side's own gradients the updates differ more: RMSProp's first
	// step divides a gradient near 0 by epsilon, lr/eps = 10 times its
	// rounding differences.)
	tolUpdate = tol{1e-5, 1e-6}
	// tolStats: BatchNorm running statistics (float64 on both sides, of
	// float32 activations that differ by their rounding), on the scale of
	// all layers' statistics.
	tolStats = tol{1e-4, 1e-5}
	// tolSteps: the losses of several steps, each step's differences
	// carried into the next.
	tolSteps = tol{1e-4, 0}
)

type tol struct{ rel, abs float64 }

func closeTo(t *testing.T, what string, dev, cpu []float32, tl tol) {
	t.Helper()
	if len(dev) != len(cpu) {
		t.Errorf("%s: %d values on the device, %d on the CPU", what, len(dev), len(cpu))
		return
	}
	scale := 0.0
	for _, v := range cpu {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	worst, at := 0.0, -1
	for i := range cpu {
		d := math.Abs(float64(dev[i]) - float64(cpu[i]))
		bound := tl.rel*math.Abs(float64(cpu[i])) + tl.abs*scale
		if !(d <= bound) {
			t.Errorf("%s[%d]: device %v, CPU %v (|diff| %.3g > %.3g)", what, i, dev[i], cpu[i], d, bound)
			return
		}
		if bound > 0 && d/bound > worst {
			worst, at = d/bound, i
		}
	}
	_ = at
}

// closeToAll compares values of several tensors (named) on one scale,
// the largest CPU value of all: an entry of a tensor whose values are all
// rounding noise around 0 (the beta gradient of a BatchNorm followed by
// another) is judged against the others.
func closeToAll(t *testing.T, what string, names []string, dev, cpu [][]float32, tl tol) {
	t.Helper()
	scale := 0.0
	for _, v := range cpu {
		for _, x := range v {
			scale = math.Max(scale, math.Abs(float64(x)))
		}
	}
	bad := 0
	for i := range cpu {
		if len(dev[i]) != len(cpu[i]) {
			t.Errorf("%s of %s: %d values on the device, %d on the CPU", what, nameOf(names, i), len(dev[i]), len(cpu[i]))
			continue
		}
		for j := range cpu[i] {
			d := math.Abs(float64(dev[i][j]) - float64(cpu[i][j]))
			if bound := tl.rel*math.Abs(float64(cpu[i][j])) + tl.abs*scale; !(d <= bound) {
				if bad++; bad <= 5 {
					t.Errorf("%s of %s[%d]: device %v, CPU %v (|diff| %.3g > %.3g)", what, nameOf(names, i), j, dev[i][j], cpu[i][j], d, bound)
				}
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d values out of tolerance in all", what, bad)
	}
}

// minus returns a-b for each tensor.
func minus(a, b [][]float32) [][]float32 {
	out := make([][]float32, len(a))
	for i := range a {
		out[i] = make([]float32, len(a[i]))
		for j := range a[i] {
			out[i][j] = a[i][j] - b[i][j]
		}
	}
	return out
}

func f32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// fakeGPU opens the fake GPU of package cudatest (its kernels run on the
// CPU emulator) for the trainer.
func fakeGPU(t *testing.T) (*Device, *cudatest.Control) {
	t.Helper()
	dir := cudatest.Dir(t, cudatest.Full)
	ctl := cudatest.Controls(t, dir)
	ctl.SetDevices(1, 9, 0)
	t.Setenv(cudaops.EnvCache, "off")
	cu, err := cuda.Open(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDevice(cu)
	if err != nil {
		cu.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
		cu.Close()
		if n := ctl.LiveAllocs(); n != 0 {
			t.Errorf("%d device allocations left", n)
		}
	})
	return d, ctl
}

// deviceArchs are the networks the device is checked on, at small sizes:
// bench-dw, bench-fused and sampled architectures of the tiny space (with
// squeeze-excite, drop-connect and dropout).
func deviceArchs(t *testing.T) []searchspace.Arch {
	t.Helper()
	var out []searchspace.Arch
	for _, name := range []string{"bench-dw", "bench-fused"} {
		a, err := searchspace.Reference(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a.WithInput(8, 1, 10, true))
	}
	sp := searchspace.NewSpace(tinyBackbone(), true)
	r := rand.New(rand.NewPCG(4, 4))
	for len(out) < 4 {
		a, err := sp.Decode(sp.Sample(r))
		if err != nil {
			t.Fatal(err)
		}
		a.SurvivalProb = 0.8
		a.Name = "sampled " + strings.Join(a.BlockStrings(), ",")
		out = append(out, a)
	}
	return out
}

// randomBatch fills a stepper's batch from r: normal images, soft targets.
func randomBatch(st *stepper, r *rand.Rand) {
	for i := range st.x {
		st.x[i] = float32(r.NormFloat64())
	}
	k := st.net.Arch.NumClasses
	for i := 0; i < len(st.y)/k; i++ {
		clear(st.y[i*k : (i+1)*k])
		st.y[i*k+r.IntN(k)] = 0.9
		st.y[i*k+r.IntN(k)] += 0.1
	}
}

func paramValues(n *Net) [][]float32 {
	var out [][]float32
	for _, p := range n.Params {
		out = append(out, append([]float32(nil), p.Value.Data().([]float32)...))
	}
	return out
}

// TestDeviceStepMatchesCPU: one training step on the device against the
// CPU trainer's step (forward and backward on the tape machine, then the
// solver) on the same network, batch and masks: the loss, every
// parameter's gradient, the updated parameters and the BatchNorm running
// statistics.
func TestDeviceStepMatchesCPU(t *testing.T) {
	d, ctl := fakeGPU(t)
	const batch = 2
	for _, a := range deviceArchs(t) {
		t.Run(a.Name, func(t *testing.T) {
			ctl.ResetLogs()
			size := a.ImageSize
			if size > 12 {
				size = 12
			}
			s := Settings{Seed: 3, LR: 0.01}.withDefaults()
			dev, err := NewNet(a, tensor.Float32, 5)
			if err != nil {
				t.Fatal(err)
			}
			cpu, _ := NewNet(a, tensor.Float32, 5)
			w0 := paramValues(cpu)
			var names []string
			for _, p := range cpu.Params {
				names = append(names, p.Name)
			}
			// the device step
			restore := dev.onDevice(d)
			st, err := newStepper(dev, batch, size, s, 9, nil)
			restore()
			if err != nil {
				t.Fatal(err)
			}
			defer st.close()
			randomBatch(st, rand.New(rand.NewPCG(1, 1)))
			loss, err := st.step(s.LR)
			if err != nil {
				t.Fatal(err)
			}
			ds := st.dev
			grads := make([][]float32, len(dev.Params))
			if err := d.do(func(c *cuda.Ctx) error {
				for i := range dev.Params {
					grads[i] = make([]float32, ds.net.sizes[i])
					if err := c.Download(grads[i], ds.grads.Slice(ds.net.off[i], ds.net.sizes[i])); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := ds.sync(); err != nil {
				t.Fatal(err)
			}
			// the CPU step on the same batch and masks
			gr, err := cpu.Build(batch, size, true)
			if err != nil {
				t.Fatal(err)
			}
			let := func(n *G.Node, shape []int, v []float32) {
				if err := G.Let(n, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float32(nil), v...)))); err != nil {
					t.Fatal(err)
				}
			}
			let(gr.X, gr.X.Shape(), st.x)
			let(gr.Y, gr.Y.Shape(), st.y)
			if (gr.DropMask != nil) != (st.drop != nil) || len(gr.DepthMasks) != len(st.depth) {
				t.Fatal("the graphs differ in their masks")
			}
			if gr.DropMask != nil {
				let(gr.DropMask, gr.DropMask.Shape(), st.drop.Data().([]float32))
			}
			for i, m := range gr.DepthMasks {
				let(m.Node, m.Node.Shape(), st.depth[i].Data().([]float32))
			}
			cpu.SetBNMode(true, false)
			vm := G.NewTapeMachine(gr.G, G.BindDualValues(gr.Params...))
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "loss", []float32{float32(loss)}, []float32{float32(scalar(gr.lossV))}, tolLoss)
			cpuGrads := make([][]float32, len(cpu.Params))
			for i, n := range gr.Params {
				g, err := n.Grad()
				if err != nil {
					t.Fatal(err)
				}
				cpuGrads[i] = append([]float32(nil), g.Data().([]float32)...)
			}
			closeToAll(t, "gradient", names, grads, cpuGrads, tolGrad)
			sol, err := newSolver(s, cpu.Params)
			if err != nil {
				t.Fatal(err)
			}
			devGrads := make([][]float32, len(grads))
			for i := range grads {
				devGrads[i] = append([]float32(nil), grads[i]...)
			}
			sol.step(s.LR, devGrads)
			closeToAll(t, "update", names, minus(paramValues(dev), w0), minus(paramValues(cpu), w0), tolUpdate)
			var cms, cvs, dms, dvs [][]float32
			for i, bn := range cpu.BNs {
				cm, cv := bn.Stats()
				dm, dv := dev.BNs[i].Stats()
				cms, cvs, dms, dvs = append(cms, f32s(cm)), append(cvs, f32s(cv)), append(dms, f32s(dm)), append(dvs, f32s(dv))
			}
			closeToAll(t, "running mean", cpu.BNNames, dms, cms, tolStats)
			closeToAll(t, "running variance", cpu.BNNames, dvs, cvs, tolStats)
			// and the optimizer state came back with the weights
			closeToAll(t, "momentum", names, st.solver.slot1, sol.slot1, tolUpdate)
			closeToAll(t, "mean square", names, st.solver.slot2, sol.slot2, tolUpdate)
			if st.solver.t != 1 {
				t.Errorf("solver steps %d, want 1", st.solver.t)
			}
		})
	}
}

// smallProblem is tinyProblem cut down for the emulator: 96 training and
// 32 validation samples of the same synthetic task.
func smallProblem(t *testing.T) Problem {
	p := tinyProblem(t)
	p.Train, p.Val = p.Train[:96], p.Val[:32]
	return p
}

// runBoth trains a network from one seed on the CPU and on the device
// with the same settings and returns the results, each step's loss and
// the networks.
func runBoth(t *testing.T, d *Device, p Problem, s Settings, b Budget) (res [2]Result, losses [2][]float64, nets [2]*Net) {
	t.Helper()
	for i, dev := range []*Device{nil, d} {
		ss := s
		ss.Device = dev
		ss.Progress = func(pr Progress) {
			if pr.Phase == PhaseTrain {
				losses[i] = append(losses[i], pr.StepLoss)
			}
		}
		r, net, err := Train(context.Background(), p, ss, b)
		if err != nil {
			t.Fatalf("device %v: %v", dev, err)
		}
		res[i], nets[i] = r, net
	}
	return res, losses, nets
}

// TestDeviceTrainingMatchesCPU: Train with Settings.Device gives the CPU
// trainer's run: the same loss at every step (dropout and drop-connect
// masks drawn alike), for each optimizer, the trained weights back in
// the network, the same recalibrated statistics and scores, and the GPU
// in the result's host.
func TestDeviceTrainingMatchesCPU(t *testing.T) {
	d, _ := fakeGPU(t)
	p := smallProblem(t)
	for _, opt := range []string{RMSProp, Adam, SGD, "progressive"} {
		t.Run(opt, func(t *testing.T) {
			s := Settings{Seed: 11, LR: 3e-3, Optimizer: opt}
			b := Budget{Steps: 3, Batch: 6, EvalBatch: 16, RecalBatches: 2, TimingWarmup: 1, TimingSteps: 2}
			if opt != RMSProp {
				b.RecalBatches, b.TimingSteps = -1, -1
			}
			if opt == "progressive" {
				// two stages: the optimizer state and the mask generator
				// go from the first stage's device run to the second's
				// through Settings.State and the host
				s.Optimizer = RMSProp
				s.Progressive = &Progressive{Stages: 2, MinImageSize: 8, MaxImageSize: 12, SizeMultiple: 1, MinDropout: 0.1, MaxDropout: 0.2}
			}
			res, losses, nets := runBoth(t, d, p, s, b)
			if len(losses[1]) != 3 {
				t.Fatalf("%d steps reported on the device", len(losses[1]))
			}
			closeTo(t, "losses", f32s(losses[1]), f32s(losses[0]), tolSteps)
			var names []string
			for _, q := range nets[0].Params {
				names = append(names, q.Name)
			}
			// three steps of each side's own gradients: the first step's
			// differences (divided by epsilon near 0), carried on
			dw, cw := paramValues(nets[1]), paramValues(nets[0])
			if s.Optimizer == Adam {
				// a BatchNorm feeding another through a convolution without
				// a residual (a stage's first projection) has a beta
				// gradient of rounding noise around 0, which Adam (epsilon
				// 1e-8) turns into steps of lr of either sign
				for i, n := range names {
					if strings.HasSuffix(n, ".project.bn.beta") {
						dw[i], cw[i] = nil, nil
					}
				}
			}
			closeToAll(t, "trained weights", names, dw, cw, tol{1e-3, 1e-4})
			if math.Abs(res[1].Loss-res[0].Loss) > 1e-3*res[0].Loss || math.Abs(res[1].Accuracy-res[0].Accuracy) > 1.0/32 {
				t.Errorf("validation: device %.4f (loss %.5f), CPU %.4f (loss %.5f)", res[1].Accuracy, res[1].Loss, res[0].Accuracy, res[0].Loss)
			}
			if g := res[1].Host.GPU; g == nil || g.Capability != "9.0" || g.Precision != "FP32" || !strings.Contains(g.Libraries, "cudnn") {
				t.Errorf("device host %+v", g)
			}
			if res[0].Host.GPU != nil {
				t.Errorf("CPU host %+v", res[0].Host.GPU)
			}
			if opt == RMSProp {
				var cms, dms [][]float32
				for i, bn := range nets[0].BNs {
					cm, cv := bn.Stats()
					dm, dv := nets[1].BNs[i].Stats()
					cms, dms = append(cms, f32s(cm), f32s(cv)), append(dms, f32s(dm), f32s(dv))
					if bn.RecalibrationBatches() != 2 || nets[1].BNs[i].RecalibrationBatches() != 2 {
						t.Errorf("recalibration batches %d, device %d", bn.RecalibrationBatches(), nets[1].BNs[i].RecalibrationBatches())
					}
				}
				closeToAll(t, "recalibrated statistics", nil, dms, cms, tol{1e-3, 1e-4})
				if res[1].StepTime.Count != 2 || !(res[1].StepTime.Median > 0) || !(res[1].ForwardTime.Median > 0) {
					t.Errorf("device timing %+v, forward %+v", res[1].StepTime, res[1].ForwardTime)
				}
			}
		})
	}
}

func nameOf(names []string, i int) string {
	if i < len(names) {
		return names[i]
	}
	return fmt.Sprintf("tensor %d", i)
}

// TestDeviceCheckpointAndEvaluate: a network trained on the device goes
// through a checkpoint; evaluating it with recalibration on the device
// and on the CPU gives the same statistics and scores.
func TestDeviceCheckpointAndEvaluate(t *testing.T) {
	d, _ := fakeGPU(t)
	p := smallProblem(t)
	res, net, err := Train(context.Background(), p, Settings{Seed: 2, LR: 3e-3, Device: d},
		Budget{Steps: 2, Batch: 8, EvalBatch: 16, RecalBatches: -1, TimingSteps: -1})
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/dev.safetensors"
	if err := SaveModel(path, Model{Net: net, Norm: &res.Norm}); err != nil {
		t.Fatal(err)
	}
	ck, err := LoadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, q := range ck.Net.Params {
		w, want := q.Value.Data().([]float32), net.Params[i].Value.Data().([]float32)
		for j := range w {
			if w[j] != want[j] {
				t.Fatalf("%s[%d]: %v after loading, %v trained", q.Name, j, w[j], want[j])
			}
		}
	}
	pe := Problem{Data: p.Data, Train: p.Train, Val: p.Val}
	e := Eval{Batch: 16, ImageSize: 12, Norm: ck.Norm, RecalBatches: 2, Seed: 3}
	cpu, err := ck.Net.Evaluate(context.Background(), pe, e)
	if err != nil {
		t.Fatal(err)
	}
	e.Device = d
	dev, err := net.Evaluate(context.Background(), pe, e)
	if err != nil {
		t.Fatal(err)
	}
	if dev.Accuracy != cpu.Accuracy || math.Abs(dev.Loss-cpu.Loss) > 1e-4*cpu.Loss {
		t.Errorf("device %.4f (loss %.6f), CPU %.4f (loss %.6f)", dev.Accuracy, dev.Loss, cpu.Accuracy, cpu.Loss)
	}
	var cs, ds [][]float32
	for i, bn := range ck.Net.BNs {
		cm, cv := bn.Stats()
		dm, dv := net.BNs[i].Stats()
		cs, ds = append(cs, f32s(cm), f32s(cv)), append(ds, f32s(dm), f32s(dv))
	}
	closeToAll(t, "recalibrated statistics", nil, ds, cs, tolStats)
	if net.dev != nil {
		t.Error("the network still points at the device after Evaluate")
	}
}

// TestDeviceMeasureAndProfile: timing on the device leaves the network
// as it was; the profile names the ops of a step.
func TestDeviceMeasureAndProfile(t *testing.T) {
	d, _ := fakeGPU(t)
	a := tinyBackbone()
	net, err := NewNet(a, tensor.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	w0 := paramValues(net)
	m0, v0 := net.BNs[0].Stats()
	tm := Timing{Batch: 4, ImageSize: 8, Warmup: 1, Steps: 2}
	mm, err := net.Measure(context.Background(), tm, Settings{Seed: 1, Device: d})
	if err != nil {
		t.Fatal(err)
	}
	tr, fw := mm.StepTime, mm.ForwardTime
	if g := mm.Host.GPU; g == nil || g.Name != "Fake GPU 0" {
		t.Errorf("measurement's host GPU %+v", g)
	}
	if tr.Count != 2 || !(tr.Median > 0) || fw.Count != 2 || !(fw.Median > 0) {
		t.Errorf("step %+v, forward %+v", tr, fw)
	}
	for i, w := range paramValues(net) {
		for j := range w {
			if w[j] != w0[i][j] {
				t.Fatalf("measuring changed %s", net.Params[i].Name)
			}
		}
	}
	if m, v := net.BNs[0].Stats(); m[0] != m0[0] || v[0] != v0[0] {
		t.Error("measuring changed the BatchNorm statistics")
	}
	p, err := net.Profile(context.Background(), tm, Settings{Seed: 1, Device: d})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var sum time.Duration
	for _, o := range p.Ops {
		seen[o.Op] = true
		sum += o.Total
		if o.Calls < 1 || o.Shape == "" {
			t.Errorf("entry %+v", o)
		}
	}
	for _, op := range []string{"Conv2D", "Conv2DGradW", "DepthwiseConv2D", "BatchNormSiLU", "BatchNormBackward", "SoftmaxCrossEntropy", "A"} {
		if !seen[op] {
			t.Errorf("no %s in the profile %v", op, p.Ops)
		}
	}
	if p.Steps != 2 || !(p.Step > 0) || !(sum > 0) {
		t.Errorf("profile: step %v, ops %v, other %v", p.Step, sum, p.Other)
	}
}

// TestDeviceDivergedStepLeavesWeights: a step whose loss is not finite
// changes no weight and no optimizer state (the kernels skip the update,
// as the CPU skips the solver), and nothing is copied back.
func TestDeviceDivergedStepLeavesWeights(t *testing.T) {
	d, _ := fakeGPU(t)
	net, err := NewNet(tinyBackbone(), tensor.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.onDevice(d)()
	st, err := newStepper(net, 2, 8, Settings{Seed: 1}.withDefaults(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	randomBatch(st, rand.New(rand.NewPCG(1, 2)))
	st.x[0] = float32(math.NaN())
	loss, err := st.step(1e-3)
	if err != nil || !math.IsNaN(loss) {
		t.Fatalf("loss %v, %v", loss, err)
	}
	w0 := paramValues(net)
	err = d.do(func(c *cuda.Ctx) error {
		for i := range net.Params {
			if err := c.Download(net.Params[i].Value.Data().([]float32), st.dev.net.param(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range paramValues(net) {
		for j := range w {
			if w[j] != w0[i][j] {
				t.Fatalf("%s[%d] changed by a diverged step: %v, was %v", net.Params[i].Name, j, w[j], w0[i][j])
			}
		}
	}
	if st.solver.t != 0 || st.dev.steps != 0 {
		t.Errorf("solver steps %d, device steps %d after a diverged step", st.solver.t, st.dev.steps)
	}
	st.close()
}

func TestDeviceErrors(t *testing.T) {
	if _, err := NewDevice(nil); err == nil {
		t.Error("NewDevice(nil): no error")
	}
	d, _ := fakeGPU(t)
	p := smallProblem(t)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err := Train(context.Background(), p, Settings{Seed: 1, Device: d}, Budget{Steps: 1, Batch: 8, TimingSteps: -1, RecalBatches: -1})
	if err == nil || !strings.Contains(err.Error(), "device is closed") {
		t.Errorf("training on a closed device: %v", err)
	}
}

// TestDevicePlanMemory plans (without a device) the programs of the GPU
// check's configurations: the training step of efficientnetv2-b0 at 224
// with batch 64 fits a GPU with room to spare, and liveness reuse keeps
// the arena under half of a buffer per value. The figures are logged
// (go test ./trainer/ -run DevicePlanMemory -v).
func TestDevicePlanMemory(t *testing.T) {
	for _, c := range []struct {
		name        string
		size, batch int
		maxGiB      float64
	}{{"bench-dw", 28, 64, 0.5}, {"bench-dw", 28, 256, 1}, {"efficientnetv2-b0", 224, 64, 6}} {
		a, err := searchspace.Reference(c.name)
		if err != nil {
			t.Fatal(err)
		}
		a = a.WithInput(c.size, 0, 0, false)
		n, err := NewNet(a, tensor.Float32, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, train := range []bool{true, false} {
			gr, err := n.Build(c.batch, c.size, train)
			if err != nil {
				t.Fatal(err)
			}
			in, outs := []*G.Node{gr.X}, []*G.Node{gr.Logits}
			bound := map[*G.Node]cuda.Buffer{}
			for _, p := range gr.Params {
				bound[p] = cuda.Buffer{}
			}
			if train {
				in = append(in, gr.Y)
				if gr.DropMask != nil {
					in = append(in, gr.DropMask)
				}
				for _, m := range gr.DepthMasks {
					in = append(in, m.Node)
				}
				outs = []*G.Node{gr.Loss}
				for _, p := range gr.Params {
					outs = append(outs, p.Deriv())
				}
			}
			st, err := cudaexec.Plan(gr.G, cudaexec.Spec{Inputs: in, Bound: bound, Outputs: outs})
			if err != nil {
				t.Fatal(err)
			}
			gib := func(b int64) float64 { return float64(b) / (1 << 30) }
			t.Logf("%s %dpx batch %d, training %v: %d instructions, arena %.2f GiB (%.2f GiB without reuse), inputs %.1f MiB",
				c.name, c.size, c.batch, train, st.Instructions, gib(st.ArenaBytes), gib(st.NaiveBytes), float64(st.InputBytes)/(1<<20))
			if gib(st.ArenaBytes) > c.maxGiB || 2*st.ArenaBytes > st.NaiveBytes {
				t.Errorf("%s batch %d: arena %.2f GiB of %.2f GiB", c.name, c.batch, gib(st.ArenaBytes), gib(st.NaiveBytes))
			}
		}
	}
}

// TestDeviceSharedByTwoRuns: two runs on one Device at once give what
// each gives alone (their steps are serialised on the device thread, and
// every kernel is deterministic).
func TestDeviceSharedByTwoRuns(t *testing.T) {
	d, _ := fakeGPU(t)
	p := smallProblem(t)
	b := Budget{Steps: 2, Batch: 4, EvalBatch: 16, RecalBatches: -1, TimingSteps: -1}
	run := func(seed uint64) (Result, error) {
		r, _, err := Train(context.Background(), p, Settings{Seed: seed, LR: 3e-3, Device: d}, b)
		return r, err
	}
	var alone [2]Result
	for i := range alone {
		r, err := run(uint64(i + 1))
		if err != nil {
			t.Fatal(err)
		}
		alone[i] = r
	}
	var together [2]Result
	errs := make(chan error, 2)
	for i := range together {
		go func() {
			r, err := run(uint64(i + 1))
			together[i] = r
			errs <- err
		}()
	}
	for range together {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range alone {
		if together[i].TrainLoss != alone[i].TrainLoss || together[i].Loss != alone[i].Loss {
			t.Errorf("run %d: together loss %v / %v, alone %v / %v", i, together[i].TrainLoss, together[i].Loss, alone[i].TrainLoss, alone[i].Loss)
		}
	}
}

// TestDeviceRelativeTiming: a step time relative to a baseline, measured
// on the device, times the baseline on the same device; the host names
// the GPU and so has its own fingerprint.
func TestDeviceRelativeTiming(t *testing.T) {
	d, _ := fakeGPU(t)
	a := tinyBackbone()
	net, err := NewNet(a, tensor.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	base := NewBaseline(a, Interleave{Pairs: 2, Burst: 1, MaxRetimes: -1})
	m, err := net.Measure(context.Background(), Timing{Batch: 2, ImageSize: 8, Warmup: 1, Steps: 1}, Settings{Seed: 1, Device: d, Baseline: base})
	if err != nil {
		t.Fatal(err)
	}
	if !(m.RelativeStepTime > 0) || m.Interleaved == nil || base.dev != d || base.timer == nil || base.timer.st.dev == nil {
		t.Errorf("relative %v, interleaved %+v, baseline on %v", m.RelativeStepTime, m.Interleaved, base.dev)
	}
	if m.Host.GPU == nil || m.Host.Fingerprint() == HostInfo().Fingerprint() || HostInfoOn(nil) != HostInfo() {
		t.Errorf("host %+v", m.Host)
	}
	base.mu.Lock()
	base.timer.close()
	base.mu.Unlock()
}

// TestDeviceResumesInParts: a run on the device trained in parts
// (Budget.StartAt, StopAt), its network and optimizer state saved to a
// checkpoint and loaded between them, gives the losses and weights of the
// run in one call on the device: the state comes back from the device
// when a part stops.
func TestDeviceResumesInParts(t *testing.T) {
	d, _ := fakeGPU(t)
	p := smallProblem(t) // 96 training images: 16 batches of 6 per epoch
	s := Settings{Seed: 4, LR: 3e-3, Schedule: "cosine", Device: d, Augment: data.Augment{Pad: 1, Flip: true}}
	b := Budget{Steps: 6, Batch: 6, EvalBatch: 16, RecalBatches: -1, TimingSteps: -1}
	var whole, parts []float64
	record := func(l *[]float64) func(Progress) {
		return func(pr Progress) {
			if pr.Phase == PhaseTrain {
				*l = append(*l, pr.StepLoss)
			}
		}
	}
	ref, _ := NewNet(p.Arch, tensor.Float32, 1)
	s.Progress = record(&whole)
	if _, err := ref.Train(context.Background(), p, s, b); err != nil {
		t.Fatal(err)
	}
	net, _ := NewNet(p.Arch, tensor.Float32, 1)
	s.Progress, s.State = record(&parts), &TrainState{}
	path := filepath.Join(t.TempDir(), "part.safetensors")
	for _, part := range [][2]int{{0, 2}, {2, 5}, {5, 0}} {
		bb := b
		bb.StartAt, bb.StopAt = part[0], part[1]
		res, err := net.Train(context.Background(), p, s, bb)
		if err != nil {
			t.Fatal(err)
		}
		if part[1] == 0 {
			break
		}
		if err := SaveModel(path, Model{Net: net, Norm: &res.Norm, Settings: &s, State: s.State}); err != nil {
			t.Fatal(err)
		}
		m, err := LoadModel(path)
		if err != nil {
			t.Fatal(err)
		}
		if m.State.Steps() != part[1] {
			t.Fatalf("saved at step %d, want %d", m.State.Steps(), part[1])
		}
		net, s.State, p.Norm = m.Net, m.State, m.Norm
	}
	if !slices.Equal(parts, whole) {
		t.Fatalf("losses in parts %v, in one run %v", parts, whole)
	}
	sameNets(t, ref, net)
}
