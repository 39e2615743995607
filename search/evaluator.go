package search

import (
	"context"
	"sync"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/searchspace"
)

// Task is one evaluation of an architecture.
type Task struct {
	TrialID int // 0 for the baseline measurement
	Attempt int // 1 for the first try
	Arch    searchspace.Arch
	// Seed makes the evaluation reproducible; it is derived from the search
	// seed and the trial id.
	Seed uint64
	// Baseline asks only for the reference figures of the reward (step time
	// and parameters); an evaluator may skip training for it.
	Baseline bool
	// Progress, when not nil, takes what the evaluator reports as it works
	// (a trial can train for minutes). Evaluators call it from their own
	// goroutine, as often as they like; it returns quickly.
	Progress func(Progress)
	// Again marks a task an earlier run of the search submitted (to a
	// Durable executor, which may already have its result).
	Again bool
	// HostKind, when not nil, is the host the search times on: a worker
	// whose host has another fingerprint must not evaluate the task, or
	// step times of different machines would mix (see Durable).
	HostKind *measure.Host
}

// Progress is what an evaluator reports while it evaluates a task.
type Progress struct {
	// TrialID is the task's trial (0: the baseline); the search fills it in.
	TrialID int
	// Phase is what the evaluator is doing: the trainer's phases ("train",
	// "recalibrate", "evaluate", "time").
	Phase string
	// Step of Steps training steps done, while training.
	Step, Steps int
}

// report passes p to t.Progress, if any.
func (t Task) report(p Progress) {
	if t.Progress != nil {
		t.Progress(p)
	}
}

// Evaluator turns an architecture into a measurement: by training it
// (package trainer) or by a cheap stand-in (Synthetic). The measurement is
// what the store keeps, the reward reads and a remote worker will send.
type Evaluator interface {
	Evaluate(ctx context.Context, t Task, gate *Gate) (measure.Metrics, error)
}

// Gate keeps step-time measurements alone on the machine while other trials
// train in parallel: everything an evaluation computes holds the gate
// shared, in short slices (a training step with its batch, a batch scored,
// a graph built; see trainer.Gate), and timing holds it exclusively, so no
// other trial computes while a trial's step time is measured, and a timing
// waits at most for the slices under way. A nil *Gate does nothing.
type Gate struct {
	rw sync.RWMutex
	// trace, when set (tests), is called after every hold is taken and
	// before it is released.
	trace func(exclusive, taken bool)
}

// Shared runs fn while no exclusive holder runs.
func (g *Gate) Shared(fn func() error) error {
	g.RLock()
	defer g.RUnlock()
	return fn()
}

// Exclusive runs fn alone.
func (g *Gate) Exclusive(fn func() error) error {
	g.Lock()
	defer g.Unlock()
	return fn()
}

// Lock and Unlock (exclusive) and RLock and RUnlock (shared) let a trainer
// hold the gate across calls; they accept a nil gate.
func (g *Gate) Lock() {
	if g != nil {
		g.rw.Lock()
		g.traced(true, true)
	}
}

// Unlock releases an exclusive hold.
func (g *Gate) Unlock() {
	if g != nil {
		g.traced(true, false)
		g.rw.Unlock()
	}
}

// RLock takes a shared hold.
func (g *Gate) RLock() {
	if g != nil {
		g.rw.RLock()
		g.traced(false, true)
	}
}

// RUnlock releases a shared hold.
func (g *Gate) RUnlock() {
	if g != nil {
		g.traced(false, false)
		g.rw.RUnlock()
	}
}

func (g *Gate) traced(exclusive, taken bool) {
	if g.trace != nil {
		g.trace(exclusive, taken)
	}
}

// Result is a finished task as an executor reports it.
type Result struct {
	Task     Task
	Metrics  measure.Metrics
	Err      error
	Worker   string
	Started  time.Time
	Finished time.Time
	// Ack, when not nil, tells a Durable executor that the result is
	// saved (or ignored as stale), so that it is not delivered again. Run
	// calls it after the commit that records the result.
	Ack func() error
}
