package controller

import (
	"fmt"
)

// Window says how far a search loop may propose ahead of its observations:
// trial t (1, 2, ...) is proposed once trials 1..Need(t) are observed, and
// before trial Need(t)+1 is. A loop that keeps to it calls Propose and
// Observe in one fixed order, whatever number of trials it runs at once and
// however often it is stopped and resumed, so a seed gives the same trials
// in every case; at most Size trials can run at once.
type Window struct {
	// Size is the number of trials that may be proposed and not yet
	// observed; 0 means no limit (the proposals do not depend on
	// observations).
	Size int `json:"size"`
	// Rounds proposes trials in rounds of Size: every trial of a round
	// once all trials of the earlier rounds are observed. Otherwise the
	// window slides: trial t once trials 1..t-Size are observed.
	Rounds bool `json:"rounds,omitempty"`
}

// Need returns how many trials must be observed before trial t is proposed.
func (w Window) Need(t int) int {
	switch {
	case w.Size <= 0:
		return 0
	case w.Rounds:
		return (t - 1) / w.Size * w.Size
	}
	return max(0, t-w.Size)
}

// String describes the window ("rounds of 10 trials", "8 trials ahead",
// "unbounded").
func (w Window) String() string {
	switch {
	case w.Size <= 0:
		return "unbounded"
	case w.Rounds:
		return fmt.Sprintf("rounds of %d trials", w.Size)
	}
	return fmt.Sprintf("%d trials ahead", w.Size)
}

// DefaultEvolutionWindow is the window of the evolution strategy: 8 trials
// proposed ahead of the observed ones.
const DefaultEvolutionWindow = 8

// DefaultWindow returns the proposal window that suits strategy name with
// options opts (see the package documentation), after checking both:
//
//   - rl: rounds of MinibatchSize trials, the PPO minibatch. The policy
//     changes only at an update, and Propose samples a minibatch of
//     proposals at once, so proposing a round's trials together calls the
//     controller exactly as proposing and observing one trial at a time
//     does: the trials are those of a sequential search.
//   - random: unbounded; its proposals never depend on observations.
//   - evolution: DefaultEvolutionWindow trials ahead; a trial joins the
//     population (and may become a parent) at most that many proposals
//     after it was proposed.
func DefaultWindow(name string, opts Options) (Window, error) {
	if err := Known(name); err != nil {
		return Window{}, err
	}
	if err := opts.validate(); err != nil {
		return Window{}, err
	}
	switch name {
	case NameRL:
		return Window{Size: opts.withDefaults().MinibatchSize, Rounds: true}, nil
	case NameRandom:
		return Window{}, nil
	}
	return Window{Size: DefaultEvolutionWindow}, nil
}
