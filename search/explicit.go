package search

import (
	"fmt"
	"math"
)

// CheckExplicit checks search settings and proxy options whose every
// field was given (a command line with its defaults filled in): a zero
// that Settings.Check or NewProxy would read as "the default" is refused
// here where it cannot be what was meant. The error is a field error
// (fielderr.Error) naming the field as Settings.Check and ProxyOptions'
// record do ("trials", "evaluator.val_size", "LearningRate").
func CheckExplicit(s Settings, o ProxyOptions) error {
	positive := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) }
	for _, c := range []struct {
		field   string
		value   any
		ok      bool
		allowed string
	}{
		{"name", fmt.Sprintf("%q", s.Name), s.Name != "", "want a search name"},
		{"trials", s.Trials, s.Trials >= 1, "want 1 or more"},
		{"parallel", s.Parallel, s.Parallel >= 1 && s.Parallel <= MaxParallel, fmt.Sprintf("want 1 to %d", MaxParallel)},
		{"seed", s.Seed, s.Seed >= 1, "want 1 or more"},
		{"window", s.Window.Size, s.Window.Size >= 0, "want 1 or more"},
		{"evaluator.epochs", o.Epochs, positive(o.Epochs), "want a positive number"},
		{"evaluator.train_subset", o.TrainSubset, o.TrainSubset >= 0, "want 0 (all) or more"},
		{"evaluator.val_size", o.ValSize, o.ValSize >= 1, "want 1 or more"},
		{"evaluator.image_size", o.ImageSize, o.ImageSize >= 0, "want 0 (the dataset's) or more"},
		{"evaluator.width", o.Width, positive(o.Width), "want a positive number"},
		{"evaluator.depth", o.Depth, positive(o.Depth), "want a positive number"},
		{"evaluator.batch", o.Batch, o.Batch >= 1, "want 1 or more"},
		{"evaluator.lr", o.LR, positive(o.LR), "want a positive number"},
		{"LearningRate", s.ControllerOptions.LearningRate, positive(s.ControllerOptions.LearningRate), "want a positive number"},
		{"MinibatchSize", s.ControllerOptions.MinibatchSize, s.ControllerOptions.MinibatchSize >= 1, "want 1 or more"},
	} {
		if !c.ok {
			return bad(c.field, c.value, c.allowed)
		}
	}
	return nil
}
