package main

// Flag groups shared by the training commands, and turning field errors
// into flag errors.

import (
	"flag"
	"strings"

	"github.com/effnas/effnas/scaling"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
	"github.com/effnas/effnas/trainer/recipe"
)

// dataFlags are the flags that choose a dataset.
type dataFlags struct {
	dataset, dir *string
}

func addDataFlags(fs *flag.FlagSet) dataFlags {
	return dataFlags{
		dataset: fs.String("dataset", "fashion-mnist", "dataset: "+strings.Join(data.Names(), ", ")+" (folder:PATH for a folder of class sub-folders)"),
		dir:     fs.String("data", "", "directory holding the dataset files (default: $EFFNAS_DATA, then the system location)"),
	}
}

func (d dataFlags) load(split string) (*data.Dataset, error) {
	return data.Load(*d.dataset, split, data.Options{Dir: *d.dir})
}

// trainFlags are how and how much to train (nas train, nas family --train).
type trainFlags struct {
	dataFlags
	epochs, lr, warm, smooth, wd *float64
	batch                        *int
	seed                         *uint64
	opt, sched                   *string
}

var trainFlagNames = []string{"dataset", "data", "epochs", "batch", "lr", "seed", "optimizer", "schedule", "warmup", "label-smoothing", "weight-decay"}

func addTrainFlags(fs *flag.FlagSet) trainFlags {
	return trainFlags{dataFlags: addDataFlags(fs),
		epochs: fs.Float64("epochs", 1, "epochs to train"),
		batch:  fs.Int("batch", 64, "batch size"),
		lr:     fs.Float64("lr", 1e-3, "learning rate"),
		seed:   fs.Uint64("seed", 1, "random seed (initialisation, data order, augmentation)"),
		opt:    fs.String("optimizer", trainer.RMSProp, "optimizer: rmsprop, adam or sgd"),
		sched:  fs.String("schedule", "constant", "learning-rate schedule: constant, cosine or exponential"),
		warm:   fs.Float64("warmup", 0, "warm-up epochs"),
		smooth: fs.Float64("label-smoothing", 0, "label smoothing"),
		wd:     fs.Float64("weight-decay", 1e-5, "L2 weight decay on kernels, not BatchNorm nor biases (0 = none)"),
	}
}

// settings returns the training settings and budget the flags give.
func (f trainFlags) settings(fs *flag.FlagSet) (trainer.Settings, trainer.Budget, error) {
	wd := *f.wd
	if wd == 0 {
		wd = -1 // the trainer's "none"
	}
	b := trainer.Budget{Epochs: *f.epochs, Batch: *f.batch}
	return trainer.Settings{Optimizer: *f.opt, LR: *f.lr, Schedule: *f.sched, WarmupEpochs: *f.warm, LabelSmoothing: *f.smooth,
		WeightDecay: wd, Seed: *f.seed}, b, flagError(fs, recipe.CheckExplicitBudget(b))
}

// problem loads the dataset's training and test splits and fits a to them
// at size (0: the dataset's).
func (f trainFlags) problem(a searchspace.Arch, size int) (trainer.Problem, error) {
	ds, err := f.load("train")
	if err != nil {
		return trainer.Problem{}, err
	}
	test, err := f.load("test")
	return trainer.Problem{Arch: fitArch(a, ds, size), Data: ds, Train: ds.All(), Test: test}, err
}

// progFlags are the progressive-learning flags. Each names a field of
// trainer.Progressive (--min-dropout is min_dropout) and, when given,
// overrides the Table 6 profile's value.
type progFlags struct {
	fs      *flag.FlagSet
	on      *bool
	profile *string
	given   trainer.Progressive
	names   []string // the group's flags but --progressive
}

// addProgressiveFlags adds --progressive, --stages, --profile (default
// profile) and --rule, and with overrides the flags of the stage values.
func addProgressiveFlags(fs *flag.FlagSet, profile string, overrides bool) *progFlags {
	f := &progFlags{fs: fs}
	g := &f.given
	f.on = fs.Bool("progressive", false, "progressive learning with adaptive regularization (EfficientNetV2 §4.2)")
	fs.IntVar(&g.Stages, "stages", trainer.DefaultStages, "progressive: number of stages M")
	usage := "progressive: Table 6 profile for the defaults: s, m or l"
	if profile == recipe.AutoProfile {
		usage += ", or auto (s, m, l by phi)"
	}
	f.profile = fs.String("profile", profile, usage)
	fs.StringVar(&g.Rule, "rule", trainer.RulePaper, "progressive: stage rule, paper (linear from min to max) or official (main_tf2.py)")
	f.names = []string{"stages", "profile", "rule"}
	if !overrides {
		return f
	}
	f.names = append(f.names, "min-image-size", "max-image-size", "min-dropout", "max-dropout", "min-randaug", "max-randaug",
		"min-mixup", "max-mixup", "randaug-n")
	fs.IntVar(&g.MinImageSize, "min-image-size", 0, "progressive: first-stage image size (default: the profile's 128/max ratio of the last, multiple of 4, >= 16)")
	fs.IntVar(&g.MaxImageSize, "max-image-size", 0, "progressive: last-stage (and evaluation) image size (default: --image-size, else the dataset's)")
	fs.Float64Var(&g.MinDropout, "min-dropout", 0, "progressive: first-stage dropout (default: the profile's, 0.1)")
	fs.Float64Var(&g.MaxDropout, "max-dropout", 0, "progressive: last-stage dropout (default: the profile's, 0.3/0.4/0.5)")
	fs.Float64Var(&g.MinRandAug, "min-randaug", 0, "progressive: first-stage RandAugment magnitude, 0-30 (default: the profile's, 5)")
	fs.Float64Var(&g.MaxRandAug, "max-randaug", 0, "progressive: last-stage RandAugment magnitude (default: the profile's, 15/20/25)")
	fs.Float64Var(&g.MinMixup, "min-mixup", 0, "progressive: first-stage mixup alpha (default: the profile's, 0)")
	fs.Float64Var(&g.MaxMixup, "max-mixup", 0, "progressive: last-stage mixup alpha (default: the profile's, 0/0.2/0.4)")
	fs.IntVar(&g.RandAugN, "randaug-n", 0, "progressive: RandAugment ops per image (default 2)")
	return f
}

// check refuses progressive flags without --progressive, explicit values
// that the settings would read as "default", and a bad profile or rule.
func (f *progFlags) check() error {
	set := setFlags(f.fs)
	if !*f.on {
		return needs(set, "progressive", f.names...)
	}
	if err := recipe.CheckExplicitSchedule(f.given, f.set); err != nil {
		return flagError(f.fs, err)
	}
	var err error
	if f.fs.Lookup("profile").DefValue == recipe.AutoProfile { // a family's
		_, err = recipe.MemberSchedule(*f.profile, f.override)(scaling.Member{})
	} else {
		_, err = recipe.Schedule(*f.profile, f.override, 0, 0)
	}
	return flagError(f.fs, err)
}

// override sets the fields of a schedule whose flags were given.
func (f *progFlags) override(pg *trainer.Progressive) { recipe.Override(pg, f.given, f.set) }

// set reports whether the flag of a schedule's field (by its JSON name)
// was given.
func (f *progFlags) set(field string) bool {
	return setFlags(f.fs)[strings.ReplaceAll(field, "_", "-")]
}
