package search

import (
	"fmt"
	"strings"
	"time"

	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
)

// EvaluatorSpec is a search's evaluator as data: enough for another
// process, a worker on another host, to build the evaluator NewProxy
// built (NewEvaluator). Workers receive it with every trial. Machine-local
// settings are not part of it: a worker finds datasets in its own data
// directory.
type EvaluatorSpec struct {
	// Name is the evaluator: "train" or "synthetic".
	Name string `json:"name"`
	// Dataset is the data registry name of "train"'s dataset.
	Dataset string `json:"dataset,omitempty"`
	// TrainSubset, ValSize, Epochs, Batch, ImageSize and LR are "train"'s
	// proxy budget (ProxyOptions); ImageSize is resolved (never 0).
	TrainSubset int     `json:"train_subset,omitempty"`
	ValSize     int     `json:"val_size,omitempty"`
	Epochs      float64 `json:"epochs,omitempty"`
	Batch       int     `json:"batch,omitempty"`
	ImageSize   int     `json:"image_size,omitempty"`
	LR          float64 `json:"lr,omitempty"`
	// Baseline is the network "train" times each trial against, on the
	// same machine (the space's backbone).
	Baseline *searchspace.Arch `json:"baseline,omitempty"`
	// Delay makes each "synthetic" evaluation take that long (nanoseconds
	// in JSON).
	Delay time.Duration `json:"delay_ns,omitempty"`
}

// Local is what the process that evaluates adds to an EvaluatorSpec: its
// own data directory and device. It never travels with a trial.
type Local struct {
	// DataDir is where this process finds datasets ("": $EFFNAS_DATA, then
	// the system location).
	DataDir string
	// Device is the GPU "train" trains and times on (nil: the CPU). Trials
	// record it in their host (measure.Host.GPU).
	Device *trainer.Device
}

// NewEvaluator builds the evaluator spec describes, as NewProxy builds it,
// with this process's data directory and device. "train" loads its
// dataset here, so that a missing one is an error now. An unknown name
// wraps ErrUnknownEvaluator.
func NewEvaluator(spec EvaluatorSpec, local Local) (Evaluator, error) {
	switch spec.Name {
	case "synthetic":
		ev, err := newSynthetic(spec.Delay)
		if err != nil {
			return nil, err
		}
		return ev, nil
	case "train":
		te := newTrainEvaluator(spec, local)
		if _, err := te.Load(splitSeed); err != nil {
			return nil, err
		}
		return te, nil
	}
	return nil, fmt.Errorf("%w %q: want %s", ErrUnknownEvaluator, spec.Name, strings.Join(EvaluatorNames(), " or "))
}

// splitSeed draws the validation split and the training subset: fixed, so
// that every trial, on every machine, sees the same images.
const splitSeed = 0x5e1ec7

func newTrainEvaluator(spec EvaluatorSpec, local Local) *TrainEvaluator {
	te := &TrainEvaluator{Dataset: spec.Dataset, Data: data.Options{Dir: local.DataDir}, TrainSubset: spec.TrainSubset, ValSize: spec.ValSize,
		Settings: trainer.Settings{LR: spec.LR, Device: local.Device}, Budget: trainer.Budget{Epochs: spec.Epochs, Batch: spec.Batch, ImageSize: spec.ImageSize}}
	if te.Dataset == "" {
		te.Dataset = defaultDataset
	}
	if spec.Baseline != nil {
		te.Baseline = *spec.Baseline
	}
	return te
}

// newSynthetic is the synthetic evaluator whose evaluations take delay.
func newSynthetic(delay time.Duration) (Synthetic, error) {
	if delay < 0 {
		return Synthetic{}, fmt.Errorf("synthetic evaluator: delay %v: want 0 or more", delay)
	}
	return Synthetic{Delay: delay}, nil
}

// defaultDataset is the dataset of a search that names none.
const defaultDataset = "fashion-mnist"
