package search

// The search's record: created or resumed with the settings it was made
// with, its reward resolved, its baseline measured (here or on a worker),
// and the host every result must come from.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/effnas/effnas/controller"
	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/reward"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
	"github.com/effnas/effnas/version"
)

// resolveReward takes the reward's references left at zero from the
// baseline, once: a resumed search keeps the reward it started with.
func (l *loop) resolveReward() error {
	s, rec := &l.s, &l.rec
	if s.Reward.Time.Ref == 0 {
		s.Reward.Time.Ref = rec.Baseline.StepTime.Median
	} else if s.Reward.Time.Base == 0 { // a target: relative times are times S0
		s.Reward.Time.Base = rec.Baseline.StepTime.Median
	}
	if s.Reward.Params.Ref == 0 {
		s.Reward.Params.Ref = float64(rec.Baseline.Params)
	}
	if _, err := s.Reward.Resolve(); err != nil {
		return err
	}
	recReward, err := reward.DecodeSettings(rec.Reward)
	if err != nil {
		return fmt.Errorf("search %q: %w", s.Name, err)
	}
	if recReward.Time.Ref != 0 && recReward.Params.Ref != 0 {
		s.Reward = recReward
		return nil
	}
	if rec.Reward, err = json.Marshal(s.Reward); err != nil {
		return err
	}
	return l.st.Update(func(tx *store.Tx) error { return tx.PutSearch(*rec) })
}

// openRecord creates the search record, or checks that an existing one is
// the same search, and updates the trial target. The host of a search
// whose trials run elsewhere (durable) is its baseline's, measured on a
// worker: this process's does not matter.
func openRecord(st *store.Store, space searchspace.Space, given, s Settings, window controller.Window, ev Evaluator, durable bool) (
	rec store.Search, cfg recordConfig, start Start, err error) {
	var host measure.Host
	if hr, ok := ev.(HostReporter); ok && !durable {
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
		if !durable && host.Fingerprint() != old.Host.Fingerprint() && !s.AllowHostChange && hostKnown(old.Host) {
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

// hostKnown reports whether h describes a machine (records of searches
// whose baseline is not measured yet on a worker have none).
func hostKnown(h measure.Host) bool { return h.Fingerprint() != emptyHost }

// emptyHost is the fingerprint of a Host with no field set (Code is not
// part of fingerprints).
var emptyHost = measure.Host{}.Fingerprint()

// describeHost names a host for messages about mixed timings.
func describeHost(h measure.Host) string {
	return fmt.Sprintf("%s, %d cores, GOMAXPROCS %d, %s, %s/%s, %s (host kind %s)",
		h.CPU, h.Cores, h.GOMAXPROCS, h.Backend, h.OS, h.Arch, h.GoVersion, h.Fingerprint())
}

// measureBaseline measures the space's backbone: here, or on a worker of a
// durable executor, whose host becomes the search's.
func (l *loop) measureBaseline(ctx context.Context) error {
	task := Task{TrialID: 0, Attempt: l.cfg.BaselineAttempts + 1, Arch: l.space.Backbone, Seed: trialSeed(l.rec.Seed, 0), Baseline: true}
	task.Progress = progressOf(l.hooks, 0)
	var r Result
	if l.durable == nil {
		r.Metrics, r.Err = l.ev.Evaluate(ctx, task, nil)
	} else {
		var err error
		if r, err = l.remoteBaseline(ctx, task); err != nil {
			return err
		}
	}
	m := r.Metrics
	if r.Err == nil && (!(m.StepTime.Median > 0) || m.Params <= 0) {
		r.Err = fmt.Errorf("step time %v s and %d params: both must be positive", m.StepTime.Median, m.Params)
	}
	if r.Err != nil {
		if l.durable != nil {
			// The next run submits the baseline under a new attempt: the
			// queue would take the old one for this one, already done.
			l.cfg.BaselineAttempts++
			if err := l.saveRecord(true); err != nil {
				return err
			}
			acknowledge(r)
		}
		if r.Worker != "" {
			return fmt.Errorf("measuring the baseline (the space's backbone) on worker %s: %w", r.Worker, r.Err)
		}
		return fmt.Errorf("measuring the baseline (the space's backbone): %w", r.Err)
	}
	if m.Host.Code.IsZero() {
		m.Host.Code = version.Get()
	}
	l.rec.Baseline = &m
	if l.durable != nil {
		l.rec.Host = m.Host
	}
	if err := l.saveRecord(false); err != nil {
		return err
	}
	acknowledge(r)
	if l.hooks.Baseline != nil {
		l.hooks.Baseline(m)
	}
	return nil
}

// remoteBaseline submits the baseline task and waits for its result,
// acknowledging anything else that comes (results of an older search of
// this queue, of earlier attempts).
func (l *loop) remoteBaseline(ctx context.Context, task Task) (Result, error) {
	task.Again = true // an earlier run may have submitted it
	l.exec.Submit(task)
	for {
		rs, err := l.receive(ctx)
		if err != nil {
			return Result{}, err
		}
		for i, r := range rs {
			if r.Task.TrialID == 0 && r.Task.Attempt == task.Attempt {
				for _, other := range rs[i+1:] {
					acknowledge(other)
				}
				return r, nil
			}
			acknowledge(r)
		}
	}
}

// saveRecord writes the search record, with the loop's config when
// config is set.
func (l *loop) saveRecord(config bool) error {
	if config {
		raw, err := json.Marshal(l.cfg)
		if err != nil {
			return err
		}
		l.rec.Config = raw
	}
	return l.st.Update(func(tx *store.Tx) error { return tx.PutSearch(l.rec) })
}

// checkHost refuses a measurement timed on another kind of host than the
// search's (a durable executor's workers), unless mixed hosts are
// allowed; then it notes each new kind once.
func (l *loop) checkHost(r Result) error {
	want, got := l.rec.Host, r.Metrics.Host
	if l.durable == nil || !hostKnown(want) || (want.Synthetic() && got.Synthetic()) || want.Fingerprint() == got.Fingerprint() {
		return nil
	}
	if !l.s.AllowHostChange {
		return fmt.Errorf("worker %s timed the trial on another kind of host (%s) than the search's baseline (%s): "+
			"step times of different machines must not mix; run workers of that kind, or allow mixed hosts explicitly",
			r.Worker, describeHost(got), describeHost(want))
	}
	if fp := got.Fingerprint(); !l.mixed[fp] {
		l.mixed[fp] = true
		l.notef("warning: trial %d was timed by worker %s on another kind of host (%s) than the baseline (%s); "+
			"relative step times of both kinds are mixed in the reward, as allowed", r.Task.TrialID, r.Worker, describeHost(got), describeHost(want))
	}
	return nil
}
