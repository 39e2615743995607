package store

import (
	"encoding/json"
	"math"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/searchspace"
)

// Status is the state of a trial.
type Status string

// Trial states.
const (
	StatusPending Status = "pending" // sampled, not started, or waiting for another attempt
	StatusRunning Status = "running" // being evaluated
	StatusDone    Status = "done"    // evaluated; Metrics and Reward are set
	StatusFailed  Status = "failed"  // every allowed attempt failed (Error says why), or the architecture is invalid; final
)

// Valid reports whether s is one of the trial states.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusRunning, StatusDone, StatusFailed:
		return true
	}
	return false
}

// Usual values of Search.Status. The store does not interpret them.
const (
	SearchRunning     = "running"
	SearchFinished    = "finished"
	SearchInterrupted = "interrupted"
)

// Search is the record of one search: what it searches, how, and where.
//
// The store keeps every field as given: it stamps no times and validates
// nothing but the name.
type Search struct {
	Name       string            `json:"name"`
	Created    time.Time         `json:"created"`
	Updated    time.Time         `json:"updated"`
	Controller string            `json:"controller"` // controller name ("random", "reinforce", ...)
	Seed       uint64            `json:"seed"`
	Trials     int               `json:"trials"` // target number of trials
	Parallel   int               `json:"parallel"`
	Space      searchspace.Space `json:"space"`
	// Reward is the reward settings document the search scores trials
	// with (package reward's Settings as JSON), and Config the search
	// loop's own settings (evaluator, budget...). The store keeps both as
	// data it does not interpret: the search that writes them owns their
	// meaning, so the record does not change when the reward or the loop
	// gain a setting, and the store needs neither package. They must be
	// valid JSON (or empty); they are stored compacted.
	Reward json.RawMessage `json:"reward,omitempty"`
	Config json.RawMessage `json:"config,omitempty"`
	// Host is the machine the search measures its step times on.
	Host measure.Host `json:"host"`
	// Baseline is the backbone's measured reference (step time S0, params
	// P0, accuracy), nil until measured.
	Baseline *measure.Metrics `json:"baseline,omitempty"`
	// Status is the search's state, e.g. SearchRunning, SearchFinished or
	// SearchInterrupted.
	Status string `json:"status"`
	Note   string `json:"note,omitempty"`
}

// Trial is one sampled architecture and its evaluation.
type Trial struct {
	ID        int              `json:"id"` // 1, 2, ... within its search
	Decisions []int            `json:"decisions"`
	Arch      searchspace.Arch `json:"arch"`
	Status    Status           `json:"status"`
	// Attempts counts the evaluations that ended, in success or failure;
	// an evaluation cut off by the end of the process or a stopped search
	// is not an attempt: it counts in Interrupted and runs again.
	Attempts    int              `json:"attempts"`
	Interrupted int              `json:"interrupted,omitempty"`
	Metrics     *measure.Metrics `json:"metrics,omitempty"`
	Reward      float64          `json:"reward"`          // may be NaN or ±Inf, stored as in Metrics
	Error       string           `json:"error,omitempty"` // last failure
	Created     time.Time        `json:"created"`
	Started     time.Time        `json:"started,omitzero"`
	Finished    time.Time        `json:"finished,omitzero"`
	Worker      string           `json:"worker,omitempty"`
}

// Done reports whether the trial was evaluated successfully.
func (t Trial) Done() bool { return t.Status == StatusDone }

// Synthetic reports whether the trial's measurement was computed by a
// formula instead of training (measure.BackendSynthetic).
func (t Trial) Synthetic() bool { return t.Metrics != nil && t.Metrics.Host.Synthetic() }

// Synthetic reports whether the search measures with a formula instead of
// training (its host or its baseline is measure.BackendSynthetic).
func (s Search) Synthetic() bool {
	return s.Host.Synthetic() || (s.Baseline != nil && s.Baseline.Host.Synthetic())
}

// BestTrial returns the done trial with the highest reward, ties going to the
// lowest ID; NaN rewards never win. ok is false when no trial qualifies.
func BestTrial(trials []Trial) (best Trial, ok bool) {
	for _, t := range trials {
		if !t.Done() || math.IsNaN(t.Reward) {
			continue
		}
		if !ok || t.Reward > best.Reward || (t.Reward == best.Reward && t.ID < best.ID) {
			best, ok = t, true
		}
	}
	return best, ok
}

type trialAlias Trial

type trialJSON struct {
	*trialAlias
	Reward measure.Float `json:"reward"`
}

// MarshalJSON writes the trial, a non-finite reward as a string.
func (t Trial) MarshalJSON() ([]byte, error) {
	return json.Marshal(trialJSON{(*trialAlias)(&t), measure.Float(t.Reward)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (t *Trial) UnmarshalJSON(b []byte) error {
	var out Trial
	j := trialJSON{trialAlias: (*trialAlias)(&out)}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out.Reward = float64(j.Reward)
	*t = out
	return nil
}
