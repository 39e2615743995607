package recipe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/searchspace"
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
	// Checkpoint, when set, is the file the network is saved to
	// (trainer.SaveModel) with its input normalisation, the settings, the
	// optimizer state and the run (Saved, as the metadata "meta"): when
	// the run ends, when it stops at StopAt, and when ctx is cancelled
	// during the training steps, so that nothing trained is lost and
	// Resume can continue the run.
	Checkpoint string
	// StopAt, when > 0 and before the run's last step, stops the run
	// after that step of it, unscored (Checkpoint then holds it for
	// Resume).
	StopAt int
	// Resume, when set, is a checkpoint of this run, written by Train
	// before the run ended: training continues from its step with its
	// network, optimizer state, mask and augmentation generators and input
	// normalisation, and gives what the run in one go would have given,
	// bit for bit. The rest of the Model must describe the same run:
	// CheckResume says where it does not.
	Resume *trainer.Model
}

// Saved is what Train records of a run in a checkpoint's free-form
// metadata (trainer.Model.Meta): enough to resume it, and its figures.
type Saved struct {
	Dataset     string `json:"dataset"`
	TrainImages int    `json:"train_images"`
	ValImages   int    `json:"val_images"`
	Batch       int    `json:"batch"`
	// Epochs is the run's length in epochs (as asked; from the steps when
	// they were asked), TotalSteps in steps; Step counts the steps trained
	// (TotalSteps once the run ended).
	Epochs     float64 `json:"epochs"`
	TotalSteps int     `json:"total_steps"`
	Step       int     `json:"step"`
	// TrainImageSize is the training size (a progressive run's last
	// stage), ImageSize where the run is scored.
	TrainImageSize int    `json:"train_image_size"`
	ImageSize      int    `json:"image_size"`
	Seed           uint64 `json:"seed"`
	// Progressive is the schedule with its defaults filled (nil: one size).
	Progressive *trainer.Progressive `json:"progressive,omitempty"`
	// ValAccuracy and TestAccuracy are the final figures, once the run
	// ended (and when it had validation or test images).
	ValAccuracy  *float64 `json:"val_accuracy,omitempty"`
	TestAccuracy *float64 `json:"test_accuracy,omitempty"`
}

// ErrNotResumable marks a checkpoint that cannot continue a run.
var ErrNotResumable = errors.New("cannot be resumed")

// SavedRun reads the run recorded in a checkpoint written by Train, and
// checks that it can be resumed: it has the optimizer state at the
// recorded step, its input normalisation and settings, and steps left.
func SavedRun(ck *trainer.Model) (Saved, error) {
	var r Saved
	b, err := json.Marshal(ck.Meta)
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	not := func(why string, args ...any) error {
		return fmt.Errorf("the checkpoint %w: %s", ErrNotResumable, fmt.Sprintf(why, args...))
	}
	switch {
	case err != nil:
		return r, not("metadata meta: %v", err)
	case r.TotalSteps < 1 || ck.State == nil || ck.Settings == nil || ck.Norm == nil:
		return r, not("it records no training run with its optimizer state (a file of nas convert, nas dump or an older nas train)")
	case ck.State.Steps() != r.Step:
		return r, not("its optimizer state is at step %d, its run at step %d", ck.State.Steps(), r.Step)
	case r.Step >= r.TotalSteps:
		return r, not("its run is complete (%d of %d steps)", r.Step, r.TotalSteps)
	}
	return r, nil
}

// Values are the run's settings as text, named as in the checkpoint
// (lr, optimizer, schedule, warmup_epochs, label_smoothing, weight_decay,
// seed, dataset, batch, epochs, val_images, image_size, progressive and,
// for a progressive run, the schedule's fields: stages, rule,
// min_image_size...), in the form Go's flag package prints values: a
// command fills in what its user did not give from them.
func (r Saved) Values(s trainer.Settings) map[string]string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	wd := s.WeightDecay
	if wd < 0 {
		wd = 0
	}
	v := map[string]string{"lr": f(s.LR), "optimizer": s.Optimizer, "schedule": s.Schedule, "warmup_epochs": f(s.WarmupEpochs),
		"label_smoothing": f(s.LabelSmoothing), "weight_decay": f(wd), "seed": strconv.FormatUint(s.Seed, 10),
		"dataset": r.Dataset, "batch": strconv.Itoa(r.Batch), "epochs": f(r.Epochs), "val_images": strconv.Itoa(r.ValImages),
		"image_size": strconv.Itoa(r.TrainImageSize), "progressive": strconv.FormatBool(r.Progressive != nil)}
	if pg := r.Progressive; pg != nil {
		for k, x := range map[string]string{"stages": strconv.Itoa(pg.Stages), "rule": pg.Rule,
			"min_image_size": strconv.Itoa(pg.MinImageSize), "max_image_size": strconv.Itoa(pg.MaxImageSize),
			"min_dropout": f(pg.MinDropout), "max_dropout": f(pg.MaxDropout), "min_randaug": f(pg.MinRandAug),
			"max_randaug": f(pg.MaxRandAug), "min_mixup": f(pg.MinMixup), "max_mixup": f(pg.MaxMixup), "randaug_n": strconv.Itoa(pg.RandAugN)} {
			v[k] = x
		}
	}
	return v
}

// CheckResume reports, when m resumes a checkpoint (Resume), whether it
// can and where m describes another run than the checkpoint's: each
// difference is a *fielderr.Error wrapping trainer.ErrConflict that names
// the field as the checkpoint does and the checkpoint's value ("lr =
// 0.002: want the checkpoint's 0.001"); a checkpoint that cannot be
// resumed is an error wrapping ErrNotResumable. Nil without Resume.
func (m Model) CheckResume() error {
	ck := m.Resume
	if ck == nil {
		return nil
	}
	r, err := SavedRun(ck)
	if err != nil {
		return err
	}
	p, s := m.Problem, m.Settings
	b := m.Budget.WithDefaults(p.Arch)
	conflict := func(field string, v any, saved string) error {
		return &fielderr.Error{Field: field, Value: v, Allowed: "want the checkpoint's " + saved, Err: trainer.ErrConflict}
	}
	mine, err := searchspace.EncodeArch(p.Arch)
	if err != nil {
		return err
	}
	theirs, err := searchspace.EncodeArch(ck.Net.Arch)
	if err != nil {
		return err
	}
	if !bytes.Equal(mine, theirs) {
		saved := ck.Net.Arch.Name
		if saved == p.Arch.Name {
			saved += " (same name, other blocks, sizes or input)"
		}
		return conflict("arch", p.Arch.Name, saved)
	}
	if p.Data == nil {
		return fmt.Errorf("recipe: resuming needs the training data")
	}
	total := b.RunSteps(len(p.Train))
	evalSize := m.evalSize(b)
	for _, c := range []struct {
		field     string
		v, saved  any
		different bool
	}{
		{"dataset", p.Data.Name, r.Dataset, p.Data.Name != r.Dataset},
		{"val_images", len(p.Val), r.ValImages, len(p.Val) != r.ValImages},
		{"train_images", len(p.Train), r.TrainImages, len(p.Train) != r.TrainImages},
		{"batch", b.Batch, r.Batch, b.Batch != r.Batch},
		{"train_image_size", b.ImageSize, r.TrainImageSize, b.ImageSize != r.TrainImageSize},
		{"image_size", evalSize, r.ImageSize, evalSize != r.ImageSize},
	} {
		if c.different {
			return conflict(c.field, c.v, fmt.Sprint(c.saved))
		}
	}
	if total != r.TotalSteps {
		if m.Budget.Steps > 0 {
			return conflict("steps", m.Budget.Steps, strconv.Itoa(r.TotalSteps))
		}
		return conflict("epochs", b.Epochs, fmt.Sprintf("%g (%d steps)", r.Epochs, r.TotalSteps))
	}
	if err := s.Conflict(*ck.Settings); err != nil {
		return err
	}
	switch pg := s.Progressive; {
	case (pg == nil) != (r.Progressive == nil):
		return conflict("progressive", pg != nil, strconv.FormatBool(r.Progressive != nil))
	case pg != nil:
		mine, err := pg.WithDefaults(b.ImageSize, s.Augment).Plan(total, b.ImageSize)
		if err != nil {
			return err
		}
		theirs, err := r.Progressive.Plan(total, b.ImageSize)
		if err != nil {
			return err
		}
		for i := range theirs {
			if mine[i] != theirs[i] {
				return &fielderr.Error{Scope: "progressive", Field: fmt.Sprintf("stage %d", i+1), Value: mine[i].String(),
					Allowed: "want the checkpoint's " + theirs[i].String(), Err: trainer.ErrConflict}
			}
		}
	}
	if m.StopAt > 0 && m.StopAt <= r.Step {
		return fmt.Errorf("recipe: stop at step %d: the checkpoint's run is at step %d already", m.StopAt, r.Step)
	}
	return nil
}

// evalSize is where the run scores: the progressive schedule's evaluation
// size, else EvalImageSize, else the training size.
func (m Model) evalSize(b trainer.Budget) int {
	if pg := m.Settings.Progressive; pg != nil {
		return pg.WithDefaults(b.ImageSize, m.Settings.Augment).EvalSize()
	}
	if m.EvalImageSize != 0 {
		return m.EvalImageSize
	}
	return b.ImageSize
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
	// EvalImageSize, step time at the (last stage's) training size. A run
	// stopped before its end has the training figures only, and Result's
	// Steps and Epochs count the steps of this call.
	Result        trainer.Result `json:"final"`
	EvalImageSize int            `json:"eval_image_size"`
	// ResumedAt is the step a resumed run continued from (0: from the
	// start), Step the step it reached, of TotalSteps.
	ResumedAt  int `json:"resumed_at,omitempty"`
	Step       int `json:"step"`
	TotalSteps int `json:"total_steps"`
	// Checkpoint is the file written (Model.Checkpoint), "" when none was.
	Checkpoint string       `json:"checkpoint,omitempty"`
	Net        *trainer.Net `json:"-"`
}

// Finished reports whether the run reached its last step.
func (r Run) Finished() bool { return r.Step == r.TotalSteps }

// Train trains the model and reports through progress (which may be nil):
// every trainer.Progress, including each progressive stage's start
// (PhaseStage) and end (PhaseStageDone). With Resume it continues the
// checkpoint's run, after CheckResume. An error after training started
// comes with the Run as far as it went; a cancelled ctx during the
// training steps saves the steps trained to Checkpoint (Run.Checkpoint
// says so) before returning the context's error.
func Train(ctx context.Context, m Model, progress func(trainer.Progress)) (Run, error) {
	if err := m.CheckResume(); err != nil {
		return Run{}, err
	}
	s, p, b := m.Settings, m.Problem, m.Budget
	run := Run{Arch: p.Arch.Name, ValImages: len(p.Val)}
	if p.Data != nil {
		run.Dataset = p.Data.Name
	}
	if p.Test != nil {
		run.TestImages = p.Test.N
	}
	s.Progress = func(pr trainer.Progress) {
		if pr.Phase == trainer.PhaseStageDone {
			run.Stages = append(run.Stages, *pr.Stage)
		}
		if progress != nil {
			progress(pr)
		}
	}
	bb := b.WithDefaults(p.Arch)
	run.TotalSteps = bb.RunSteps(len(p.Train))
	run.EvalImageSize = bb.ImageSize
	if s.Progressive != nil {
		pg := s.Progressive.WithDefaults(bb.ImageSize, s.Augment)
		run.Schedule, run.EvalImageSize = &pg, pg.EvalSize()
	}
	if m.StopAt > 0 && m.StopAt < run.TotalSteps {
		b.StopAt = m.StopAt
	}
	var net *trainer.Net
	if ck := m.Resume; ck != nil {
		net, s.State, p.Norm = ck.Net, ck.State, ck.Norm
		run.ResumedAt, b.StartAt = ck.State.Steps(), ck.State.Steps()
	} else if m.Checkpoint != "" && s.State == nil {
		s.State = &trainer.TrainState{}
	}
	var res trainer.Result
	var err error
	if net != nil {
		res, err = net.Train(ctx, p, s, b)
	} else {
		res, net, err = trainer.Train(ctx, p, s, b)
	}
	run.Result, run.Net = res, net
	run.Step = run.ResumedAt
	if err == nil {
		run.Step += res.Steps
	} else if s.State != nil {
		run.Step = s.State.Steps() - b.StepOffset
	}
	if err == nil && run.Finished() && s.Progressive == nil && m.EvalImageSize != 0 && m.EvalImageSize != bb.ImageSize {
		if progress != nil {
			progress(trainer.Progress{Phase: trainer.PhaseRecalibrate})
		}
		var e trainer.Result
		e, err = net.Evaluate(ctx, p, trainer.Eval{ImageSize: m.EvalImageSize, Batch: bb.EvalBatch, Norm: &res.Norm,
			RecalBatches: bb.RecalBatches, Seed: s.Seed, Device: s.Device})
		run.Result.TestAccuracy, run.Result.TestLoss = e.TestAccuracy, e.TestLoss
		run.EvalImageSize = m.EvalImageSize
	}
	if m.Checkpoint == "" || net == nil {
		return run, err
	}
	// A cancelled run is saved when it stopped between training steps:
	// after them its BatchNorm statistics may be half re-estimated.
	interrupted := (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) &&
		run.Step > run.ResumedAt && run.Step < run.TotalSteps
	if err != nil && !interrupted {
		return run, err
	}
	epochs := bb.Epochs // as asked, when it was
	if bb.Steps > 0 {
		epochs = float64(run.TotalSteps) / float64(len(p.Train)/bb.Batch)
	}
	saved := Saved{Dataset: run.Dataset, TrainImages: len(p.Train), ValImages: len(p.Val), Batch: bb.Batch,
		Epochs: epochs, TotalSteps: run.TotalSteps, Step: run.Step,
		TrainImageSize: bb.ImageSize, ImageSize: run.EvalImageSize, Seed: s.Seed, Progressive: run.Schedule}
	if run.Finished() {
		if run.ValImages > 0 {
			saved.ValAccuracy = &run.Result.Accuracy
		}
		if run.TestImages > 0 {
			saved.TestAccuracy = &run.Result.TestAccuracy
		}
	}
	meta := map[string]any{}
	raw, merr := json.Marshal(saved)
	if merr == nil {
		merr = json.Unmarshal(raw, &meta)
	}
	if merr == nil {
		settings := s
		merr = trainer.SaveModel(m.Checkpoint, trainer.Model{Net: net, Norm: &res.Norm, Settings: &settings, State: s.State, Meta: meta})
	}
	if merr != nil {
		return run, errors.Join(err, merr)
	}
	run.Checkpoint = m.Checkpoint
	return run, err
}
