package recipe

import (
	"context"

	"github.com/effnas/effnas/trainer"
)

// Model is one model's training: the problem, how to train it and how
// much. Settings.Progressive, when set, trains in stages.
type Model struct {
	Problem  trainer.Problem
	Settings trainer.Settings
	Budget   trainer.Budget
	// EvalImageSize, when set and not the training size, is where a
	// fixed-size run scores the test set, after re-estimating the
	// BatchNorm statistics there (a progressive run uses its schedule's
	// EvalImageSize instead).
	EvalImageSize int
	// Checkpoint, when set, is the file the trained network is saved to
	// (trainer.SaveCheckpoint), with the run's dataset, epochs, seed,
	// test accuracy, evaluation size and schedule as metadata.
	Checkpoint string
}

// Run is a trained model. Its JSON form is what "nas train --json" prints.
type Run struct {
	// Arch and Dataset name what was trained on what; TestImages and
	// ValImages count the images scored (0: none).
	Arch       string `json:"arch"`
	Dataset    string `json:"dataset"`
	TestImages int    `json:"test_images,omitempty"`
	ValImages  int    `json:"val_images,omitempty"`
	// Schedule is the progressive schedule with its zero fields filled (nil
	// for a fixed-size run), Stages what each stage measured.
	Schedule *trainer.Progressive  `json:"settings,omitempty"`
	Stages   []trainer.StageResult `json:"stages,omitempty"`
	// Result is the final measurement: validation and test at
	// EvalImageSize, step time at the (last stage's) training size.
	Result        trainer.Result `json:"final"`
	EvalImageSize int            `json:"eval_image_size"`
	Net           *trainer.Net   `json:"-"`
}

// Train trains the model and reports through progress (which may be nil):
// every trainer.Progress, including each progressive stage's start
// (PhaseStage) and end (PhaseStageDone).
func Train(ctx context.Context, m Model, progress func(trainer.Progress)) (Run, error) {
	s := m.Settings
	run := Run{Arch: m.Problem.Arch.Name, ValImages: len(m.Problem.Val)}
	if m.Problem.Data != nil {
		run.Dataset = m.Problem.Data.Name
	}
	if m.Problem.Test != nil {
		run.TestImages = m.Problem.Test.N
	}
	s.Progress = func(pr trainer.Progress) {
		if pr.Phase == trainer.PhaseStageDone {
			run.Stages = append(run.Stages, *pr.Stage)
		}
		if progress != nil {
			progress(pr)
		}
	}
	b := m.Budget.WithDefaults(m.Problem.Arch)
	run.EvalImageSize = b.ImageSize
	if s.Progressive != nil {
		pg := s.Progressive.WithDefaults(b.ImageSize, s.Augment)
		run.Schedule, run.EvalImageSize = &pg, pg.EvalSize()
	}
	res, net, err := trainer.Train(ctx, m.Problem, s, m.Budget)
	run.Result, run.Net = res, net
	if err == nil && s.Progressive == nil && m.EvalImageSize != 0 && m.EvalImageSize != b.ImageSize {
		if progress != nil {
			progress(trainer.Progress{Phase: trainer.PhaseRecalibrate})
		}
		var e trainer.Result
		e, err = net.Evaluate(ctx, m.Problem, trainer.Eval{ImageSize: m.EvalImageSize, Batch: b.EvalBatch, Norm: &res.Norm,
			RecalBatches: b.RecalBatches, Seed: s.Seed, Device: s.Device})
		run.Result.TestAccuracy, run.Result.TestLoss = e.TestAccuracy, e.TestLoss
		run.EvalImageSize = m.EvalImageSize
	}
	if err != nil || m.Checkpoint == "" {
		return run, err
	}
	meta := map[string]any{"dataset": run.Dataset, "epochs": res.Epochs, "seed": s.Seed, "test_accuracy": run.Result.TestAccuracy,
		"image_size": run.EvalImageSize}
	if run.Schedule != nil {
		meta["progressive"] = run.Schedule
	}
	return run, trainer.SaveCheckpoint(m.Checkpoint, net, &res.Norm, meta)
}
