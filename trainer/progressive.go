package trainer

// Progressive learning with adaptive regularization (EfficientNetV2 §4.2).
//
// Training of N steps is split into M stages. Stage i (0-based) trains at
// image size S_i with dropout, RandAugment magnitude and mixup alpha Φ_i;
// the weights, the BatchNorm statistics and the input normalisation carry
// over from stage to stage. Two rules give the stage values:
//
//   - RulePaper (default, Algorithm 1 as usually reproduced): linear
//     interpolation from the minimum (first stage) to the maximum (last
//     stage), S_i = S_0 + (S_e - S_0)*i/(M-1) and likewise for every
//     regulariser; M = 1 trains at the maximum. Inner image sizes are
//     rounded to the nearest multiple of SizeMultiple (default 4); the first
//     and last stage use MinImageSize and MaxImageSize exactly.
//   - RuleOfficial (google/automl efficientnetv2 main_tf2.py): the size of
//     stage i is int(S_0 + (S_e - S_0)*(i+1)/M), so the first stage is not at
//     the minimum (B0 with 128 -> 192 in 4 stages: 144, 160, 176, 192);
//     RandAugment magnitude and mixup alpha are linspace(min, max, M) (for
//     M = 1 numpy's linspace gives the minimum); dropout is not scheduled
//     and stays at MaxDropout in every stage.
//
// In both rules stage i ends at step floor((i+1)*N/M), as in the official
// code, so the stages have N/M steps each (differing by at most one).
//
// Each stage is a fixed-size training run with its own graph at the
// stage's image size and Settings.Dropout set to the stage's rate. The stages continue
// one run: they share one TrainState (Settings.State), so the optimizer
// state (RMSProp mean square and momentum, Adam moments and step count) and
// the dropout/stochastic-depth mask generator carry over, and each stage's
// Budget.StepOffset/TotalSteps place its steps in the whole run, so the
// learning-rate schedule and warm-up ("cosine", "exponential") run once over
// all steps and the data order (Settings.Seed's shuffle per epoch) and the
// augmentation generator continue where the previous stage stopped. At a
// constant size and with constant regularisation, M stages train exactly
// as one fixed-size run of the same steps; a one-stage run is the
// fixed-size run with the last stage's regularisation. A caller-supplied
// Settings.State is continued too, and Budget.StartAt and StopAt train a
// part of the schedule (a run resumed from a checkpoint, or stopped for
// one): the stages it overlaps, each from the part's first step.
//
// Only the last stage re-estimates the BatchNorm statistics (at the maximum
// size, Budget.RecalBatches training batches), evaluates Problem.Val and
// Problem.Test at that size and measures the step time at that size. With
// EvalImageSize set to another size, the statistics are re-estimated again
// at that size and the validation and test figures are measured there (the
// paper evaluates at a size about 20% larger than the last training size,
// without fine-tuning).
//
// ProgressiveProfile gives the paper's Table 6 values for the S, M and L
// models (image 128 -> 300/380/380, RandAugment 5 -> 15/20/25, mixup
// 0 -> 0/0.2/0.4, dropout 0.1 -> 0.3/0.4/0.5) with the image sizes left to
// be derived from the training size: MaxImageSize is the training size and
// MinImageSize keeps Table 6's ratio 128/ReferenceMaxImageSize (rounded to a
// multiple of 4, at least 16 pixels, at most MaxImageSize); for 28x28
// Fashion-MNIST and the S profile that is 16 -> 28.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer/data"
)

// Stage rules of progressive learning.
const (
	RulePaper    = "paper"
	RuleOfficial = "official"
)

// Progressive-learning limits and Table 6 constants.
const (
	DefaultStages = 4
	MaxStages     = 64
	// ImageNetMinImageSize is Table 6's first-stage size, shared by S, M and L.
	ImageNetMinImageSize = 128
	// MinDerivedImageSize is the smallest derived first-stage size.
	MinDerivedImageSize = 16
	// DefaultRandAugN is the official number of RandAugment ops per image.
	DefaultRandAugN = 2
)

// ErrBadProgressive marks invalid progressive-learning settings.
var ErrBadProgressive = errors.New("invalid progressive-learning setting")

// badProgressive reports a bad setting: a *fielderr.Error scoped
// "progressive", named by its JSON name (min_dropout, stages, ...) and
// wrapping ErrBadProgressive.
func badProgressive(field string, v any, allowed string) error {
	return &fielderr.Error{Scope: "progressive", Field: field, Value: v, Allowed: allowed, Err: ErrBadProgressive}
}

// Progressive configures progressive learning; set Settings.Progressive to
// train with it. The zero value is 4 stages
// of progressive resizing (derived sizes) with no regularisation at all:
// start from ProgressiveProfile for the paper's values.
type Progressive struct {
	// Stages M (0: 4).
	Stages int `json:"stages"`
	// Rule is RulePaper (default) or RuleOfficial (see the file comment).
	Rule string `json:"rule"`
	// MinImageSize and MaxImageSize are the first and last stage's sizes.
	// MaxImageSize 0 is the training size (Budget.ImageSize, else the
	// architecture's); MinImageSize 0 is DerivedMinImageSize(max, ref).
	MinImageSize int `json:"min_image_size"`
	MaxImageSize int `json:"max_image_size"`
	// ReferenceMaxImageSize is the ImageNet maximum that Table 6's minimum
	// (128) is relative to when MinImageSize is derived (0: 300).
	ReferenceMaxImageSize int `json:"reference_max_image_size,omitempty"`
	// EvalImageSize, when > 0 and not MaxImageSize, is where the final
	// validation and test figures are measured (after re-estimating the
	// BatchNorm statistics there).
	EvalImageSize int `json:"eval_image_size,omitempty"`
	// Regularisation from the first (Min) to the last (Max) stage: dropout
	// rate in [0, 1), RandAugment magnitude in [0, 30] (0 = no RandAugment in
	// that stage), mixup alpha >= 0 (0 = no mixup).
	MinDropout float64 `json:"min_dropout"`
	MaxDropout float64 `json:"max_dropout"`
	MinRandAug float64 `json:"min_randaug"`
	MaxRandAug float64 `json:"max_randaug"`
	MinMixup   float64 `json:"min_mixup"`
	MaxMixup   float64 `json:"max_mixup"`
	// RandAugN ops per image where the magnitude is > 0 (0:
	// Settings.Augment.RandAugN when set, else 2).
	RandAugN int `json:"randaug_n"`
	// SizeMultiple rounds the inner stages' sizes of RulePaper (0: 4).
	SizeMultiple int `json:"size_multiple,omitempty"`
}

// profile is one column pair of Table 6.
type profile struct {
	maxSize                 int
	randAug, mixup, dropout float64
}

var profiles = map[string]profile{
	"s": {300, 15, 0, 0.3},
	"m": {380, 20, 0.2, 0.4},
	"l": {380, 25, 0.4, 0.5},
}

// ProfileNames lists the Table 6 profiles.
func ProfileNames() []string { return []string{"s", "m", "l"} }

// ProgressiveProfile returns Table 6's values for model "s", "m" or "l"
// (the minimum, shared by all: RandAugment 5, mixup 0, dropout 0.1), with 4
// stages, the paper's rule and the image sizes left to derive
// (ReferenceMaxImageSize 300 or 380).
func ProgressiveProfile(name string) (Progressive, error) {
	p, ok := profiles[strings.ToLower(name)]
	if !ok {
		return Progressive{}, badProgressive("profile", fmt.Sprintf("%q", name), "want s, m or l (Table 6)")
	}
	return Progressive{Stages: DefaultStages, Rule: RulePaper, ReferenceMaxImageSize: p.maxSize,
		MinDropout: 0.1, MaxDropout: p.dropout, MinRandAug: 5, MaxRandAug: p.randAug, MinMixup: 0, MaxMixup: p.mixup,
		RandAugN: DefaultRandAugN}, nil
}

// DerivedMinImageSize scales Table 6's first-stage size to a maximum size:
// maxSize*128/ref rounded to a multiple of 4, at least 16 and at most
// maxSize (ref 0 means 300).
func DerivedMinImageSize(maxSize, ref int) int {
	if ref <= 0 {
		ref = 300
	}
	s := 4 * int(math.Floor(float64(maxSize)*ImageNetMinImageSize/float64(ref)/4+0.5))
	return min(maxSize, max(MinDerivedImageSize, s))
}

// withDefaults fills the zero fields; trainSize is the training size.
func (pg Progressive) withDefaults(trainSize int, aug data.Augment) Progressive {
	if pg.Stages == 0 {
		pg.Stages = DefaultStages
	}
	if pg.Rule == "" {
		pg.Rule = RulePaper
	}
	if pg.MaxImageSize == 0 {
		pg.MaxImageSize = trainSize
	}
	if pg.ReferenceMaxImageSize == 0 {
		pg.ReferenceMaxImageSize = 300
	}
	if pg.MinImageSize == 0 {
		pg.MinImageSize = DerivedMinImageSize(pg.MaxImageSize, pg.ReferenceMaxImageSize)
	}
	if pg.RandAugN == 0 {
		pg.RandAugN = DefaultRandAugN
		if aug.RandAugN > 0 {
			pg.RandAugN = aug.RandAugN
		}
	}
	if pg.SizeMultiple == 0 {
		pg.SizeMultiple = 4
	}
	return pg
}

// Validate checks the settings as given (zero image sizes allowed, meaning
// derived); errors are *fielderr.Error wrapping ErrBadProgressive.
func (pg Progressive) Validate() error {
	bad := badProgressive
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case pg.Stages < 0 || pg.Stages > MaxStages:
		return bad("stages", pg.Stages, fmt.Sprintf("want an integer in [1, %d] (0 = %d)", MaxStages, DefaultStages))
	case pg.Rule != "" && pg.Rule != RulePaper && pg.Rule != RuleOfficial:
		return bad("rule", fmt.Sprintf("%q", pg.Rule), "want paper or official")
	case pg.MaxImageSize < 0 || pg.MaxImageSize > searchspace.MaxImage:
		return bad("max_image_size", pg.MaxImageSize, fmt.Sprintf("want an integer in [1, %d] (0 = the training size)", searchspace.MaxImage))
	case pg.MinImageSize < 0 || pg.MinImageSize > searchspace.MaxImage:
		return bad("min_image_size", pg.MinImageSize, fmt.Sprintf("want an integer in [1, %d] (0 = derived)", searchspace.MaxImage))
	case pg.MinImageSize > 0 && pg.MaxImageSize > 0 && pg.MinImageSize > pg.MaxImageSize:
		return bad("min_image_size", pg.MinImageSize, fmt.Sprintf("want at most max_image_size %d", pg.MaxImageSize))
	case pg.EvalImageSize < 0 || pg.EvalImageSize > searchspace.MaxImage:
		return bad("eval_image_size", pg.EvalImageSize, fmt.Sprintf("want an integer in [1, %d] (0 = max_image_size)", searchspace.MaxImage))
	case pg.ReferenceMaxImageSize < 0 || pg.ReferenceMaxImageSize > searchspace.MaxImage:
		return bad("reference_max_image_size", pg.ReferenceMaxImageSize, fmt.Sprintf("want an integer in [1, %d] (0 = 300)", searchspace.MaxImage))
	case pg.RandAugN < 0 || pg.RandAugN > 16:
		return bad("randaug_n", pg.RandAugN, "want an integer in [1, 16] (0 = 2)")
	case pg.SizeMultiple < 0 || pg.SizeMultiple > 64:
		return bad("size_multiple", pg.SizeMultiple, "want an integer in [1, 64] (0 = 4)")
	}
	type rng struct {
		name    string
		lo, hi  float64
		top     float64
		openTop bool
		allowed string
	}
	for _, r := range []rng{
		{"dropout", pg.MinDropout, pg.MaxDropout, 1, true, "want a rate in [0, 1)"},
		{"randaug", pg.MinRandAug, pg.MaxRandAug, data.MaxMagnitude, false, fmt.Sprintf("want a magnitude in [0, %d]", data.MaxMagnitude)},
		{"mixup", pg.MinMixup, pg.MaxMixup, 100, false, "want an alpha in [0, 100]"},
	} {
		for i, v := range []float64{r.lo, r.hi} {
			f := [2]string{"min_", "max_"}[i] + r.name
			if !finite(v) || v < 0 || v > r.top || (r.openTop && v == r.top) {
				return bad(f, v, r.allowed)
			}
		}
		if r.lo > r.hi {
			return bad("min_"+r.name, r.lo, fmt.Sprintf("want at most max_%s %v", r.name, r.hi))
		}
	}
	return nil
}

// StagePlan is one stage of a progressive run.
type StagePlan struct {
	Stage  int `json:"stage"` // 1 .. Stages
	Stages int `json:"stages"`
	// FirstStep is the 0-based global index of the stage's first step.
	FirstStep int     `json:"first_step"`
	Steps     int     `json:"steps"`
	ImageSize int     `json:"image_size"`
	Dropout   float64 `json:"dropout"`
	RandAugN  int     `json:"randaug_n"` // 0 when the magnitude is 0
	RandAugM  float64 `json:"randaug_magnitude"`
	Mixup     float64 `json:"mixup"`
}

func (s StagePlan) String() string {
	ra := "off"
	if s.RandAugN > 0 {
		ra = fmt.Sprintf("%d ops at %.3g", s.RandAugN, s.RandAugM)
	}
	return fmt.Sprintf("stage %d/%d: %dx%d, %d steps, dropout %.3g, RandAugment %s, mixup %.3g",
		s.Stage, s.Stages, s.ImageSize, s.ImageSize, s.Steps, s.Dropout, ra, s.Mixup)
}

// Plan returns the stages of a run of total steps, after filling the zero
// fields (trainSize is the training size for a zero MaxImageSize). total
// must be at least the number of stages.
func (pg Progressive) Plan(total, trainSize int) ([]StagePlan, error) {
	if err := pg.Validate(); err != nil {
		return nil, err
	}
	pg = pg.withDefaults(trainSize, data.Augment{})
	if err := pg.Validate(); err != nil {
		return nil, err
	}
	if pg.MaxImageSize < 1 {
		return nil, badProgressive("max_image_size", pg.MaxImageSize, "want a positive size")
	}
	m := pg.Stages
	if total < m {
		return nil, badProgressive("stages", m, fmt.Sprintf("want at most the %d training steps", total))
	}
	lerp := func(lo, hi, f float64) float64 { return lo + (hi-lo)*f }
	out := make([]StagePlan, m)
	for i := range out {
		// linspace fraction i/(M-1); M = 1: the paper trains at the
		// maximum, numpy's linspace (official) gives the minimum.
		f := 1.0
		if m > 1 {
			f = float64(i) / float64(m-1)
		} else if pg.Rule == RuleOfficial {
			f = 0
		}
		st := StagePlan{Stage: i + 1, Stages: m, FirstStep: i * total / m, Steps: (i+1)*total/m - i*total/m,
			Dropout: lerp(pg.MinDropout, pg.MaxDropout, f), RandAugM: lerp(pg.MinRandAug, pg.MaxRandAug, f),
			Mixup: lerp(pg.MinMixup, pg.MaxMixup, f)}
		lo, hi := float64(pg.MinImageSize), float64(pg.MaxImageSize)
		switch {
		case pg.Rule == RuleOfficial:
			st.ImageSize = int(lo + (hi-lo)*float64(i+1)/float64(m))
			st.Dropout = pg.MaxDropout
		case i == m-1:
			st.ImageSize = pg.MaxImageSize
		case i == 0:
			st.ImageSize = pg.MinImageSize
		default:
			q := float64(pg.SizeMultiple)
			st.ImageSize = int(math.Floor(lerp(lo, hi, f)/q+0.5)) * pg.SizeMultiple
			st.ImageSize = min(pg.MaxImageSize, max(pg.MinImageSize, st.ImageSize))
		}
		if st.RandAugM > 0 {
			st.RandAugN = pg.RandAugN
		}
		out[i] = st
	}
	return out, nil
}

// StageResult is what one stage measured.
type StageResult struct {
	StagePlan
	// FirstLoss is the training loss of the stage's first step, TrainLoss
	// the mean over the last tenth of its steps.
	FirstLoss float64 `json:"first_loss"`
	TrainLoss float64 `json:"train_loss"`
	// WallTime is the whole stage (the last one includes re-estimation,
	// evaluation and timing); TrainTime the training steps only.
	WallTime  time.Duration `json:"wall_time"`
	TrainTime time.Duration `json:"train_time"`
}

// WithDefaults fills the zero fields as training does; trainSize is the
// training size (Budget.ImageSize after its defaults) and aug the
// training augmentation (Settings.Augment).
func (pg Progressive) WithDefaults(trainSize int, aug data.Augment) Progressive {
	return pg.withDefaults(trainSize, aug)
}

// EvalSize is where a run with these settings (after WithDefaults) scores
// the network: EvalImageSize when set, else the last stage's size.
func (pg Progressive) EvalSize() int {
	if pg.EvalImageSize > 0 {
		return pg.EvalImageSize
	}
	return pg.MaxImageSize
}

// trainProgressive trains the network through the stages of
// s.Progressive (see the file comment). Budget.Epochs or Steps is the total
// over all stages, Budget.ImageSize the training size that a zero
// MaxImageSize takes. Settings.Augment's other fields (crop, flip, fill,
// ops, label smoothing) apply in every stage; its RandAugM and MixupAlpha
// and Settings.Dropout are replaced by the stage values (the network's
// Arch.Dropout is left as it was). Settings.State, when set, is continued
// and holds the run's final optimizer state afterwards. A nonzero
// Budget.StepOffset places the whole progressive run at that step of a
// longer one. Settings.Progress sees the training steps numbered over the
// whole run, and each stage's start and end. The result is the last
// stage's (BatchNorm re-estimation, validation, test and step time at
// MaxImageSize, or the validation and test figures at EvalImageSize when
// set), with Steps, Epochs, TrainTime and WallTime covering the steps
// trained (the whole run without StartAt and StopAt); TrainLoss is the
// last trained stage's. A part that stops before the run's end has only
// the training figures.
func (n *Net) trainProgressive(ctx context.Context, p Problem, s Settings, b Budget) (Result, error) {
	start := time.Now()
	s = s.withDefaults()
	b = b.withDefaults(n.Arch)
	pg := s.Progressive.withDefaults(b.ImageSize, s.Augment)
	s.Progressive = nil
	if err := p.check(b.Batch); err != nil {
		return Result{}, err
	}
	perEpoch := len(p.Train) / b.Batch
	total := b.RunSteps(len(p.Train))
	plan, err := pg.Plan(total, b.ImageSize)
	if err != nil {
		return Result{}, err
	}
	from, to, err := b.part(total)
	if err != nil {
		return Result{}, err
	}
	finished := to == total
	norm := p.norm(s.Gate)
	state := s.State
	if state == nil {
		state = &TrainState{}
	}
	res := Result{Norm: norm}
	var trainTime time.Duration
	for i, st := range plan {
		// the stage's steps within this call's part of the run
		lo, hi := max(st.FirstStep, from), min(st.FirstStep+st.Steps, to)
		if lo >= hi {
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		sr := StageResult{StagePlan: st, FirstLoss: math.NaN()}
		report(s, Progress{Phase: PhaseStage, Stage: &StageResult{StagePlan: st, FirstLoss: math.NaN()}})
		last := i == len(plan)-1 && finished
		ss := s
		ss.State = state
		drop := st.Dropout
		ss.Dropout = &drop
		ss.Augment.RandAugN, ss.Augment.RandAugM, ss.Augment.MixupAlpha = st.RandAugN, st.RandAugM, st.Mixup
		ss.Progress = func(pr Progress) {
			if pr.Phase == PhaseTrain {
				if pr.Step == 1 {
					sr.FirstLoss = pr.Loss
				}
				pr.Step += lo
				pr.Steps = total
				pr.Epoch = float64(pr.Step) / float64(perEpoch)
			} else if !last {
				return
			}
			report(s, pr)
		}
		bb := Budget{Steps: hi - lo, StepOffset: b.StepOffset + lo, TotalSteps: max(b.TotalSteps, b.StepOffset+total),
			Batch: b.Batch, ImageSize: st.ImageSize, EvalBatch: b.EvalBatch, RecalBatches: -1, TimingSteps: -1}
		pp := Problem{Arch: n.Arch, Data: p.Data, Train: p.Train, Norm: &norm}
		if last {
			bb.RecalBatches, bb.TimingWarmup, bb.TimingSteps = b.RecalBatches, b.TimingWarmup, b.TimingSteps
			pp.Val, pp.Test = p.Val, p.Test
		}
		t0 := time.Now()
		r, err := n.trainFixed(ctx, pp, ss, bb)
		sr.TrainLoss, sr.TrainTime, sr.WallTime = r.TrainLoss, seconds(r.TrainTime), time.Since(t0)
		trainTime += sr.TrainTime
		report(s, Progress{Phase: PhaseStageDone, Stage: &sr})
		if err != nil {
			return res, fmt.Errorf("stage %d/%d (%dx%d): %w", st.Stage, st.Stages, st.ImageSize, st.ImageSize, err)
		}
		res = r
	}
	if finished && pg.EvalImageSize > 0 && pg.EvalImageSize != pg.MaxImageSize {
		report(s, Progress{Phase: PhaseRecalibrate})
		e, err := n.evaluate(ctx, p, Eval{ImageSize: pg.EvalImageSize, Batch: b.EvalBatch, Norm: &norm, RecalBatches: b.RecalBatches, Seed: s.Seed,
			Gate: s.Gate})
		if err != nil {
			return res, err
		}
		res.Accuracy, res.Loss, res.TestAccuracy, res.TestLoss = e.Accuracy, e.Loss, e.TestAccuracy, e.TestLoss
	}
	res.Steps = to - from
	res.Epochs = float64(res.Steps) / float64(perEpoch)
	res.TrainTime = trainTime.Seconds()
	res.WallTime = time.Since(start).Seconds()
	return res, nil
}

// seconds converts a measurement's seconds back to a duration.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
