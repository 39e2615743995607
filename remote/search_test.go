package remote

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/search"
	"github.com/effnas/effnas/store"
	"github.com/effnas/effnas/trainer"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func trialsOf(t *testing.T, st *store.Store, name string) []store.Trial {
	t.Helper()
	r, err := store.ReadSearch(st.Path(), name)
	if err != nil {
		t.Fatal(err)
	}
	return r.Trials
}

// A search whose executor is the queue, with three workers evaluating
// through SearchEval, makes the trials of the same search run here, each
// recorded with the worker that ran it.
func TestSearchOnWorkers(t *testing.T) {
	s := newServer(t, false)
	settings := search.Settings{Name: "q", Controller: "evolution", Trials: 30, Parallel: 3, Seed: 4}
	p, err := search.NewProxy(search.ProxyOptions{Evaluator: "synthetic", SyntheticDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	local := openStore(t)
	if _, err := search.Run(context.Background(), local, p.Space, settings, p.Evaluator, nil, search.Hooks{}); err != nil {
		t.Fatal(err)
	}
	workers := []string{"w1", "w2", "w3"}
	for _, name := range workers {
		goWorker(t, connectIn(t, s, name), SearchEval(EvalOptions{}), WorkerOptions{Name: name})
	}
	exec, err := NewExecutor(connectIn(t, s, "coordinator"), p.Spec, CoordinatorOptions{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	sum, err := search.Run(context.Background(), st, p.Space, settings, nil, exec, search.Hooks{})
	if err != nil || sum.Done != 30 || sum.Failed != 0 {
		t.Fatalf("%+v %v", sum, err)
	}
	want, got := trialsOf(t, local, "q"), trialsOf(t, st, "q")
	for i := range want {
		if !slices.Equal(got[i].Decisions, want[i].Decisions) || got[i].Reward != want[i].Reward || got[i].Attempts != 1 ||
			!slices.Contains(workers, got[i].Worker) || !got[i].Synthetic() {
			t.Fatalf("trial %d: %+v, want %+v", i+1, got[i], want[i])
		}
	}
}

// A worker given a trial of a search that times on another kind of host
// hands it back and stops with an error naming both kinds; the trial goes
// to the next worker.
func TestWorkerRefusesAnotherHostKind(t *testing.T) {
	s := newServer(t, false)
	c := newCoordinator(t, connectIn(t, s, "coordinator"), "kinds", Topology{})
	spec, _ := json.Marshal(search.EvaluatorSpec{Name: "train", Dataset: "synthetic"})
	other := trainer.HostInfo()
	other.CPU, other.Cores = "a machine elsewhere", 96
	task := Task{Trial: 1, Attempt: 1, Arch: testArch, Evaluator: spec, HostKind: &other}
	c.Submit(task)
	w := goWorker(t, connectIn(t, s, "misplaced"), SearchEval(EvalOptions{}), WorkerOptions{Name: "misplaced"})
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the worker took the trial")
	}
	if !errors.Is(w.err, ErrNotForThisWorker) || !strings.Contains(w.err.Error(), "a machine elsewhere, 96 cores") ||
		!strings.Contains(w.err.Error(), trainer.HostInfo().Fingerprint()) {
		t.Fatalf("worker stopped with %v", w.err)
	}
	goWorker(t, connectIn(t, s, "other"), sleepEval("other", 0), WorkerOptions{Name: "other"})
	l := newLedger()
	l.collect(t, c, 1, 30*time.Second)
	if r, _ := l.get(1); r.Worker != "other" || r.Delivery != 2 || r.Err() != nil {
		t.Fatalf("result %+v", r)
	}
}

// A worker that cannot build the search's evaluator (here: it does not
// have the dataset) fails the trial with the reason, reported back.
func TestWorkerWithoutDatasetReportsIt(t *testing.T) {
	s := newServer(t, false)
	c := newCoordinator(t, connectIn(t, s, "coordinator"), "nodata", Topology{})
	spec, _ := json.Marshal(search.EvaluatorSpec{Name: "train", Dataset: "fashion-mnist"})
	c.Submit(Task{Trial: 1, Attempt: 1, Arch: testArch, Evaluator: spec})
	unknown, _ := json.Marshal(search.EvaluatorSpec{Name: "magic"})
	c.Submit(Task{Trial: 2, Attempt: 1, Arch: testArch, Evaluator: unknown})
	empty := t.TempDir()
	goWorker(t, connectIn(t, s, "w"), SearchEval(EvalOptions{DataDir: empty}), WorkerOptions{Name: "w"})
	l := newLedger()
	l.collect(t, c, 2, 30*time.Second)
	r, _ := l.get(1)
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "cannot build the search's evaluator") ||
		!strings.Contains(err.Error(), "fashion-mnist") || !strings.Contains(err.Error(), empty) {
		t.Fatalf("trial 1: %v", err)
	}
	r, _ = l.get(2)
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), `unknown evaluator "magic"`) {
		t.Fatalf("trial 2: %v", err)
	}
}

// What the search loop reads of a result: the measurement, and failures
// the coordinator made up as not worth retrying.
func TestSearchResult(t *testing.T) {
	m := measure.Metrics{Accuracy: 0.5, Params: 10, StepTime: measure.StepStats{Median: 0.1}}
	raw, _ := json.Marshal(m)
	r := searchResult(Result{Trial: 3, Attempt: 2, Worker: "w", Measurement: raw})
	if r.Err != nil || r.Task.TrialID != 3 || r.Task.Attempt != 2 || r.Worker != "w" || r.Metrics.Accuracy != 0.5 {
		t.Fatalf("%+v", r)
	}
	for _, kind := range []error{ErrMaxDeliveries, ErrRejected} {
		r := searchResult(Result{Trial: 3, Attempt: 1, Error: "trial 3 attempt 1: gone", kind: kind})
		if !errors.Is(r.Err, search.ErrNoRetry) || !errors.Is(r.Err, kind) {
			t.Fatalf("%v: %v", kind, r.Err)
		}
	}
	r = searchResult(Result{Trial: 3, Attempt: 1, Error: "out of memory"})
	if r.Err == nil || errors.Is(r.Err, search.ErrNoRetry) {
		t.Fatalf("a worker's failure: %v", r.Err)
	}
	r = searchResult(Result{Trial: 3, Attempt: 1, Worker: "w", Measurement: json.RawMessage(`"fast"`)})
	if r.Err == nil || !strings.Contains(r.Err.Error(), "worker w sent a measurement that does not read") {
		t.Fatalf("a bad measurement: %v", r.Err)
	}
}

// A search's name on the server is a plain subject token that changes with
// its creation time.
func TestSearchID(t *testing.T) {
	at := time.Date(2026, 4, 1, 10, 15, 2, 123456789, time.UTC)
	id := SearchID("default", at)
	if id != "default-20260401T101502123" || token(id) != id {
		t.Fatalf("%q (token %q)", id, token(id))
	}
	if SearchID("default", at.Add(time.Millisecond)) == id {
		t.Fatal("two creation times, one name")
	}
}

var _ search.Durable = (*Executor)(nil)

// A task that ended while its coordinator was down with the server (the
// embedded one) is not queued again by the next coordinator's Resubmit:
// the restarted server forgot the task's message id, but the result is
// there, and it is delivered. (Submit would run it a second time.)
func TestResubmitAfterServerRestart(t *testing.T) {
	dir := t.TempDir()
	start := func() *Server {
		s, err := StartServer(ServerOptions{Dir: dir, Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := start()
	var runs atomic.Int32
	count := func(ctx context.Context, t Task) (json.RawMessage, error) {
		runs.Add(1)
		return sleepEval("w", 0)(ctx, t)
	}
	nc := connectIn(t, s, "coordinator")
	topo := Topology{ResultAckWait: 500 * time.Millisecond}
	c, err := NewCoordinator(context.Background(), nc, "again", CoordinatorOptions{Topology: topo, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	w := goWorker(t, connectIn(t, s, "w"), count, WorkerOptions{Name: "w"})
	c.Submit(task(1))
	c.Submit(task(2))
	// Both run; the coordinator dies before it takes trial 2's result.
	l := newLedger()
	l.collect(t, c, 1, 10*time.Second)
	for deadline := time.Now().Add(10 * time.Second); runs.Load() < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("trial 2 did not run")
		}
	}
	// Its result and its ack reach the server: the task is gone, the
	// result waits.
	js := jsFor(t, s)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		trials, err := js.Stream(context.Background(), trialsStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := trials.Info(context.Background())
		_, rerr := c.resultStream.GetLastMsgForSubject(context.Background(), resultSubject("again", 2, 1))
		if err == nil && info.State.Msgs == 0 && rerr == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trial 2 not done on the server: %v %+v %v", err, info, rerr)
		}
	}
	w.stop()
	c.Close()
	nc.Close()
	s.Close()

	s = start()
	t.Cleanup(s.Close)
	c = newCoordinator(t, connectIn(t, s, "coordinator again"), "again", topo)
	goWorker(t, connectIn(t, s, "w again"), count, WorkerOptions{Name: "w"})
	c.Resubmit(task(2))
	c.Resubmit(task(3)) // never submitted: queued
	l.collect(t, c, 3, 10*time.Second)
	l.drain(t, c, 300*time.Millisecond)
	if n := runs.Load(); n != 3 {
		t.Fatalf("%d evaluations, want 3: trial 2 ran again", n)
	}
}

// A search that is over removes its consumers from the server; run again
// with more trials, it makes them anew and goes on.
func TestFinishedSearchRemovesItsConsumers(t *testing.T) {
	s := newServer(t, false)
	p, err := search.NewProxy(search.ProxyOptions{Evaluator: "synthetic"})
	if err != nil {
		t.Fatal(err)
	}
	goWorker(t, connectIn(t, s, "w"), SearchEval(EvalOptions{}), WorkerOptions{Name: "w"})
	st := openStore(t)
	js := jsFor(t, s)
	consumers := func() (n int) {
		for _, stream := range []string{resultsStream, advisoriesStream} {
			st, err := js.Stream(context.Background(), stream)
			if err != nil {
				t.Fatal(err)
			}
			info, err := st.Info(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			n += info.State.Consumers
		}
		return n
	}
	for _, trials := range []int{3, 5} {
		exec, err := NewExecutor(connectIn(t, s, "coordinator"), p.Spec, CoordinatorOptions{Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		settings := search.Settings{Name: "over", Controller: "random", Trials: trials}
		if sum, err := search.Run(context.Background(), st, p.Space, settings, nil, exec, search.Hooks{}); err != nil || sum.Done != trials {
			t.Fatalf("%+v %v", sum, err)
		}
		if n := consumers(); n != 0 {
			t.Fatalf("%d consumers left after the search of %d trials", n, trials)
		}
	}
}
