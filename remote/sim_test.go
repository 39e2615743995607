package remote

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// The simulated search: a coordinator with its embedded server keeps
// `workers` trials in flight (as `nas search --parallel` does), each worker
// (its own TCP connection) evaluates a trial by sleeping `delay`, and every
// result is recorded with an fsync before it is acknowledged (standing in
// for the store's commit). The ideal time is waves x delay; the rest is
// the queue's overhead.
//
//	go test ./remote/ -run '^$' -bench SimulatedSearch -benchtime 1x
//	go test ./remote/ -run '^$' -bench SimulatedSearch -benchtime 1x -sim.delay 2s
var (
	simTrials  = flag.Int("sim.trials", 1000, "trials of the simulated search")
	simWorkers = flag.Int("sim.workers", 64, "workers of the simulated search")
	simDelay   = flag.Duration("sim.delay", time.Second, "evaluation time of each simulated trial")
	simQueue   = flag.Int("sim.queue", 0, "trials in flight beyond one per worker (nas search --parallel minus the workers)")
)

type simReport struct {
	trials, workers  int
	queue            int
	delay, wall, ide time.Duration
	redelivered      int
	// firstStart is when the last worker started its first trial; gap is
	// the mean time a worker waited between two trials (result sent to
	// next trial received).
	firstStart, gap time.Duration
	// back is the mean time from a worker's end of a trial to its result
	// in the caller's hands; out from Submit to a worker's start.
	back, out time.Duration
}

func (r simReport) overhead() float64 { return float64(r.wall-r.ide) / float64(r.ide) }

func (r simReport) String() string {
	return fmt.Sprintf("%d trials, %d workers, %d in flight, %v each: %.3fs against an ideal %.3fs (%d waves): overhead %+.2f%% (%.1f ms per trial cycle), %d redeliveries",
		r.trials, r.workers, r.workers+r.queue, r.delay, r.wall.Seconds(), r.ide.Seconds(), (r.trials+r.workers-1)/r.workers,
		100*r.overhead(), float64(r.wall-r.ide)/float64(time.Millisecond)/float64((r.trials+r.workers-1)/r.workers), r.redelivered) +
		fmt.Sprintf("; first wave started within %v, workers waited %v between trials on average (result to caller %v, Submit to worker %v)",
			r.firstStart.Round(time.Millisecond), r.gap.Round(10*time.Microsecond), r.back.Round(10*time.Microsecond), r.out.Round(10*time.Microsecond))
}

func simulate(tb testing.TB, trials, workers, queue int, delay time.Duration) simReport {
	dir := tb.TempDir()
	s, err := StartServer(ServerOptions{Listen: "127.0.0.1:0", Dir: filepath.Join(dir, "nats")})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	cnc, err := s.Connect("coordinator")
	if err != nil {
		tb.Fatal(err)
	}
	defer cnc.Close()
	c, err := NewCoordinator(context.Background(), cnc, "sim", CoordinatorOptions{Logf: tb.Logf})
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, workers)
	for i := range workers {
		name := fmt.Sprintf("w%d", i+1)
		nc, err := Connect("nats://"+s.Addr(), ConnOptions{Name: name})
		if err != nil {
			tb.Fatal(err)
		}
		defer nc.Close()
		go func() { stopped <- Work(ctx, nc, sleepEval(name, delay), WorkerOptions{Name: name, Logf: tb.Logf}) }()
	}
	defer func() {
		cancel()
		for range workers {
			if err := <-stopped; err != nil {
				tb.Error(err)
			}
		}
	}()
	// Start the clock once every worker waits for a trial.
	cons, err := c.js.Consumer(context.Background(), trialsStream, workersConsumer)
	if err != nil {
		tb.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		info, err := cons.Info(context.Background())
		if err == nil && info.NumWaiting >= workers {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("workers not ready: %v %+v", err, info)
		}
	}

	ledger, err := os.Create(filepath.Join(dir, "ledger"))
	if err != nil {
		tb.Fatal(err)
	}
	defer ledger.Close()
	rep := simReport{trials: trials, workers: workers, queue: queue, delay: delay,
		ide: time.Duration((trials+workers-1)/workers) * delay}
	done := make([]bool, trials+1)
	submitted := make([]time.Time, trials+1)
	submit := func(n int) { submitted[n] = time.Now(); c.Submit(task(n)) }
	byWorker := map[string][]Result{}
	start := time.Now()
	next := 1
	for ; next <= min(workers+queue, trials); next++ {
		submit(next)
	}
	for n := 0; n < trials; {
		var r Result
		select {
		case r = <-c.Results():
		case <-time.After(rep.ide + time.Minute):
			tb.Fatalf("%d of %d trials done", n, trials)
		}
		if r.Err() != nil {
			tb.Fatalf("trial %d: %v", r.Trial, r.Err())
		}
		if !done[r.Trial] {
			rep.back += time.Since(r.Finished)
			rep.out += r.Started.Sub(submitted[r.Trial])
			done[r.Trial] = true
			n++
			if _, err := fmt.Fprintf(ledger, "%d %s %d\n", r.Trial, r.Worker, r.Delivery); err != nil {
				tb.Fatal(err)
			}
			if err := ledger.Sync(); err != nil {
				tb.Fatal(err)
			}
			byWorker[r.Worker] = append(byWorker[r.Worker], r)
			if r.Delivery > 1 {
				rep.redelivered++
			}
			if next <= trials {
				submit(next)
				next++
			}
		}
		if err := r.Ack(); err != nil {
			tb.Fatal(err)
		}
	}
	rep.wall = time.Since(start)
	rep.back /= time.Duration(trials)
	rep.out /= time.Duration(trials)
	var gaps time.Duration
	n := 0
	for _, rs := range byWorker {
		slices.SortFunc(rs, func(a, b Result) int { return a.Started.Compare(b.Started) })
		rep.firstStart = max(rep.firstStart, rs[0].Started.Sub(start))
		for i := 1; i < len(rs); i++ {
			gaps += rs[i].Started.Sub(rs[i-1].Finished)
			n++
		}
	}
	if n > 0 {
		rep.gap = gaps / time.Duration(n)
	}
	return rep
}

// A small simulated search runs every trial exactly once; its overhead is
// logged (timings on a shared machine are not asserted).
func TestSimulatedSearch(t *testing.T) {
	rep := simulate(t, 48, 8, 0, 50*time.Millisecond)
	if rep.redelivered != 0 {
		t.Errorf("%d trials were redelivered", rep.redelivered)
	}
	t.Log(rep)
}

// BenchmarkSimulatedSearch reports the queue's overhead against the ideal
// time of a search (see the flags above).
func BenchmarkSimulatedSearch(b *testing.B) {
	for range b.N {
		rep := simulate(b, *simTrials, *simWorkers, *simQueue, *simDelay)
		b.Log(rep)
		b.ReportMetric(100*rep.overhead(), "overhead-%")
		b.ReportMetric(rep.wall.Seconds(), "wall-s")
		b.ReportMetric(rep.ide.Seconds(), "ideal-s")
	}
}
