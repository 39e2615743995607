package remote

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// helperCoordinator is a coordinator process with its embedded server and
// a store of its own (a file of recorded trials, synced before each ack).
// Started again on the same files it resumes: it submits again every
// trial not yet recorded, as a search does.
func helperCoordinator() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	srv, err := StartServer(ServerOptions{Listen: os.Getenv("REMOTE_LISTEN"), Dir: os.Getenv("REMOTE_DIR"),
		Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
	if err != nil {
		return fail(err)
	}
	defer srv.Close()
	nc, err := srv.Connect("coordinator")
	if err != nil {
		return fail(err)
	}
	defer nc.Close()
	c, err := NewCoordinator(context.Background(), nc, "restart", CoordinatorOptions{
		Topology: Topology{AckWait: envDuration("REMOTE_ACKWAIT", 2*time.Second), ResultAckWait: time.Second},
		Logf:     func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	path := os.Getenv("REMOTE_LEDGER")
	recorded := map[int]bool{}
	if data, err := os.ReadFile(path); err == nil {
		for _, l := range strings.Fields(string(data)) {
			n, _ := strconv.Atoi(strings.SplitN(l, ",", 2)[0])
			recorded[n] = true
		}
	}
	n := envInt("REMOTE_TRIALS", 12)
	for i := 1; i <= n; i++ {
		if !recorded[i] {
			c.Submit(task(i))
		}
	}
	fmt.Println("ready")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	for len(recorded) < n {
		r := <-c.Results()
		if recorded[r.Trial] {
			fmt.Printf("dup %d\n", r.Trial)
		} else {
			if _, err := fmt.Fprintf(f, "%d,%s,%d\n", r.Trial, r.Worker, r.Delivery); err != nil {
				return fail(err)
			}
			if err := f.Sync(); err != nil {
				return fail(err)
			}
			recorded[r.Trial] = true
			fmt.Printf("recorded %d\n", r.Trial)
		}
		if err := r.Ack(); err != nil {
			return fail(err)
		}
	}
	fmt.Println("all")
	return 0
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// The coordinator process (with its embedded server) is SIGKILLed while
// trials run and started again on the same store and port: the workers
// reconnect by themselves, results sent while it was down wait in their
// stream, and every trial ends up recorded exactly once.
func TestCoordinatorKilledAndRestarted(t *testing.T) {
	listen := freePort(t)
	env := []string{"REMOTE_LISTEN=" + listen, "REMOTE_DIR=" + t.TempDir(),
		"REMOTE_LEDGER=" + filepath.Join(t.TempDir(), "ledger"), "REMOTE_TRIALS=12"}
	first := startHelper(t, "coordinator", env...)
	first.waitLine(t, "ready", 10*time.Second)
	for _, name := range []string{"w1", "w2", "w3"} {
		nc, err := Connect("nats://"+listen, ConnOptions{Name: name, Wait: true, Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		goWorker(t, nc, sleepEval(name, 300*time.Millisecond), WorkerOptions{Name: name})
	}
	for range 4 {
		first.waitLine(t, "recorded", 10*time.Second)
	}
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.wait(t, 5*time.Second)
	time.Sleep(300 * time.Millisecond) // workers finish trials with no server to send to

	second := startHelper(t, "coordinator", env...)
	second.waitLine(t, "all", 30*time.Second)
	if code := second.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("restarted coordinator exited with %d", code)
	}
	data, err := os.ReadFile(env[2][len("REMOTE_LEDGER="):])
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		n, _ := strconv.Atoi(strings.SplitN(sc.Text(), ",", 2)[0])
		seen[n]++
	}
	for i := 1; i <= 12; i++ {
		if seen[i] != 1 {
			t.Errorf("trial %d recorded %d times", i, seen[i])
		}
	}
	t.Logf("before the kill:\n%s\nafter the restart:\n%s", first.output(), second.output())
}

// A result the caller received but did not acknowledge (it crashed between
// recording and acking) is delivered again to the next coordinator, which
// the caller recognises as recorded; submitting the trial again on restart
// does not run it again.
func TestResultRedeliveredUntilAcked(t *testing.T) {
	s := newServer(t, false)
	topo := Topology{AckWait: time.Second, ResultAckWait: 300 * time.Millisecond}
	var runs atomic.Int32
	inner := sleepEval("w1", 50*time.Millisecond)
	goWorker(t, connectIn(t, s, "w1"), func(ctx context.Context, tk Task) (json.RawMessage, error) {
		runs.Add(1)
		return inner(ctx, tk)
	}, WorkerOptions{Name: "w1"})

	nc := connectIn(t, s, "coordinator")
	first, err := NewCoordinator(context.Background(), nc, "replay", CoordinatorOptions{Topology: topo, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	first.Submit(task(1))
	var r Result
	select {
	case r = <-first.Results():
	case <-time.After(10 * time.Second):
		t.Fatal("no result")
	}
	first.Close() // "crash" after recording r, before acking it

	second := newCoordinator(t, nc, "replay", topo)
	second.Submit(task(1)) // a restart submits what the store has in flight
	select {
	case again := <-second.Results():
		if again.Trial != 1 || again.Attempt != 1 || string(again.Measurement) != string(r.Measurement) {
			t.Fatalf("redelivered %+v, want %+v", again, r)
		}
		if err := again.Ack(); err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the unacknowledged result was not delivered again")
	}
	l := newLedger()
	l.drain(t, second, 500*time.Millisecond)
	if len(l.first) != 0 {
		t.Errorf("more results after the ack: %v", l.first)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("trial ran %d times: the resubmission should have been a duplicate", n)
	}
	assertQueuesEmpty(t, s)
}

func jsFor(t *testing.T, s *Server) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(connectIn(t, s, "inspector"))
	if err != nil {
		t.Fatal(err)
	}
	return js
}
