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
)

// Settings of a search. The zero value of each field means the default
// written next to it.
type Settings struct {
	// Name identifies the search in its database ("default").
	Name string
	// Controller is the strategy: rl, random or evolution ("rl").
	Controller        string
	ControllerOptions controller.Options
	// Trials is the total number of trials (20).
	Trials int
	// Parallel is the number of trials evaluated at once (1).
	Parallel int
	// Window is how far proposals may run ahead of observations: trial t is
	// proposed once trials 1..t-1-Window are observed (Parallel). It is
	// fixed when the search is created, so that resuming with another
	// Parallel proposes the same trials.
	Window int
	// Seed makes the search reproducible (1).
	Seed uint64
	// MaxAttempts is how often a failing trial is tried before it is given
	// up and recorded as failed (2).
	MaxAttempts int
	// Reward is the reward formula; references left at zero are taken from
	// the baseline (the space's backbone, measured at the start).
	Reward reward.Settings
	// Evaluator describes the evaluator for the record (name and budget).
	Evaluator any
	// AllowHostChange lets a search resume on a host whose fingerprint
	// differs from the one it started on (timings would then be mixed).
	AllowHostChange bool
}

func (s Settings) withDefaults() Settings {
	if s.Name == "" {
		s.Name = "default"
	}
	if s.Controller == "" {
		s.Controller = controller.NameRL
	}
	if s.Trials == 0 {
		s.Trials = 20
	}
	if s.Parallel == 0 {
		s.Parallel = 1
	}
	if s.Window == 0 {
		s.Window = s.Parallel
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	if s.MaxAttempts == 0 {
		s.MaxAttempts = 2
	}
	return s
}

func (s Settings) validate() error {
	switch {
	case s.Trials < 1:
		return fmt.Errorf("trials = %d: want at least 1", s.Trials)
	case s.Parallel < 1 || s.Parallel > 256:
		return fmt.Errorf("parallel = %d: want 1 to 256", s.Parallel)
	case s.Window < 1:
		return fmt.Errorf("window = %d: want at least 1", s.Window)
	case s.MaxAttempts < 1:
		return fmt.Errorf("max attempts = %d: want at least 1", s.MaxAttempts)
	}
	return nil
}

// recordConfig is what the search record keeps of Settings beyond its own
// fields (store.Search.Config).
type recordConfig struct {
	Window            int                `json:"window"`
	MaxAttempts       int                `json:"max_attempts"`
	ControllerOptions controller.Options `json:"controller_options"`
	Evaluator         any                `json:"evaluator,omitempty"`
}

// checkpoint is the controller state saved with the trials: how many trials
// (1..Observed) it has observed, and its serialised state.
type checkpoint struct {
	Observed int    `json:"observed"`
	State    []byte `json:"state"`
}

// Hooks lets a caller follow a search (progress bars, logs). Every field may
// be nil. They are called from the loop's goroutine.
type Hooks struct {
	Baseline func(m measure.Metrics)
	// Trial is called when a trial reaches a final state (done or failed),
	// or fails an attempt that will be retried (status pending).
	Trial func(t store.Trial, done, total int, best *store.Trial)
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

// ErrSettingsChanged is returned when a search is resumed with settings
// that would make it a different search.
var ErrSettingsChanged = errors.New("search exists with other settings")

// HostReporter is implemented by evaluators that know the host they time on.
type HostReporter interface{ Host() measure.Host }

// Run creates or resumes the search s.Name in st and runs it until
// s.Trials trials are final or ctx is cancelled. exec may be nil (a
// LocalExecutor with s.Parallel workers).
func Run(ctx context.Context, st *store.Store, space searchspace.Space, s Settings, ev Evaluator, exec Executor, hooks Hooks) (Summary, error) {
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return Summary{}, err
	}
	if err := space.Validate(); err != nil {
		return Summary{}, fmt.Errorf("space: %w", err)
	}
	rec, err := openRecord(st, space, s, ev)
	if err != nil {
		return Summary{}, err
	}
	var cfg recordConfig
	if err := json.Unmarshal(rec.Config, &cfg); err != nil {
		return Summary{}, fmt.Errorf("search %q: config: %w", s.Name, err)
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
	l := &loop{st: st, space: space, s: s, cfg: cfg, rec: rec, ev: ev, hooks: hooks}
	if exec == nil {
		exec = NewLocalExecutor(ctx, ev, s.Parallel)
	}
	defer exec.Close()
	l.exec = exec
	return l.run(ctx)
}

// openRecord creates the search record, or checks that an existing one is
// the same search, and updates the trial target.
func openRecord(st *store.Store, space searchspace.Space, s Settings, ev Evaluator) (store.Search, error) {
	var rec store.Search
	var host measure.Host
	if hr, ok := ev.(HostReporter); ok {
		host = hr.Host()
	}
	err := st.Update(func(tx *store.Tx) error {
		old, err := tx.Search(s.Name)
		now := time.Now().UTC()
		if errors.Is(err, store.ErrNotFound) {
			cfg, err := json.Marshal(recordConfig{Window: s.Window, MaxAttempts: s.MaxAttempts,
				ControllerOptions: s.ControllerOptions, Evaluator: s.Evaluator})
			if err != nil {
				return err
			}
			rw, err := json.Marshal(s.Reward)
			if err != nil {
				return err
			}
			rec = store.Search{Name: s.Name, Created: now, Updated: now, Controller: s.Controller, Seed: s.Seed,
				Trials: s.Trials, Parallel: s.Parallel, Space: space, Reward: rw, Config: cfg, Host: host,
				Status: store.SearchRunning}
			return tx.PutSearch(rec)
		}
		if err != nil {
			return err
		}
		if err := sameSearch(old, space, s); err != nil {
			return err
		}
		if host.Fingerprint() != old.Host.Fingerprint() && !s.AllowHostChange && old.Host.Fingerprint() != (measure.Host{}).Fingerprint() {
			return fmt.Errorf("search %q was started on another host (%s, %d cores, %s) than this one (%s, %d cores, %s); "+
				"its step times would be mixed: resume it there, or allow it explicitly",
				s.Name, old.Host.CPU, old.Host.Cores, old.Host.Backend, host.CPU, host.Cores, host.Backend)
		}
		old.Trials, old.Parallel, old.Updated, old.Status = s.Trials, s.Parallel, now, store.SearchRunning
		rec = old
		return tx.PutSearch(rec)
	})
	return rec, err
}

func sameSearch(old store.Search, space searchspace.Space, s Settings) error {
	a, _ := json.Marshal(old.Space)
	b, _ := json.Marshal(space)
	switch {
	case old.Controller != s.Controller:
		return fmt.Errorf("%w: %q uses controller %s, not %s (choose another --name)", ErrSettingsChanged, s.Name, old.Controller, s.Controller)
	case old.Seed != s.Seed:
		return fmt.Errorf("%w: %q uses seed %d, not %d (choose another --name)", ErrSettingsChanged, s.Name, old.Seed, s.Seed)
	case string(a) != string(b):
		return fmt.Errorf("%w: %q was started with another search space or proxy budget (choose another --name)", ErrSettingsChanged, s.Name)
	}
	return nil
}

func measureBaseline(ctx context.Context, st *store.Store, rec *store.Search, space searchspace.Space, ev Evaluator, hooks Hooks) error {
	m, err := ev.Evaluate(ctx, Task{TrialID: 0, Attempt: 1, Arch: space.Backbone, Seed: trialSeed(rec.Seed, 0), Baseline: true}, nil)
	if err != nil {
		return fmt.Errorf("measuring the baseline (the space's backbone): %w", err)
	}
	if !(m.StepTime.Median > 0) || m.Params <= 0 {
		return fmt.Errorf("baseline: step time %v s and %d params: both must be positive", m.StepTime.Median, m.Params)
	}
	rec.Baseline = &m
	if hooks.Baseline != nil {
		hooks.Baseline(m)
	}
	return st.Update(func(tx *store.Tx) error { return tx.PutSearch(*rec) })
}

// trialSeed derives a trial's seed from the search seed (splitmix64).
func trialSeed(seed uint64, id int) uint64 {
	z := seed + uint64(id+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

type loop struct {
	st    *store.Store
	space searchspace.Space
	s     Settings
	cfg   recordConfig
	rec   store.Search
	ev    Evaluator
	exec  Executor
	hooks Hooks

	ctrl     controller.Controller
	trials   []store.Trial // trials[i].ID == i+1
	observed int
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
	l.observed = ck.Observed

	// Trials that were pending or running when the last run stopped run again.
	var resubmit []int
	for i := range l.trials {
		t := &l.trials[i]
		if t.Status == store.StatusPending || t.Status == store.StatusRunning {
			if t.Attempts >= l.cfg.MaxAttempts {
				t.Status, t.Reward, t.Finished = store.StatusFailed, 0, time.Now().UTC()
				t.Error = fmt.Sprintf("given up after %d attempts (the last one ended with the process)", t.Attempts)
				if err := l.commit(t); err != nil {
					return Summary{}, err
				}
				continue
			}
			resubmit = append(resubmit, i)
		}
	}
	for _, i := range resubmit {
		if err := l.start(&l.trials[i]); err != nil {
			return Summary{}, err
		}
	}
	if err := l.advance(ctx); err != nil {
		return Summary{}, err
	}

	interrupted := false
	for {
		if l.inflight == 0 {
			interrupted = ctx.Err() != nil && l.final() < l.s.Trials
			break
		}
		select {
		case <-ctx.Done():
			// Running trials see the cancelled context and return; their
			// records stay "running" and run again on resume.
			interrupted = true
		case r := <-l.exec.Results():
			l.inflight--
			if err := l.finish(ctx, r); err != nil {
				return l.summary(true), err
			}
			continue
		}
		break
	}
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

// propose adds trials while the target is not reached and the window allows.
func (l *loop) propose() error {
	for len(l.trials) < l.s.Trials && len(l.trials)+1-l.observed <= l.cfg.Window {
		d, err := l.ctrl.Propose()
		if err != nil {
			return fmt.Errorf("controller: %w", err)
		}
		now := time.Now().UTC()
		t := store.Trial{ID: len(l.trials) + 1, Decisions: d, Status: store.StatusPending, Created: now}
		arch, err := l.space.Decode(d)
		if err != nil {
			t.Status, t.Error, t.Finished = store.StatusFailed, "bad architecture: "+err.Error(), now
		} else {
			arch.Name = fmt.Sprintf("%s-trial-%d", l.s.Name, t.ID)
			t.Arch = arch
		}
		l.trials = append(l.trials, t)
		if t.Status == store.StatusFailed {
			if err := l.commit(&l.trials[len(l.trials)-1]); err != nil {
				return err
			}
			continue
		}
		if err := l.start(&l.trials[len(l.trials)-1]); err != nil {
			return err
		}
	}
	return nil
}

// start records a new attempt (with the controller state, in the same
// transaction as the proposal) and submits it.
func (l *loop) start(t *store.Trial) error {
	t.Attempts++
	t.Status, t.Started = store.StatusRunning, time.Now().UTC()
	if err := l.commit(t); err != nil {
		return err
	}
	l.exec.Submit(Task{TrialID: t.ID, Attempt: t.Attempts, Arch: t.Arch, Seed: trialSeed(l.rec.Seed, t.ID)})
	l.inflight++
	return nil
}

func (l *loop) finish(ctx context.Context, r Result) error {
	id := r.Task.TrialID
	if id < 1 || id > len(l.trials) {
		return fmt.Errorf("executor returned unknown trial %d", id)
	}
	t := &l.trials[id-1]
	if t.Status != store.StatusRunning || r.Task.Attempt != t.Attempts {
		return nil // a stale duplicate from an executor: ignore it
	}
	t.Worker, t.Finished = r.Worker, r.Finished
	if r.Err != nil && ctx.Err() != nil && errors.Is(r.Err, context.Canceled) {
		return nil // interrupted: stays running in the store, runs again on resume
	}
	if r.Err == nil {
		t.Metrics = &r.Metrics
		score, err := l.s.Reward.Score(r.Metrics)
		if err != nil {
			r.Err = fmt.Errorf("reward: %w", err)
		} else {
			t.Reward, t.Status, t.Error = score, store.StatusDone, ""
		}
	}
	if r.Err != nil {
		t.Error = r.Err.Error()
		if t.Attempts < l.cfg.MaxAttempts && ctx.Err() == nil {
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

// advance lets the controller observe finished trials in id order, and
// proposes new trials at the points the window allows: before observing
// trial k+1, every trial t <= k+Window is proposed. Each controller call thus
// sees the same history whatever order trials finish in.
func (l *loop) advance(ctx context.Context) error {
	dirty := false
	for {
		if ctx.Err() == nil {
			if err := l.propose(); err != nil {
				return err
			}
			dirty = false // every proposal commits the controller state
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
		dirty = true
	}
	if dirty {
		return l.commit(nil)
	}
	return nil
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
	return l.st.Update(func(tx *store.Tx) error {
		if t != nil {
			if err := tx.PutTrial(l.s.Name, *t); err != nil {
				return err
			}
		}
		return tx.PutControllerState(l.s.Name, ck)
	})
}

func (l *loop) final() int {
	n := 0
	for _, t := range l.trials {
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
	l.hooks.Trial(t, l.final(), l.s.Trials, bp)
}

func (l *loop) summary(interrupted bool) Summary {
	s := Summary{Name: l.s.Name, Total: l.s.Trials, Done: l.final(), Interrupted: interrupted}
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
