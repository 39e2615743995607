package recipe

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/scaling"
	"github.com/effnas/effnas/trainer"
)

// losses records every training step's loss of a run.
type losses []float64

func (l *losses) progress(pr trainer.Progress) {
	if pr.Phase == trainer.PhaseTrain {
		*l = append(*l, pr.StepLoss)
	}
}

// TestResumeIsTheWholeRun trains runs (fixed-size with a cosine schedule
// and warm-up; progressive with RandAugment and mixup) straight through,
// then stopped (StopAt) or interrupted (a cancelled context) and resumed
// from their checkpoints: the losses of every step, the test figures and
// the final checkpoint's weights are the same, bit for bit.
func TestResumeIsTheWholeRun(t *testing.T) {
	a, ds, test := tiny(t) // 256 training images: 8 batches of 32 per epoch
	p := trainer.Problem{Arch: a, Data: ds, Train: ds.All()[:224], Val: ds.All()[224:], Test: test}
	b := trainer.Budget{Epochs: 2.5, Batch: 32, TimingSteps: 1, TimingWarmup: 1, RecalBatches: 2} // 18 steps
	for _, pg := range []*trainer.Progressive{nil, {Stages: 3, MinImageSize: 8, MaxImageSize: 12, MinRandAug: 2, MaxRandAug: 8, MaxMixup: 0.3}} {
		s := trainer.Settings{Seed: 3, Schedule: "cosine", WarmupEpochs: 0.5, Progressive: pg}
		dir := t.TempDir()
		var whole losses
		ref, err := Train(context.Background(), Model{Problem: p, Settings: s, Budget: b, Checkpoint: filepath.Join(dir, "whole.safetensors")}, whole.progress)
		if err != nil {
			t.Fatal(err)
		}
		if len(whole) != 18 || !ref.Finished() || ref.TotalSteps != 18 {
			t.Fatalf("%d steps, run %+v", len(whole), ref)
		}

		// stopped at step 5, then interrupted after step 11, then resumed to the end
		ck := filepath.Join(dir, "part.safetensors")
		var parts losses
		run, err := Train(context.Background(), Model{Problem: p, Settings: s, Budget: b, Checkpoint: ck, StopAt: 5}, parts.progress)
		if err != nil || run.Finished() || run.Step != 5 || run.Checkpoint != ck || run.Result.TestAccuracy != 0 {
			t.Fatalf("stopped run: %+v %v", run, err)
		}
		var text strings.Builder
		run.WriteText(&text)
		if !strings.Contains(text.String(), "stopped at step 5 of 18") || strings.Contains(text.String(), "test accuracy") {
			t.Errorf("stopped run's text:\n%s", text.String())
		}
		ctx, cancel := context.WithCancel(context.Background())
		m := resumed(t, ck, p, s, b)
		run, err = Train(ctx, m, func(pr trainer.Progress) {
			parts.progress(pr)
			if pr.Phase == trainer.PhaseTrain && pr.Step == 11 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) || run.Step != 11 || run.ResumedAt != 5 || run.Checkpoint != ck {
			t.Fatalf("interrupted run: step %d from %d, checkpoint %q, %v", run.Step, run.ResumedAt, run.Checkpoint, err)
		}
		m = resumed(t, ck, p, s, b)
		run, err = Train(context.Background(), m, parts.progress)
		if err != nil || !run.Finished() || run.ResumedAt != 11 || run.Result.Steps != 7 {
			t.Fatalf("resumed run: %+v %v", run, err)
		}
		if !slices.Equal(parts, whole) {
			t.Fatalf("progressive %v: losses in parts\n%v\nstraight\n%v", pg != nil, parts, whole)
		}
		if run.Result.TestAccuracy != ref.Result.TestAccuracy || run.Result.TestLoss != ref.Result.TestLoss || run.Result.Accuracy != ref.Result.Accuracy {
			t.Errorf("resumed: test %v/%v, straight %v/%v", run.Result.TestAccuracy, run.Result.TestLoss, ref.Result.TestAccuracy, ref.Result.TestLoss)
		}
		w1, err1 := trainer.LoadModel(filepath.Join(dir, "whole.safetensors"))
		w2, err2 := trainer.LoadModel(ck)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		for i := range w1.Net.Params {
			if !slices.Equal(w1.Net.Params[i].Value.Data().([]float32), w2.Net.Params[i].Value.Data().([]float32)) {
				t.Fatalf("%s differs between the straight and the resumed run", w1.Net.Params[i].Name)
			}
		}
		if w2.Meta["step"] != 18.0 || w2.Meta["test_accuracy"] != ref.Result.TestAccuracy {
			t.Errorf("final checkpoint meta %v", w2.Meta)
		}
	}
}

// resumed loads the checkpoint and returns the Model that resumes it.
func resumed(t *testing.T, path string, p trainer.Problem, s trainer.Settings, b trainer.Budget) Model {
	t.Helper()
	ck, err := trainer.LoadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	return Model{Problem: p, Settings: s, Budget: b, Checkpoint: path, Resume: ck}
}

func TestResumeConflicts(t *testing.T) {
	a, ds, test := tiny(t)
	p := trainer.Problem{Arch: a, Data: ds, Train: ds.All()[:224], Val: ds.All()[224:], Test: test}
	s := trainer.Settings{Seed: 3, LR: 2e-3}
	b := trainer.Budget{Epochs: 2, Batch: 32, TimingSteps: -1, RecalBatches: 1}
	ck := filepath.Join(t.TempDir(), "c.safetensors")
	if _, err := Train(context.Background(), Model{Problem: p, Settings: s, Budget: b, Checkpoint: ck, StopAt: 3}, nil); err != nil {
		t.Fatal(err)
	}
	other := a
	other.HeadChannels = 24
	renamed := a
	renamed.Name = "other"
	pg := trainer.Progressive{Stages: 2}
	for _, c := range []struct {
		name string
		edit func(m *Model)
		want string
	}{
		{"lr", func(m *Model) { m.Settings.LR = 1e-3 }, "lr = 0.001: want the checkpoint's 0.002"},
		{"optimizer", func(m *Model) { m.Settings.Optimizer = trainer.Adam }, `optimizer = "adam": want the checkpoint's "rmsprop"`},
		{"seed", func(m *Model) { m.Settings.Seed = 4 }, "seed = 4: want the checkpoint's 3"},
		{"epochs", func(m *Model) { m.Budget.Epochs = 3 }, "epochs = 3: want the checkpoint's 2 (14 steps)"},
		{"steps", func(m *Model) { m.Budget.Steps = 20 }, "steps = 20: want the checkpoint's 14"},
		{"batch", func(m *Model) { m.Budget.Batch = 16 }, "batch = 16: want the checkpoint's 32"},
		{"val", func(m *Model) { m.Problem.Train, m.Problem.Val = ds.All()[:192], ds.All()[192:] }, "val_images = 64: want the checkpoint's 32"},
		{"train", func(m *Model) { m.Problem.Train = ds.All()[:200] }, "train_images = 200: want the checkpoint's 224"},
		{"size", func(m *Model) { m.Budget.ImageSize = 16 }, "train_image_size = 16: want the checkpoint's 12"},
		{"arch", func(m *Model) { m.Problem.Arch = renamed }, "arch = other: want the checkpoint's tiny"},
		{"same name", func(m *Model) { m.Problem.Arch = other }, "arch = tiny: want the checkpoint's tiny (same name, other blocks, sizes or input)"},
		{"progressive", func(m *Model) { m.Settings.Progressive = &pg }, "progressive = true: want the checkpoint's false"},
		{"stop", func(m *Model) { m.StopAt = 2 }, "stop at step 2: the checkpoint's run is at step 3 already"},
	} {
		m := resumed(t, ck, p, s, b)
		c.edit(&m)
		err := m.CheckResume()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
			continue
		}
		var fe *fielderr.Error
		if c.name != "stop" && (!errors.Is(err, trainer.ErrConflict) || !errors.As(err, &fe)) {
			t.Errorf("%s: %v is no field error of ErrConflict", c.name, err)
		}
		if _, err := Train(context.Background(), m, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Train ran: %v", c.name, err)
		}
	}
	m := resumed(t, ck, p, s, b)
	if err := m.CheckResume(); err != nil {
		t.Fatalf("the same run: %v", err)
	}
	// A progressive run's schedule must agree stage by stage.
	ps := s
	ps.Progressive = &trainer.Progressive{Stages: 2, MinImageSize: 8, MaxRandAug: 5}
	if _, err := Train(context.Background(), Model{Problem: p, Settings: ps, Budget: b, Checkpoint: ck, StopAt: 3}, nil); err != nil {
		t.Fatal(err)
	}
	m = resumed(t, ck, p, ps, b)
	m.Settings.Progressive = &trainer.Progressive{Stages: 2, MinImageSize: 8, MaxRandAug: 6}
	if err := m.CheckResume(); err == nil || !strings.Contains(err.Error(), "progressive: stage 2 = stage 2/2: 12x12, 7 steps, dropout 0, RandAugment 2 ops at 6, mixup 0: want the checkpoint's stage 2/2: 12x12, 7 steps, dropout 0, RandAugment 2 ops at 5, mixup 0") {
		t.Errorf("schedule: %v", err)
	}
	// Files that cannot be resumed: no run recorded, no optimizer state.
	m.Resume.Meta = map[string]any{"epochs": 1}
	if err := m.CheckResume(); !errors.Is(err, ErrNotResumable) || !strings.Contains(err.Error(), "records no training run") {
		t.Errorf("no run: %v", err)
	}
}

func TestFamilyCheckpoints(t *testing.T) {
	a, ds, test := tiny(t)
	ms, err := scaling.Family(a, scaling.FamilyOptions{Members: 2, MaxImageSize: 16, TrainRatio: 1, TrainMultiple: 4})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ckpts")
	f := Family{Members: ms, Data: ds, Test: test, Settings: trainer.Settings{Seed: 2}, CheckpointDir: dir,
		Budget: trainer.Budget{Steps: 4, Batch: 32, TimingSteps: 1, TimingWarmup: 1, RecalBatches: 1}}
	rows, err := f.Train(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if r.Checkpoint != filepath.Join(dir, ms[i].Name+".safetensors") {
			t.Fatalf("row %d checkpoint %q", i, r.Checkpoint)
		}
		ck, err := trainer.LoadModel(r.Checkpoint)
		if err != nil {
			t.Fatal(err)
		}
		e, err := ck.Net.Evaluate(context.Background(), trainer.Problem{Test: test}, trainer.Eval{ImageSize: ck.Net.Arch.ImageSize, Norm: ck.Norm})
		if err != nil || e.TestAccuracy != r.Accuracy || ck.Net.Arch.ImageSize != ms[i].ImageSize || ck.Meta["image_size"] != float64(ms[i].ImageSize) {
			t.Errorf("member %s: the checkpoint scores %v at %d, the row says %v at %d (%v)", r.Name, e.TestAccuracy, ck.Net.Arch.ImageSize, r.Accuracy, r.ImageSize, err)
		}
	}
}
