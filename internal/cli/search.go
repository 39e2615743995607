package cli

import (
	"errors"

	"github.com/effnas/effnas/controller"
	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/search"
)

// settingFlags are the flags of search settings and of the settings a
// resumed search must keep, by the names package search gives them.
var settingFlags = map[string]string{
	"name": "name", "trials": "trials", "parallel": "parallel", "window": "window", "controller": "controller", "seed": "seed",
	"LearningRate": "rl-lr", "MinibatchSize": "rl-minibatch",
	"controller_options.LearningRate": "rl-lr", "controller_options.MinibatchSize": "rl-minibatch",
	"evaluator.name": "evaluator", "evaluator.dataset": "dataset", "evaluator.train_subset": "train-subset",
	"evaluator.val_size": "val", "evaluator.epochs": "epochs", "evaluator.batch": "batch",
	"evaluator.image_size": "image-size", "evaluator.lr": "lr", "evaluator.width": "width", "evaluator.depth": "depth",
}

// SearchError turns the errors of package search that come from how nas
// search was called into usage errors naming its flags: a setting out of
// range, an unknown controller, a resumed search (in the database db)
// given settings other than those it was created with, or fewer trials
// than it has.
func SearchError(err error, db string) error {
	var fe *fielderr.Error
	var ce *search.ChangedError
	var te *search.TrialsError
	switch {
	case errors.Is(err, controller.ErrUnknownStrategy):
		return Usagef("--controller: %v", err)
	case errors.As(err, &fe) && settingFlags[fe.Field] != "":
		return Usagef("--%s = %v: %s", settingFlags[fe.Field], fe.Value, fe.Allowed)
	case errors.As(err, &ce) && ce.Setting == "space":
		return Usagef("search %q in %s was created with another search space or proxy budget (%v, now %v): give the --space, "+
			"--width, --depth, --image-size, --search-se and --dataset it was created with, or start another search with --name", ce.Search, db, ce.Stored, ce.Given)
	case errors.As(err, &ce) && settingFlags[ce.Setting] != "":
		f := settingFlags[ce.Setting]
		return Usagef("search %q in %s was created with --%s %v, not %v: resume it with --%s %v, or start another search with --name",
			ce.Search, db, f, ce.Stored, ce.Given, f, ce.Stored)
	case errors.As(err, &ce):
		return Usagef("%s", err)
	case errors.As(err, &te):
		return Usagef("--trials = %d: search %q in %s already has %d trials (ask for %d or more to continue it)", te.Given, te.Search, db, te.Have, te.Have)
	}
	return err
}
