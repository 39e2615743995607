package recipe

import (
	"strings"
	"testing"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/trainer"
)

func TestFamilyText(t *testing.T) {
	rows := []Trained{
		{Name: "net-0", Phi: 0, Width: 1, Depth: 1, TrainImageSize: 28, ImageSize: 28, Params: 12345, MACs: 678901, StepTimeMS: 12.34, Accuracy: 0.8125},
		{Name: "net-1", Phi: 1, Width: 1.1, Depth: 1.2, TrainImageSize: 32, ImageSize: 36, Params: 23456, MACs: 1234567, StepTimeMS: 20.05, Accuracy: 0.84375},
	}
	run := Run{Result: trainer.Result{Metrics: measure.Metrics{Steps: 94, TrainTime: 61.6}, TestAccuracy: 0.84375}}
	var line strings.Builder
	if err := rows[1].WriteLine(&line, run); err != nil {
		t.Fatal(err)
	}
	if want := "net-1: test accuracy 84.38% at 36x36 (trained at 32, 94 steps in 1m2s), step 20.1 ms\n"; line.String() != want {
		t.Errorf("member line %q, want %q", line.String(), want)
	}
	for _, c := range []struct {
		f    FamilyReport
		want string
	}{
		{FamilyReport{Title: "family trained on x", Rows: rows}, ""},
		{FamilyReport{Title: "family trained on x", Rows: rows, Results: "f.json", CheckpointDir: "ck"},
			"\nresults written to f.json\ncheckpoints written to ck\n"},
	} {
		var table, got strings.Builder
		if err := WriteTrained(&table, rows); err != nil {
			t.Fatal(err)
		}
		if err := c.f.WriteText(&got); err != nil {
			t.Fatal(err)
		}
		if want := "family trained on x\n\n" + table.String() + c.want; got.String() != want {
			t.Errorf("got\n%s\nwant\n%s", got.String(), want)
		}
	}
	var table strings.Builder
	WriteTrained(&table, rows)
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[2]), " ") != "net-1 1 1.1 1.2 32 36 23,456 1,234,567 20.1 84.38%" {
		t.Errorf("table:\n%s", table.String())
	}
}
