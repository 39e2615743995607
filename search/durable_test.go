package search

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/store"
)

// mailbox is what a queue server keeps between two runs of a search:
// results waiting for acknowledgement, and which attempts were queued (it
// runs an attempt once, as the server's message ids make it).
type mailbox struct {
	mu      sync.Mutex
	waiting map[[2]int]Result
	queued  map[[2]int]int // times each (trial, attempt) was submitted
	ran     map[[2]int]int // evaluations of each (trial, attempt)
	acked   map[[2]int]int
}

func newMailbox() *mailbox {
	return &mailbox{waiting: map[[2]int]Result{}, queued: map[[2]int]int{}, ran: map[[2]int]int{}, acked: map[[2]int]int{}}
}

// fakeQueue is a Durable executor that behaves as the remote one may
// within its contract: results come in any order, each one twice (at least
// once), a result not acknowledged comes again to the next run, and
// evaluations go on after Close (on their workers).
type fakeQueue struct {
	ev       Evaluator
	box      *mailbox
	rng      *rand.Rand
	results  chan Result
	done     chan struct{}
	err      error
	started  []store.Search
	tasks    []Task
	finished int
	// host, when set, is the host of the measurements of trials from
	// hostFrom on (workers of another kind).
	host     *measure.Host
	hostFrom int
	// fail, when set, makes trial's evaluation fail with its error.
	fail map[int]error
	// Evaluations of trials from holdFrom on wait for hold to close.
	hold     chan struct{}
	holdFrom int
	// stop ends evaluations still waiting when the test ends.
	stop context.Context
	// onAck checks each acknowledgement.
	onAck func(Result)
}

func newFakeQueue(t *testing.T, ev Evaluator, box *mailbox, seed uint64) *fakeQueue {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &fakeQueue{ev: ev, box: box, rng: rand.New(rand.NewPCG(seed, 1)), results: make(chan Result, 10000), done: make(chan struct{}),
		stop: ctx}
}

func (q *fakeQueue) Start(ctx context.Context, rec store.Search) error {
	q.started = append(q.started, rec)
	q.box.mu.Lock()
	defer q.box.mu.Unlock()
	for _, r := range q.box.waiting {
		q.results <- q.acking(r)
	}
	return nil
}

func (q *fakeQueue) acking(r Result) Result {
	k := [2]int{r.Task.TrialID, r.Task.Attempt}
	r.Ack = func() error {
		if q.onAck != nil {
			q.onAck(r)
		}
		q.box.mu.Lock()
		delete(q.box.waiting, k)
		q.box.acked[k]++
		q.box.mu.Unlock()
		return nil
	}
	return r
}

func (q *fakeQueue) Submit(t Task) {
	q.tasks = append(q.tasks, t)
	k := [2]int{t.TrialID, t.Attempt}
	q.box.mu.Lock()
	q.box.queued[k]++
	again := q.box.queued[k] > 1
	q.box.mu.Unlock()
	if again {
		return // the server knows the message id: queued once
	}
	delay := time.Duration(q.rng.IntN(4)) * time.Millisecond
	go func() {
		time.Sleep(delay)
		if q.hold != nil && t.TrialID >= q.holdFrom {
			<-q.hold
		}
		r := Result{Task: Task{TrialID: t.TrialID, Attempt: t.Attempt, Baseline: t.Baseline}, Worker: fmt.Sprintf("w%d", t.TrialID%3),
			Started: time.Now().UTC()}
		r.Metrics, r.Err = q.ev.Evaluate(q.stop, t, nil)
		if q.stop.Err() != nil {
			return
		}
		if err := q.fail[t.TrialID]; err != nil {
			r.Err = err
		}
		if q.host != nil && t.TrialID >= q.hostFrom {
			r.Metrics.Host = *q.host
		}
		r.Finished = time.Now().UTC()
		q.box.mu.Lock()
		q.box.ran[k]++
		q.box.waiting[k] = r
		q.box.mu.Unlock()
		for range 2 {
			select {
			case q.results <- q.acking(r):
			default:
			}
		}
	}()
}

func (q *fakeQueue) Results() <-chan Result { return q.results }
func (q *fakeQueue) Done() <-chan struct{}  { return q.done }
func (q *fakeQueue) Err() error             { return q.err }
func (q *fakeQueue) Close()                 {}
func (q *fakeQueue) Finish() error          { q.finished++; return nil }

// localTrials runs s with the local executor, for reference.
func localTrials(t *testing.T, s Settings) []store.Trial {
	st := openStore(t)
	if _, err := Run(context.Background(), st, testSpace(), s, Synthetic{}, nil, Hooks{}); err != nil {
		t.Fatal(err)
	}
	return readTrials(t, st, s.Name)
}

func sameTrials(t *testing.T, got, want []store.Trial) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d trials, want %d", len(got), len(want))
	}
	for i := range want {
		if !slices.Equal(got[i].Decisions, want[i].Decisions) || got[i].Reward != want[i].Reward || got[i].Status != want[i].Status {
			t.Fatalf("trial %d: %v %s %v, want %v %s %v", i+1, got[i].Decisions, got[i].Status, got[i].Reward,
				want[i].Decisions, want[i].Status, want[i].Reward)
		}
	}
}

// A durable executor that delivers results out of order and twice gives
// the trials of a local search; each result is acknowledged only once the
// store has it, duplicates are acknowledged and ignored, the baseline is
// measured through the executor, and the search is named to it.
func TestDurableExecutorSameTrialsAckAfterCommit(t *testing.T) {
	s := Settings{Name: "d", Controller: "evolution", Trials: 40, Parallel: 5, Seed: 3}
	want := localTrials(t, s)
	st := openStore(t)
	box := newMailbox()
	q := newFakeQueue(t, Synthetic{}, box, 1)
	var bad []string
	q.onAck = func(r Result) {
		if r.Task.TrialID == 0 {
			return
		}
		tr := readTrials(t, st, "d")[r.Task.TrialID-1]
		if tr.Attempts < r.Task.Attempt {
			bad = append(bad, fmt.Sprintf("trial %d attempt %d acknowledged before it was saved (%+v)", r.Task.TrialID, r.Task.Attempt, tr))
		}
	}
	sum, err := Run(context.Background(), st, testSpace(), s, nil, q, Hooks{})
	if err != nil || sum.Done != 40 || sum.Interrupted {
		t.Fatalf("%+v %v", sum, err)
	}
	if len(bad) > 0 {
		t.Fatal(bad[0])
	}
	got := readTrials(t, st, "d")
	sameTrials(t, got, want)
	if len(q.started) != 1 || q.started[0].Name != "d" || q.tasks[0].TrialID != 0 || !q.tasks[0].Baseline || q.finished != 1 {
		t.Fatalf("started %v, first task %+v, finished %d times", q.started, q.tasks[0], q.finished)
	}
	for _, tr := range got {
		if tr.Attempts != 1 || tr.Interrupted != 0 || tr.Worker == "" {
			t.Fatalf("trial %d: %d attempts, %d interruptions, worker %q", tr.ID, tr.Attempts, tr.Interrupted, tr.Worker)
		}
		if box.acked[[2]int{tr.ID, 1}] < 1 {
			t.Fatalf("trial %d never acknowledged", tr.ID)
		}
	}
	r, err := store.ReadSearch(st.Path(), "d")
	if err != nil || r.Search.Baseline == nil || r.Search.Host.Fingerprint() != r.Search.Baseline.Host.Fingerprint() {
		t.Fatalf("the record's host is not its baseline's: %v %+v", err, r.Search.Host)
	}
}

// A search on a durable executor stopped (Ctrl-C) returns at once, without
// waiting for its running trials; run again, it submits them with the same
// attempts, which the queue does not run twice, takes the results that
// waited, and ends with the trials of a search never stopped, none counted
// as interrupted.
func TestDurableExecutorStopAndResume(t *testing.T) {
	s := Settings{Name: "r", Controller: "evolution", Trials: 30, Parallel: 6, Seed: 9}
	want := localTrials(t, s)
	st := openStore(t)
	box := newMailbox()
	q := newFakeQueue(t, Synthetic{}, box, 1)
	q.hold, q.holdFrom = make(chan struct{}), 5
	ctx, cancel := context.WithCancel(context.Background())
	seen := 0
	returned := make(chan error)
	go func() {
		_, err := Run(ctx, st, testSpace(), s, nil, q, Hooks{Trial: func(store.Trial, int, int, *store.Trial) {
			if seen++; seen == 4 {
				cancel()
			}
		}})
		returned <- err
	}()
	select {
	case err := <-returned:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the stopped search waits for its running trials")
	}
	var running []int
	for _, tr := range readTrials(t, st, "r") {
		if tr.Status == store.StatusRunning {
			running = append(running, tr.ID)
		}
	}
	if len(running) != 6 {
		t.Fatalf("running at the stop: %v, want 6 trials", running)
	}
	// The workers finish them while the search is down.
	close(q.hold)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		box.mu.Lock()
		n := len(box.waiting)
		box.mu.Unlock()
		if n == len(running) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d results waiting, want %d", n, len(running))
		}
	}
	q = newFakeQueue(t, Synthetic{}, box, 2)
	if sum, err := Run(context.Background(), st, testSpace(), s, nil, q, Hooks{}); err != nil || sum.Interrupted {
		t.Fatalf("%+v %v", sum, err)
	}
	for i, id := range running {
		if task := q.tasks[i]; task.TrialID != id || task.Attempt != 1 {
			t.Fatalf("resubmitted %+v, want trial %d attempt 1", task, id)
		}
	}
	got := readTrials(t, st, "r")
	sameTrials(t, got, want)
	for _, tr := range got {
		k := [2]int{tr.ID, 1}
		if tr.Attempts != 1 || tr.Interrupted != 0 || box.ran[k] != 1 {
			t.Fatalf("trial %d: %d attempts, %d interruptions, evaluated %d times", tr.ID, tr.Attempts, tr.Interrupted, box.ran[k])
		}
	}
}

// A trial that no worker could finish (ErrNoRetry) fails at once; other
// failures are retried.
func TestDurableExecutorNoRetry(t *testing.T) {
	st := openStore(t)
	q := newFakeQueue(t, Synthetic{}, newMailbox(), 2)
	q.fail = map[int]error{
		3: fmt.Errorf("handed to a worker 3 times and never finished (%w)", ErrNoRetry),
		5: errors.New("out of memory"),
	}
	s := Settings{Name: "n", Controller: "random", Trials: 8, Parallel: 2, Seed: 1, MaxAttempts: 3}
	if _, err := Run(context.Background(), st, testSpace(), s, nil, q, Hooks{}); err != nil {
		t.Fatal(err)
	}
	trials := readTrials(t, st, "n")
	if tr := trials[2]; tr.Status != store.StatusFailed || tr.Attempts != 1 || !strings.Contains(tr.Error, "never finished") {
		t.Fatalf("trial 3: %s after %d attempts: %s", tr.Status, tr.Attempts, tr.Error)
	}
	if tr := trials[4]; tr.Status != store.StatusFailed || tr.Attempts != 3 || tr.Error != "out of memory" {
		t.Fatalf("trial 5: %s after %d attempts: %s", tr.Status, tr.Attempts, tr.Error)
	}
}

// When the executor cannot go on (its queue is lost for good), Run ends
// with its error instead of waiting for results that cannot come.
func TestDurableExecutorDoneEndsTheSearch(t *testing.T) {
	st := openStore(t)
	q := newFakeQueue(t, Synthetic{Delay: time.Hour}, newMailbox(), 3)
	q.err = errors.New("coordinator: lost the queue server for good: authorization violation")
	// The baseline is measured, then the queue is lost.
	base := newFakeQueue(t, Synthetic{}, newMailbox(), 3)
	s := Settings{Name: "x", Controller: "random", Trials: 5, Seed: 1}
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := Run(ctx, st, testSpace(), s, nil, base, Hooks{Baseline: func(measure.Metrics) { cancel() }}); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, func() { close(q.done) })
	_, err := Run(context.Background(), st, testSpace(), s, nil, q, Hooks{})
	if err == nil || !strings.Contains(err.Error(), "authorization violation") {
		t.Fatalf("Run returned %v", err)
	}
}

// Trials go only to workers of the baseline's host kind; a measurement of
// another kind is a failed attempt, unless mixed hosts are allowed, when
// each new kind is noted once.
func TestDurableExecutorHostKinds(t *testing.T) {
	// Synthetic measurements have no host to speak of; the train
	// evaluator's stand-in here says which machine measured.
	ev := hostEval{host: measure.Host{OS: "linux", Arch: "amd64", CPU: "A", Cores: 8, GOMAXPROCS: 8, GoVersion: "go", Backend: "cpu/avx2"}}
	other := ev.host
	other.CPU, other.Cores = "B", 64
	for _, allow := range []bool{false, true} {
		st := openStore(t)
		q := newFakeQueue(t, ev, newMailbox(), 4)
		q.host, q.hostFrom = &other, 4
		var notes []string
		s := Settings{Name: fmt.Sprintf("h%v", allow), Controller: "random", Trials: 6, Seed: 1, MaxAttempts: 1, AllowHostChange: allow}
		if _, err := Run(context.Background(), st, testSpace(), s, nil, q, Hooks{Note: func(n string) { notes = append(notes, n) }}); err != nil {
			t.Fatal(err)
		}
		for _, task := range q.tasks[1:] {
			if allow != (task.HostKind == nil) || (!allow && task.HostKind.Fingerprint() != ev.host.Fingerprint()) {
				t.Fatalf("allow %v: trial %d carries host kind %+v", allow, task.TrialID, task.HostKind)
			}
		}
		trials := readTrials(t, st, s.Name)
		for _, tr := range trials {
			switch {
			case tr.ID < 4 && tr.Status != store.StatusDone:
				t.Fatalf("trial %d on the baseline's kind: %s %s", tr.ID, tr.Status, tr.Error)
			case tr.ID >= 4 && !allow && (tr.Status != store.StatusFailed || !strings.Contains(tr.Error, "another kind of host")):
				t.Fatalf("trial %d on another kind: %s %q", tr.ID, tr.Status, tr.Error)
			case tr.ID >= 4 && allow && (tr.Status != store.StatusDone || tr.Metrics.Host.CPU != "B"):
				t.Fatalf("trial %d on another kind, allowed: %s %s", tr.ID, tr.Status, tr.Error)
			}
		}
		if allow != (len(notes) == 1) || (allow && !strings.Contains(notes[0], "B, 64 cores")) {
			t.Fatalf("allow %v: notes %q", allow, notes)
		}
	}
}

// hostEval is the synthetic formula measured on a given host.
type hostEval struct{ host measure.Host }

func (h hostEval) Evaluate(ctx context.Context, t Task, g *Gate) (measure.Metrics, error) {
	m, err := Synthetic{}.Evaluate(ctx, t, g)
	m.Host = h.host
	return m, err
}

func (h hostEval) Host() measure.Host { return h.host }
