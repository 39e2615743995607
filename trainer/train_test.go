package trainer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer/data"
	"github.com/effnas/effnas/trainer/ops"
	"gorgonia.org/tensor"
)

func TestNetParamsMatchAccounting(t *testing.T) {
	for _, name := range []string{"bench-dw", "bench-fused", "efficientnetv2-b0", "efficientnet-b0", "efficientnetv2-s"} {
		a, _ := searchspace.Reference(name)
		a = a.WithInput(32, 3, 10, true)
		net, err := NewNet(a, tensor.Float32, 1)
		if err != nil {
			t.Fatal(err)
		}
		acc, _ := a.Count(32, 10)
		if net.NumParams() != acc.Total.Params {
			t.Errorf("%s: built %d params, accounting %d", name, net.NumParams(), acc.Total.Params)
		}
		bnStats := int64(0)
		for _, bn := range net.BNs {
			bnStats += 2 * int64(bn.Channels())
		}
		if net.NumParams()+bnStats != acc.Total.ParamsTotal {
			t.Errorf("%s: built %d with BN statistics, accounting %d", name, net.NumParams()+bnStats, acc.Total.ParamsTotal)
		}
	}
	sp := searchspace.NewSpace(tinyBackbone(), true)
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 30; i++ {
		a, err := sp.Decode(sp.Sample(r))
		if err != nil {
			t.Fatal(err)
		}
		net, err := NewNet(a, tensor.Float32, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		acc, _ := a.Count(0, 0)
		if net.NumParams() != acc.Total.Params {
			t.Fatalf("%v: built %d params, accounting %d", a.BlockStrings(), net.NumParams(), acc.Total.Params)
		}
		// Every sample builds as a training graph.
		if i%10 == 0 {
			if _, err := net.Build(2, a.ImageSize, true); err != nil {
				t.Fatalf("%v: %v", a.BlockStrings(), err)
			}
		}
	}
}

// tinyBackbone is a small network for fast tests: 12x12 grey images, 4 classes.
func tinyBackbone() searchspace.Arch {
	stages, _ := searchspace.ParseBlockStrings([]string{"r1_k3_s1_e1_i8_o8_c1", "r2_k3_s2_e4_i8_o16_c1", "r2_k3_s2_e4_i16_o24_se0.25"})
	return searchspace.Arch{Name: "tiny", InputChannels: 1, ImageSize: 12, NumClasses: 4,
		Stem: searchspace.Stem{Channels: 8, Kernel: 3, Stride: 1}, Stages: stages, HeadChannels: 32, Dropout: 0.1, SurvivalProb: 0.8}
}

func tinyProblem(t *testing.T) Problem {
	t.Helper()
	cfg := data.SyntheticConfig{Size: 12, Channels: 1, Classes: 4, Count: 768, TestCount: 128, Seed: 3}
	ds, err := data.Synthetic(cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	train, val, err := ds.ValidationSplit(128, 5)
	if err != nil {
		t.Fatal(err)
	}
	return Problem{Arch: tinyBackbone(), Data: ds, Train: train, Val: val}
}

func TestTrainLearnsAndIsReproducible(t *testing.T) {
	p := tinyProblem(t)
	var losses [2][]float64
	var res [2]Result
	for i := range 2 {
		s := Settings{Seed: 7, LR: 3e-3, Progress: func(pr Progress) {
			if pr.Phase == "train" {
				losses[i] = append(losses[i], pr.Loss)
			}
		}}
		r, _, err := Train(context.Background(), p, s, Budget{Epochs: 3, Batch: 32, TimingSteps: 3, TimingWarmup: 1, RecalBatches: 5})
		if err != nil {
			t.Fatal(err)
		}
		res[i] = r
	}
	if len(losses[0]) != res[0].Steps || res[0].Steps != 3*(640/32) {
		t.Fatalf("steps %d, progress calls %d", res[0].Steps, len(losses[0]))
	}
	for j := range losses[0] {
		if losses[0][j] != losses[1][j] {
			t.Fatalf("same seed, different loss at step %d: %v vs %v", j, losses[0][j], losses[1][j])
		}
	}
	if res[0].Accuracy != res[1].Accuracy {
		t.Fatalf("same seed, different accuracy %v vs %v", res[0].Accuracy, res[1].Accuracy)
	}
	if res[0].Accuracy < 0.6 {
		t.Fatalf("validation accuracy %.3f after 3 epochs on an easy 4-class task (chance 0.25)", res[0].Accuracy)
	}
	if res[0].StepTime.Count != 3 || !(res[0].StepTime.Median > 0) || res[0].Host.Cores < 1 {
		t.Fatalf("timing %+v host %+v", res[0].StepTime, res[0].Host)
	}
	t.Logf("val accuracy %.3f, loss %.3f, step %.1f ms", res[0].Accuracy, res[0].Loss, res[0].StepTime.Median*1e3)
}

func TestDivergenceIsAnError(t *testing.T) {
	p := tinyProblem(t)
	_, _, err := Train(context.Background(), p, Settings{Seed: 1, LR: 1e6, Optimizer: SGD}, Budget{Steps: 30, Batch: 32, TimingSteps: -1})
	if !errors.Is(err, ErrDiverged) {
		t.Fatalf("got %v, want ErrDiverged", err)
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	p := tinyProblem(t)
	res, net, err := Train(context.Background(), p, Settings{Seed: 2, LR: 3e-3}, Budget{Epochs: 1, Batch: 32, TimingSteps: -1, RecalBatches: 3})
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/tiny.safetensors"
	if err := SaveModel(path, Model{Net: net, Norm: &res.Norm, Meta: map[string]any{"dataset": "synthetic"}}); err != nil {
		t.Fatal(err)
	}
	ck, err := LoadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ck.Net.Evaluate(context.Background(), Problem{Data: p.Data, Val: p.Val}, Eval{Batch: 64, ImageSize: 12, Norm: ck.Norm})
	acc, loss := e.Accuracy, e.Loss
	if err != nil {
		t.Fatal(err)
	}
	if acc != res.Accuracy || math.Abs(loss-res.Loss) > 1e-9 {
		t.Fatalf("after loading: accuracy %v loss %v, before saving %v %v", acc, loss, res.Accuracy, res.Loss)
	}
	if ck.Meta["dataset"] != "synthetic" {
		t.Fatalf("meta %v", ck.Meta)
	}
	raw, _ := os.ReadFile(path)
	os.WriteFile(path, raw[:len(raw)-7], 0o644)
	if _, err := LoadModel(path); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("truncated file: %v", err)
	}
}

func TestMeasureAndProfileStep(t *testing.T) {
	a := tinyBackbone()
	net, err := NewNet(a, tensor.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	m, err := net.Measure(context.Background(), Timing{Batch: 8, ImageSize: a.TrainSize(), Warmup: 1, Steps: 3}, Settings{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if tr := m.StepTime; tr.Count != 3 || !(tr.Allocs > 0) || !(tr.Bytes > 0) || m.ForwardTime.Count != 3 {
		t.Fatalf("step stats %+v, forward %+v", tr, m.ForwardTime)
	}
	if acc, _ := a.Count(a.TrainSize(), 0); m.Params != acc.Total.Params || m.MACs != acc.Total.MACs || m.Batch != 8 || m.ImageSize != a.TrainSize() || m.Host.Cores < 1 {
		t.Fatalf("measurement %+v", m)
	}
	p, err := net.Profile(context.Background(), Timing{Batch: 8, ImageSize: a.TrainSize(), Warmup: 1, Steps: 2}, Settings{Seed: 1})
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
	for _, op := range []string{"Conv2D", "Conv2DGradW", "Conv2DGradX", "BatchNormSiLU", "BatchNormGradX", "SoftmaxCrossEntropyGrad"} {
		if !seen[op] {
			t.Errorf("no %s in %v", op, p.Ops)
		}
	}
	if p.Steps != 2 || !(p.Step > 0) || sum+p.Other < p.Step {
		t.Errorf("profile: step %v, ops %v, other %v", p.Step, sum, p.Other)
	}
	if PeakRSS() < 0 {
		t.Error("PeakRSS")
	}
	if _, err := net.Measure(context.Background(), Timing{Batch: 0, ImageSize: 12, Steps: 1}, Settings{}); err == nil || !strings.Contains(err.Error(), "batch 0") {
		t.Errorf("batch 0: %v", err)
	}
}

func TestOpProfileByOp(t *testing.T) {
	p := OpProfile{Step: 10 * time.Millisecond, Ops: []ops.OpTime{
		{Op: "Conv2D", Shape: "8x8", Total: 2 * time.Millisecond, Calls: 1},
		{Op: "Add", Shape: "8x8", Total: 3 * time.Millisecond, Calls: 2},
		{Op: "Conv2D", Shape: "4x4", Total: 2 * time.Millisecond, Calls: 3},
	}}
	got := p.ByOp()
	want := []OpTotal{{"Conv2D", 4 * time.Millisecond, 4}, {"Add", 3 * time.Millisecond, 2}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("ByOp %v, want %v", got, want)
	}
	if s := p.Share(got[0].Total); s != 40 {
		t.Fatalf("share %v, want 40", s)
	}
}

func TestEvaluateNeedsSomethingToScore(t *testing.T) {
	p := tinyProblem(t)
	net, err := NewNet(p.Arch, tensor.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := net.Evaluate(context.Background(), Problem{Data: p.Data, Train: p.Train}, Eval{}); err == nil || !strings.Contains(err.Error(), "nothing to evaluate") {
		t.Fatalf("no validation or test samples: %v", err)
	}
	r, err := net.Evaluate(context.Background(), Problem{Data: p.Data, Val: p.Val}, Eval{})
	if err != nil || r.ImageSize != p.Arch.ImageSize || !(r.Loss > 0) {
		t.Fatalf("default size: %+v, %v", r, err)
	}
	other := *p.Data
	other.NumClasses++
	if _, err := net.Evaluate(context.Background(), Problem{Data: p.Data, Val: p.Val, Test: &other}, Eval{}); err == nil ||
		!strings.Contains(err.Error(), fmt.Sprintf("the network takes 1 channels and %d classes", p.Arch.NumClasses)) {
		t.Fatalf("test set with other classes: %v", err)
	}
}
