package search

import "testing"

func TestSpaceTitle(t *testing.T) {
	for _, c := range []struct {
		o    ProxyOptions
		want string
	}{
		{ProxyOptions{Evaluator: "train", Dataset: "cifar10", Width: 0.25, Depth: 0.5},
			`the space "nas search --evaluator train" searches on cifar10 at width 0.25, depth 0.5`},
		{ProxyOptions{Evaluator: "synthetic", Dataset: "cifar10", Width: 0.25, Depth: 0.5},
			`the space "nas search --evaluator synthetic" searches`},
		{ProxyOptions{Evaluator: "train", SpaceFile: "s.json"}, ""},
	} {
		if got := c.o.SpaceTitle(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.o, got, c.want)
		}
	}
}
