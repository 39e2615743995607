package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/effnas/effnas/controller"
	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/reward"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
	"github.com/effnas/effnas/version"
)

// jittered is a synthetic evaluator whose trials take different times, so
// that parallel trials finish out of order, and which records every
// evaluation it completes.
type jittered struct {
	base Synthetic
	mu   sync.Mutex
	done []int
}

func (j *jittered) Evaluate(ctx context.Context, t Task, g *Gate) (measure.Metrics, error) {
	d := time.Duration((t.Seed%7)*2) * time.Millisecond
	select {
	case <-ctx.Done():
		return measure.Metrics{}, ctx.Err()
	case <-time.After(d):
	}
	m, err := j.base.Evaluate(ctx, t, g)
	if err == nil {
		j.mu.Lock()
		j.done = append(j.done, t.TrialID)
		j.mu.Unlock()
	}
	return m, err
}

func (j *jittered) Host() measure.Host { return j.base.Host() }

func testSpace() searchspace.Space { return searchspace.DefaultSpace() }

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func readTrials(t *testing.T, st *store.Store, name string) []store.Trial {
	t.Helper()
	var trials []store.Trial
	if err := st.View(func(tx *store.Tx) error {
		var err error
		trials, err = tx.Trials(name)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return trials
}

func decisions(t *testing.T, st *store.Store, name string) [][]int {
	t.Helper()
	var out [][]int
	for _, tr := range readTrials(t, st, name) {
		if tr.Status != store.StatusDone {
			t.Fatalf("trial %d is %s", tr.ID, tr.Status)
		}
		out = append(out, tr.Decisions)
	}
	return out
}

func readCheckpoint(t *testing.T, st *store.Store, name string) checkpoint {
	t.Helper()
	var ck checkpoint
	if err := st.View(func(tx *store.Tx) error {
		raw, err := tx.ControllerState(name)
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, &ck)
	}); err != nil {
		t.Fatal(err)
	}
	return ck
}

func TestSyntheticSearch(t *testing.T) {
	st := openStore(t)
	var calls int
	sum, err := Run(context.Background(), st, testSpace(), Settings{Name: "s", Controller: "evolution", Trials: 40, Seed: 3},
		Synthetic{}, nil, Hooks{Trial: func(store.Trial, int, int, *store.Trial) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 40 || sum.Failed != 0 || sum.Best == nil || calls != 40 || sum.Interrupted {
		t.Fatalf("summary %+v, hook calls %d", sum, calls)
	}
	var rec store.Search
	st.View(func(tx *store.Tx) error { rec, err = tx.Search("s"); return err })
	rs, err := reward.DecodeSettings(rec.Reward)
	if err != nil || rec.Baseline == nil || rs.Time.Ref != rec.Baseline.StepTime.Median || rec.Status != store.SearchFinished {
		t.Fatalf("record %+v, reward %+v %v", rec, rs, err)
	}
	// Every result records the code that made it, and that it is synthetic.
	code := version.Get()
	if rec.Host.Code.Commit != code.Commit || rec.Host.Code.Module != version.Module || !rec.Host.Synthetic() ||
		rec.Baseline.Host.Code.Module != version.Module {
		t.Fatalf("record host %+v, baseline host %+v", rec.Host, rec.Baseline.Host)
	}
	// Every done trial's reward is the reward of its stored measurement.
	for _, tr := range readTrials(t, st, "s") {
		if r, err := rs.Score(*tr.Metrics); err != nil || r != tr.Reward {
			t.Fatalf("trial %d: reward %v, its metrics score %v (%v)", tr.ID, tr.Reward, r, err)
		}
		if h := tr.Metrics.Host; h.Code.Module != version.Module || h.Code.Commit != code.Commit || !h.Synthetic() {
			t.Fatalf("trial %d: host %+v", tr.ID, h)
		}
	}
	// Running it again with the same target does nothing; a larger target continues.
	sum, err = Run(context.Background(), st, testSpace(), Settings{Name: "s", Controller: "evolution", Trials: 45, Seed: 3},
		Synthetic{}, nil, Hooks{})
	if err != nil || sum.Done != 45 {
		t.Fatalf("continue: %+v %v", sum, err)
	}
	// Another controller under the same name is refused.
	_, err = Run(context.Background(), st, testSpace(), Settings{Name: "s", Controller: "random", Trials: 45, Seed: 3}, Synthetic{}, nil, Hooks{})
	var ce *ChangedError
	if !errors.As(err, &ce) || ce.Setting != "controller" || ce.Stored != "evolution" || !errors.Is(err, ErrSettingsChanged) {
		t.Fatalf("changed controller: %v", err)
	}
}

// smallRL keeps the rl controller fast: a small network, minibatches of 5.
var smallRL = controller.Options{HiddenSize: 12, EmbeddingSize: 8, MinibatchSize: 5, LearningRate: 0.01}

// perController are the settings each determinism test runs: every
// strategy, with options that make it learn within 30 trials.
func perController() []Settings {
	return []Settings{
		{Controller: "rl", ControllerOptions: smallRL},
		{Controller: "random"},
		{Controller: "evolution", ControllerOptions: controller.Options{PopulationSize: 6, TournamentSize: 3}},
	}
}

// The same seed gives the same trials whatever the number of workers and
// the order in which trials finish.
func TestSameTrialsWhateverParallel(t *testing.T) {
	const n = 30
	for _, base := range perController() {
		t.Run(base.Controller, func(t *testing.T) {
			var ref [][]int
			for _, k := range []int{1, 2, 4, 7} {
				st := openStore(t)
				s := base
				s.Name, s.Trials, s.Seed, s.Parallel = "p", n, 11, k
				if _, err := Run(context.Background(), st, testSpace(), s, &jittered{}, nil, Hooks{}); err != nil {
					t.Fatal(err)
				}
				got := decisions(t, st, "p")
				if len(got) != n {
					t.Fatalf("parallel %d: %d trials", k, len(got))
				}
				if ref == nil {
					ref = got
				} else if !slices.EqualFunc(ref, got, slices.Equal) {
					t.Fatalf("parallel %d: trials differ from parallel 1", k)
				}
				if ck := readCheckpoint(t, st, "p"); ck.Observed != n {
					t.Fatalf("parallel %d: the stored controller observed %d of %d trials", k, ck.Observed, n)
				}
			}
			if base.Controller != "rl" {
				return
			}
			// rl's rounds give the trials of a search that proposes and
			// observes one trial at a time (a window of 1), as README's
			// earlier rl results were made.
			st := openStore(t)
			s := base
			s.Name, s.Trials, s.Seed, s.Window = "p", n, 11, controller.Window{Size: 1}
			if _, err := Run(context.Background(), st, testSpace(), s, &jittered{}, nil, Hooks{}); err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(ref, decisions(t, st, "p"), slices.Equal) {
				t.Fatal("rl in rounds proposed other trials than one at a time")
			}
		})
	}
}

// Stopping a search (Ctrl-C) and resuming it, each time with another
// number of workers, gives the trials of an uninterrupted search.
func TestSameTrialsStoppedAndResumedWithOtherParallel(t *testing.T) {
	const n = 30
	for _, base := range perController() {
		t.Run(base.Controller, func(t *testing.T) {
			ref := openStore(t)
			s := base
			s.Name, s.Trials, s.Seed, s.Parallel = "r", n, 4, 1
			if _, err := Run(context.Background(), ref, testSpace(), s, &jittered{}, nil, Hooks{}); err != nil {
				t.Fatal(err)
			}
			st := openStore(t)
			runs := 0
			for _, k := range []int{3, 1, 7, 2, 5, 1, 4, 6, 2, 3, 7} {
				s.Parallel = k
				ctx, cancel := context.WithCancel(context.Background())
				seen := 0
				sum, err := Run(ctx, st, testSpace(), s, &jittered{}, nil, Hooks{Trial: func(store.Trial, int, int, *store.Trial) {
					if seen++; seen == 4 {
						cancel()
					}
				}})
				cancel()
				runs++
				if err != nil {
					t.Fatal(err)
				}
				if !sum.Interrupted {
					break
				}
			}
			if runs < 5 {
				t.Fatalf("only %d runs: the test needs stops", runs)
			}
			s.Parallel = 2
			if sum, err := Run(context.Background(), st, testSpace(), s, &jittered{}, nil, Hooks{}); err != nil || sum.Done != n {
				t.Fatalf("last resume: %+v %v", sum, err)
			}
			if !slices.EqualFunc(decisions(t, ref, "r"), decisions(t, st, "r"), slices.Equal) {
				t.Fatal("a search stopped and resumed with other numbers of workers proposed other trials")
			}
			a, b := readCheckpoint(t, ref, "r"), readCheckpoint(t, st, "r")
			if a.Observed != n || b.Observed != n || string(a.State) != string(b.State) {
				t.Fatalf("final controller states differ (observed %d and %d)", a.Observed, b.Observed)
			}
		})
	}
}

// The controller state saved with the last trial is the state after
// observing every trial: a controller replaying the search's calls (rounds
// of the PPO minibatch) ends in exactly that state.
func TestFinalControllerStateIsSaved(t *testing.T) {
	const n = 12 // two full rounds of 5 and a partial one
	st := openStore(t)
	s := Settings{Name: "f", Controller: "rl", ControllerOptions: smallRL, Trials: n, Seed: 9, Parallel: 3}
	if _, err := Run(context.Background(), st, testSpace(), s, Synthetic{}, nil, Hooks{}); err != nil {
		t.Fatal(err)
	}
	trials := readTrials(t, st, "f")
	ck := readCheckpoint(t, st, "f")
	if ck.Observed != n || len(trials) != n {
		t.Fatalf("checkpoint observed %d, %d trials, want %d", ck.Observed, len(trials), n)
	}
	c, err := controller.New("rl", testSpace().Cardinalities(), 9, smallRL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range trials {
		d, err := c.Propose()
		if err != nil || !slices.Equal(d, tr.Decisions) {
			t.Fatalf("trial %d: replay proposed %v (%v), the search %v", tr.ID, d, err, tr.Decisions)
		}
		if err := c.Observe(tr.Decisions, tr.Reward); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := c.State()
	if string(want) != string(ck.State) {
		t.Fatal("the stored controller state is not the state after the last trial")
	}
}

const childEnv = "EFFNAS_SEARCH_TEST_CHILD"

// slowFailing is a slow synthetic evaluator whose outcome depends only on
// the trial and the attempt: some trials always fail, some fail once.
type slowFailing struct{ Synthetic }

func (f slowFailing) Evaluate(ctx context.Context, t Task, g *Gate) (measure.Metrics, error) {
	m, err := f.Synthetic.Evaluate(ctx, t, g)
	switch {
	case err != nil || t.Baseline:
	case t.TrialID%7 == 0:
		return measure.Metrics{}, fmt.Errorf("loss is NaN")
	case t.TrialID%3 == 0 && t.Attempt == 1:
		return measure.Metrics{}, fmt.Errorf("transient")
	}
	return m, err
}

// childSettings is the search the child processes run.
func childSettings(n, parallel int) Settings {
	return Settings{Name: "k", Controller: "rl", ControllerOptions: smallRL, Trials: n, Seed: 5, Parallel: parallel}
}

// TestChildSearch is the child process of the SIGKILL tests.
func TestChildSearch(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("helper process")
	}
	st, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(os.Getenv(childEnv + "_N"))
	k, _ := strconv.Atoi(os.Getenv(childEnv + "_K"))
	ms, _ := strconv.Atoi(os.Getenv(childEnv + "_DELAY_MS"))
	var ev Evaluator = Synthetic{Delay: time.Duration(ms) * time.Millisecond}
	if os.Getenv(childEnv+"_FAILING") != "" {
		ev = slowFailing{Synthetic{Delay: time.Duration(ms) * time.Millisecond}}
	}
	if _, err := Run(context.Background(), st, testSpace(), childSettings(n, k), ev, nil, Hooks{}); err != nil {
		t.Fatal(err)
	}
}

func startChild(t *testing.T, path string, n, parallel, delayMS int, failing bool) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildSearch$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+path, childEnv+"_N="+strconv.Itoa(n), childEnv+"_K="+strconv.Itoa(parallel),
		childEnv+"_DELAY_MS="+strconv.Itoa(delayMS))
	if failing {
		cmd.Env = append(cmd.Env, childEnv+"_FAILING=1")
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// liveTrials reads the trials of a search another process writes; nil
// while the file or the search does not exist yet.
func liveTrials(t *testing.T, path string) []store.Trial {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	ro, err := store.OpenReadOnly(path, nil)
	if err != nil {
		return nil
	}
	t0 := time.Now()
	var trials []store.Trial
	err = ro.View(func(tx *store.Tx) error {
		var err error
		trials, err = tx.Trials("k")
		return err
	})
	if took := time.Since(t0); took > time.Second {
		t.Fatalf("reading a live search took %v", took)
	}
	if err != nil {
		return nil
	}
	return trials
}

// waitFor polls the live search until cond holds (or fails the test).
func waitFor(t *testing.T, path string, what string, cond func([]store.Trial) bool) []store.Trial {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		if trials := liveTrials(t, path); trials != nil && cond(trials) {
			return trials
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
	return nil
}

func kill(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

func TestResumeAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	const n = 60
	path := filepath.Join(t.TempDir(), "kill.db")
	cmd := startChild(t, path, n, 2, 25, false)
	// A reader of the live search answers quickly, and the search makes progress.
	waitFor(t, path, "15 trials", func(tr []store.Trial) bool { return countDone(tr) >= 15 })
	kill(cmd)
	ro, err := store.OpenReadOnly(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var before []store.Trial
	ro.View(func(tx *store.Tx) error { before, err = tx.Trials("k"); return err })
	if countDone(before) < 15 || countDone(before) >= n {
		t.Fatalf("killed with %d of %d trials done; the test needs a kill mid-run", countDone(before), n)
	}
	doneBefore := map[int]bool{}
	for _, tr := range before {
		if tr.Status == store.StatusDone {
			doneBefore[tr.ID] = true
		}
	}
	st, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := &jittered{base: Synthetic{}}
	sum, err := Run(context.Background(), st, testSpace(), childSettings(n, 2), ev, nil, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != n || sum.Failed != 0 {
		t.Fatalf("after resume: %+v", sum)
	}
	for _, id := range ev.done {
		if doneBefore[id] {
			t.Fatalf("trial %d was done before the kill and was trained again", id)
		}
	}
	got := decisions(t, st, "k")
	// The controller continued exactly: the trials equal those of a search
	// that was never interrupted.
	ref := openStore(t)
	if _, err := Run(context.Background(), ref, testSpace(), childSettings(n, 2), Synthetic{}, nil, Hooks{}); err != nil {
		t.Fatal(err)
	}
	if want := decisions(t, ref, "k"); !slices.EqualFunc(want, got, slices.Equal) {
		t.Fatal("the resumed search proposed other trials than an uninterrupted one")
	}
}

// outcome is what an uninterrupted search and a resumed one must agree on:
// a trial without its times, worker and interruptions.
func outcome(t store.Trial) string {
	t.Created, t.Started, t.Finished, t.Worker, t.Interrupted = time.Time{}, time.Time{}, time.Time{}, "", 0
	// The code version is read from the git directory when each process
	// starts: an edit to the tree during the test changes it, not the trial.
	if t.Metrics != nil {
		m := *t.Metrics
		m.Host.Code = version.Code{}
		t.Metrics = &m
	}
	b, _ := json.Marshal(t)
	return string(b)
}

// A search killed again and again, twice within the same trial and then at
// arbitrary points with other numbers of workers, ends identical to one
// never interrupted: no trial fails for being cut off, attempts count only
// evaluations that failed or succeeded, and the controller ends in the same
// state.
func TestRepeatedSIGKILLsChangeNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const n = 30
	path := filepath.Join(t.TempDir(), "kill.db")
	// Twice during trial 2, one trial at a time, each trial 300 ms.
	for round := range 2 {
		cmd := startChild(t, path, n, 1, 300, true)
		waitFor(t, path, "trial 2 running", func(tr []store.Trial) bool {
			return len(tr) >= 2 && tr[1].Status == store.StatusRunning && tr[1].Interrupted == round
		})
		time.Sleep(100 * time.Millisecond)
		kill(cmd)
	}
	tr := liveTrials(t, path)
	if len(tr) < 2 || tr[1].Status != store.StatusRunning || tr[1].Interrupted != 1 || tr[1].Attempts != 0 {
		t.Fatalf("after two kills, trial 2: %+v", tr[1])
	}
	// Then at various points, with various numbers of workers.
	kills := 2
	for i, k := range []int{3, 1, 4, 2, 6, 1, 5, 2} {
		cmd := startChild(t, path, n, k, 20, true)
		before := countFinal(liveTrials(t, path))
		if before >= n-2 {
			kill(cmd)
			break
		}
		waitFor(t, path, "progress", func(tr []store.Trial) bool { return countFinal(tr) >= before+1+i%3 })
		time.Sleep(time.Duration(3*i) * time.Millisecond)
		kill(cmd)
		kills++
	}
	if kills < 6 {
		t.Fatalf("only %d kills: the test needs more", kills)
	}
	// The last run finishes it.
	cmd := startChild(t, path, n, 3, 5, true)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("last run: %v", err)
	}
	st, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := readTrials(t, st, "k")
	ref := openStore(t)
	if _, err := Run(context.Background(), ref, testSpace(), childSettings(n, 1), slowFailing{}, nil, Hooks{}); err != nil {
		t.Fatal(err)
	}
	want := readTrials(t, ref, "k")
	if len(got) != n || len(want) != n {
		t.Fatalf("%d and %d trials, want %d", len(got), len(want), n)
	}
	interrupted, failed := 0, 0
	for i := range want {
		if a, b := outcome(want[i]), outcome(got[i]); a != b {
			t.Fatalf("trial %d differs:\nuninterrupted %s\nkilled        %s", i+1, a, b)
		}
		interrupted += got[i].Interrupted
		if got[i].Status == store.StatusFailed {
			failed++
		}
	}
	if got[1].Status != store.StatusDone || got[1].Attempts != 1 || got[1].Interrupted < 2 {
		t.Fatalf("trial 2: %s after %d attempts, %d interruptions", got[1].Status, got[1].Attempts, got[1].Interrupted)
	}
	t.Logf("%d kills, %d evaluations cut off, %d trials failed", kills, interrupted, failed)
	if failed != n/7 || interrupted < kills/2 {
		t.Fatalf("%d failed (want %d, the failing evaluator's), %d interruptions over %d kills", failed, n/7, interrupted, kills)
	}
	a, b := readCheckpoint(t, ref, "k"), readCheckpoint(t, st, "k")
	if a.Observed != n || b.Observed != n || string(a.State) != string(b.State) {
		t.Fatalf("final controller states differ (observed %d and %d)", a.Observed, b.Observed)
	}
}

func countDone(ts []store.Trial) int {
	n := 0
	for _, t := range ts {
		if t.Status == store.StatusDone {
			n++
		}
	}
	return n
}

// failing fails some trials always and others once.
type failing struct{ Synthetic }

func (f failing) Evaluate(ctx context.Context, t Task, g *Gate) (measure.Metrics, error) {
	switch {
	case t.Baseline:
	case t.TrialID%5 == 0:
		return measure.Metrics{}, fmt.Errorf("loss is NaN")
	case t.TrialID%3 == 0 && t.Attempt == 1:
		return measure.Metrics{}, fmt.Errorf("transient")
	case t.TrialID == 7:
		panic("boom")
	}
	return f.Synthetic.Evaluate(ctx, t, g)
}

func TestFailedTrialsAreRecordedAndRetried(t *testing.T) {
	st := openStore(t)
	sum, err := Run(context.Background(), st, testSpace(), Settings{Name: "f", Controller: "random", Trials: 20, Seed: 1, Parallel: 2}, failing{}, nil, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 20 || sum.Failed != 5 {
		t.Fatalf("summary %+v", sum)
	}
	for _, tr := range readTrials(t, st, "f") {
		switch {
		case tr.ID%5 == 0 || tr.ID == 7:
			if tr.Status != store.StatusFailed || tr.Attempts != 2 || tr.Error == "" {
				t.Errorf("trial %d: %s after %d attempts, %q", tr.ID, tr.Status, tr.Attempts, tr.Error)
			}
		case tr.ID%3 == 0:
			if tr.Status != store.StatusDone || tr.Attempts != 2 {
				t.Errorf("trial %d: %s after %d attempts", tr.ID, tr.Status, tr.Attempts)
			}
		default:
			if tr.Status != store.StatusDone || tr.Attempts != 1 {
				t.Errorf("trial %d: %s after %d attempts", tr.ID, tr.Status, tr.Attempts)
			}
		}
	}
}

// heldAfter evaluates trials 1..n at once and holds every later one until
// the search's context is cancelled, so that a stop after the n-th result
// finds trials running however slowly the machine saves results (a fixed
// evaluation delay does not: on a loaded machine the other trials finished
// before the loop had saved the n-th).
type heldAfter struct{ n int }

func (h heldAfter) Evaluate(ctx context.Context, t Task, g *Gate) (measure.Metrics, error) {
	if t.TrialID > h.n {
		<-ctx.Done()
		return measure.Metrics{}, ctx.Err()
	}
	return Synthetic{}.Evaluate(ctx, t, g)
}

func (heldAfter) Host() measure.Host { return Synthetic{}.Host() }

func TestCancelStopsCleanly(t *testing.T) {
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	seen := 0
	s := Settings{Name: "c", Controller: "random", Trials: 50, Seed: 2, Parallel: 3}
	sum, err := Run(ctx, st, testSpace(), s, heldAfter{n: 5}, nil, Hooks{Trial: func(store.Trial, int, int, *store.Trial) {
		if seen++; seen == 5 {
			cancel()
		}
	}})
	if err != nil || !sum.Interrupted || sum.Done != 5 {
		t.Fatalf("%+v %v", sum, err)
	}
	// The trials cut off (6 and 7, and 8 when results 4 and 5 were
	// recorded together before the stop) stay running, without an attempt
	// counted.
	cut := 0
	for _, tr := range readTrials(t, st, "c") {
		if tr.Status == store.StatusRunning {
			cut++
			if tr.Attempts != 0 {
				t.Fatalf("trial %d cut off with %d attempts", tr.ID, tr.Attempts)
			}
		}
	}
	if cut < 2 || cut > s.Parallel {
		t.Fatalf("%d trials were running at the stop, want 2 to %d", cut, s.Parallel)
	}
	sum, err = Run(context.Background(), st, testSpace(), s, Synthetic{}, nil, Hooks{})
	if err != nil || sum.Done != 50 || sum.Failed != 0 {
		t.Fatalf("resume: %+v %v", sum, err)
	}
	interrupted := 0
	for _, tr := range readTrials(t, st, "c") {
		interrupted += tr.Interrupted
		if tr.Attempts != 1 {
			t.Fatalf("trial %d: %d attempts", tr.ID, tr.Attempts)
		}
	}
	if interrupted != cut {
		t.Fatalf("%d interruptions recorded, %d trials were cut off", interrupted, cut)
	}
}

func TestCheckNamesTheSetting(t *testing.T) {
	sp := testSpace()
	if err := (Settings{}).Check(sp); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		s            Settings
		scope, field string
	}{
		{Settings{Trials: -1}, "search", "trials"},
		{Settings{Parallel: -2}, "search", "parallel"},
		{Settings{Parallel: MaxParallel + 1}, "search", "parallel"},
		{Settings{Window: controller.Window{Size: -1}}, "search", "window"},
		{Settings{MaxAttempts: -1}, "search", "max_attempts"},
		{Settings{Name: "a\nb"}, "search", "name"},
		{Settings{ControllerOptions: controller.Options{LearningRate: -1}}, "controller", "LearningRate"},
		{Settings{Reward: reward.Settings{Time: reward.Term{Ref: -1}}}, "reward", "time.ref"},
	} {
		var fe *fielderr.Error
		if err := c.s.Check(sp); !errors.As(err, &fe) || fe.Scope != c.scope || fe.Field != c.field {
			t.Errorf("%+v: %v, want %s %s", c.s, err, c.scope, c.field)
		}
	}
	if err := (Settings{Controller: "bogus"}).Check(sp); !errors.Is(err, controller.ErrUnknownStrategy) {
		t.Errorf("unknown controller: %v", err)
	}
	if err := (Settings{}).Check(searchspace.Space{}); !errors.Is(err, searchspace.ErrInvalid) {
		t.Errorf("empty space: %v", err)
	}
	// Run refuses the same before it writes anything.
	st := openStore(t)
	if _, err := Run(context.Background(), st, sp, Settings{Controller: "bogus"}, Synthetic{}, nil, Hooks{}); err == nil {
		t.Fatal("bad settings accepted")
	}
	st.View(func(tx *store.Tx) error {
		if ss, _ := tx.Searches(); len(ss) != 0 {
			t.Errorf("a refused search left %d records", len(ss))
		}
		return nil
	})
}

func TestResumeRefusesChangedSettings(t *testing.T) {
	st := openStore(t)
	sp := testSpace()
	base := Settings{Name: "c", Controller: "rl", Trials: 6, Seed: 1, ControllerOptions: controller.Options{LearningRate: 0.003, MinibatchSize: 3, Budget: 6},
		Evaluator: map[string]any{"name": "train", "epochs": 1.0, "batch": 64}}
	if _, err := Run(context.Background(), st, sp, base, Synthetic{}, nil, Hooks{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		change  func(*Settings)
		setting string
		stored  any
	}{
		{func(s *Settings) { s.ControllerOptions.LearningRate = 0.01 }, "controller_options.LearningRate", 0.003},
		{func(s *Settings) { s.ControllerOptions.MinibatchSize = 0 }, "controller_options.MinibatchSize", 3},
		{func(s *Settings) { s.Evaluator = map[string]any{"name": "train", "epochs": 2, "batch": 64} }, "evaluator.epochs", 1.0},
		{func(s *Settings) { s.Evaluator = map[string]any{"name": "train", "epochs": 1} }, "evaluator.batch", 64.0},
		{func(s *Settings) { s.Window = controller.Window{Size: 2} }, "window", controller.Window{Size: 3, Rounds: true}},
		{func(s *Settings) { s.MaxAttempts = 3 }, "max_attempts", 2},
		{func(s *Settings) { s.Seed = 2 }, "seed", uint64(1)},
		{func(s *Settings) { s.Reward.Kind = reward.KindMnasNetSoft }, "reward", nil},
		{func(s *Settings) { s.Reward.Time.Ref = 1 }, "reward", nil},
	} {
		s := base
		c.change(&s)
		_, err := Run(context.Background(), st, sp, s, Synthetic{}, nil, Hooks{})
		var ce *ChangedError
		if !errors.As(err, &ce) || ce.Setting != c.setting || (c.stored != nil && ce.Stored != c.stored) {
			t.Errorf("%s: %v", c.setting, err)
		}
	}
	// Another space (or proxy budget) is refused.
	other := searchspace.NewSpace(sp.Backbone, true)
	var ce *ChangedError
	if _, err := Run(context.Background(), st, other, base, Synthetic{}, nil, Hooks{}); !errors.As(err, &ce) || ce.Setting != "space" {
		t.Fatalf("another space: %v", err)
	}
	// A target step time (whose base the search measured) resumes as given.
	target := base
	target.Name = "target"
	target.Reward.Time.Ref = 0.5
	for range 2 {
		if _, err := Run(context.Background(), st, sp, target, Synthetic{}, nil, Hooks{}); err != nil {
			t.Fatalf("a search with a target step time: %v", err)
		}
	}
	// Fewer trials than it has is refused, with the count.
	s := base
	s.Trials = 4
	var te *TrialsError
	if _, err := Run(context.Background(), st, sp, s, Synthetic{}, nil, Hooks{}); !errors.As(err, &te) || te.Have != 6 || te.Given != 4 {
		t.Fatalf("fewer trials: %v", err)
	}
	// More trials (and another budget for the controller, which follows
	// the target), another Parallel: resumed.
	s.Trials, s.Parallel, s.ControllerOptions.Budget = 9, 3, 9
	if sum, err := Run(context.Background(), st, sp, s, Synthetic{}, nil, Hooks{}); err != nil || sum.Done != 9 {
		t.Fatalf("more trials: %+v %v", sum, err)
	}
}

func TestHooksReportStartAndProgress(t *testing.T) {
	st := openStore(t)
	var starts []Start
	var mu sync.Mutex
	seen := map[int]bool{}
	hooks := Hooks{
		Start: func(s Start) { starts = append(starts, s) },
		Progress: func(p Progress) {
			mu.Lock()
			seen[p.TrialID] = p.Phase == "formula" && p.Step == 1 && p.Steps == 1
			mu.Unlock()
		},
	}
	s := Settings{Name: "h", Controller: "rl", ControllerOptions: smallRL, Trials: 7, Parallel: 8}
	if _, err := Run(context.Background(), st, testSpace(), s, Synthetic{}, nil, hooks); err != nil {
		t.Fatal(err)
	}
	s.Trials, s.Controller, s.ControllerOptions = 9, "rl", smallRL
	s.Parallel = 2
	if _, err := Run(context.Background(), st, testSpace(), s, Synthetic{}, nil, hooks); err != nil {
		t.Fatal(err)
	}
	w := controller.Window{Size: 5, Rounds: true}
	if len(starts) != 2 || starts[0] != (Start{Name: "h", Total: 7, Window: w, Parallel: 8, Idle: 3}) ||
		starts[1] != (Start{Name: "h", Resumed: true, Done: 7, Total: 9, Window: w, Parallel: 2}) {
		t.Fatalf("starts %+v", starts)
	}
	for id := range 10 {
		if !seen[id] {
			t.Fatalf("no progress of trial %d (0: the baseline): %v", id, seen)
		}
	}
}

func TestCompareControllersLearn(t *testing.T) {
	if testing.Short() {
		t.Skip("runs nine searches")
	}
	res, err := CompareControllers(context.Background(), "", testSpace(), Synthetic{}, []string{"random", "evolution", "rl"},
		[]uint64{1, 2, 3}, 150, controllerOptionsForTest())
	if err != nil {
		t.Fatal(err)
	}
	rnd, _ := MeanStd(res[0].LastMean)
	for _, c := range res[1:] {
		m, _ := MeanStd(c.LastMean)
		b, _ := MeanStd(c.Best)
		rb, _ := MeanStd(res[0].Best)
		t.Logf("%s: best %.4f (random %.4f), last-%d mean %.4f (random %.4f)", c.Controller, b, rb, c.Tail, m, rnd)
		if m <= rnd || b < rb {
			t.Errorf("%s does not beat random: best %.4f vs %.4f, recent mean %.4f vs %.4f", c.Controller, b, rb, m, rnd)
		}
	}
}

func controllerOptionsForTest() controller.Options {
	return controller.Options{LearningRate: 0.003, MinibatchSize: 10}
}
