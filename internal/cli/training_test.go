package cli

import (
	"errors"
	"flag"
	"io"
	"testing"

	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/recipe"
)

func parse(t *testing.T, fs *flag.FlagSet, args ...string) {
	t.Helper()
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
}

func TestTrainFlagsFillTheSettings(t *testing.T) {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	f := AddTrainFlags(fs)
	parse(t, fs, "--dataset", "synthetic", "--data", "/d", "--epochs", "2.5", "--batch", "32", "--lr", "0.01", "--seed", "7",
		"--optimizer", "adam", "--schedule", "cosine", "--warmup", "1", "--label-smoothing", "0.1", "--weight-decay", "0")
	s, b, err := f.Values(fs)
	want := trainer.Settings{Optimizer: "adam", LR: 0.01, Schedule: "cosine", WarmupEpochs: 1, LabelSmoothing: 0.1, WeightDecay: -1, Seed: 7}
	if err != nil || s.Optimizer != want.Optimizer || s.LR != want.LR || s.Schedule != want.Schedule || s.WarmupEpochs != 1 ||
		s.LabelSmoothing != 0.1 || s.WeightDecay != -1 || s.Seed != 7 || b != (trainer.Budget{Epochs: 2.5, Batch: 32}) ||
		f.Dataset != "synthetic" || f.Dir != "/d" {
		t.Fatalf("%+v %+v %+v %v", f, s, b, err)
	}
	var names []string
	fs.VisitAll(func(fl *flag.Flag) { names = append(names, fl.Name) })
	if len(names) != len(TrainFlagNames) {
		t.Fatalf("flags %v, TrainFlagNames %v", names, TrainFlagNames)
	}
	for _, n := range TrainFlagNames {
		if fs.Lookup(n) == nil {
			t.Errorf("TrainFlagNames has %q, not a flag", n)
		}
	}

	fs = flag.NewFlagSet("train", flag.ContinueOnError)
	f = AddTrainFlags(fs)
	parse(t, fs)
	if s, b, err := f.Values(fs); err != nil || s.WeightDecay != 1e-5 || s.Optimizer != trainer.RMSProp || s.LR != 1e-3 || b.Epochs != 1 || b.Batch != 64 || f.Dataset != "fashion-mnist" {
		t.Fatalf("defaults: %+v %+v %v", s, b, err)
	}
	parse(t, fs, "--epochs", "0")
	if _, _, err := f.Values(fs); err == nil || err.Error() != "--epochs = 0: want a positive number" || !errors.As(err, new(UsageError)) {
		t.Fatalf("--epochs 0: %v", err)
	}
}

func TestProgressiveFlags(t *testing.T) {
	check := func(profile string, overrides bool, args ...string) (*ProgressiveFlags, error) {
		fs := flag.NewFlagSet("train", flag.ContinueOnError)
		f := AddProgressiveFlags(fs, profile, overrides)
		parse(t, fs, args...)
		return f, f.Check()
	}
	for _, c := range []struct {
		profile   string
		overrides bool
		args      []string
		want      string
	}{
		{"s", true, []string{"--stages", "3"}, "--stages needs --progressive"},
		{"s", true, []string{"--max-dropout", "0.2"}, "--max-dropout needs --progressive"},
		{"s", true, []string{"--progressive", "--profile", "x"}, `--profile = "x": want s, m or l (Table 6)`},
		{"s", true, []string{"--progressive", "--stages", "0"}, "--stages = 0: want an integer in [1, 64]"},
		{recipe.AutoProfile, false, []string{"--progressive", "--profile", "x"}, `--profile = "x"`},
	} {
		_, err := check(c.profile, c.overrides, c.args...)
		if err == nil || len(err.Error()) < len(c.want) || err.Error()[:len(c.want)] != c.want || !errors.As(err, new(UsageError)) {
			t.Errorf("%q: %v, want a usage error %q", c.args, err, c.want)
		}
	}
	f, err := check("s", true, "--progressive", "--stages", "3", "--max-dropout", "0.25")
	if err != nil || !f.On || f.Profile != "s" {
		t.Fatalf("%+v %v", f, err)
	}
	pg := trainer.Progressive{Stages: 4, Rule: "official", MinDropout: 0.1, MaxDropout: 0.3}
	f.Override(&pg)
	if pg.Stages != 3 || pg.MaxDropout != 0.25 || pg.MinDropout != 0.1 || pg.Rule != "official" {
		t.Fatalf("override: %+v", pg)
	}
	if _, err := check(recipe.AutoProfile, false, "--progressive"); err != nil {
		t.Fatalf("auto profile: %v", err)
	}
	fs := flag.NewFlagSet("family", flag.ContinueOnError)
	AddProgressiveFlags(fs, recipe.AutoProfile, false)
	if fs.Lookup("min-dropout") != nil || fs.Lookup("profile").DefValue != recipe.AutoProfile {
		t.Fatal("a family's group has no stage overrides, and the auto profile")
	}
}
