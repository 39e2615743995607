package remote

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/search"
	"github.com/effnas/effnas/store"
)

// The simulated search on many workers, end to end: search.Run with its
// bbolt store, the embedded server and the Executor on one side; on the
// other, workers that run Work with SearchEval as nas worker does, each in
// its own process (or goroutine, -sim.procs=false) with its own TCP
// connection. The evaluator is the synthetic one with a delay, the
// controller random (its window never leaves a worker idle), and
// --parallel is the number of workers (plus -sim.queue trials queued
// ahead). The ideal time is waves x delay,
// counted from the baseline's end to Run's return; the rest is overhead.
//
//	go test ./remote/ -run '^$' -bench SearchOnWorkers -benchtime 1x -sim.delay 5s
//	bench/queue-sim.sh (the figures in README)
var (
	simProcs = flag.Bool("sim.procs", true, "run each simulated worker in a process of its own")
	simSync  = flag.Duration("sim.sync", 0, "the embedded server's sync interval (ServerOptions.SyncEvery; 0: every write)")
)

// helperSearchWorker is a worker process as nas worker runs it.
func helperSearchWorker() int {
	name := os.Getenv("REMOTE_NAME")
	nc, err := Connect(os.Getenv("REMOTE_URL"), ConnOptions{Name: name, Wait: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer nc.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := Work(ctx, nc, SearchEval(EvalOptions{}), WorkerOptions{Name: name}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

type searchSim struct {
	trials, workers int
	queue           int // trials in flight beyond one per worker
	delay           time.Duration
	wall, ideal     time.Duration
	// gap is the mean time a worker waited between two trials, from the
	// end of one to the start of the next; firstStart how long after the
	// baseline the last worker started its first trial; tail from the
	// last trial's end to Run's return.
	gap, firstStart, tail time.Duration
	// back is the mean time from a trial's end on its worker to the
	// proposal of the trial that takes its place (its result's way back
	// and the loop), out from a proposal to its start on a worker (the
	// commit, the publish and the delivery).
	back, out time.Duration
	// excess is how much longer than the delay a trial took on its worker
	// on average (its process waiting for a core, not the coordinator).
	excess      time.Duration
	redelivered int
}

func (r searchSim) waves() int { return (r.trials + r.workers - 1) / r.workers }

func (r searchSim) overhead() float64 { return float64(r.wall-r.ideal) / float64(r.ideal) }

func (r searchSim) String() string {
	return fmt.Sprintf("%d trials on %d workers, %d in flight, %v each: %.3fs against an ideal %.3fs (%d waves x %v): overhead %+.2f%% (%.1f ms per wave); "+
		"workers waited %v between trials on average (result back to the search %v, new trial out to a worker %v), the last started its first trial %v after the baseline, the search ended %v after the last trial; "+
		"trials took %v longer than the delay on average; %d redeliveries",
		r.trials, r.workers, r.workers+r.queue, r.delay, r.wall.Seconds(), r.ideal.Seconds(), r.waves(), r.delay, 100*r.overhead(),
		float64(r.wall-r.ideal)/float64(time.Millisecond)/float64(r.waves()), r.gap.Round(10*time.Microsecond),
		r.back.Round(10*time.Microsecond), r.out.Round(10*time.Microsecond), r.firstStart.Round(time.Millisecond), r.tail.Round(time.Millisecond),
		r.excess.Round(10*time.Microsecond), r.redelivered)
}

func simulateSearchOnWorkers(tb testing.TB, trials, workers, queue int, delay time.Duration, procs bool) searchSim {
	dir := tb.TempDir()
	s, err := StartServer(ServerOptions{Listen: "127.0.0.1:0", Dir: filepath.Join(dir, "queue"), SyncEvery: *simSync})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	url := "nats://" + s.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cmds []*exec.Cmd
	for i := range workers {
		name := fmt.Sprintf("w%d", i+1)
		if procs {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=search-worker", "REMOTE_URL="+url, "REMOTE_NAME="+name)
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				tb.Fatal(err)
			}
			cmds = append(cmds, cmd)
			continue
		}
		nc, err := Connect(url, ConnOptions{Name: name})
		if err != nil {
			tb.Fatal(err)
		}
		defer nc.Close()
		go Work(ctx, nc, SearchEval(EvalOptions{}), WorkerOptions{Name: name})
	}
	defer func() {
		for _, cmd := range cmds {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	p, err := search.NewProxy(search.ProxyOptions{Evaluator: "synthetic", SyntheticDelay: delay})
	if err != nil {
		tb.Fatal(err)
	}
	nc, err := s.Connect("coordinator")
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	exec, err := NewExecutor(nc, p.Spec, CoordinatorOptions{Logf: tb.Logf})
	if err != nil {
		tb.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "sim.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	settings := search.Settings{Name: "sim", Controller: "random", Trials: trials, Parallel: workers + queue, Seed: 1}
	// The clock starts once the baseline is measured and every worker
	// waits for a trial.
	var start time.Time
	waitWorkers := func(measure.Metrics) {
		js, err := jetstream.New(nc)
		if err != nil {
			tb.Fatal(err)
		}
		cons, err := js.Consumer(context.Background(), trialsStream, workersConsumer)
		if err != nil {
			tb.Fatal(err)
		}
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
			info, err := cons.Info(context.Background())
			if err == nil && info.NumWaiting >= workers {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("workers not ready: %v", err)
			}
		}
		start = time.Now()
	}
	sum, err := search.Run(context.Background(), st, p.Space, settings, nil, exec,
		search.Hooks{Baseline: waitWorkers})
	wall := time.Since(start)
	if err != nil || sum.Done != trials || sum.Failed != 0 {
		tb.Fatalf("%+v %v", sum, err)
	}
	rep := searchSim{trials: trials, workers: workers, queue: queue, delay: delay, wall: wall}
	rep.ideal = time.Duration(rep.waves()) * delay
	r, err := store.ReadSearch(st.Path(), "sim")
	if err != nil {
		tb.Fatal(err)
	}
	// Each result frees the place of one new trial: the k-th trial to
	// end makes room for trial workers+k.
	var ends []time.Time
	for _, t := range r.Trials {
		ends = append(ends, t.Finished)
	}
	slices.SortFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
	for k, t := range r.Trials[workers:] {
		rep.back += t.Created.Sub(ends[k])
		rep.out += t.Started.Sub(t.Created)
	}
	if n := len(r.Trials) - workers; n > 0 {
		rep.back /= time.Duration(n)
		rep.out /= time.Duration(n)
	}
	byWorker := map[string][]store.Trial{}
	var last time.Time
	for _, t := range r.Trials {
		rep.excess += t.Finished.Sub(t.Started) - delay
		byWorker[t.Worker] = append(byWorker[t.Worker], t)
		if t.Finished.After(last) {
			last = t.Finished
		}
	}
	n := 0
	for _, ts := range byWorker {
		slices.SortFunc(ts, func(a, b store.Trial) int { return a.Started.Compare(b.Started) })
		rep.firstStart = max(rep.firstStart, ts[0].Started.Sub(start))
		for i := 1; i < len(ts); i++ {
			rep.gap += ts[i].Started.Sub(ts[i-1].Finished)
			n++
		}
	}
	if n > 0 {
		rep.gap /= time.Duration(n)
	}
	rep.tail = start.Add(wall).Sub(last)
	rep.excess /= time.Duration(len(r.Trials))
	return rep
}

// A small search on workers, end to end: every trial done once. Its
// overhead is logged (timings on a shared machine are not asserted).
func TestSimulatedSearchOnWorkers(t *testing.T) {
	rep := simulateSearchOnWorkers(t, 40, 8, 0, 50*time.Millisecond, false)
	t.Log(rep)
}

// BenchmarkSearchOnWorkers reports the overhead of a search on workers
// against the ideal time (flags of sim_test.go: -sim.trials, -sim.workers,
// -sim.delay, -sim.queue; -sim.procs, -sim.sync).
func BenchmarkSearchOnWorkers(b *testing.B) {
	for range b.N {
		rep := simulateSearchOnWorkers(b, *simTrials, *simWorkers, *simQueue, *simDelay, *simProcs)
		b.Log(rep)
		b.ReportMetric(100*rep.overhead(), "overhead-%")
		b.ReportMetric(rep.wall.Seconds(), "wall-s")
		b.ReportMetric(rep.ideal.Seconds(), "ideal-s")
		b.ReportMetric(float64(rep.gap)/float64(time.Millisecond), "gap-ms")
	}
}
