package cli

// Flag groups of the commands that train: how and how much to train, and
// progressive learning. Each fills its fields directly from the flags.

import (
	"flag"
	"strings"

	"github.com/effnas/effnas/scaling"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
	"github.com/effnas/effnas/trainer/recipe"
)

// DataFlags are the flags that choose a dataset: --dataset and --data.
type DataFlags struct {
	Dataset, Dir string
}

// AddDataFlags adds the flags of DataFlags to fs.
func AddDataFlags(fs *flag.FlagSet) *DataFlags {
	d := &DataFlags{}
	d.add(fs)
	return d
}

func (d *DataFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&d.Dataset, "dataset", "fashion-mnist", "dataset: "+strings.Join(data.Names(), ", ")+" (folder:PATH for a folder of class sub-folders)")
	fs.StringVar(&d.Dir, "data", "", "directory holding the dataset files (default: $EFFNAS_DATA, then the system location)")
}

// Load loads a split ("train", "test") of the dataset.
func (d *DataFlags) Load(split string) (*data.Dataset, error) {
	return data.Load(d.Dataset, split, data.Options{Dir: d.Dir})
}

// TrainFlags are how and how much to train (nas train, nas family --train):
// the dataset, the budget and the training settings.
type TrainFlags struct {
	DataFlags
	Budget   trainer.Budget   // epochs and batch
	Settings trainer.Settings // optimizer, learning rate and schedule, regularization, seed
}

// TrainFlagNames are the flags TrainFlags adds.
var TrainFlagNames = []string{"dataset", "data", "epochs", "batch", "lr", "seed", "optimizer", "schedule", "warmup", "label-smoothing", "weight-decay"}

// AddTrainFlags adds the flags of TrainFlags to fs.
func AddTrainFlags(fs *flag.FlagSet) *TrainFlags {
	f := &TrainFlags{}
	s := &f.Settings
	f.DataFlags.add(fs)
	fs.Float64Var(&f.Budget.Epochs, "epochs", 1, "epochs to train")
	fs.IntVar(&f.Budget.Batch, "batch", 64, "batch size")
	fs.Float64Var(&s.LR, "lr", 1e-3, "learning rate")
	fs.Uint64Var(&s.Seed, "seed", 1, "random seed (initialisation, data order, augmentation)")
	fs.StringVar(&s.Optimizer, "optimizer", trainer.RMSProp, "optimizer: rmsprop, adam or sgd")
	fs.StringVar(&s.Schedule, "schedule", "constant", "learning-rate schedule: constant, cosine or exponential")
	fs.Float64Var(&s.WarmupEpochs, "warmup", 0, "warm-up epochs")
	fs.Float64Var(&s.LabelSmoothing, "label-smoothing", 0, "label smoothing")
	fs.Float64Var(&s.WeightDecay, "weight-decay", 1e-5, "L2 weight decay on kernels, not BatchNorm nor biases (0 = none)")
	return f
}

// Values returns the training settings and budget the flags of fs give: a
// weight decay of 0 is the trainer's "none", and an explicit zero epochs or
// batch is a usage error naming the flag.
func (f *TrainFlags) Values(fs *flag.FlagSet) (trainer.Settings, trainer.Budget, error) {
	s := f.Settings
	if s.WeightDecay == 0 {
		s.WeightDecay = -1 // the trainer's "none"
	}
	return s, f.Budget, FlagError(fs, recipe.CheckExplicitBudget(f.Budget))
}

// ProgressiveFlags are the progressive-learning flags. Each names a field
// of trainer.Progressive (--min-dropout is min_dropout) and, when given,
// overrides the Table 6 profile's value.
type ProgressiveFlags struct {
	On      bool
	Profile string
	Given   trainer.Progressive
	fs      *flag.FlagSet
	names   []string // the group's flags but --progressive
}

// AddProgressiveFlags adds --progressive, --stages, --profile (default
// profile) and --rule, and with overrides the flags of the stage values.
func AddProgressiveFlags(fs *flag.FlagSet, profile string, overrides bool) *ProgressiveFlags {
	f := &ProgressiveFlags{fs: fs}
	g := &f.Given
	fs.BoolVar(&f.On, "progressive", false, "progressive learning with adaptive regularization (EfficientNetV2 §4.2)")
	fs.IntVar(&g.Stages, "stages", trainer.DefaultStages, "progressive: number of stages M")
	usage := "progressive: Table 6 profile for the defaults: s, m or l"
	if profile == recipe.AutoProfile {
		usage += ", or auto (s, m, l by phi)"
	}
	fs.StringVar(&f.Profile, "profile", profile, usage)
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

// Check refuses progressive flags without --progressive, explicit values
// that the settings would read as "default", and a bad profile or rule.
func (f *ProgressiveFlags) Check() error {
	if !f.On {
		return Needs(Given(f.fs), "progressive", f.names...)
	}
	if err := recipe.CheckExplicitSchedule(f.Given, f.given); err != nil {
		return FlagError(f.fs, err)
	}
	var err error
	if f.fs.Lookup("profile").DefValue == recipe.AutoProfile { // a family's
		_, err = recipe.MemberSchedule(f.Profile, f.Override)(scaling.Member{})
	} else {
		_, err = recipe.Schedule(f.Profile, f.Override, 0, 0)
	}
	return FlagError(f.fs, err)
}

// Override sets the fields of a schedule whose flags were given.
func (f *ProgressiveFlags) Override(pg *trainer.Progressive) { recipe.Override(pg, f.Given, f.given) }

// given reports whether the flag of a schedule's field (by its JSON name)
// was given.
func (f *ProgressiveFlags) given(field string) bool {
	return Given(f.fs)[strings.ReplaceAll(field, "_", "-")]
}
