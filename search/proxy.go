package search

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/effnas/effnas/scaling"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
)

// ErrUnknownEvaluator is returned (wrapped) by NewProxy for an evaluator
// name that is not registered; the message lists the registered ones.
var ErrUnknownEvaluator = errors.New("unknown evaluator")

// ProxyOptions configures the proxy task NewProxy builds. The zero value of
// each field means the default written next to it; each evaluator reads the
// fields it needs.
type ProxyOptions struct {
	// Evaluator names the evaluator (see EvaluatorNames): "train" trains
	// every trial on real images (TrainEvaluator); "synthetic" computes a
	// documented formula instead (Synthetic), for trying strategies.
	// Default "train".
	Evaluator string
	// SpaceFile is a search space file, searched as it is. Default: for
	// "train", ProxySpace fitted to the dataset; for "synthetic",
	// searchspace.DefaultSpace().
	SpaceFile string

	// Dataset is a data registry name ("fashion-mnist"); DataDir the
	// folder holding its files (data.Options.Dir).
	Dataset, DataDir string
	// Device is the GPU "train" trains and times trials on (nil: the CPU).
	Device *trainer.Device
	// ImageSize is the proxy image size (the dataset's).
	ImageSize int
	// Width and Depth scale the backbone of ProxySpace (0.5 each).
	Width, Depth float64
	// SearchSE also searches the squeeze-excite ratio {0, 0.25} in
	// ProxySpace.
	SearchSE bool
	// TrainSubset is the number of training images per trial, drawn from
	// the training split (all); ValSize the number of validation images
	// held out of it (min(5000, a tenth)).
	TrainSubset, ValSize int
	// Epochs, Batch and LR are the proxy training budget and learning rate
	// (the trainer's defaults: 1 epoch, batch 64, its RMSProp rate).
	Epochs float64
	Batch  int
	LR     float64
	// SyntheticDelay makes each "synthetic" evaluation take that long (0),
	// for demonstrations, tests and simulations of searches on many
	// workers. It does not change the measurements.
	SyntheticDelay time.Duration
}

// Proxy is the task a search scores architectures on: the space it samples
// and the evaluator that measures them.
type Proxy struct {
	Space     searchspace.Space
	Evaluator Evaluator
	// Record is what the search record keeps of the evaluator (for
	// Settings.Evaluator): its name and budget.
	Record any
	// Spec is the evaluator as data, for workers on other hosts.
	Spec EvaluatorSpec
}

// proxies are the evaluators NewProxy knows, by name.
var proxies = map[string]func(ProxyOptions) (Proxy, error){
	"train":     trainProxy,
	"synthetic": syntheticProxy,
}

// EvaluatorNames returns the names NewProxy accepts, sorted.
func EvaluatorNames() []string { return slices.Sorted(maps.Keys(proxies)) }

// NewProxy builds the proxy task of a search: the evaluator o.Evaluator
// names and the space it searches. The "train" evaluator loads its dataset
// here, so that a missing dataset is reported before the search starts.
func NewProxy(o ProxyOptions) (Proxy, error) {
	name, err := evaluatorName(o)
	if err != nil {
		return Proxy{}, err
	}
	return proxies[name](o)
}

// evaluatorName is the evaluator o names ("train" when none), or an error
// wrapping ErrUnknownEvaluator.
func evaluatorName(o ProxyOptions) (string, error) {
	name := o.Evaluator
	if name == "" {
		name = "train"
	}
	if _, ok := proxies[name]; !ok {
		return "", fmt.Errorf("%w %q: want %s", ErrUnknownEvaluator, name, strings.Join(EvaluatorNames(), " or "))
	}
	return name, nil
}

func syntheticProxy(o ProxyOptions) (Proxy, error) {
	sp := searchspace.DefaultSpace()
	if o.SpaceFile != "" {
		var err error
		if sp, err = searchspace.LoadSpace(o.SpaceFile); err != nil {
			return Proxy{}, err
		}
	}
	ev, err := newSynthetic(o.SyntheticDelay)
	if err != nil {
		return Proxy{}, err
	}
	return Proxy{Space: sp, Evaluator: ev, Record: ev.Describe(), Spec: EvaluatorSpec{Name: "synthetic", Delay: o.SyntheticDelay}}, nil
}

func trainProxy(o ProxyOptions) (Proxy, error) {
	spec := EvaluatorSpec{Name: "train", Dataset: o.Dataset, TrainSubset: o.TrainSubset, ValSize: o.ValSize,
		Epochs: o.Epochs, Batch: o.Batch, ImageSize: o.ImageSize, LR: o.LR}
	te := newTrainEvaluator(spec, Local{DataDir: o.DataDir, Device: o.Device})
	spec.Dataset = te.Dataset
	ds, err := te.Load(splitSeed)
	if err != nil {
		return Proxy{}, err
	}
	var sp searchspace.Space
	if o.SpaceFile != "" {
		sp, err = searchspace.LoadSpace(o.SpaceFile)
	} else {
		sp, err = ProxySpace(ds, o)
	}
	if err != nil {
		return Proxy{}, err
	}
	if te.Budget.ImageSize == 0 {
		te.Budget.ImageSize = sp.Backbone.TrainSize()
	}
	te.Baseline = sp.Backbone
	spec.ImageSize, spec.Baseline = te.Budget.ImageSize, &sp.Backbone
	return Proxy{Space: sp, Evaluator: te, Record: te.Describe(), Spec: spec}, nil
}

// ProxySpace is the default search space fitted to a dataset: the
// EfficientNetV2 space (searchspace.NewSpace) over efficientnetv2-b0, whose
// backbone is fitted (Arch.FitTo) to the dataset's channels and classes at
// o.ImageSize (the dataset's image height when 0), so with the stem's
// stride 1 for small images (searchspace.SmallImageMax, as for CIFAR- and
// MNIST-sized inputs), scaled by o.Width and o.Depth (0.5 each when 0) so
// that each trial trains in seconds.
// o.SearchSE adds the squeeze-excite ratio to the decisions.
func ProxySpace(ds *data.Dataset, o ProxyOptions) (searchspace.Space, error) {
	b, err := searchspace.Reference("efficientnetv2-b0")
	if err != nil {
		return searchspace.Space{}, err
	}
	size, width, depth := o.ImageSize, o.Width, o.Depth
	if size == 0 {
		size = ds.H
	}
	if width == 0 {
		width = 0.5
	}
	if depth == 0 {
		depth = 0.5
	}
	b, _, _ = b.FitTo(searchspace.Input{ImageSize: size, Channels: ds.C, Classes: ds.NumClasses})
	b, err = scaling.Scale(b, scaling.Options{Width: width, Depth: depth})
	if err != nil {
		return searchspace.Space{}, err
	}
	b.Name = fmt.Sprintf("efficientnetv2-b0 (width %g, depth %g, %dx%dx%d, %d classes)", width, depth, size, size, ds.C, ds.NumClasses)
	sp := searchspace.NewSpace(b, o.SearchSE)
	return sp, sp.Validate()
}
