package cli

import (
	"strings"
	"testing"

	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/search"
)

// The settings package search names are the flags of nas search.
func TestSearchErrorsNameTheFlags(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&search.ChangedError{Search: "s", Setting: "evaluator.epochs", Stored: 1.0, Given: 2.0}, `search "s" in x.db was created with --epochs 1, not 2: resume it with --epochs 1`},
		{&search.ChangedError{Search: "s", Setting: "evaluator.train_subset", Stored: 8000.0, Given: 100.0}, "created with --train-subset 8000, not 100"},
		{&search.ChangedError{Search: "s", Setting: "evaluator.name", Stored: "synthetic", Given: "train"}, "created with --evaluator synthetic, not train"},
		{&search.ChangedError{Search: "s", Setting: "space", Stored: "a", Given: "b"}, "give the --space, --width, --depth, --image-size, --search-se and --dataset it was created with"},
		{&fielderr.Error{Scope: "controller", Field: "MinibatchSize", Value: -1, Allowed: "want >= 1"}, "--rl-minibatch = -1: want >= 1"},
	} {
		err := SearchError(c.err, "x.db")
		if _, ok := err.(UsageError); !ok || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want a usage error with %q", c.err, err, c.want)
		}
	}
}
