package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Tasks go out and results come back: each trial reaches a worker with its
// seed, architecture and evaluator settings, each result names its worker
// and host, trials longer than the lease run once (heartbeats), and an
// architecture that does not decode, an evaluator error and an evaluator
// panic each become a failed result, not a lost trial.
func TestRoundTrip(t *testing.T) {
	s := newServer(t, false)
	topo := Topology{AckWait: 400 * time.Millisecond}
	c := newCoordinator(t, connectIn(t, s, "coordinator"), "round-trip", topo)
	var gotEvaluator json.RawMessage
	eval := func(name string) EvalFunc {
		inner := sleepEval(name, 700*time.Millisecond) // longer than the lease
		return func(ctx context.Context, tk Task) (json.RawMessage, error) {
			switch tk.Trial {
			case 5:
				return nil, errors.New("loss is NaN at step 3")
			case 6:
				panic("index out of range")
			case 1:
				gotEvaluator = tk.Evaluator
			}
			return inner(ctx, tk)
		}
	}
	for _, name := range []string{"w1", "w2", "w3"} {
		goWorker(t, connectIn(t, s, name), eval(name), WorkerOptions{Name: name, Host: "fp-" + name})
	}
	for i := 1; i <= 6; i++ {
		c.Submit(task(i))
	}
	bad := task(7)
	bad.Arch.Stages = nil // encodes, but does not decode
	c.Submit(bad)

	l := newLedger()
	l.collect(t, c, 7, 20*time.Second)
	l.drain(t, c, topo.AckWait*2)
	for i := 1; i <= 7; i++ {
		r, _ := l.get(i)
		if r.Delivery != 1 || l.dups[i] != 0 {
			t.Errorf("trial %d: delivery %d, %d duplicates: want 1 and 0 (heartbeats keep the lease)", i, r.Delivery, l.dups[i])
		}
		if r.Search != "round-trip" || r.Attempt != 1 || r.Worker == "" || r.Host != "fp-"+r.Worker ||
			r.Started.IsZero() || r.Finished.Before(r.Started) {
			t.Errorf("trial %d: result %+v", i, r)
		}
		switch i {
		case 5:
			if r.Error != "loss is NaN at step 3" || r.Err() == nil {
				t.Errorf("trial 5: error %q", r.Error)
			}
		case 6:
			if !strings.Contains(r.Error, "evaluator panic: index out of range") {
				t.Errorf("trial 6: error %q", r.Error)
			}
		case 7:
			if !strings.HasPrefix(r.Error, "architecture: ") {
				t.Errorf("trial 7: error %q", r.Error)
			}
		default:
			var m measurement
			if err := json.Unmarshal(r.Measurement, &m); err != nil || r.Err() != nil {
				t.Fatalf("trial %d: measurement %s, error %q", i, r.Measurement, r.Error)
			}
			if m.Trial != i || m.Seed != uint64(1000+i) || m.Arch != "test-arch" || m.Worker != r.Worker {
				t.Errorf("trial %d: the worker saw %+v", i, m)
			}
			if r.Finished.Sub(r.Started) < 700*time.Millisecond {
				t.Errorf("trial %d took %v", i, r.Finished.Sub(r.Started))
			}
		}
	}
	if string(gotEvaluator) != `{"name":"test"}` {
		t.Errorf("evaluator settings arrived as %s", gotEvaluator)
	}
	workers := map[string]bool{}
	for _, r := range l.first {
		workers[r.Worker] = true
	}
	if len(workers) < 2 {
		t.Errorf("all trials ran on %v: want them spread over the idle workers", workers)
	}
	assertQueuesEmpty(t, s)
}

// assertQueuesEmpty checks that no trial is left in the queue and no
// result waits for its coordinator.
func assertQueuesEmpty(t *testing.T, s *Server) {
	t.Helper()
	js := jsFor(t, s)
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []string
		st, err := js.Stream(ctx, trialsStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 0 {
			left = append(left, fmt.Sprintf("%d trials", info.State.Msgs))
		}
		rs, err := js.Stream(ctx, resultsStream)
		if err != nil {
			t.Fatal(err)
		}
		for names := rs.ConsumerNames(ctx); ; {
			name, ok := <-names.Name()
			if !ok {
				break
			}
			cons, err := rs.Consumer(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			ci, err := cons.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ci.NumPending+uint64(ci.NumAckPending) != 0 {
				left = append(left, fmt.Sprintf("%s: %d results pending, %d unacknowledged", name, ci.NumPending, ci.NumAckPending))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("left behind: %v", left)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Two searches on one server share the workers but never each other's
// results, also when a name is not a plain subject token.
func TestTwoSearchesOneServer(t *testing.T) {
	s := newServer(t, false)
	names := []string{"alpha", "beta.v2 with spaces/and*wildcards>"}
	var cs []*Coordinator
	for _, n := range names {
		cs = append(cs, newCoordinator(t, connectIn(t, s, n), n, Topology{}))
	}
	goWorker(t, connectIn(t, s, "w1"), sleepEval("w1", 10*time.Millisecond), WorkerOptions{Name: "w1"})
	for i, c := range cs {
		for trial := 1; trial <= 3; trial++ {
			tk := task(trial)
			tk.Seed = uint64(100*i + trial)
			c.Submit(tk)
		}
	}
	for i, c := range cs {
		l := newLedger()
		l.collect(t, c, 3, 10*time.Second)
		l.drain(t, c, 200*time.Millisecond)
		for trial := 1; trial <= 3; trial++ {
			r, _ := l.get(trial)
			var m measurement
			if err := json.Unmarshal(r.Measurement, &m); err != nil || r.Search != names[i] || m.Seed != uint64(100*i+trial) || l.dups[trial] != 0 {
				t.Errorf("search %q trial %d: result of search %q, seed %d, %d duplicates", names[i], trial, r.Search, m.Seed, l.dups[trial])
			}
		}
	}
}

// A coordinator whose connection is closed for good says so on Done and
// Err; Close is quiet.
func TestCoordinatorDone(t *testing.T) {
	s := newServer(t, false)
	nc := connectIn(t, s, "coordinator")
	c := newCoordinator(t, nc, "done", Topology{})
	nc.Close()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after the connection closed")
	}
	if err := c.Err(); err == nil || !strings.HasPrefix(err.Error(), "coordinator: lost the queue server for good: ") {
		t.Errorf("Err() = %v", err)
	}
	c2 := newCoordinator(t, connectIn(t, s, "coordinator2"), "done2", Topology{})
	c2.Close()
	<-c2.Done()
	if err := c2.Err(); err != nil {
		t.Errorf("Err() after Close = %v", err)
	}
}

// Results kept from before a search's coordinator first started (an older
// search of the same name) are not delivered to it.
func TestOldResultsNotDelivered(t *testing.T) {
	s := newServer(t, false)
	js := jsFor(t, s)
	// The streams exist (another search made them); a result of an old
	// search named "again" is kept.
	newCoordinator(t, connectIn(t, s, "other"), "other", Topology{})
	old, _ := json.Marshal(Result{Version: WireVersion, Search: "again", Trial: 1, Attempt: 1, Delivery: 1,
		Worker: "old", Measurement: json.RawMessage(`{}`), Finished: time.Now()})
	if _, err := js.Publish(context.Background(), resultSubject("again", 1, 1), old); err != nil {
		t.Fatal(err)
	}
	c := newCoordinator(t, connectIn(t, s, "again"), "again", Topology{})
	goWorker(t, connectIn(t, s, "w1"), sleepEval("w1", 0), WorkerOptions{Name: "w1"})
	c.Submit(task(1))
	l := newLedger()
	l.collect(t, c, 1, 10*time.Second)
	l.drain(t, c, 300*time.Millisecond)
	if r, _ := l.get(1); r.Worker != "w1" || l.dups[1] != 0 {
		t.Errorf("trial 1: worker %s, %d duplicates: the old result was delivered", r.Worker, l.dups[1])
	}
}
