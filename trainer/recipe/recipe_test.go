package recipe

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/scaling"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
)

func tiny(t *testing.T) (searchspace.Arch, *data.Dataset, *data.Dataset) {
	t.Helper()
	stages, err := searchspace.ParseBlockStrings([]string{"r1_k3_s1_e1_i8_o8_c1", "r1_k3_s2_e4_i8_o16_se0.25"})
	if err != nil {
		t.Fatal(err)
	}
	a := searchspace.Arch{Name: "tiny", InputChannels: 1, ImageSize: 12, NumClasses: 4,
		Stem: searchspace.Stem{Channels: 8, Kernel: 3, Stride: 1}, Stages: stages, HeadChannels: 16, Dropout: 0.1, SurvivalProb: 1}
	cfg := data.SyntheticConfig{Size: 12, Channels: 1, Classes: 4, Count: 256, TestCount: 64, Seed: 3}
	ds, err := data.Synthetic(cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	test, err := data.Synthetic(cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	return a, ds, test
}

func TestMemberSchedule(t *testing.T) {
	for phi, want := range []string{"s", "m", "l", "l"} {
		if got := MemberProfile(AutoProfile, phi); got != want {
			t.Errorf("auto, phi %d: %s, want %s", phi, got, want)
		}
		if got := MemberProfile("m", phi); got != "m" {
			t.Errorf("m, phi %d: %s", phi, got)
		}
	}
	official := func(pg *trainer.Progressive) { pg.Stages, pg.Rule, pg.MinDropout = 3, trainer.RuleOfficial, 0.2 }
	pg, err := MemberSchedule(AutoProfile, official)(scaling.Member{Phi: 1, ImageSize: 40, TrainImageSize: 32})
	if err != nil || pg.Stages != 3 || pg.Rule != trainer.RuleOfficial || pg.MaxImageSize != 32 || pg.EvalImageSize != 40 ||
		pg.MaxDropout != 0.4 || pg.MinDropout != 0.2 || pg.MaxRandAug != 20 {
		t.Fatalf("phi 1: %+v %v", pg, err)
	}
	if _, err := MemberSchedule("xl", nil)(scaling.Member{}); err == nil || !strings.Contains(err.Error(), `profile = "xl": want s, m, l or auto`) {
		t.Fatalf("unknown profile: %v", err)
	}
	pg, err = Schedule("s", nil, 0, 0)
	if err != nil || pg.MaxImageSize != 0 || pg.EvalImageSize != 0 || pg.MaxRandAug != 15 {
		t.Fatalf("s, sizes left to derive: %+v %v", pg, err)
	}
	var fe *fielderr.Error
	if _, err := Schedule("s", func(pg *trainer.Progressive) { pg.MinMixup = 1 }, 16, 0); !errors.As(err, &fe) || fe.Field != "min_mixup" {
		t.Fatalf("min mixup above max: %v", err)
	}
}

func TestTrainFixedAndProgressive(t *testing.T) {
	a, ds, test := tiny(t)
	p := trainer.Problem{Arch: a, Data: ds, Train: ds.All(), Test: test}
	b := trainer.Budget{Steps: 8, Batch: 32, TimingSteps: 2, TimingWarmup: 1, RecalBatches: 2}
	var phases []string
	run, err := Train(context.Background(), Model{Problem: p, Settings: trainer.Settings{Seed: 1}, Budget: b, EvalImageSize: 16},
		func(pr trainer.Progress) { phases = append(phases, pr.Phase) })
	if err != nil {
		t.Fatal(err)
	}
	// Trained at 12, scored at 16 after re-estimation there.
	if run.Schedule != nil || run.Stages != nil || run.Net == nil || run.EvalImageSize != 16 || run.Result.ImageSize != 12 || run.Result.Steps != 8 {
		t.Fatalf("fixed run: %+v", run)
	}
	atTrain, _, _ := trainer.Train(context.Background(), p, trainer.Settings{Seed: 1}, b)
	if run.Result.TestLoss == atTrain.TestLoss || run.Result.TrainLoss != atTrain.TrainLoss {
		t.Fatalf("test loss at 16 %v, at 12 %v; train loss %v vs %v", run.Result.TestLoss, atTrain.TestLoss, run.Result.TrainLoss, atTrain.TrainLoss)
	}
	if phases[len(phases)-1] != trainer.PhaseRecalibrate {
		t.Fatalf("phases %v", phases)
	}

	pg := trainer.Progressive{Stages: 2, MinImageSize: 8, MaxImageSize: 12}
	run, err = Train(context.Background(), Model{Problem: p, Settings: trainer.Settings{Seed: 1, Progressive: &pg}, Budget: b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Schedule == nil || run.Schedule.Rule != trainer.RulePaper || len(run.Stages) != 2 || run.Stages[0].ImageSize != 8 ||
		run.Stages[1].ImageSize != 12 || run.EvalImageSize != 12 || run.Result.Steps != 8 {
		t.Fatalf("progressive run: %+v", run)
	}
	raw, _ := json.Marshal(run)
	for _, k := range []string{`"settings":`, `"stages":`, `"final":`, `"eval_image_size":12`} {
		if !strings.Contains(string(raw), k) {
			t.Errorf("JSON has no %s: %s", k, raw)
		}
	}
}

func TestFamilyTrain(t *testing.T) {
	a, ds, test := tiny(t)
	ms, err := scaling.Family(a, scaling.FamilyOptions{Members: 2, MaxImageSize: 16, TrainRatio: 1, TrainMultiple: 4})
	if err != nil {
		t.Fatal(err)
	}
	f := Family{Members: ms, Data: ds, Test: test, Settings: trainer.Settings{Seed: 2},
		Budget: trainer.Budget{Steps: 4, Batch: 32, TimingSteps: 1, TimingWarmup: 1, RecalBatches: 1}}
	seen := map[string]bool{}
	var calls int
	rows, err := f.Train(context.Background(), func(m string, _ trainer.Progress) { seen[m] = true },
		func(rows []Trained, run Run) error {
			calls++
			if len(rows) != calls || run.Net == nil {
				t.Errorf("done %d with %d rows", calls, len(rows))
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || calls != 2 || !seen[ms[0].Name] || !seen[ms[1].Name] {
		t.Fatalf("rows %+v, %d calls, progress for %v", rows, calls, seen)
	}
	for i, r := range rows {
		if r.Name != ms[i].Name || r.ImageSize != ms[i].ImageSize || r.Params != ms[i].Count.Params || !(r.StepTimeMS > 0) || r.Phi != i {
			t.Errorf("row %d: %+v", i, r)
		}
	}
	f.Schedule = MemberSchedule("s", func(pg *trainer.Progressive) { pg.Stages = 2 })
	stop := f.Train
	if _, err := stop(context.Background(), nil, func([]Trained, Run) error { return context.Canceled }); err != context.Canceled {
		t.Fatalf("done's error: %v", err)
	}
}

func TestBench(t *testing.T) {
	a, _, _ := tiny(t)
	r, err := Bench{Arch: a, Batch: 4, Warmup: 1, Steps: 2, Layers: true}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Arch != "tiny" || r.ImageSize != 12 || r.Train.Count != 2 || r.Forward.Count != 2 || !(r.TrainGFLOPS > 0) || r.Layers == nil || r.Layers.Steps != 3 {
		t.Fatalf("%+v", r)
	}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tiny, batch 4, 12x12x1,", "training step: median", "forward:", "memory:", "host:", "profiled step", "Conv2D"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "GPU:") {
		t.Errorf("a CPU bench names a GPU:\n%s", b.String())
	}
	// on a GPU, the text names it
	r.Host.GPU = &measure.GPU{Name: "NVIDIA H100 80GB HBM3", Capability: "9.0", Precision: "TF32", Driver: "13.0", Libraries: "cudnn 9.14.0"}
	b.Reset()
	if err := r.WriteText(&b); err != nil || !strings.Contains(b.String(), "GPU: NVIDIA H100 80GB HBM3 (compute capability 9.0), TF32, driver CUDA 13.0, cudnn 9.14.0\n") {
		t.Errorf("%v:\n%s", err, b.String())
	}
	r, err = Bench{Arch: a, Batch: 4, Warmup: 1, Steps: 2, Against: &a, Interleave: trainer.Interleave{Pairs: 3, Burst: 2}}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Against != "tiny" || !(r.RelativeStepTime > 0) || r.Interleaved == nil || r.Train.Count != 6 || r.Forward.Count != 2 {
		t.Fatalf("against itself: %+v", r)
	}
	b.Reset()
	if err := r.WriteText(&b); err != nil || !strings.Contains(b.String(), "relative to tiny: ") || !strings.Contains(b.String(), "3 pairs of 2-step bursts") {
		t.Fatalf("%v\n%s", err, b.String())
	}
}

func TestTextAndCheckpoint(t *testing.T) {
	a, ds, test := tiny(t)
	ckpt := filepath.Join(t.TempDir(), "tiny.safetensors")
	p := trainer.Problem{Arch: a, Data: ds, Train: ds.All()[:192], Val: ds.All()[192:], Test: test}
	run, err := Train(context.Background(), Model{Problem: p, Settings: trainer.Settings{Seed: 1}, Checkpoint: ckpt,
		Budget: trainer.Budget{Steps: 4, Batch: 32, TimingSteps: 2, TimingWarmup: 1, RecalBatches: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := run.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tiny on synthetic: 4 steps (0.67 epochs, batch 32)", "validation accuracy", "on 64 images at 12x12",
		"test accuracy", "training step", "(p10 "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	ck, err := trainer.LoadModel(ckpt)
	if err != nil || ck.Meta["dataset"] != "synthetic" || ck.Meta["test_accuracy"] != run.Result.TestAccuracy || ck.Net.Arch.Name != "tiny" ||
		ck.Meta["val_accuracy"] != run.Result.Accuracy || ck.Meta["total_steps"] != 4.0 || ck.Meta["step"] != 4.0 || ck.Meta["val_images"] != 64.0 {
		t.Fatalf("checkpoint: %+v %v", ck, err)
	}
	if ck.Settings == nil || ck.Settings.Seed != 1 || ck.State.Steps() != 4 || run.Checkpoint != ckpt {
		t.Fatalf("checkpoint settings %+v, optimizer at step %d, run.Checkpoint %q", ck.Settings, ck.State.Steps(), run.Checkpoint)
	}
	if _, err := SavedRun(ck); !errors.Is(err, ErrNotResumable) || !strings.Contains(err.Error(), "its run is complete (4 of 4 steps)") {
		t.Fatalf("a finished run resumed: %v", err)
	}
	b.Reset()
	if err := WriteTrained(&b, []Trained{{Name: "m0", Params: 1234567, MACs: 89, StepTimeMS: 12.34, Accuracy: 0.5}}); err != nil ||
		!strings.Contains(b.String(), "1,234,567") || !strings.Contains(b.String(), "12.3") || !strings.Contains(b.String(), "50.00%") {
		t.Fatalf("trained table %v:\n%s", err, b.String())
	}
}
