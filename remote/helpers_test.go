package remote

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/effnas/effnas/searchspace"
)

// Tests that need real processes (a worker SIGKILLed, a coordinator
// killed with its server) run this test binary again with helperEnv set
// to the helper's name.
const helperEnv = "EFFNAS_REMOTE_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "worker":
		os.Exit(helperWorker())
	case "coordinator":
		os.Exit(helperCoordinator())
	case "search-worker":
		os.Exit(helperSearchWorker())
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// measurement is what the test evaluators return: enough to check that
// the right task reached the worker.
type measurement struct {
	Trial  int    `json:"trial"`
	Seed   uint64 `json:"seed"`
	Arch   string `json:"arch"`
	Worker string `json:"worker"`
}

// sleepEval sleeps d (honouring ctx) and echoes the task.
func sleepEval(name string, d time.Duration) EvalFunc {
	return func(ctx context.Context, t Task) (json.RawMessage, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(d):
		}
		return json.Marshal(measurement{Trial: t.Trial, Seed: t.Seed, Arch: t.Arch.Name, Worker: name})
	}
}

// helperWorker is a worker process: it prints "start <trial>" when it
// takes a trial (tests kill it then), SIGKILLs itself on the poison trial,
// and stops on SIGINT or SIGTERM.
func helperWorker() int {
	name := os.Getenv("REMOTE_NAME")
	nc, err := Connect(os.Getenv("REMOTE_URL"), ConnOptions{Name: name, Wait: true,
		Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer nc.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	poison := envInt("REMOTE_POISON", -1)
	inner := sleepEval(name, envDuration("REMOTE_DELAY", 200*time.Millisecond))
	eval := func(ctx context.Context, t Task) (json.RawMessage, error) {
		fmt.Printf("start %d\n", t.Trial)
		if t.Trial == poison {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Hour)
		}
		return inner(ctx, t)
	}
	err = Work(ctx, nc, eval, WorkerOptions{Name: name, Host: "test-host", Grace: envDuration("REMOTE_GRACE", 0),
		Logf: func(f string, a ...any) { fmt.Printf(f+"\n", a...) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("exit")
	return 0
}

// proc is a helper process whose stdout lines the test reads.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	mu    sync.Mutex
	all   []string
}

func startHelper(t *testing.T, helper string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + helper}, env...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &testWriter{t: t, prefix: helper}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.all = append(p.all, sc.Text())
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

func startWorker(t *testing.T, url, name string, env ...string) *proc {
	return startHelper(t, "worker", append([]string{"REMOTE_URL=" + url, "REMOTE_NAME=" + name}, env...)...)
}

// waitLine waits for a stdout line starting with prefix.
func (p *proc) waitLine(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line %q from the helper within %v", prefix, timeout)
		}
	}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.all, "\n")
}

func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("helper did not exit within %v", timeout)
		return -1
	}
}

type testWriter struct {
	t      *testing.T
	prefix string
}

func (w *testWriter) Write(b []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		w.t.Logf("%s: %s", w.prefix, l)
	}
	return len(b), nil
}

// newServer starts an embedded server in a temporary directory, listening
// on a free loopback port when listen is set.
func newServer(t *testing.T, listen bool) *Server {
	t.Helper()
	o := ServerOptions{Dir: t.TempDir(), Logf: t.Logf}
	if listen {
		o.Listen = "127.0.0.1:0"
	}
	s, err := StartServer(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func connectIn(t *testing.T, s *Server, name string) *nats.Conn {
	t.Helper()
	nc, err := s.Connect(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func newCoordinator(t *testing.T, nc *nats.Conn, search string, topo Topology) *Coordinator {
	t.Helper()
	c, err := NewCoordinator(context.Background(), nc, search, CoordinatorOptions{Topology: topo, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// goWorker runs Work on its own connection in this process until the test
// ends or stop is called.
type inWorker struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// stop cancels the worker and returns what Work returned.
func (w *inWorker) stop() error {
	w.cancel()
	<-w.done
	return w.err
}

func goWorker(t *testing.T, nc *nats.Conn, eval EvalFunc, o WorkerOptions) *inWorker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &inWorker{cancel: cancel, done: make(chan struct{})}
	if o.Logf == nil {
		o.Logf = t.Logf
	}
	go func() { w.err = Work(ctx, nc, eval, o); close(w.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			t.Errorf("worker %s did not stop", o.Name)
		}
	})
	return w
}

var testArch = func() searchspace.Arch {
	a := searchspace.DefaultSpace().Backbone
	a.Name = "test-arch"
	return a
}()

func task(trial int) Task {
	return Task{Trial: trial, Attempt: 1, Seed: uint64(1000 + trial), Arch: testArch,
		Evaluator: json.RawMessage(`{"name":"test"}`)}
}

// ledger is a test's store: it records each trial's first result, counts
// the duplicates it drops, and acknowledges each result after recording.
type ledger struct {
	mu      sync.Mutex
	first   map[int]Result
	dups    map[int]int
	updated chan struct{}
}

func newLedger() *ledger {
	return &ledger{first: map[int]Result{}, dups: map[int]int{}, updated: make(chan struct{}, 1)}
}

func (l *ledger) record(t *testing.T, r Result) {
	l.mu.Lock()
	if _, ok := l.first[r.Trial]; ok {
		l.dups[r.Trial]++
	} else {
		l.first[r.Trial] = r
	}
	l.mu.Unlock()
	if err := r.Ack(); err != nil {
		t.Errorf("ack of trial %d: %v", r.Trial, err)
	}
	select {
	case l.updated <- struct{}{}:
	default:
	}
}

func (l *ledger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.first)
}

func (l *ledger) get(trial int) (Result, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.first[trial]
	return r, ok
}

// collect records results from c until n trials have one, or fails.
func (l *ledger) collect(t *testing.T, c *Coordinator, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for l.count() < n {
		select {
		case r := <-c.Results():
			l.record(t, r)
		case <-deadline:
			t.Fatalf("%d of %d trials have a result after %v", l.count(), n, timeout)
		}
	}
}

// drain records whatever else arrives within d (late duplicates).
func (l *ledger) drain(t *testing.T, c *Coordinator, d time.Duration) {
	deadline := time.After(d)
	for {
		select {
		case r := <-c.Results():
			l.record(t, r)
		case <-deadline:
			return
		}
	}
}
