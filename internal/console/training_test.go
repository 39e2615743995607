package console

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/effnas/effnas/trainer"
)

// Without a terminal, a training prints a line at every tenth of the steps
// and at the last, each stage's plan prefixed by the name, and other
// phases on lines of their own.
func TestTrainingLinesWithoutATerminal(t *testing.T) {
	var w bytes.Buffer
	tr := NewTraining(&w, "m0")
	plan := trainer.StagePlan{Stage: 1, Stages: 2, ImageSize: 16}
	tr.Report(trainer.Progress{Phase: trainer.PhaseStage, Stage: &trainer.StageResult{StagePlan: plan}})
	for step := 1; step <= 25; step++ {
		tr.Report(trainer.Progress{Phase: trainer.PhaseTrain, Step: step, Steps: 25, Epoch: float64(step) / 25, Loss: 1})
	}
	tr.Report(trainer.Progress{Phase: trainer.PhaseStageDone, Stage: &trainer.StageResult{StagePlan: plan}})
	tr.Report(trainer.Progress{Phase: "evaluate"})
	tr.Finish()
	want := []string{"m0 " + plan.String()}
	for step := 1; step <= 25; step += 2 { // every 25/10 = 2 steps, and the last
		want = append(want, fmt.Sprintf("m0 epoch %.2f loss 1.0000, step %d of 25", float64(step)/25, step))
	}
	want = append(want, "m0 evaluate")
	if got := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%s\nwant:\n%s", w.String(), strings.Join(want, "\n"))
	}
	var anon bytes.Buffer
	NewTraining(&anon, "").Report(trainer.Progress{Phase: trainer.PhaseTrain, Step: 1, Steps: 1, Epoch: 1, Loss: 0.5})
	if got := anon.String(); got != "train epoch 1.00 loss 0.5000, step 1 of 1\n" {
		t.Errorf("unnamed: %q", got)
	}
}
