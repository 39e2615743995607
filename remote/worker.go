package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EvalFunc evaluates one task and returns its measurement as JSON. It must
// return soon after ctx is cancelled (the worker is stopping and hands the
// trial back). An error is the trial's failure, recorded with its text; a
// panic is caught and recorded the same way.
type EvalFunc func(ctx context.Context, t Task) (json.RawMessage, error)

// WorkerOptions configure Work. The zero value of each field means the
// default written next to it.
type WorkerOptions struct {
	// Name identifies the worker in results and logs (the host name). Give
	// each worker on one host its own.
	Name string
	// Host is the fingerprint of this machine, sent with every result.
	Host string
	// Grace is how long a running trial may still take to finish once ctx
	// is cancelled; past it, or at once when Grace is 0, the trial is
	// handed back for immediate redelivery to another worker (0).
	//
	// Handing back at once is the default because trials last minutes and
	// service managers kill a process seconds after asking it to stop: a
	// trial handed back starts again elsewhere right away, while one cut
	// off by a kill waits out its lease. Each hand-back counts towards the
	// trial's MaxDeliver.
	Grace time.Duration
	// Logf receives progress and trouble: trials started and finished,
	// lost connections, retries (nil: discarded).
	Logf func(format string, args ...any)
}

// Work takes trials from the queue on nc one at a time, evaluates each with
// eval and sends back its result, until ctx is cancelled (then it returns
// nil after finishing or handing back its trial, see Grace). It waits for
// the coordinator when the queue does not exist yet and rides out
// disconnections; it returns an error only when it cannot go on: the
// connection was closed for good (for instance the credentials were
// refused) or the coordinator speaks another wire version.
func Work(ctx context.Context, nc *nats.Conn, eval EvalFunc, o WorkerOptions) error {
	if o.Name == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "worker"
		}
		o.Name = h
	}
	if o.Grace < 0 {
		return fmt.Errorf("worker: grace = %v: want 0 or more", o.Grace)
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	w := &worker{nc: nc, js: js, eval: eval, o: o}
	defer w.acks.Wait()
	for {
		cons, err := w.waitConsumer(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := w.pull(ctx, cons); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

type worker struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	eval   EvalFunc
	o      WorkerOptions
	infoAt time.Time      // when the consumer's settings were last read
	acks   sync.WaitGroup // acks still waiting for the server
}

// closedErr says why the connection is closed, or nil while it is open.
func (w *worker) closedErr() error {
	if !w.nc.IsClosed() {
		return nil
	}
	if err := w.nc.LastError(); err != nil {
		return fmt.Errorf("worker %s: the connection to the queue is closed: %w", w.o.Name, err)
	}
	return fmt.Errorf("worker %s: the connection to the queue is closed", w.o.Name)
}

// waitConsumer finds the workers' consumer, waiting for the server and for
// a coordinator to create it.
func (w *worker) waitConsumer(ctx context.Context) (jetstream.Consumer, error) {
	logged := false
	for {
		if err := w.closedErr(); err != nil {
			return nil, err
		}
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		cons, err := w.js.Consumer(c, trialsStream, workersConsumer)
		cancel()
		if err == nil {
			if logged {
				w.o.Logf("worker %s: the queue is ready", w.o.Name)
			}
			return cons, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !logged {
			w.o.Logf("worker %s: waiting for a coordinator to set up the queue (%v)", w.o.Name, err)
			logged = true
		}
		sleep(ctx, time.Second)
	}
}

// pull runs trials until ctx is cancelled (nil), the consumer must be
// looked up again (nil), or the worker cannot go on (an error).
func (w *worker) pull(ctx context.Context, cons jetstream.Consumer) error {
	// One message at a time: a second trial buffered here would sit out
	// its lease while the first trains, and then run twice.
	it, err := cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		w.o.Logf("worker %s: %v", w.o.Name, err)
		sleep(ctx, time.Second)
		return nil
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			w.handBackBuffered(it, m)
			return nil
		}
		if err != nil {
			if cerr := w.closedErr(); cerr != nil {
				return cerr
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
				errors.Is(err, jetstream.ErrConsumerNotFound) {
				return nil
			}
			continue // missed heartbeats while the server restarts: Next recovers
		}
		if err := w.run(ctx, cons, m); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// handBackBuffered returns a trial that arrived as the worker stopped.
func (w *worker) handBackBuffered(it jetstream.MessagesContext, m jetstream.Msg) {
	if m != nil {
		_ = m.Nak()
	}
	it.Drain()
	for {
		m, err := it.Next(jetstream.NextMaxWait(200 * time.Millisecond))
		if err != nil {
			return
		}
		_ = m.Nak()
	}
}

// run evaluates one trial message and settles it: a result and an ack, a
// hand-back (Nak), or a refusal (Term) for a message no worker can read.
func (w *worker) run(ctx context.Context, cons jetstream.Consumer, m jetstream.Msg) error {
	md, err := m.Metadata()
	if err != nil {
		_ = m.TermWithReason("not a JetStream message")
		return nil
	}
	t, archErr, err := decodeTask(m.Data())
	if errors.Is(err, errVersion) {
		_ = m.Nak()
		return fmt.Errorf("worker %s: %w", w.o.Name, err)
	}
	if err != nil {
		w.o.Logf("worker %s: refusing message %d: %v", w.o.Name, md.Sequence.Stream, err)
		_ = m.TermWithReason(err.Error())
		return nil
	}
	ackWait := w.ackWait(ctx, cons)

	// The lease is renewed while the trial runs, publishes and acks.
	hb, stopHB := context.WithCancel(context.Background())
	acking := false
	defer func() {
		if !acking {
			stopHB()
		}
	}()
	go heartbeat(hb, m, ackWait/4)

	r := Result{Version: WireVersion, Search: t.Search, Trial: t.Trial, Attempt: t.Attempt,
		Delivery: int(md.NumDelivered), Worker: w.o.Name, Host: w.o.Host, Started: time.Now().UTC()}
	w.o.Logf("worker %s: trial %d (search %s, attempt %d, delivery %d) started", w.o.Name, t.Trial, t.Search, t.Attempt, r.Delivery)
	meas, evalErr := json.RawMessage(nil), archErr
	if archErr == nil {
		var handBack bool
		meas, evalErr, handBack = w.evaluate(ctx, t)
		if errors.Is(evalErr, ErrNotForThisWorker) {
			stopHB()
			if err := m.Nak(); err != nil {
				w.o.Logf("worker %s: handing trial %d back: %v (it returns to the queue when its lease ends)", w.o.Name, t.Trial, err)
			}
			return fmt.Errorf("worker %s: trial %d of search %s: %w", w.o.Name, t.Trial, t.Search, evalErr)
		}
		if handBack {
			stopHB()
			if err := m.Nak(); err != nil {
				w.o.Logf("worker %s: handing trial %d back: %v (it returns to the queue when its lease ends)", w.o.Name, t.Trial, err)
			} else {
				w.o.Logf("worker %s: trial %d handed back", w.o.Name, t.Trial)
			}
			return nil
		}
	}
	r.Finished = time.Now().UTC()
	if evalErr != nil {
		r.Error = evalErr.Error()
	} else {
		r.Measurement = meas
	}
	// The result is stored before the worker takes another trial: a
	// worker that dies on its next trial (one that kills every worker
	// within its first seconds) must not take this one's result with it.
	if !w.publish(ctx, r, ackWait) {
		return w.closedErr()
	}
	// The server confirms an ack once the trial is off its synced store,
	// milliseconds that would add to every trial if the worker waited
	// before asking for the next one: the ack completes on its own. A lost
	// ack only makes the trial run again, and its second result is then a
	// duplicate.
	acking = true
	w.acks.Add(1)
	go func() {
		defer w.acks.Done()
		defer stopHB()
		w.ack(m, t, ackWait)
	}()
	if evalErr != nil {
		w.o.Logf("worker %s: trial %d failed after %v: %v", w.o.Name, t.Trial, r.Finished.Sub(r.Started).Round(time.Millisecond), evalErr)
	} else {
		w.o.Logf("worker %s: trial %d done in %v", w.o.Name, t.Trial, r.Finished.Sub(r.Started).Round(time.Millisecond))
	}
	return nil
}

// ackWait is the lease of the trials, read from the server at most once a
// minute: a coordinator may change it.
func (w *worker) ackWait(ctx context.Context, cons jetstream.Consumer) time.Duration {
	if time.Since(w.infoAt) > time.Minute {
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if _, err := cons.Info(ictx); err == nil {
			w.infoAt = time.Now()
		}
		cancel()
	}
	if d := cons.CachedInfo().Config.AckWait; d > 0 {
		return d
	}
	return 30 * time.Second // the server's default
}

func heartbeat(ctx context.Context, m jetstream.Msg, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = m.InProgress() // a failed beat is retried at the next tick
		}
	}
}

// evaluate runs eval; once ctx is cancelled the trial has Grace to finish
// before its own context is cancelled. handBack reports a trial that
// failed only because it was stopped.
func (w *worker) evaluate(ctx context.Context, t Task) (meas json.RawMessage, err error, handBack bool) {
	ectx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stopped atomic.Bool
	finished := make(chan struct{})
	go func() {
		select {
		case <-finished:
			return
		case <-ctx.Done():
		}
		if w.o.Grace > 0 {
			w.o.Logf("worker %s: stopping; trial %d may finish within %v", w.o.Name, t.Trial, w.o.Grace)
			select {
			case <-finished:
				return
			case <-time.After(w.o.Grace):
			}
		}
		stopped.Store(true)
		cancel()
	}()
	meas, err = safeEval(ectx, w.eval, t)
	close(finished)
	if err != nil && stopped.Load() {
		return nil, nil, true
	}
	return meas, err, false
}

// safeEval turns a panic into a failed trial: one bad architecture must not
// take the worker down.
func safeEval(ctx context.Context, eval EvalFunc, t Task) (m json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			lines := strings.SplitN(string(debug.Stack()), "\n", 13)
			err = fmt.Errorf("evaluator panic: %v\n%s", p, strings.Join(lines[:min(len(lines), 12)], "\n"))
		}
	}()
	m, err = eval(ctx, t)
	if err == nil && len(m) == 0 {
		err = errors.New("the evaluator returned no measurement")
	}
	return m, err
}

// publish sends r until the server acknowledges it, under an id that makes
// a second copy (the trial ran twice) a duplicate the server drops. Once
// the worker is stopping it tries for one more lease at most: after that
// another worker has the trial anyway.
func (w *worker) publish(ctx context.Context, r Result, ackWait time.Duration) bool {
	data, err := json.Marshal(r)
	if err != nil { // a measurement that is not JSON
		r.Measurement, r.Error = nil, fmt.Sprintf("encoding the measurement: %v", err)
		data, _ = json.Marshal(r)
	}
	msg := nats.NewMsg(resultSubject(r.Search, r.Trial, r.Attempt))
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, resultMsgID(r.Search, r.Trial, r.Attempt))
	// Once ctx is cancelled, the attempts stop one lease later.
	giveUp, stop := context.WithCancel(context.Background())
	defer stop()
	defer context.AfterFunc(ctx, func() { time.AfterFunc(ackWait, stop) })()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		pctx, cancel := context.WithTimeout(giveUp, publishTimeout)
		ack, err := w.js.PublishMsg(pctx, msg, jetstream.WithExpectStream(resultsStream))
		cancel()
		if err == nil {
			if ack.Duplicate {
				w.o.Logf("worker %s: the queue already had the result of trial %d attempt %d (an earlier send got through, or the trial also ran elsewhere): this copy is dropped",
					w.o.Name, r.Trial, r.Attempt)
			}
			return true
		}
		if w.nc.IsClosed() {
			return false
		}
		if giveUp.Err() != nil {
			w.o.Logf("worker %s: giving up sending the result of trial %d: %v", w.o.Name, r.Trial, err)
			return false
		}
		w.o.Logf("worker %s: sending the result of trial %d: %v; retrying in %v", w.o.Name, r.Trial, err, wait)
		sleep(giveUp, wait)
	}
}

// ack settles the trial message once its result is stored, waiting for the
// server's confirmation; a lost ack only makes the trial run again, and
// its second result is then a duplicate.
func (w *worker) ack(m jetstream.Msg, t Task, ackWait time.Duration) {
	deadline := time.Now().Add(ackWait)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		actx, cancel := context.WithTimeout(context.Background(), min(publishTimeout, time.Until(deadline)))
		err := m.DoubleAck(actx)
		cancel()
		if err == nil || w.nc.IsClosed() {
			return
		}
		if time.Now().After(deadline) {
			w.o.Logf("worker %s: acknowledging trial %d: %v; giving up (it may run again; its result is kept once)", w.o.Name, t.Trial, err)
			return
		}
		time.Sleep(min(wait, time.Until(deadline)))
	}
}
