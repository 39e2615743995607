package main

// The dataset flags, and the problem the training flags
// (cli.TrainFlags) give.

import (
	"flag"

	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
)

// dataFlags are the flags that choose a dataset (cli.DataFlags).
type dataFlags struct {
	dataset, dir *string
	d            *cli.DataFlags
}

func addDataFlags(fs *flag.FlagSet) dataFlags {
	d := cli.AddDataFlags(fs)
	return dataFlags{&d.Dataset, &d.Dir, d}
}

func (d dataFlags) load(split string) (*data.Dataset, error) { return d.d.Load(split) }

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
