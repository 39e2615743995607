package recipe

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/trainer"
)

func TestCheckExplicit(t *testing.T) {
	none := func(string) bool { return false }
	all := func(string) bool { return true }
	for _, c := range []struct {
		err   error
		field string // "" for no error
		msg   string
	}{
		{CheckExplicitBudget(trainer.Budget{Epochs: 0.5, Batch: 1}), "", ""},
		{CheckExplicitBudget(trainer.Budget{Epochs: 0, Batch: 64}), "epochs", "epochs = 0: want a positive number"},
		{CheckExplicitBudget(trainer.Budget{Epochs: math.Inf(1), Batch: 64}), "epochs", "epochs = +Inf: want a positive number"},
		{CheckExplicitBudget(trainer.Budget{Epochs: math.NaN(), Batch: 64}), "epochs", "epochs = NaN: want a positive number"},
		{CheckExplicitBudget(trainer.Budget{Epochs: 1, Batch: 0}), "batch", "batch = 0: want a positive integer"},
		{CheckExplicitSchedule(trainer.Progressive{}, none), "", ""},
		{CheckExplicitSchedule(trainer.Progressive{Stages: 4, MinImageSize: 16, MaxImageSize: 32, RandAugN: 2}, all), "", ""},
		{CheckExplicitSchedule(trainer.Progressive{Stages: 4}, all), "min_image_size", "min_image_size = 0: want an integer in [1, 8192]"},
		{CheckExplicitSchedule(trainer.Progressive{Stages: 65}, func(f string) bool { return f == "stages" }),
			"stages", "stages = 65: want an integer in [1, 64]"},
		{CheckExplicitSchedule(trainer.Progressive{Stages: 4, RandAugN: 17}, func(f string) bool { return f == "randaug_n" }),
			"randaug_n", "randaug_n = 17: want an integer in [1, 16]"},
	} {
		var fe *fielderr.Error
		switch {
		case c.field == "" && c.err != nil:
			t.Errorf("unexpected error %v", c.err)
		case c.field != "" && !errors.As(c.err, &fe):
			t.Errorf("%s: got %v, want a field error", c.field, c.err)
		case c.field != "" && (fe.Field != c.field || c.err.Error() != c.msg):
			t.Errorf("got %q (field %q), want %q", c.err, fe.Field, c.msg)
		}
	}
}

func TestOverride(t *testing.T) {
	pg := trainer.Progressive{Stages: 4, Rule: trainer.RulePaper, MinDropout: 0.1, MaxDropout: 0.3, RandAugN: 2}
	given := trainer.Progressive{Stages: 2, Rule: "official", MinDropout: 0, MaxDropout: 0.5, RandAugN: 3}
	Override(&pg, given, func(f string) bool { return f == "stages" || f == "min_dropout" || f == "max_dropout" })
	want := trainer.Progressive{Stages: 2, Rule: trainer.RulePaper, MinDropout: 0, MaxDropout: 0.5, RandAugN: 2}
	if pg != want {
		t.Errorf("got %+v, want %+v", pg, want)
	}
}

// TestResumeDefaults stops a progressive run and reads back the values a
// resumed run takes from its checkpoint: every setting not given, the
// schedule's values left to a profile when one is given.
func TestResumeDefaults(t *testing.T) {
	a, ds, test := tiny(t)
	p := trainer.Problem{Arch: a, Data: ds, Train: ds.All()[:224], Val: ds.All()[224:], Test: test}
	b := trainer.Budget{Epochs: 1, Batch: 32, TimingSteps: 1, TimingWarmup: 1, RecalBatches: 1}
	pg := &trainer.Progressive{Stages: 2, MinImageSize: 8, MaxImageSize: 12}
	s := trainer.Settings{Seed: 7, LR: 0.002, Progressive: pg}
	ck := filepath.Join(t.TempDir(), "run.safetensors")
	if _, err := Train(context.Background(), Model{Problem: p, Settings: s, Budget: b, Checkpoint: ck, StopAt: 2}, nil); err != nil {
		t.Fatal(err)
	}
	model, v, err := ResumeDefaults(ck, func(k string) bool { return k == "lr" })
	if err != nil {
		t.Fatal(err)
	}
	if model.Net.Arch.Name != a.Name || v["seed"] != "7" || v["batch"] != "32" || v["val_images"] != "32" || v["progressive"] != "true" ||
		v["stages"] != "2" || v["min_image_size"] != "8" || v["max_image_size"] != "12" {
		t.Errorf("values %v", v)
	}
	if _, ok := v["lr"]; ok {
		t.Errorf("lr was given, yet filled in: %v", v)
	}
	_, v, err = ResumeDefaults(ck, func(k string) bool { return k == "profile" })
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"min_image_size", "max_image_size", "min_dropout", "randaug_n"} {
		if _, ok := v[k]; ok {
			t.Errorf("with --profile, %s filled in from the checkpoint", k)
		}
	}
	if v["stages"] != "2" || v["lr"] != "0.002" {
		t.Errorf("with a profile: values %v", v)
	}
	if _, _, err := ResumeDefaults(filepath.Join(t.TempDir(), "none.safetensors"), func(string) bool { return false }); err == nil {
		t.Error("a missing checkpoint: no error")
	}
}
