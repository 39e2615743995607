package recipe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/scaling"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
)

// Family trains every member of a compound-scaled family on one dataset:
// each on the whole training split at its training size, its test accuracy
// measured at its evaluation size after BatchNorm re-estimation.
type Family struct {
	Members    []scaling.Member
	Data, Test *data.Dataset
	// Settings and Budget apply to every member; Budget.ImageSize is each
	// member's training size.
	Settings trainer.Settings
	Budget   trainer.Budget
	// Schedule, when set, trains each member progressively with the
	// schedule it returns for the member (see MemberSchedule).
	Schedule func(m scaling.Member) (trainer.Progressive, error)
	// CheckpointDir, when set, is the directory (created) where each
	// member's checkpoint is saved as <name>.safetensors (see
	// Model.Checkpoint).
	CheckpointDir string
}

// Trained is one trained member, as "nas family --train -o" writes it.
type Trained struct {
	Name           string  `json:"name"`
	Params         int64   `json:"params"`
	MACs           int64   `json:"macs"`
	StepTimeMS     float64 `json:"step_time_ms"`
	Accuracy       float64 `json:"accuracy"`
	ImageSize      int     `json:"image_size"`
	TrainImageSize int     `json:"train_image_size"`
	Width          float64 `json:"width"`
	Depth          float64 `json:"depth"`
	Phi            int     `json:"phi"`
	// Checkpoint is the member's checkpoint file (with CheckpointDir).
	Checkpoint string `json:"checkpoint,omitempty"`
}

// Train trains the members in order. progress (may be nil) sees each
// member's training, named; done (may be nil) is called after each member
// with the members trained so far, and an error from it stops the run.
func (f Family) Train(ctx context.Context, progress func(member string, p trainer.Progress),
	done func(rows []Trained, run Run) error) ([]Trained, error) {
	var rows []Trained
	if f.CheckpointDir != "" {
		if err := os.MkdirAll(f.CheckpointDir, 0o755); err != nil {
			return nil, err
		}
	}
	for _, m := range f.Members {
		md := Model{Problem: trainer.Problem{Arch: m.Arch, Data: f.Data, Train: f.Data.All(), Test: f.Test},
			Settings: f.Settings, Budget: f.Budget, EvalImageSize: m.ImageSize}
		md.Budget.ImageSize = m.TrainImageSize
		if f.CheckpointDir != "" {
			if m.Name == "" || filepath.Base(m.Name) != m.Name {
				return rows, fmt.Errorf("recipe: member name %q is not a file name for its checkpoint", m.Name)
			}
			md.Checkpoint = filepath.Join(f.CheckpointDir, m.Name+".safetensors")
		}
		if f.Schedule != nil {
			pg, err := f.Schedule(m)
			if err != nil {
				return rows, err
			}
			md.Settings.Progressive = &pg
		}
		var pf func(trainer.Progress)
		if progress != nil {
			pf = func(p trainer.Progress) { progress(m.Name, p) }
		}
		run, err := Train(ctx, md, pf)
		f.Data.DropResized()
		f.Test.DropResized()
		if err != nil {
			if run.Checkpoint != "" {
				err = fmt.Errorf("%w (its %d of %d steps are saved in %s)", err, run.Step, run.TotalSteps, run.Checkpoint)
			}
			return rows, fmt.Errorf("%s: %w", m.Name, err)
		}
		rows = append(rows, Trained{Name: m.Name, Params: m.Count.Params, MACs: m.Count.MACs, StepTimeMS: run.Result.StepTime.Median * 1e3,
			Accuracy: run.Result.TestAccuracy, ImageSize: m.ImageSize, TrainImageSize: m.TrainImageSize, Width: m.Width, Depth: m.Depth, Phi: m.Phi,
			Checkpoint: run.Checkpoint})
		if done != nil {
			if err := done(rows, run); err != nil {
				return rows, err
			}
		}
	}
	return rows, nil
}

// AutoProfile chooses Table 6's profile by member: s for phi 0, m for phi
// 1, l beyond.
const AutoProfile = "auto"

// MemberProfile is the Table 6 profile of member phi: profile itself, or
// under AutoProfile s, m and l by phi.
func MemberProfile(profile string, phi int) string {
	if profile != AutoProfile {
		return profile
	}
	return trainer.ProfileNames()[min(phi, 2)]
}

// Schedule is a progressive schedule: Table 6's profile ("s", "m" or "l";
// trainer.ProgressiveProfile) with override applied (nil: none), up to
// maxSize (0: the training size), with the final figures at evalSize (0:
// the last stage's size), validated. Errors are *fielderr.Error naming the
// field (profile, stages, min_dropout, ...).
func Schedule(profile string, override func(*trainer.Progressive), maxSize, evalSize int) (trainer.Progressive, error) {
	pg, err := trainer.ProgressiveProfile(profile)
	if err != nil {
		return pg, err
	}
	if override != nil {
		override(&pg)
	}
	if maxSize > 0 {
		pg.MaxImageSize = maxSize
	}
	pg.EvalImageSize = evalSize
	return pg, pg.Validate()
}

// MemberSchedule is a member's progressive schedule: the Schedule of its
// profile (MemberProfile; profile may be AutoProfile) with override, up to
// the member's training size, with the final figures at its evaluation
// size.
func MemberSchedule(profile string, override func(*trainer.Progressive)) func(scaling.Member) (trainer.Progressive, error) {
	return func(m scaling.Member) (trainer.Progressive, error) {
		pg, err := Schedule(MemberProfile(profile, m.Phi), override, m.TrainImageSize, m.ImageSize)
		var fe *fielderr.Error
		if profile != AutoProfile && errors.As(err, &fe) && fe.Field == "profile" {
			fe.Allowed = "want s, m, l or auto"
		}
		return pg, err
	}
}
