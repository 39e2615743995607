package console

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/effnas/effnas/trainer"
	"github.com/schollz/progressbar/v3"
)

// Training shows a training's progress on a writer: a bar on a terminal,
// otherwise (a log file, a pipe) a line at every tenth of the steps, so
// that logs stay readable. Each progressive stage's plan is noted on a
// line of its own.
type Training struct {
	w    io.Writer
	what string                   // the name, or "train"
	name string                   // prefix of the stage lines ("" for none)
	bar  *progressbar.ProgressBar // nil when w is not a terminal
	next int                      // the step of the next line without a bar
}

// NewTraining returns the progress of a training on w, its lines prefixed
// by name when given.
func NewTraining(w io.Writer, name string) *Training {
	t := &Training{w: w, what: name, name: name}
	if t.what == "" {
		t.what = "train"
	}
	if isTerminal(w) {
		t.bar = progressbar.NewOptions(1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(t.what),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish())
	}
	return t
}

// Report shows p; it is the trainer's progress callback.
func (t *Training) Report(p trainer.Progress) {
	bar := t.bar
	switch p.Phase {
	case trainer.PhaseStage:
		if bar != nil {
			bar.Clear()
		}
		fmt.Fprintln(t.w, strings.TrimPrefix(t.name+" "+p.Stage.StagePlan.String(), " "))
		t.next = 0
	case trainer.PhaseStageDone:
	case trainer.PhaseTrain:
		if bar == nil {
			if p.Step >= t.next || p.Step == p.Steps {
				fmt.Fprintf(t.w, "%s epoch %.2f loss %.4f, step %d of %d\n", t.what, p.Epoch, p.Loss, p.Step, p.Steps)
				t.next = p.Step + max(1, p.Steps/10)
			}
			return
		}
		if bar.GetMax() != p.Steps {
			bar.ChangeMax(p.Steps)
		}
		bar.Describe(fmt.Sprintf("%s epoch %.2f loss %.4f", t.what, p.Epoch, p.Loss))
		bar.Set(p.Step)
	default:
		if bar == nil {
			fmt.Fprintln(t.w, t.what+" "+p.Phase)
			return
		}
		bar.Describe(t.what + " " + p.Phase)
	}
}

// Finish ends the bar (nil: nothing to end).
func (t *Training) Finish() {
	if t != nil && t.bar != nil {
		t.bar.Finish()
	}
}
