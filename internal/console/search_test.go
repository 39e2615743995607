package console

import (
	"io"
	"testing"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/search"
	"github.com/effnas/effnas/store"
	"github.com/schollz/progressbar/v3"
)

// On a terminal the bar names the best trial and what each running trial
// does, with its training steps.
func TestProgressDescribesRunningTrials(t *testing.T) {
	p := &Search{w: io.Discard, running: map[int]search.Progress{}, bar: progressbar.NewOptions(10, progressbar.OptionSetWriter(io.Discard))}
	h := p.Hooks(search.Settings{Controller: "rl"})
	h.Progress(search.Progress{TrialID: 3, Phase: "train", Step: 5, Steps: 10})
	h.Progress(search.Progress{TrialID: 4, Phase: "evaluate"})
	h.Progress(search.Progress{TrialID: 2, Phase: "time"})
	best := store.Trial{ID: 2, Status: store.StatusDone, Reward: 0.7, Metrics: &measure.Metrics{Accuracy: 0.7, StepTime: measure.StepStats{Median: 0.1}}}
	h.Trial(best, 1, 10, &best)
	if got, want := p.bar.State().Description, "best #2 0.7000 (70.00%, 100.0 ms) | #3 train 5/10 | #4 evaluate"; got != want {
		t.Fatalf("description %q, want %q", got, want)
	}
	if p.bar.State().CurrentNum != 1 {
		t.Fatalf("bar at %d", p.bar.State().CurrentNum)
	}
}
