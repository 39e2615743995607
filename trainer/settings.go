package trainer

import (
	"errors"
	"fmt"
	"math"

	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer/data"
)

// Problem is what to train: an architecture and the data.
type Problem struct {
	Arch searchspace.Arch
	// Data is the training split; Train and Val index into it. The
	// validation samples are held out of the training set: a search never
	// looks at the test set.
	Data       *data.Dataset
	Train, Val []int
	// Test, when set, is evaluated once at the end (nas train).
	Test *data.Dataset
	// Norm is the input normalisation; nil computes the per-channel mean
	// and standard deviation of the training samples.
	Norm *data.Norm
}

// Settings is how to train. The zero value of each field means the default
// written next to it (the recipe of the project's PyTorch anchor, with the
// official RMSProp constants).
type Settings struct {
	Optimizer string  // rmsprop (default), adam or sgd
	LR        float64 // 1e-3
	Momentum  float64 // 0.9 (RMSProp and SGD)
	RMSDecay  float64 // 0.9
	Epsilon   float64 // 1e-3 (RMSProp: inside the square root, as TensorFlow), 1e-8 (Adam)
	// WeightDecay is L2 on convolution and dense kernels, sparing BatchNorm
	// and biases (1e-5; negative disables).
	WeightDecay float64
	// Schedule is "constant" (default), "cosine" or "exponential".
	Schedule     string
	WarmupEpochs float64
	// LabelSmoothing (0; the official ImageNet recipe uses 0.1).
	LabelSmoothing float64
	// Augment is the training augmentation (none by default).
	Augment data.Augment
	// Dropout overrides the architecture's classifier dropout when in
	// [0, 1): Train builds the network with it, Net.Train trains with it
	// and restores the network's Arch.Dropout afterwards; nil, negative or
	// NaN keeps it. A progressive schedule sets it per stage.
	Dropout *float64
	// State, when set, carries the optimizer state and the mask generator
	// from one Net.Train call to the next (see TrainState); nil starts
	// afresh.
	State *TrainState
	// Seed fixes initialisation, data order, augmentation and masks.
	Seed uint64
	// Progress, when set, is called after every training step and at each
	// phase change.
	Progress func(Progress)
	// Gate, when set, is held shared around every slice of computation
	// (a training step with its batch, a batch scored, a graph built) and
	// exclusively while step time is measured (see Gate).
	Gate Gate
	// Baseline, when set, is the network the step time is also measured
	// against, interleaved (see Baseline): the measurement then has a
	// relative step time.
	Baseline *Baseline
	// Progressive, when set, is the schedule of progressive learning:
	// training runs in stages of growing image size and regularisation
	// (see Progressive). Nil trains at one size.
	Progressive *Progressive
	// Device, when set, is the GPU that trains, evaluates and times (see
	// Device); nil runs on the CPU.
	Device *Device
}

func (s Settings) withDefaults() Settings {
	if s.Optimizer == "" {
		s.Optimizer = RMSProp
	}
	if s.LR == 0 {
		s.LR = 1e-3
	}
	if s.Momentum == 0 {
		s.Momentum = 0.9
	}
	if s.RMSDecay == 0 {
		s.RMSDecay = 0.9
	}
	if s.Epsilon == 0 {
		s.Epsilon = 1e-3
		if s.Optimizer == Adam {
			s.Epsilon = 1e-8
		}
	}
	if s.WeightDecay == 0 {
		s.WeightDecay = 1e-5
	} else if s.WeightDecay < 0 {
		s.WeightDecay = 0
	}
	if s.Schedule == "" {
		s.Schedule = "constant"
	}
	return s
}

func (s Settings) validate() error {
	switch {
	case !(s.LR > 0) || math.IsInf(s.LR, 0):
		return fmt.Errorf("trainer: learning rate = %v: want a positive number", s.LR)
	case s.Momentum < 0 || s.Momentum >= 1:
		return fmt.Errorf("trainer: momentum = %v: want [0, 1)", s.Momentum)
	case s.RMSDecay <= 0 || s.RMSDecay >= 1:
		return fmt.Errorf("trainer: rmsprop decay = %v: want (0, 1)", s.RMSDecay)
	case s.Schedule != "constant" && s.Schedule != "cosine" && s.Schedule != "exponential":
		return fmt.Errorf("trainer: schedule = %q: want constant, cosine or exponential", s.Schedule)
	case s.WarmupEpochs < 0:
		return fmt.Errorf("trainer: warm-up epochs = %v: want >= 0", s.WarmupEpochs)
	case s.LabelSmoothing < 0 || s.LabelSmoothing >= 1:
		return fmt.Errorf("trainer: label smoothing = %v: want [0, 1)", s.LabelSmoothing)
	}
	return nil
}

// Budget is how much to train and measure.
type Budget struct {
	// Epochs over Problem.Train (1); Steps, when > 0, overrides it.
	Epochs float64
	Steps  int
	// StepOffset and TotalSteps place this call's steps in a longer run
	// (progressive learning): the call trains the run's steps StepOffset ..
	// StepOffset+Steps-1, the learning-rate schedule and warm-up run over
	// TotalSteps (0: StepOffset plus this call's steps), and the data order
	// continues at the run's step (epoch StepOffset/batches-per-epoch, same
	// shuffle). With Settings.State carried too, consecutive calls train
	// exactly as one call of the total steps, augmentation included.
	StepOffset, TotalSteps int
	// StartAt and StopAt, when set, train only the run's steps StartAt ..
	// StopAt-1 (StopAt 0: to its end), the run being the Steps or Epochs
	// above (with Settings.Progressive, the whole schedule). StartAt > 0
	// continues a run saved at that step: the network, Settings.State (at
	// StepOffset+StartAt steps) and Problem.Norm as its checkpoint holds
	// them (LoadModel). A StopAt before the end leaves the network and
	// Settings.State at that step for SaveModel, and the result has the
	// training figures only: no BatchNorm re-estimation, scoring or timing.
	// The parts of a run trained one after the other give the same losses
	// and weights, bit for bit, as the whole run in one call.
	StartAt, StopAt int
	// Batch is the training batch size (64).
	Batch int
	// ImageSize is the training and evaluation image size (the
	// architecture's training size).
	ImageSize int
	// EvalBatch is the evaluation batch size (256).
	EvalBatch int
	// RecalBatches training batches re-estimate the BatchNorm statistics
	// before scoring (20; negative disables). Without it a short run's
	// accuracy swings by several points with the last steps' statistics.
	RecalBatches int
	// TimingWarmup untimed and TimingSteps timed training steps measure
	// the step time (3 and 20; TimingSteps < 0 disables timing).
	TimingWarmup, TimingSteps int
}

// WithDefaults fills the zero fields of b with the documented defaults for
// architecture a.
func (b Budget) WithDefaults(a searchspace.Arch) Budget { return b.withDefaults(a) }

// RunSteps is the number of training steps of the run on n training
// samples: Steps when set, else Epochs (default 1) times the batches per
// epoch (n / Batch, the last partial batch dropped), rounded, at least 1.
func (b Budget) RunSteps(n int) int {
	b = b.withDefaults(searchspace.Arch{})
	if b.Steps > 0 {
		return b.Steps
	}
	return max(1, int(math.Round(b.Epochs*float64(n/b.Batch))))
}

// part checks StartAt and StopAt against the run of total steps and
// returns the steps to train, from .. to-1.
func (b Budget) part(total int) (from, to int, err error) {
	from, to = b.StartAt, b.StopAt
	if to == 0 {
		to = total
	}
	if from < 0 || to <= from || to > total {
		return 0, 0, fmt.Errorf("trainer: start at step %d, stop at step %d: want 0 <= start < stop <= the run's %d steps", b.StartAt, b.StopAt, total)
	}
	return from, to, nil
}

func (b Budget) withDefaults(a searchspace.Arch) Budget {
	if b.Epochs == 0 && b.Steps == 0 {
		b.Epochs = 1
	}
	if b.Batch == 0 {
		b.Batch = 64
	}
	if b.ImageSize == 0 {
		b.ImageSize = a.TrainSize()
	}
	if b.EvalBatch == 0 {
		b.EvalBatch = 256
	}
	if b.RecalBatches == 0 {
		b.RecalBatches = 20
	}
	if b.TimingWarmup == 0 {
		b.TimingWarmup = 3
	}
	if b.TimingSteps == 0 {
		b.TimingSteps = 20
	}
	return b
}

// Phases of training that Progress reports.
const (
	PhaseTrain       = "train"       // after every training step
	PhaseRecalibrate = "recalibrate" // BatchNorm statistics re-estimated
	PhaseEvaluate    = "evaluate"    // validation and test scored
	PhaseTime        = "time"        // step time measured
	PhaseStage       = "stage"       // a progressive stage starts (Stage: its plan)
	PhaseStageDone   = "stage done"  // a progressive stage ended (Stage: its results)
)

// Progress reports training as it goes.
type Progress struct {
	Phase       string
	Step, Steps int
	Epoch       float64
	Loss        float64 // moving average of the training loss
	StepLoss    float64 // this step's training loss
	LR          float64
	// Stage is the progressive stage, in PhaseStage and PhaseStageDone.
	Stage *StageResult
}

// ErrDiverged is returned (wrapped) when the loss becomes NaN or infinite.
var ErrDiverged = errors.New("training diverged")
