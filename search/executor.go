package search

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/store"
)

// Executor runs tasks somewhere and reports their results in any order.
type Executor interface {
	// Submit queues a task; it does not wait for a worker.
	Submit(t Task)
	// Results delivers every submitted task's result exactly once, unless
	// the executor was closed first (a Durable executor: at least once).
	Results() <-chan Result
	// Close stops taking tasks and waits for the running ones to return
	// (they see their context cancelled when the search's context is).
	Close()
}

// Durable is an executor whose tasks outlive this process: workers on
// other hosts fed through a queue that keeps tasks and results while the
// search is down (package remote). With a durable executor, Run
//
//   - calls Start with the search's record before the first Submit, so
//     that the executor names its queue after the search;
//   - measures the baseline through it, on a worker, and takes the host
//     the search times on from that measurement (the host of the process
//     that runs the loop does not matter); every later task carries that
//     host (Task.HostKind) unless Settings.AllowHostChange;
//   - does not count trials that were running when the search stopped as
//     interrupted: their workers may still be at them. It submits them
//     again with the same attempt, which the executor recognises and does
//     not run twice, and takes their results when they come;
//   - acknowledges each result (Result.Ack) once it is saved or ignored;
//     a result never acknowledged is delivered again, so a duplicate of a
//     saved one is ignored (the store is the final dedupe);
//   - stops at once when its context is cancelled, leaving the running
//     trials to their workers and their results to the next run;
//   - ends with an error when Done is closed (Err says why);
//   - calls Finish once every trial is final.
type Durable interface {
	Executor
	// Start is called once, before the first Submit, with the search's
	// record.
	Start(ctx context.Context, rec store.Search) error
	// Done is closed when the executor cannot go on (its queue is lost
	// for good); Err then says why.
	Done() <-chan struct{}
	Err() error
	// Finish is called, before Close, when every trial of the search is
	// final: nothing is in flight, and the executor may remove what it
	// kept for the search on its queue.
	Finish() error
}

// ErrNoRetry is wrapped by the error of an evaluation that would fail the
// same way if retried, such as a trial that killed every worker it was
// handed to: the trial is failed at once, whatever Settings.MaxAttempts.
var ErrNoRetry = errors.New("not retried")

// LocalExecutor runs tasks on goroutines of this process.
type LocalExecutor struct {
	ctx     context.Context
	ev      Evaluator
	gate    *Gate
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []Task
	closed  bool
	results chan Result
	wg      sync.WaitGroup
}

// NewLocalExecutor starts workers goroutines evaluating tasks with ev. All
// of them share one Gate, so step-time measurements run alone.
func NewLocalExecutor(ctx context.Context, ev Evaluator, workers int) *LocalExecutor {
	if workers < 1 {
		workers = 1
	}
	e := &LocalExecutor{ctx: ctx, ev: ev, gate: &Gate{}, results: make(chan Result, 64)}
	e.cond = sync.NewCond(&e.mu)
	for w := range workers {
		e.wg.Add(1)
		go e.work(fmt.Sprintf("local-%d", w+1))
	}
	return e
}

// Submit queues a task.
func (e *LocalExecutor) Submit(t Task) {
	e.mu.Lock()
	e.queue = append(e.queue, t)
	e.mu.Unlock()
	e.cond.Signal()
}

// Results delivers finished tasks.
func (e *LocalExecutor) Results() <-chan Result { return e.results }

// Close stops the workers after their current task.
func (e *LocalExecutor) Close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.cond.Broadcast()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			return
		case <-e.results: // drain so no worker blocks on a full channel
		}
	}
}

func (e *LocalExecutor) work(name string) {
	defer e.wg.Done()
	for {
		e.mu.Lock()
		for len(e.queue) == 0 && !e.closed {
			e.cond.Wait()
		}
		if e.closed {
			e.mu.Unlock()
			return
		}
		t := e.queue[0]
		e.queue = e.queue[1:]
		e.mu.Unlock()
		r := Result{Task: t, Worker: name, Started: time.Now().UTC()}
		r.Metrics, r.Err = e.evaluate(t)
		r.Finished = time.Now().UTC()
		e.results <- r
	}
}

// evaluate turns a panic inside an evaluator into a failed trial: one bad
// architecture must not end a search of hundreds.
func (e *LocalExecutor) evaluate(t Task) (m measure.Metrics, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("evaluator panic: %v\n%s", p, firstLines(string(debug.Stack()), 12))
		}
	}()
	return e.ev.Evaluate(e.ctx, t, e.gate)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
