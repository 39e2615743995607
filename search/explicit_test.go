package search

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/effnas/effnas/controller"
	"github.com/effnas/effnas/fielderr"
)

func TestCheckExplicit(t *testing.T) {
	good := func() (Settings, ProxyOptions) {
		return Settings{Name: "a", Trials: 2, Parallel: 1, Seed: 1, ControllerOptions: controller.Options{LearningRate: 0.1, MinibatchSize: 2}},
			ProxyOptions{Epochs: 1, ValSize: 10, Width: 0.5, Depth: 0.5, Batch: 8, LR: 1e-3}
	}
	if err := CheckExplicit(good()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		change func(*Settings, *ProxyOptions)
		field  string
		value  string
	}{
		{func(s *Settings, _ *ProxyOptions) { s.Name = "" }, "name", `""`},
		{func(s *Settings, _ *ProxyOptions) { s.Parallel = MaxParallel + 1 }, "parallel", fmt.Sprint(MaxParallel + 1)},
		{func(s *Settings, _ *ProxyOptions) { s.Seed = 0 }, "seed", "0"},
		{func(s *Settings, _ *ProxyOptions) { s.Window.Size = -1 }, "window", "-1"},
		{func(_ *Settings, o *ProxyOptions) { o.Epochs = math.Inf(1) }, "evaluator.epochs", "+Inf"},
		{func(_ *Settings, o *ProxyOptions) { o.ValSize = 0 }, "evaluator.val_size", "0"},
		{func(_ *Settings, o *ProxyOptions) { o.Width = 0 }, "evaluator.width", "0"},
		{func(_ *Settings, o *ProxyOptions) { o.ImageSize = -2 }, "evaluator.image_size", "-2"},
		{func(s *Settings, _ *ProxyOptions) { s.ControllerOptions.MinibatchSize = 0 }, "MinibatchSize", "0"},
		// the first refused field is named
		{func(s *Settings, o *ProxyOptions) { o.LR = 0; s.Trials = 0 }, "trials", "0"},
	} {
		s, o := good()
		c.change(&s, &o)
		var fe *fielderr.Error
		if err := CheckExplicit(s, o); !errors.As(err, &fe) || fe.Field != c.field || fmt.Sprint(fe.Value) != c.value {
			t.Errorf("%s: got %v", c.field, err)
		}
	}
}
