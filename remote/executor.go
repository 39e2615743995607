package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/effnas/effnas/search"
	"github.com/effnas/effnas/store"
)

// Executor runs a search's trials on workers: search.Run's executor for a
// search on many hosts (a search.Durable). Start names the search on the
// server after its record (SearchID) and creates its Coordinator; every
// task carries the search's evaluator settings, from which workers build
// the evaluator (SearchEval).
type Executor struct {
	nc   *nats.Conn
	spec json.RawMessage
	o    CoordinatorOptions

	c      *Coordinator
	out    chan search.Result
	stop   chan struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewExecutor returns an executor whose coordinator will use nc (which
// stays the caller's) with the options o.
func NewExecutor(nc *nats.Conn, spec search.EvaluatorSpec, o CoordinatorOptions) (*Executor, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("evaluator settings: %w", err)
	}
	return &Executor{nc: nc, spec: raw, o: o, out: make(chan search.Result, resultsBuffer), stop: make(chan struct{})}, nil
}

// SearchID is a search's name on a queue server: its name and creation
// time, so that a search made again under an old name, or one of the same
// name in another database, never takes the other's results.
func SearchID(name string, created time.Time) string {
	created = created.UTC()
	return fmt.Sprintf("%s-%s%03d", name, created.Format("20060102T150405"), created.Nanosecond()/int(time.Millisecond))
}

// Start creates the search's coordinator: its consumers, and the results
// that waited for it.
func (e *Executor) Start(ctx context.Context, rec store.Search) error {
	if e.c != nil {
		return errors.New("executor: started twice")
	}
	c, err := NewCoordinator(ctx, e.nc, SearchID(rec.Name, rec.Created), e.o)
	if err != nil {
		return err
	}
	e.c = c
	e.wg.Add(1)
	go e.convert()
	return nil
}

// Submit queues a task for a worker.
func (e *Executor) Submit(t search.Task) {
	rt := Task{Trial: t.TrialID, Attempt: t.Attempt, Seed: t.Seed, Baseline: t.Baseline, Arch: t.Arch, Evaluator: e.spec, HostKind: t.HostKind}
	if t.Again {
		e.c.Resubmit(rt)
	} else {
		e.c.Submit(rt)
	}
}

// Results delivers the workers' results, each at least once.
func (e *Executor) Results() <-chan search.Result { return e.out }

// Done is closed when the coordinator stops (see Coordinator.Done).
func (e *Executor) Done() <-chan struct{} {
	if e.c == nil {
		return nil
	}
	return e.c.Done()
}

// Err says why the coordinator stopped on its own.
func (e *Executor) Err() error {
	if e.c == nil {
		return nil
	}
	return e.c.Err()
}

// Close stops the coordinator; trials on the server stay there.
func (e *Executor) Close() {
	if e.c == nil || e.closed {
		return
	}
	e.closed = true
	close(e.stop)
	e.c.Close()
	e.wg.Wait()
}

// Finish closes the executor and removes the search's consumers from the
// server: the search is over. (Run again with more trials, it makes them
// anew.)
func (e *Executor) Finish() error {
	if e.c == nil {
		return nil
	}
	e.Close()
	return e.c.Remove(context.Background())
}

// convert turns the coordinator's results into the search's.
func (e *Executor) convert() {
	defer e.wg.Done()
	for {
		select {
		case r := <-e.c.Results():
			select {
			case e.out <- searchResult(r):
			case <-e.stop:
				return
			}
		case <-e.stop:
			return
		}
	}
}

// searchResult is r as the search loop reads it. A trial that no worker
// finished or that a worker could not read would fail again: the search
// does not retry it.
func searchResult(r Result) search.Result {
	sr := search.Result{Task: search.Task{TrialID: r.Trial, Attempt: r.Attempt, Baseline: r.Trial == 0},
		Worker: r.Worker, Started: r.Started, Finished: r.Finished, Ack: r.Ack}
	switch err := r.Err(); {
	case errors.Is(err, ErrMaxDeliveries) || errors.Is(err, ErrRejected):
		sr.Err = fmt.Errorf("%w (%w)", err, search.ErrNoRetry)
	case err != nil:
		sr.Err = err
	default:
		if err := json.Unmarshal(r.Measurement, &sr.Metrics); err != nil {
			sr.Err = fmt.Errorf("worker %s sent a measurement that does not read: %v", r.Worker, err)
		}
	}
	return sr
}
