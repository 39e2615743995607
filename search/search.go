package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/effnas/effnas/controller"
	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/reward"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
	"github.com/effnas/effnas/version"
)

// checkpoint is the controller state saved with the trials: how many trials
// (1..Observed) it has observed, and its serialised state.
type checkpoint struct {
	Observed int    `json:"observed"`
	State    []byte `json:"state"`
}

// Hooks lets a caller follow a search (progress bars, logs). Every field may
// be nil. All but Progress are called from the loop's goroutine.
type Hooks struct {
	// Start is called once the search record is open, before the baseline
	// is measured.
	Start func(Start)
	// Baseline is called with the baseline's measurement (measured now or
	// stored).
	Baseline func(m measure.Metrics)
	// Trial is called when a trial reaches a final state (done or failed),
	// or fails an attempt that will be retried (status pending).
	Trial func(t store.Trial, done, total int, best *store.Trial)
	// Progress is called with what evaluators report while they work
	// (Task.Progress), from the workers' goroutines: it must be safe for
	// concurrent use, and quick.
	Progress func(Progress)
}

// Start describes a search as Run starts it.
type Start struct {
	Name    string
	Resumed bool
	// Done is the number of trials already in a final state, Total the
	// target.
	Done, Total int
	// Window is the search's proposal window (stored when it was
	// created), Parallel the number of workers of this run.
	Window   controller.Window
	Parallel int
	// Idle is the number of workers the window leaves without work:
	// Parallel - Window.Size when the window is smaller, else 0.
	Idle int
}

// Summary is what a finished (or interrupted) Run reports.
type Summary struct {
	Name        string
	Done        int // trials in a final state
	Failed      int
	Total       int
	Best        *store.Trial
	Interrupted bool
}

// HostReporter is implemented by evaluators that know the host they time on.
type HostReporter interface{ Host() measure.Host }

// Run creates or resumes the search s.Name in st and runs it until
// s.Trials trials are final or ctx is cancelled. exec may be nil (a
// LocalExecutor with s.Parallel workers).
//
// A resumed search must be given the settings it was created with, except
// Trials (at least the trials it has), Parallel and AllowHostChange: a
// difference is a *ChangedError naming the stored value, fewer trials a
// *TrialsError. Invalid settings are reported as Settings.Check does.
func Run(ctx context.Context, st *store.Store, space searchspace.Space, s Settings, ev Evaluator, exec Executor, hooks Hooks) (Summary, error) {
	given := s
	s = s.withDefaults()
	window, err := s.check(space)
	if err != nil {
		return Summary{}, err
	}
	rec, cfg, start, err := openRecord(st, space, given, s, window, ev)
	if err != nil {
		return Summary{}, err
	}
	if hooks.Start != nil {
		hooks.Start(start)
	}
	if rec.Baseline == nil {
		if err := measureBaseline(ctx, st, &rec, space, ev, hooks); err != nil {
			return Summary{}, err
		}
	} else if hooks.Baseline != nil {
		hooks.Baseline(*rec.Baseline)
	}
	if s.Reward.Time.Ref == 0 {
		s.Reward.Time.Ref = rec.Baseline.StepTime.Median
	} else if s.Reward.Time.Base == 0 { // a target: relative times are times S0
		s.Reward.Time.Base = rec.Baseline.StepTime.Median
	}
	if s.Reward.Params.Ref == 0 {
		s.Reward.Params.Ref = float64(rec.Baseline.Params)
	}
	if _, err := s.Reward.Resolve(); err != nil {
		return Summary{}, err
	}
	recReward, err := reward.DecodeSettings(rec.Reward)
	if err != nil {
		return Summary{}, fmt.Errorf("search %q: %w", s.Name, err)
	}
	if recReward.Time.Ref == 0 || recReward.Params.Ref == 0 {
		if rec.Reward, err = json.Marshal(s.Reward); err != nil {
			return Summary{}, err
		}
		if err := st.Update(func(tx *store.Tx) error { return tx.PutSearch(rec) }); err != nil {
			return Summary{}, err
		}
	} else {
		// A resumed search keeps the reward it started with.
		s.Reward = recReward
	}
	l := &loop{st: st, space: space, s: s, cfg: cfg, window: cfg.window(), rec: rec, ev: ev, hooks: hooks}
	if exec == nil {
		exec = NewLocalExecutor(ctx, ev, s.Parallel)
	}
	defer exec.Close()
	l.exec = exec
	return l.run(ctx)
}

// openRecord creates the search record, or checks that an existing one is
// the same search, and updates the trial target.
func openRecord(st *store.Store, space searchspace.Space, given, s Settings, window controller.Window, ev Evaluator) (
	rec store.Search, cfg recordConfig, start Start, err error) {
	var host measure.Host
	if hr, ok := ev.(HostReporter); ok {
		host = hr.Host()
	}
	if host.Code.IsZero() {
		host.Code = version.Get()
	}
	err = st.Update(func(tx *store.Tx) error {
		old, err := tx.Search(s.Name)
		now := time.Now().UTC()
		if errors.Is(err, store.ErrNotFound) {
			cfg = recordConfig{Window: window.Size, WindowRounds: window.Rounds, MaxAttempts: s.MaxAttempts,
				ControllerOptions: s.ControllerOptions, Evaluator: s.Evaluator}
			raw, err := json.Marshal(cfg)
			if err != nil {
				return err
			}
			rw, err := json.Marshal(s.Reward)
			if err != nil {
				return err
			}
			rec = store.Search{Name: s.Name, Created: now, Updated: now, Controller: s.Controller, Seed: s.Seed,
				Trials: s.Trials, Parallel: s.Parallel, Space: space, Reward: rw, Config: raw, Host: host,
				Status: store.SearchRunning}
			start = Start{Name: s.Name, Total: s.Trials}
			return tx.PutSearch(rec)
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal(old.Config, &cfg); err != nil {
			return fmt.Errorf("search %q: config: %w", s.Name, err)
		}
		if err := checkResume(old, cfg, space, given, s); err != nil {
			return err
		}
		trials, err := tx.Trials(s.Name)
		if err != nil {
			return err
		}
		if s.Trials < len(trials) {
			return &TrialsError{Search: s.Name, Have: len(trials), Given: s.Trials}
		}
		if host.Fingerprint() != old.Host.Fingerprint() && !s.AllowHostChange && old.Host.Fingerprint() != (measure.Host{}).Fingerprint() {
			return fmt.Errorf("search %q was started on another host (%s, %d cores, %s) than this one (%s, %d cores, %s); "+
				"its step times would be mixed: resume it there, or allow it explicitly",
				s.Name, old.Host.CPU, old.Host.Cores, old.Host.Backend, host.CPU, host.Cores, host.Backend)
		}
		start = Start{Name: s.Name, Resumed: true, Total: s.Trials, Done: countFinal(trials)}
		old.Trials, old.Parallel, old.Updated, old.Status = s.Trials, s.Parallel, now, store.SearchRunning
		rec = old
		return tx.PutSearch(rec)
	})
	start.Window, start.Parallel = cfg.window(), s.Parallel
	if w := start.Window.Size; w > 0 && s.Parallel > w {
		start.Idle = s.Parallel - w
	}
	return rec, cfg, start, err
}

func measureBaseline(ctx context.Context, st *store.Store, rec *store.Search, space searchspace.Space, ev Evaluator, hooks Hooks) error {
	task := Task{TrialID: 0, Attempt: 1, Arch: space.Backbone, Seed: trialSeed(rec.Seed, 0), Baseline: true}
	task.Progress = progressOf(hooks, 0)
	m, err := ev.Evaluate(ctx, task, nil)
	if err != nil {
		return fmt.Errorf("measuring the baseline (the space's backbone): %w", err)
	}
	if !(m.StepTime.Median > 0) || m.Params <= 0 {
		return fmt.Errorf("baseline: step time %v s and %d params: both must be positive", m.StepTime.Median, m.Params)
	}
	if m.Host.Code.IsZero() {
		m.Host.Code = version.Get()
	}
	rec.Baseline = &m
	if hooks.Baseline != nil {
		hooks.Baseline(m)
	}
	return st.Update(func(tx *store.Tx) error { return tx.PutSearch(*rec) })
}

// progressOf passes an evaluator's progress on trial id to the hook.
func progressOf(hooks Hooks, id int) func(Progress) {
	if hooks.Progress == nil {
		return nil
	}
	return func(p Progress) {
		p.TrialID = id
		hooks.Progress(p)
	}
}

// trialSeed derives a trial's seed from the search seed (splitmix64).
func trialSeed(seed uint64, id int) uint64 {
	z := seed + uint64(id+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

type loop struct {
	st     *store.Store
	space  searchspace.Space
	s      Settings
	cfg    recordConfig
	window controller.Window
	rec    store.Search
	ev     Evaluator
	exec   Executor
	hooks  Hooks

	ctrl     controller.Controller
	trials   []store.Trial // trials[i].ID == i+1
	observed int           // trials 1..observed are observed by ctrl
	saved    int           // observed, as the store's checkpoint has it
	inflight int
}

func (l *loop) run(ctx context.Context) (Summary, error) {
	var ck checkpoint
	err := l.st.View(func(tx *store.Tx) error {
		var err error
		if l.trials, err = tx.Trials(l.s.Name); err != nil {
			return err
		}
		raw, err := tx.ControllerState(l.s.Name)
		if err != nil || raw == nil {
			return err
		}
		return json.Unmarshal(raw, &ck)
	})
	if err != nil {
		return Summary{}, err
	}
	for i, t := range l.trials {
		if t.ID != i+1 {
			return Summary{}, fmt.Errorf("search %q: trial ids are not contiguous at %d", l.s.Name, t.ID)
		}
	}
	l.ctrl, err = controller.New(l.rec.Controller, l.space.Cardinalities(), l.rec.Seed, l.cfg.ControllerOptions)
	if err != nil {
		return Summary{}, err
	}
	if ck.State != nil {
		if err := l.ctrl.Restore(ck.State); err != nil {
			return Summary{}, fmt.Errorf("search %q: restoring the controller: %w", l.s.Name, err)
		}
	}
	l.observed, l.saved = ck.Observed, ck.Observed

	// Trials that were being evaluated when the last run ended were cut
	// off, not failed: they run again, and the cut-off evaluation is not
	// an attempt.
	for i := range l.trials {
		if t := &l.trials[i]; t.Status == store.StatusPending || t.Status == store.StatusRunning {
			t.Interrupted++
			if err := l.start(t); err != nil {
				return Summary{}, err
			}
		}
	}
	if err := l.advance(ctx); err != nil {
		return Summary{}, err
	}
	for l.inflight > 0 {
		// After a stop, running evaluations see the cancelled context and
		// return: results that completed are saved, the others stay
		// "running" in the store and run again on resume.
		r := <-l.exec.Results()
		l.inflight--
		if err := l.finish(ctx, r); err != nil {
			return l.summary(true), err
		}
	}
	interrupted := ctx.Err() != nil && countFinal(l.trials) < l.s.Trials
	status := store.SearchFinished
	if interrupted {
		status = store.SearchInterrupted
	}
	err = l.st.Update(func(tx *store.Tx) error {
		rec, err := tx.Search(l.s.Name)
		if err != nil {
			return err
		}
		rec.Status, rec.Updated = status, time.Now().UTC()
		return tx.PutSearch(rec)
	})
	return l.summary(interrupted), err
}

// advance makes every controller call that is due, in the one order the
// window fixes: trial t is proposed once trials 1..Need(t) are observed
// and before trial Need(t)+1 is observed; finished trials are observed in
// id order. A proposal also waits for a free worker, and the observations
// after it wait with it, so proposed trials are running trials. Each
// controller call thus sees the same history whatever the number of
// workers, the order in which trials finish and where the search was
// stopped and resumed.
func (l *loop) advance(ctx context.Context) error {
	for {
		next := len(l.trials) + 1
		if next <= l.s.Trials && l.window.Need(next) <= l.observed {
			if ctx.Err() != nil || l.inflight >= l.s.Parallel {
				break
			}
			if err := l.propose(); err != nil {
				return err
			}
			continue
		}
		if l.observed >= len(l.trials) {
			break
		}
		t := l.trials[l.observed]
		if t.Status != store.StatusDone && t.Status != store.StatusFailed {
			break
		}
		r := t.Reward
		if t.Status == store.StatusFailed || math.IsNaN(r) || math.IsInf(r, 0) {
			r = 0
		}
		if err := l.ctrl.Observe(t.Decisions, r); err != nil {
			return fmt.Errorf("controller: observing trial %d: %w", t.ID, err)
		}
		l.observed++
	}
	if l.observed != l.saved {
		return l.commit(nil)
	}
	return nil
}

// propose adds the next trial and starts it.
func (l *loop) propose() error {
	d, err := l.ctrl.Propose()
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	now := time.Now().UTC()
	l.trials = append(l.trials, store.Trial{ID: len(l.trials) + 1, Decisions: d, Status: store.StatusPending, Created: now})
	t := &l.trials[len(l.trials)-1]
	arch, err := l.space.Decode(d)
	if err != nil {
		t.Status, t.Error, t.Finished = store.StatusFailed, "bad architecture: "+err.Error(), now
		return l.commit(t)
	}
	arch.Name = fmt.Sprintf("%s-trial-%d", l.s.Name, t.ID)
	t.Arch = arch
	return l.start(t)
}

// start records that a trial runs (with the controller state, in the same
// transaction as a proposal) and submits it.
func (l *loop) start(t *store.Trial) error {
	t.Status, t.Started = store.StatusRunning, time.Now().UTC()
	if err := l.commit(t); err != nil {
		return err
	}
	task := Task{TrialID: t.ID, Attempt: t.Attempts + 1, Arch: t.Arch, Seed: trialSeed(l.rec.Seed, t.ID)}
	task.Progress = progressOf(l.hooks, t.ID)
	l.exec.Submit(task)
	l.inflight++
	return nil
}

func (l *loop) finish(ctx context.Context, r Result) error {
	id := r.Task.TrialID
	if id < 1 || id > len(l.trials) {
		return fmt.Errorf("executor returned unknown trial %d", id)
	}
	t := &l.trials[id-1]
	if t.Status != store.StatusRunning || r.Task.Attempt != t.Attempts+1 {
		return nil // a stale duplicate from an executor: ignore it
	}
	if r.Err != nil && ctx.Err() != nil {
		// Cut off by the stop, not failed: it stays "running" in the
		// store and runs again on resume.
		return nil
	}
	t.Worker, t.Finished = r.Worker, r.Finished
	t.Attempts++
	if r.Err == nil {
		m := r.Metrics
		if m.Host.Code.IsZero() {
			m.Host.Code = version.Get()
		}
		t.Metrics = &m
		score, err := l.s.Reward.Score(m)
		if err != nil {
			r.Err = fmt.Errorf("reward: %w", err)
		} else {
			t.Reward, t.Status, t.Error = score, store.StatusDone, ""
		}
	}
	if r.Err != nil {
		t.Error = r.Err.Error()
		if t.Attempts < l.cfg.MaxAttempts {
			t.Status = store.StatusPending
			l.callHook(*t)
			return l.start(t)
		}
		t.Status, t.Reward = store.StatusFailed, 0
	}
	// The result is saved first, then observed: a crash in between leaves
	// a finished, unobserved trial, which the next run observes.
	if err := l.commit(t); err != nil {
		return err
	}
	l.callHook(*t)
	return l.advance(ctx)
}

// commit saves a trial (when t is not nil) together with the controller's
// current state, in one transaction.
func (l *loop) commit(t *store.Trial) error {
	state, err := l.ctrl.State()
	if err != nil {
		return err
	}
	ck, err := json.Marshal(checkpoint{Observed: l.observed, State: state})
	if err != nil {
		return err
	}
	err = l.st.Update(func(tx *store.Tx) error {
		if t != nil {
			if err := tx.PutTrial(l.s.Name, *t); err != nil {
				return err
			}
		}
		return tx.PutControllerState(l.s.Name, ck)
	})
	if err == nil {
		l.saved = l.observed
	}
	return err
}

func countFinal(trials []store.Trial) int {
	n := 0
	for _, t := range trials {
		if t.Status == store.StatusDone || t.Status == store.StatusFailed {
			n++
		}
	}
	return n
}

func (l *loop) callHook(t store.Trial) {
	if l.hooks.Trial == nil {
		return
	}
	best, ok := store.BestTrial(l.trials)
	var bp *store.Trial
	if ok {
		bp = &best
	}
	l.hooks.Trial(t, countFinal(l.trials), l.s.Trials, bp)
}

func (l *loop) summary(interrupted bool) Summary {
	s := Summary{Name: l.s.Name, Total: l.s.Trials, Done: countFinal(l.trials), Interrupted: interrupted}
	for _, t := range l.trials {
		if t.Status == store.StatusFailed {
			s.Failed++
		}
	}
	if b, ok := store.BestTrial(l.trials); ok {
		s.Best = &b
	}
	return s
}
