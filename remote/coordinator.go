package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// CoordinatorOptions configure a Coordinator.
type CoordinatorOptions struct {
	Topology
	// Logf receives what the coordinator does that its caller does not see
	// in results: retries, ignored messages (nil: discarded).
	Logf func(format string, args ...any)
}

// Coordinator hands a search's tasks to workers and brings their results
// back; it is the search's executor. It keeps no state of its own that
// matters after a crash: the caller's store says which trials are in
// flight, and the server holds the tasks and results in between.
type Coordinator struct {
	search string
	tok    string
	js     jetstream.JetStream
	topo   Topology
	// resultStream is looked into before a task is queued again.
	resultStream jetstream.Stream
	logf         func(string, ...any)

	ctx     context.Context
	cancel  context.CancelFunc
	results chan Result
	wg      sync.WaitGroup

	mu    sync.Mutex
	queue []queued
	wake  chan struct{}
	seqs  map[uint64]attemptKey // TRIALS stream sequence -> attempt
	keys  map[attemptKey]uint64
	err   error
	done  chan struct{}
}

type attemptKey struct{ trial, attempt int }

// queued is a task waiting to be published; again marks one that an
// earlier coordinator of the search published.
type queued struct {
	t     Task
	again bool
}

// NewCoordinator creates or updates the server's streams and consumers and
// starts taking the results of search. nc stays the caller's: Close does
// not close it.
//
// search identifies the search on the server. Every coordinator sharing a
// server needs its own (two with one name would take each other's
// results), so make it unique to the search's record, for instance its
// name and creation time.
//
// On a restart, submit again every task the store says is in flight, with
// the attempt it was submitted with: the server recognises the message id
// and neither queues nor runs it again, and results that arrived while
// the coordinator was down are delivered now. (After a break longer than
// the server's one-hour duplicate window such a task is queued and run
// again; the caller drops its second result.)
func NewCoordinator(ctx context.Context, nc *nats.Conn, search string, o CoordinatorOptions) (*Coordinator, error) {
	if search == "" {
		return nil, errors.New("coordinator: the search name is empty")
	}
	topo := o.Topology.withDefaults()
	if err := topo.validate(); err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	// An asynchronous publish that gets no answer (a restarting server)
	// fails after publishTimeout and is published again alone.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(publishTimeout))
	if err != nil {
		return nil, err
	}
	setup, cancelSetup := context.WithTimeout(ctx, 30*time.Second)
	defer cancelSetup()
	if err := ensureTopology(setup, js, search, topo); err != nil {
		return nil, fmt.Errorf("coordinator: setting up the queue: %w", err)
	}
	trials, err := js.Stream(setup, trialsStream)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	resultStream, err := js.Stream(setup, resultsStream)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	results, err := js.Consumer(setup, resultsStream, "results-"+token(search))
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	advisories, err := js.Consumer(setup, advisoriesStream, "advisories-"+token(search))
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	c := &Coordinator{search: search, tok: token(search), js: js, topo: topo, logf: o.Logf, resultStream: resultStream,
		results: make(chan Result, resultsBuffer), wake: make(chan struct{}, 1), done: make(chan struct{}),
		seqs: map[uint64]attemptKey{}, keys: map[attemptKey]uint64{}}
	if c.logf == nil {
		c.logf = func(string, ...any) {}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	closed := nc.StatusChanged(nats.CLOSED)
	c.wg.Add(4)
	go func() { defer c.wg.Done(); c.dispatch() }()
	go func() { defer c.wg.Done(); c.consume(results, resultsBuffer, c.handleResult) }()
	go func() {
		defer c.wg.Done()
		c.consume(advisories, 1, func(m jetstream.Msg) { c.handleAdvisory(trials, m) })
	}()
	go func() {
		defer c.wg.Done()
		defer nc.RemoveStatusListener(closed)
		select {
		case <-closed:
			err := nc.LastError()
			if err == nil {
				err = errors.New("the connection was closed")
			}
			c.stop(fmt.Errorf("coordinator: lost the queue server for good: %w", err))
		case <-c.ctx.Done():
		}
	}()
	return c, nil
}

// Submit queues t for a worker and returns at once. The search name and
// wire version are filled in. Submitting an attempt again is harmless:
// the server keeps one copy per attempt (within an hour).
func (c *Coordinator) Submit(t Task) { c.submit(t, false) }

// Resubmit queues t, which an earlier coordinator of the search submitted,
// unless its result is already on the server: a server that restarted
// (the embedded one restarts with its coordinator) forgets the message
// ids of the tasks workers took, so without this look a trial that ended
// while the coordinator was down would run again.
func (c *Coordinator) Resubmit(t Task) { c.submit(t, true) }

func (c *Coordinator) submit(t Task, again bool) {
	t.Version, t.Search = WireVersion, c.search
	c.mu.Lock()
	c.queue = append(c.queue, queued{t, again})
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Results delivers the result of every submitted attempt, at least once:
// after a restart, or when a worker's lease ran out while it was still
// finishing, the same attempt may come again. Acknowledge each (Ack)
// once it is recorded. The channel is not closed.
func (c *Coordinator) Results() <-chan Result { return c.results }

// Done is closed when the coordinator stops: after Close, or when its
// connection is closed for good (Err says why).
func (c *Coordinator) Done() <-chan struct{} { return c.done }

// Err is why the coordinator stopped on its own; nil while it runs and
// after Close.
func (c *Coordinator) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close stops dispatching and consuming. Tasks not yet on the server are
// dropped (the caller's store still has them in flight and submits them
// again on the next start); tasks on the server stay there, and workers go
// on with them.
func (c *Coordinator) Close() {
	c.stop(nil)
	c.wg.Wait()
}

// Remove closes the coordinator and deletes its search's consumers from
// the server, for a search that is over: results that come later (a
// trial that also ran elsewhere) are no longer kept for it.
func (c *Coordinator) Remove(ctx context.Context) error {
	c.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, name := range []struct{ stream, consumer string }{
		{resultsStream, "results-" + c.tok}, {advisoriesStream, "advisories-" + c.tok},
	} {
		if err := c.js.DeleteConsumer(ctx, name.stream, name.consumer); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("removing consumer %s/%s: %w", name.stream, name.consumer, err)
		}
	}
	return nil
}

func (c *Coordinator) stop(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return
	default:
	}
	c.err = err
	if err != nil {
		c.logf("%v", err)
	}
	close(c.done)
	c.cancel()
}

func (c *Coordinator) deliver(r Result) {
	select {
	case c.results <- r:
	case <-c.ctx.Done():
	}
}

// dispatch publishes queued tasks in order. The tasks queued together
// (the trials a burst of results let the search propose) are published
// without waiting for one another: a wave of 64 trials then reaches its
// workers in about one round trip to the server, not 64. A task whose
// publish fails or gets no answer is published again, alone, until the
// server acknowledges it.
func (c *Coordinator) dispatch() {
	type inFlight struct {
		t Task
		m *nats.Msg
		f jetstream.PubAckFuture
	}
	var sent []inFlight
	for {
		c.mu.Lock()
		batch := c.queue
		c.queue = nil
		c.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-c.wake:
				continue
			case <-c.ctx.Done():
				return
			}
		}
		sent = sent[:0]
		for _, q := range batch {
			if q.again && c.hasResult(q.t) {
				continue
			}
			m, err := c.taskMsg(q.t)
			if err != nil {
				c.failDispatch(q.t, err)
				continue
			}
			f, err := c.js.PublishMsgAsync(m, jetstream.WithExpectStream(trialsStream))
			if err != nil {
				f = nil // published alone below
			}
			sent = append(sent, inFlight{q.t, m, f})
		}
		for _, p := range sent {
			if p.f != nil {
				select {
				case ack := <-p.f.Ok():
					c.remember(p.t, ack.Sequence)
					continue
				case err := <-p.f.Err():
					if refused(err) {
						c.failDispatch(p.t, fmt.Errorf("the queue refused it: %w", err))
						continue
					}
				case <-c.ctx.Done():
					return
				}
			}
			if err := c.publish(p.t, p.m); err != nil {
				if c.ctx.Err() != nil {
					return
				}
				c.failDispatch(p.t, err)
			}
		}
	}
}

func (c *Coordinator) failDispatch(t Task, err error) {
	c.deliver(Result{Version: WireVersion, Search: c.search, Trial: t.Trial, Attempt: t.Attempt,
		Error: fmt.Sprintf("trial %d attempt %d: %v", t.Trial, t.Attempt, err), kind: ErrDispatch,
		Finished: time.Now().UTC()})
}

// taskMsg is t as the message workers receive, under its id.
func (c *Coordinator) taskMsg(t Task) (*nats.Msg, error) {
	data, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encoding the task: %w", err)
	}
	m := nats.NewMsg(trialsPrefix + c.tok)
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, trialMsgID(c.search, t.Trial, t.Attempt))
	m.Header.Set(headerSearch, c.tok)
	m.Header.Set(headerTrial, strconv.Itoa(t.Trial))
	m.Header.Set(headerAttempt, strconv.Itoa(t.Attempt))
	return m, nil
}

// refused tells a refusal by the server (a JetStream error, a message too
// large), which publishing again would meet again, from a lost answer.
func refused(err error) bool {
	var jerr jetstream.JetStreamError
	return (errors.As(err, &jerr) && jerr.APIError() != nil) || errors.Is(err, nats.ErrMaxPayload)
}

func (c *Coordinator) remember(t Task, seq uint64) {
	k := attemptKey{t.Trial, t.Attempt}
	c.mu.Lock()
	c.seqs[seq], c.keys[k] = k, seq
	c.mu.Unlock()
}

// publish stores m (task t) in TRIALS and remembers its stream sequence,
// retrying until the server answers: it may be restarting. Only a refusal
// by the server is final.
func (c *Coordinator) publish(t Task, m *nats.Msg) error {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		ctx, cancel := context.WithTimeout(c.ctx, publishTimeout)
		ack, err := c.js.PublishMsg(ctx, m, jetstream.WithExpectStream(trialsStream))
		cancel()
		if err == nil {
			c.remember(t, ack.Sequence)
			return nil
		}
		if refused(err) {
			return fmt.Errorf("the queue refused it: %w", err)
		}
		if c.ctx.Err() != nil {
			return c.ctx.Err()
		}
		c.logf("queueing trial %d attempt %d: %v; retrying in %v", t.Trial, t.Attempt, err, wait)
		select {
		case <-time.After(wait):
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
	}
}

// hasResult reports whether the server has a result of t's attempt
// (which the results consumer delivers, unless the caller has it already).
func (c *Coordinator) hasResult(t Task) bool {
	ctx, cancel := context.WithTimeout(c.ctx, publishTimeout)
	defer cancel()
	_, err := c.resultStream.GetLastMsgForSubject(ctx, resultSubject(c.search, t.Trial, t.Attempt))
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		c.logf("looking for the result of trial %d attempt %d: %v; queueing it again", t.Trial, t.Attempt, err)
	}
	return err == nil
}

func (c *Coordinator) forget(k attemptKey) {
	c.mu.Lock()
	if seq, ok := c.keys[k]; ok {
		delete(c.seqs, seq)
		delete(c.keys, k)
	}
	c.mu.Unlock()
}

// consume feeds the messages of a durable consumer to handle, pulling up
// to batch at a time. Results come in bursts (the trials of one wave end
// together) and the caller records a burst in one commit, so they are
// pulled and buffered together; a result that waits past its lease comes
// again and is ignored as a duplicate. Advisories come one at a time.
func (c *Coordinator) consume(cons jetstream.Consumer, batch int, handle func(jetstream.Msg)) {
	name := cons.CachedInfo().Stream + "/" + cons.CachedInfo().Name
	for c.ctx.Err() == nil {
		it, err := cons.Messages(jetstream.PullMaxMessages(batch))
		if err == nil {
			stop := context.AfterFunc(c.ctx, it.Stop)
			for {
				var m jetstream.Msg
				m, err = it.Next()
				if err != nil {
					if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
						errors.Is(err, jetstream.ErrConsumerNotFound) {
						break
					}
					continue // missed heartbeats while the server restarts: Next recovers
				}
				handle(m)
			}
			stop()
			it.Stop()
		}
		if c.ctx.Err() != nil {
			return
		}
		if errors.Is(err, jetstream.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionClosed) {
			<-c.ctx.Done() // the connection watcher stops the coordinator
			return
		}
		// The consumer is gone (a server that lost its store): set the
		// queue up again and go on.
		c.logf("reading %s: %v; setting up the queue again", name, err)
		sleep(c.ctx, time.Second)
		ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		if err := ensureTopology(ctx, c.js, c.search, c.topo); err != nil && c.ctx.Err() == nil {
			c.logf("setting up the queue: %v", err)
		}
		cancel()
	}
}

func (c *Coordinator) handleResult(m jetstream.Msg) {
	var r Result
	if err := json.Unmarshal(m.Data(), &r); err != nil || r.Version != WireVersion {
		c.logf("dropping an unreadable result on %s (version %d): %v", m.Subject(), r.Version, err)
		_ = m.Term()
		return
	}
	if r.Error == "" && len(r.Measurement) == 0 {
		r.Error = fmt.Sprintf("trial %d attempt %d: worker %s sent a result without a measurement", r.Trial, r.Attempt, r.Worker)
	}
	k := attemptKey{r.Trial, r.Attempt}
	r.ack = func() error {
		c.forget(k)
		return m.Ack()
	}
	c.deliver(r)
}

// advisory is the part of the server's max-deliveries and terminated
// advisories this package reads.
type advisory struct {
	Type       string `json:"type"`
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries int    `json:"deliveries"`
	Reason     string `json:"reason"`
}

const (
	advisoryMaxDeliverType = "io.nats.jetstream.advisory.v1.max_deliver"
	advisoryTerminatedType = "io.nats.jetstream.advisory.v1.terminated"
)

// handleAdvisory turns the server giving up a trial message into a failed
// result. The sequence is looked up in what this coordinator published,
// then in the message itself (its headers), which is still there after
// max deliveries. A trial message that hit max deliveries stays in the
// work queue until deleted, so Ack deletes it.
func (c *Coordinator) handleAdvisory(trials jetstream.Stream, m jetstream.Msg) {
	var a advisory
	if err := json.Unmarshal(m.Data(), &a); err != nil || a.Stream != trialsStream || a.Consumer != workersConsumer ||
		(a.Type != advisoryMaxDeliverType && a.Type != advisoryTerminatedType) {
		_ = m.Ack()
		return
	}
	c.mu.Lock()
	k, ok := c.seqs[a.StreamSeq]
	c.mu.Unlock()
	if !ok {
		ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
		raw, err := trials.GetMsg(ctx, a.StreamSeq)
		cancel()
		switch {
		case err == nil && raw.Header.Get(headerSearch) != c.tok:
			_ = m.Ack() // another search's trial
			return
		case err == nil:
			k.trial, _ = strconv.Atoi(raw.Header.Get(headerTrial))
			k.attempt, _ = strconv.Atoi(raw.Header.Get(headerAttempt))
		default:
			// Gone and not published by this coordinator: another
			// search's, or ours from before a restart whose caller has
			// not submitted it again yet. Give the caller time once.
			if md, err := m.Metadata(); err == nil && md.NumDelivered < 2 {
				_ = m.NakWithDelay(c.topo.ResultAckWait)
			} else {
				c.logf("ignoring a %s advisory for trial message %d: not one of this search's", a.Type, a.StreamSeq)
				_ = m.Ack()
			}
			return
		}
	}
	r := Result{Version: WireVersion, Search: c.search, Trial: k.trial, Attempt: k.attempt,
		Delivery: a.Deliveries, Finished: time.Now().UTC()}
	seq := a.StreamSeq
	if a.Type == advisoryMaxDeliverType {
		r.kind = ErrMaxDeliveries
		r.Error = fmt.Sprintf("trial %d attempt %d: handed to a worker %d times and never finished: each worker it went to died, "+
			"stalled past its %v lease or was stopped and handed it back", k.trial, k.attempt, a.Deliveries, c.topo.AckWait)
		r.ack = func() error {
			ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
			defer cancel()
			if err := trials.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
				return fmt.Errorf("removing trial %d attempt %d from the queue: %w", k.trial, k.attempt, err)
			}
			c.forget(k)
			return m.Ack()
		}
	} else {
		r.kind = ErrRejected
		r.Error = fmt.Sprintf("trial %d attempt %d: a worker rejected it: %s", k.trial, k.attempt, a.Reason)
		r.ack = func() error {
			c.forget(k)
			return m.Ack()
		}
	}
	c.deliver(r)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
