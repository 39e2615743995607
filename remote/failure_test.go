package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func startedTrial(t *testing.T, p *proc) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimPrefix(p.waitLine(t, "start ", 15*time.Second), "start "))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A worker process SIGKILLed in the middle of a trial: the trial goes to
// another worker once its lease runs out (not before), and every trial is
// done exactly once.
func TestWorkerKilledMidTrial(t *testing.T) {
	s := newServer(t, true)
	topo := Topology{AckWait: time.Second}
	c := newCoordinator(t, connectIn(t, s, "coordinator"), "kill", topo)
	url := "nats://" + s.Addr()
	var victim *proc
	for _, name := range []string{"w1", "w2", "w3"} {
		p := startWorker(t, url, name, "REMOTE_DELAY=500ms")
		if name == "w2" {
			victim = p
		}
	}
	for i := 1; i <= 9; i++ {
		c.Submit(task(i))
	}
	trial := startedTrial(t, victim)
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()

	l := newLedger()
	l.collect(t, c, 9, 20*time.Second)
	l.drain(t, c, topo.AckWait)
	for i := 1; i <= 9; i++ {
		r, _ := l.get(i)
		if l.dups[i] != 0 || r.Err() != nil {
			t.Errorf("trial %d: %d duplicates, error %v", i, l.dups[i], r.Err())
		}
		switch {
		case i == trial && (r.Delivery != 2 || r.Worker == "w2"):
			t.Errorf("killed trial %d: delivery %d on %s: want delivery 2 on another worker", i, r.Delivery, r.Worker)
		case i == trial && r.Started.Sub(killed) < topo.AckWait/2:
			t.Errorf("killed trial %d restarted %v after the kill: before its lease could run out", i, r.Started.Sub(killed))
		case i != trial && r.Delivery != 1:
			t.Errorf("trial %d: delivery %d", i, r.Delivery)
		}
	}
	assertQueuesEmpty(t, s)
}

// A trial that kills every worker it lands on is given up after
// MaxDeliver deliveries: the coordinator reports it failed with the
// reason, removes it from the queue, and no further worker dies on it.
func TestPoisonTrial(t *testing.T) {
	s := newServer(t, true)
	topo := Topology{AckWait: 500 * time.Millisecond, MaxDeliver: 3}
	c := newCoordinator(t, connectIn(t, s, "coordinator"), "poison", topo)
	url := "nats://" + s.Addr()

	deaths := superviseWorkers(t, url, 2, "REMOTE_DELAY=100ms", "REMOTE_POISON=3")
	for i := 1; i <= 6; i++ {
		c.Submit(task(i))
	}
	l := newLedger()
	l.collect(t, c, 6, 30*time.Second)
	l.drain(t, c, 3*topo.AckWait)
	for i := 1; i <= 6; i++ {
		r, _ := l.get(i)
		if i != 3 {
			if r.Err() != nil || r.Delivery != 1 {
				t.Errorf("trial %d: delivery %d, error %v", i, r.Delivery, r.Err())
			}
			continue
		}
		if !errors.Is(r.Err(), ErrMaxDeliveries) || r.Delivery != 3 || r.Worker != "" ||
			!strings.Contains(r.Error, "trial 3 attempt 1: handed to a worker 3 times and never finished") {
			t.Errorf("poison trial: delivery %d, worker %q, error %q (%v)", r.Delivery, r.Worker, r.Error, r.Err())
		}
	}
	if n := deaths(); n != 3 {
		t.Errorf("%d workers died: want 3, one per delivery", n)
	}
	assertQueuesEmpty(t, s) // the given-up trial was deleted from the work queue
	st, err := jsFor(t, s).Stream(context.Background(), advisoriesStream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(context.Background()); err != nil || info.State.Msgs == 0 {
		t.Errorf("the max-deliveries advisory was not captured: %v %+v", err, info)
	}
}

// superviseWorkers keeps slots worker processes running, starting a new
// one whenever one dies, as a service manager would; deaths counts them.
func superviseWorkers(t *testing.T, url string, slots int, env ...string) (deaths func() int) {
	var mu sync.Mutex
	died, started := 0, 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				started++
				name := fmt.Sprintf("w%d", started)
				mu.Unlock()
				p := startWorker(t, url, name, env...)
				select {
				case <-p.done:
					mu.Lock()
					died++
					mu.Unlock()
				case <-stop:
					return
				}
			}
		}()
	}
	t.Cleanup(func() { close(stop); wg.Wait() })
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return died
	}
}

// A trial that reaches MaxDeliver while no coordinator runs is reported to
// the next one: the server's advisory waited in its stream, and the trial
// is found from the message's headers (this coordinator never published
// it).
func TestPoisonTrialWhileCoordinatorDown(t *testing.T) {
	s := newServer(t, true)
	topo := Topology{AckWait: 500 * time.Millisecond, MaxDeliver: 2}
	first, err := NewCoordinator(context.Background(), connectIn(t, s, "first"), "down", CoordinatorOptions{Topology: topo})
	if err != nil {
		t.Fatal(err)
	}
	first.Submit(task(4))
	deaths := superviseWorkers(t, "nats://"+s.Addr(), 1, "REMOTE_POISON=4")
	for deadline := time.Now().Add(10 * time.Second); deaths() < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers died", deaths())
		}
	}
	first.Close()
	time.Sleep(2 * topo.AckWait) // the last lease runs out: the advisory goes out with no one listening

	second := newCoordinator(t, connectIn(t, s, "second"), "down", topo)
	l := newLedger()
	l.collect(t, second, 1, 10*time.Second)
	if r, _ := l.get(4); !errors.Is(r.Err(), ErrMaxDeliveries) || r.Attempt != 1 || r.Delivery != 2 {
		t.Errorf("trial 4: attempt %d, delivery %d, %v", r.Attempt, r.Delivery, r.Err())
	}
	assertQueuesEmpty(t, s)
}

// Ctrl-C on a worker with no grace hands its trial back at once: it is
// redelivered to the next worker right away, not after its (long) lease,
// and the stopped worker exits cleanly.
func TestStopHandsTrialBack(t *testing.T) {
	s := newServer(t, true)
	topo := Topology{AckWait: 30 * time.Second}
	c := newCoordinator(t, connectIn(t, s, "coordinator"), "handback", topo)
	p := startWorker(t, "nats://"+s.Addr(), "w1", "REMOTE_DELAY=20s")
	c.Submit(task(1))
	if n := startedTrial(t, p); n != 1 {
		t.Fatalf("started trial %d", n)
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 5*time.Second); code != 0 {
		t.Fatalf("stopped worker exited with %d:\n%s", code, p.output())
	}
	if !strings.Contains(p.output(), "trial 1 handed back") {
		t.Errorf("worker output:\n%s", p.output())
	}
	stopped := time.Now()
	goWorker(t, connectIn(t, s, "w2"), sleepEval("w2", 50*time.Millisecond), WorkerOptions{Name: "w2"})
	l := newLedger()
	l.collect(t, c, 1, 10*time.Second)
	r, _ := l.get(1)
	if r.Worker != "w2" || r.Delivery != 2 || r.Err() != nil {
		t.Errorf("handed-back trial: worker %s, delivery %d, error %v", r.Worker, r.Delivery, r.Err())
	}
	if wait := r.Started.Sub(stopped); wait > topo.AckWait/2 {
		t.Errorf("handed-back trial waited %v: its lease ran out instead", wait)
	}
}

// Ctrl-C on a worker with a grace period lets the running trial finish
// and be recorded, and the worker takes no further trial.
func TestStopWithGraceFinishesTrial(t *testing.T) {
	s := newServer(t, true)
	c := newCoordinator(t, connectIn(t, s, "coordinator"), "grace", Topology{AckWait: 30 * time.Second})
	p := startWorker(t, "nats://"+s.Addr(), "w1", "REMOTE_DELAY=1s", "REMOTE_GRACE=30s")
	c.Submit(task(1))
	c.Submit(task(2))
	if n := startedTrial(t, p); n != 1 {
		t.Fatalf("started trial %d", n)
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("stopped worker exited with %d:\n%s", code, p.output())
	}
	if strings.Contains(p.output(), "start 2") {
		t.Errorf("the stopping worker took another trial:\n%s", p.output())
	}
	l := newLedger()
	l.collect(t, c, 1, 5*time.Second)
	if r, ok := l.get(1); !ok || r.Worker != "w1" || r.Delivery != 1 || r.Err() != nil {
		t.Fatalf("trial 1: %+v", r)
	}
	goWorker(t, connectIn(t, s, "w2"), sleepEval("w2", 10*time.Millisecond), WorkerOptions{Name: "w2"})
	l.collect(t, c, 2, 10*time.Second)
	if r, _ := l.get(2); r.Worker != "w2" || r.Delivery != 1 {
		t.Errorf("trial 2: worker %s, delivery %d: want w2's first delivery", r.Worker, r.Delivery)
	}
}

// A worker that stalls past its lease (SIGSTOP) and then finishes sends a
// late second result: the server drops it by its message id. A duplicate
// that gets past the server (its duplicate window expired) reaches the
// caller, which recognises it; the coordinator goes on as before.
func TestLateDuplicateResult(t *testing.T) {
	s := newServer(t, true)
	topo := Topology{AckWait: time.Second}
	c := newCoordinator(t, connectIn(t, s, "coordinator"), "late", topo)
	p := startWorker(t, "nats://"+s.Addr(), "w1", "REMOTE_DELAY=1500ms")
	c.Submit(task(1))
	startedTrial(t, p)
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	goWorker(t, connectIn(t, s, "w2"), sleepEval("w2", 200*time.Millisecond), WorkerOptions{Name: "w2"})
	l := newLedger()
	l.collect(t, c, 1, 15*time.Second)
	if r, _ := l.get(1); r.Worker != "w2" || r.Delivery != 2 {
		t.Fatalf("trial 1: worker %s, delivery %d: want w2, delivery 2", r.Worker, r.Delivery)
	}
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	p.waitLine(t, "worker w1: the queue already had the result of trial 1 attempt 1", 10*time.Second)
	l.drain(t, c, 500*time.Millisecond)
	if l.dups[1] != 0 {
		t.Errorf("the server let %d duplicates through", l.dups[1])
	}
	if err := p.cmd.Process.Kill(); err != nil { // trial 2 goes to w2
		t.Fatal(err)
	}

	// Past the duplicate window: the same result under another id.
	js := jsFor(t, s)
	late := Result{Version: WireVersion, Search: "late", Trial: 1, Attempt: 1, Delivery: 1, Worker: "w1",
		Measurement: json.RawMessage(`{}`), Finished: time.Now()}
	data, _ := json.Marshal(late)
	m := nats.NewMsg(resultSubject("late", 1, 1))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, "late/1/1/result/after-the-window")
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	c.Submit(task(2))
	l.collect(t, c, 2, 10*time.Second)
	l.drain(t, c, 300*time.Millisecond)
	if l.dups[1] != 1 {
		t.Errorf("the caller saw %d duplicates of trial 1: want the late one", l.dups[1])
	}
	if r, _ := l.get(1); r.Worker != "w2" {
		t.Errorf("the late duplicate replaced the recorded result: %+v", r)
	}
	assertQueuesEmpty(t, s)
}

// A task no worker can read is refused (terminated) and reported failed
// with the reason; a task of another wire version stops the worker with
// a clear error and stays queued for a worker that reads it.
func TestUnreadableTasks(t *testing.T) {
	s := newServer(t, false)
	c := newCoordinator(t, connectIn(t, s, "coordinator"), "unreadable", Topology{AckWait: time.Second})
	js := jsFor(t, s)
	publish := func(data string, trial int) uint64 {
		m := nats.NewMsg(trialsPrefix + "unreadable")
		m.Data = []byte(data)
		m.Header.Set(jetstream.MsgIDHeader, trialMsgID("unreadable", trial, 1))
		ack, err := js.PublishMsg(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	seq := publish("{not json", 9)
	c.mu.Lock() // as if Submit had published it
	c.seqs[seq], c.keys[attemptKey{9, 1}] = attemptKey{9, 1}, seq
	c.mu.Unlock()
	w1 := goWorker(t, connectIn(t, s, "w1"), sleepEval("w1", 0), WorkerOptions{Name: "w1"})
	l := newLedger()
	l.collect(t, c, 1, 10*time.Second)
	r, _ := l.get(9)
	if !errors.Is(r.Err(), ErrRejected) || !strings.Contains(r.Error, "trial 9 attempt 1: a worker rejected it: unreadable task: ") {
		t.Errorf("unreadable task: %q (%v)", r.Error, r.Err())
	}
	if err := w1.stop(); err != nil {
		t.Fatal(err)
	}

	publish(`{"v":99,"search":"unreadable","trial":10,"attempt":1}`, 10)
	w2 := goWorker(t, connectIn(t, s, "w2"), sleepEval("w2", 0), WorkerOptions{Name: "w2"})
	select {
	case <-w2.done:
		if err := w2.err; err == nil || !strings.Contains(err.Error(), "worker w2: incompatible wire version: the task has wire version 99, this worker reads version "+strconv.Itoa(WireVersion)) {
			t.Errorf("worker stopped with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the worker went on with a task it cannot read")
	}
	st, err := js.Stream(context.Background(), trialsStream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(context.Background()); err != nil || info.State.Msgs != 1 {
		t.Errorf("the newer task is not queued for another worker: %v %+v", err, info.State)
	}
}
