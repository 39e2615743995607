package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/effnas/effnas/controller"
	"github.com/effnas/effnas/measure"
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
	// Note is called with what the search has to say beyond its trials,
	// such as trials timed on another kind of host than the baseline.
	Note func(string)
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
// LocalExecutor with s.Parallel workers); a Durable executor runs the
// trials elsewhere (see Durable for what changes).
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
	durable, _ := exec.(Durable)
	rec, cfg, start, err := openRecord(st, space, given, s, window, ev, durable != nil)
	if err != nil {
		return Summary{}, err
	}
	if hooks.Start != nil {
		hooks.Start(start)
	}
	if exec == nil {
		exec = NewLocalExecutor(ctx, ev, s.Parallel)
	}
	defer exec.Close()
	if durable != nil {
		if err := durable.Start(ctx, rec); err != nil {
			return Summary{}, err
		}
	}
	l := &loop{st: st, space: space, s: s, cfg: cfg, window: cfg.window(), rec: rec, ev: ev, exec: exec, durable: durable,
		hooks: hooks, mixed: map[string]bool{}}
	if rec.Baseline == nil {
		if err := l.measureBaseline(ctx); err != nil {
			if ctx.Err() != nil {
				return l.end(ctx)
			}
			return Summary{}, err
		}
	} else if hooks.Baseline != nil {
		hooks.Baseline(*rec.Baseline)
	}
	if err := l.resolveReward(); err != nil {
		return Summary{}, err
	}
	return l.run(ctx)
}

func acknowledge(r Result) {
	if r.Ack != nil {
		// A result whose acknowledgement is lost comes again and is then
		// ignored as stale.
		_ = r.Ack()
	}
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

// maxBatch bounds the results one commit records.
const maxBatch = 1024

type loop struct {
	st      *store.Store
	space   searchspace.Space
	s       Settings
	cfg     recordConfig
	window  controller.Window
	rec     store.Search
	ev      Evaluator
	exec    Executor
	durable Durable // exec, when it is durable
	hooks   Hooks

	ctrl     controller.Controller
	trials   []store.Trial // trials[i].ID == i+1
	observed int           // trials 1..observed are observed by ctrl
	inflight int
	mixed    map[string]bool // host kinds already noted as mixed in

	// What the next flush commits and then does: trials changed, whether
	// the controller changed, tasks to submit, results to acknowledge and
	// hooks to call.
	dirty       map[int]bool
	ctrlChanged bool
	tasks       []Task
	acks        []Result
	after       []func()
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
	l.dirty = map[int]bool{}

	// Trials that were being evaluated when the last run ended were cut
	// off, not failed: they run again, and the cut-off evaluation is not
	// an attempt. The workers of a durable executor may still be at them:
	// they are submitted again with the same attempt, which the executor
	// does not run twice.
	for i := range l.trials {
		t := &l.trials[i]
		switch {
		case t.Status == store.StatusRunning && l.durable != nil:
			l.submit(t)
			l.tasks[len(l.tasks)-1].Again = true
		case t.Status == store.StatusPending || t.Status == store.StatusRunning:
			t.Interrupted++
			l.start(t)
		}
	}
	if err := l.advance(ctx); err != nil {
		return Summary{}, err
	}
	if err := l.flush(); err != nil {
		return Summary{}, err
	}
	for l.inflight > 0 {
		// After a stop, running local evaluations see the cancelled
		// context and return: results that completed are saved, the
		// others stay "running" in the store and run again on resume. A
		// durable executor's trials go on elsewhere: the loop stops now.
		rs, err := l.receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return l.summary(true), err
		}
		for _, r := range rs {
			if err := l.finish(ctx, r); err != nil {
				return l.summary(true), err
			}
		}
		if err := l.flush(); err != nil {
			return l.summary(true), err
		}
	}
	return l.end(ctx)
}

// end saves the search's state at the end of a run.
func (l *loop) end(ctx context.Context) (Summary, error) {
	interrupted := ctx.Err() != nil && countFinal(l.trials) < l.s.Trials
	status := store.SearchFinished
	if interrupted {
		status = store.SearchInterrupted
	}
	err := l.st.Update(func(tx *store.Tx) error {
		rec, err := tx.Search(l.s.Name)
		if err != nil {
			return err
		}
		rec.Status, rec.Updated = status, time.Now().UTC()
		return tx.PutSearch(rec)
	})
	if err == nil && l.durable != nil && countFinal(l.trials) >= l.s.Trials {
		if ferr := l.durable.Finish(); ferr != nil && l.hooks.Note != nil {
			l.hooks.Note(fmt.Sprintf("the search is over, but its queue could not be cleaned up: %v", ferr))
		}
	}
	return l.summary(interrupted), err
}

// receive waits for a result and takes every other one already there, so
// that one commit records them all (results of parallel trials come in
// bursts). With a durable executor it returns ctx's error once ctx is
// cancelled, and the executor's once it is done.
func (l *loop) receive(ctx context.Context) ([]Result, error) {
	var stop, done <-chan struct{}
	if l.durable != nil {
		stop, done = ctx.Done(), l.durable.Done()
	}
	var rs []Result
	select {
	case r := <-l.exec.Results():
		rs = append(rs, r)
	case <-stop:
		return nil, ctx.Err()
	case <-done:
		if err := l.durable.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("the executor stopped")
	}
	for len(rs) < maxBatch {
		select {
		case r := <-l.exec.Results():
			rs = append(rs, r)
		default:
			return rs, nil
		}
	}
	return rs, nil
}

// advance makes every controller call that is due, in the one order the
// window fixes: trial t is proposed once trials 1..Need(t) are observed
// and before trial Need(t)+1 is observed; finished trials are observed in
// id order. A proposal also waits for a free worker, and the observations
// after it wait with it, so proposed trials are running trials. Each
// controller call thus sees the same history whatever the number of
// workers, the order in which trials finish, how many results one commit
// records and where the search was stopped and resumed.
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
		l.ctrlChanged = true
	}
	return nil
}

// propose adds the next trial and starts it.
func (l *loop) propose() error {
	d, err := l.ctrl.Propose()
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	l.ctrlChanged = true
	now := time.Now().UTC()
	l.trials = append(l.trials, store.Trial{ID: len(l.trials) + 1, Decisions: d, Status: store.StatusPending, Created: now})
	t := &l.trials[len(l.trials)-1]
	l.dirty[t.ID] = true
	arch, err := l.space.Decode(d)
	if err != nil {
		t.Status, t.Error, t.Finished = store.StatusFailed, "bad architecture: "+err.Error(), now
		return nil
	}
	arch.Name = fmt.Sprintf("%s-trial-%d", l.s.Name, t.ID)
	t.Arch = arch
	l.start(t)
	return nil
}

// start marks a trial running and submits it once that is saved (with
// the controller state, in the same commit as a proposal).
func (l *loop) start(t *store.Trial) {
	t.Status, t.Started = store.StatusRunning, time.Now().UTC()
	l.dirty[t.ID] = true
	l.submit(t)
}

// submit queues a running trial's next attempt for the next flush.
func (l *loop) submit(t *store.Trial) {
	task := Task{TrialID: t.ID, Attempt: t.Attempts + 1, Arch: t.Arch, Seed: trialSeed(l.rec.Seed, t.ID)}
	task.Progress = progressOf(l.hooks, t.ID)
	if l.durable != nil && !l.s.AllowHostChange && hostKnown(l.rec.Host) && !l.rec.Host.Synthetic() {
		h := l.rec.Host
		task.HostKind = &h
	}
	l.tasks = append(l.tasks, task)
	l.inflight++
}

func (l *loop) finish(ctx context.Context, r Result) error {
	id := r.Task.TrialID
	if id < 0 || id > len(l.trials) {
		if l.durable == nil {
			return fmt.Errorf("executor returned unknown trial %d", id)
		}
		l.notef("ignoring a result for trial %d from worker %q: the search has %d trials", id, r.Worker, len(l.trials))
		l.acks = append(l.acks, r)
		return nil
	}
	if id == 0 {
		l.acks = append(l.acks, r) // the baseline's, again
		return nil
	}
	t := &l.trials[id-1]
	if t.Status != store.StatusRunning || r.Task.Attempt != t.Attempts+1 {
		// A stale duplicate: the trial was recorded already.
		l.acks = append(l.acks, r)
		return nil
	}
	l.inflight--
	if r.Err != nil && ctx.Err() != nil && l.durable == nil {
		// Cut off by the stop, not failed: it stays "running" in the
		// store and runs again on resume.
		return nil
	}
	if r.Err == nil {
		r.Err = l.checkHost(r)
	}
	t.Worker, t.Finished = r.Worker, r.Finished
	if !r.Started.IsZero() {
		t.Started = r.Started
	}
	t.Attempts++
	l.dirty[t.ID] = true
	l.acks = append(l.acks, r)
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
		if t.Attempts < l.cfg.MaxAttempts && !errors.Is(r.Err, ErrNoRetry) {
			t.Status = store.StatusPending
			l.hookTrial(*t)
			l.start(t)
			return nil
		}
		t.Status, t.Reward = store.StatusFailed, 0
	}
	// The result is saved with its observation, in the next flush: a
	// crash before it loses both, and the result comes again (durable) or
	// the trial runs again.
	l.hookTrial(*t)
	return l.advance(ctx)
}

// flush saves what changed (trials and the controller's state) in one
// transaction, then submits the new tasks, acknowledges the results it
// recorded and calls the hooks. Nothing leaves the loop before it is
// saved, and nothing is acknowledged before: a crash at any point loses
// no result that a restart cannot get again.
func (l *loop) flush() error {
	if len(l.dirty) > 0 || l.ctrlChanged {
		state, err := l.ctrl.State()
		if err != nil {
			return err
		}
		ck, err := json.Marshal(checkpoint{Observed: l.observed, State: state})
		if err != nil {
			return err
		}
		ids := slices.Sorted(maps.Keys(l.dirty))
		err = l.st.Update(func(tx *store.Tx) error {
			for _, id := range ids {
				if err := tx.PutTrial(l.s.Name, l.trials[id-1]); err != nil {
					return err
				}
			}
			return tx.PutControllerState(l.s.Name, ck)
		})
		if err != nil {
			return err
		}
		clear(l.dirty)
		l.ctrlChanged = false
	}
	for _, t := range l.tasks {
		l.exec.Submit(t)
	}
	for _, r := range l.acks {
		acknowledge(r)
	}
	for _, f := range l.after {
		f()
	}
	l.tasks, l.acks, l.after = l.tasks[:0], l.acks[:0], l.after[:0]
	return nil
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

// hookTrial calls the Trial hook after the next flush, with the counts
// and the best trial of now.
func (l *loop) hookTrial(t store.Trial) {
	if l.hooks.Trial == nil {
		return
	}
	var bp *store.Trial
	if best, ok := store.BestTrial(l.trials); ok {
		bp = &best
	}
	done := countFinal(l.trials)
	l.after = append(l.after, func() { l.hooks.Trial(t, done, l.s.Trials, bp) })
}

func (l *loop) notef(format string, args ...any) {
	if l.hooks.Note != nil {
		msg := fmt.Sprintf(format, args...)
		l.after = append(l.after, func() { l.hooks.Note(msg) })
	}
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
