package main

// The problem the training flags (cli.TrainFlags) give.

import (
	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer"
)

// trainProblem loads the training and test splits of the dataset the
// flags name and fits a to them at size (0: the dataset's).
func trainProblem(f *cli.TrainFlags, a searchspace.Arch, size int) (trainer.Problem, error) {
	ds, err := f.Load("train")
	if err != nil {
		return trainer.Problem{}, err
	}
	test, err := f.Load("test")
	return trainer.Problem{Arch: fitArch(a, ds, size), Data: ds, Train: ds.All(), Test: test}, err
}
