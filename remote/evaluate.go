package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/search"
	"github.com/effnas/effnas/trainer"
)

// EvalOptions configure SearchEval.
type EvalOptions struct {
	// DataDir is where this worker finds datasets ("": $EFFNAS_DATA, then
	// the system location).
	DataDir string
	// Device is the GPU this worker trains on (nil: the CPU).
	Device *trainer.Device
	// Logf receives the phases of each trial (nil: discarded).
	Logf func(format string, args ...any)
}

// SearchEval evaluates the tasks of searches as nas worker does. It builds
// each task's evaluator from the task's settings (search.EvaluatorSpec)
// and keeps the last ones it built: a training evaluator keeps its dataset
// loaded and its baseline network built, so that each trial's step time
// is measured against the baseline on this machine. Settings it cannot
// build (an unknown evaluator, a dataset this worker does not have) fail
// the trial with the reason. A task for another kind of host
// (Task.HostKind) is refused with ErrNotForThisWorker. The measurement is
// a measure.Metrics.
func SearchEval(o EvalOptions) EvalFunc {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	cache := &evaluators{local: search.Local{DataDir: o.DataDir, Device: o.Device}, m: map[string]built{}}
	return func(ctx context.Context, t Task) (json.RawMessage, error) {
		b, err := cache.get(t.Evaluator)
		if err != nil {
			return nil, err
		}
		ev, h := b.ev, b.host
		if k := t.HostKind; k != nil && !k.Synthetic() {
			if h.Fingerprint() != k.Fingerprint() {
				return nil, fmt.Errorf("%w: the search times its trials on %s; this host is %s: step times of different machines must not mix; "+
					"run this worker on a host of that kind, or run the search with mixed hosts allowed",
					ErrNotForThisWorker, describeHost(*k), describeHost(h))
			}
		}
		phase := ""
		st := search.Task{TrialID: t.Trial, Attempt: t.Attempt, Arch: t.Arch, Seed: t.Seed, Baseline: t.Baseline,
			Progress: func(p search.Progress) {
				if p.Phase != phase { // called from the evaluator's goroutine only
					phase = p.Phase
					logf("trial %d: %s", t.Trial, p.Phase)
				}
			}}
		m, err := ev.Evaluate(ctx, st, nil)
		if err != nil {
			return nil, err
		}
		return json.Marshal(m)
	}
}

func describeHost(h measure.Host) string {
	return fmt.Sprintf("%s (host kind %s)", h.Summary(), h.Fingerprint())
}

// evaluators keeps the evaluators built from the last few settings.
type evaluators struct {
	local search.Local
	mu    sync.Mutex
	m     map[string]built
}

// built is an evaluator with the host it measures on, read once: a
// worker's host does not change between its trials.
type built struct {
	ev   search.Evaluator
	host measure.Host
}

// keepEvaluators is how many evaluators a worker keeps: one per search it
// serves at once (each may hold a dataset in memory).
const keepEvaluators = 2

func (e *evaluators) get(raw json.RawMessage) (built, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if b, ok := e.m[string(raw)]; ok {
		return b, nil
	}
	var spec search.EvaluatorSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return built{}, fmt.Errorf("the trial's evaluator settings do not read: %v", err)
	}
	ev, err := search.NewEvaluator(spec, e.local)
	if err != nil {
		return built{}, fmt.Errorf("this worker cannot build the search's evaluator: %w", err)
	}
	b := built{ev: ev}
	if hr, ok := ev.(search.HostReporter); ok {
		b.host = hr.Host()
	}
	if len(e.m) >= keepEvaluators {
		clear(e.m)
	}
	e.m[string(raw)] = b
	return b, nil
}
