package search

import (
	"context"
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
	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/reward"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
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

func decisions(t *testing.T, st *store.Store, name string) [][]int {
	t.Helper()
	var out [][]int
	err := st.View(func(tx *store.Tx) error {
		trials, err := tx.Trials(name)
		for _, tr := range trials {
			if tr.Status != store.StatusDone {
				return fmt.Errorf("trial %d is %s", tr.ID, tr.Status)
			}
			out = append(out, tr.Decisions)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
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
	// Every done trial's reward is the reward of its stored measurement.
	var trials []store.Trial
	st.View(func(tx *store.Tx) error { trials, err = tx.Trials("s"); return err })
	for _, tr := range trials {
		if r, err := rs.Score(*tr.Metrics); err != nil || r != tr.Reward {
			t.Fatalf("trial %d: reward %v, its metrics score %v (%v)", tr.ID, tr.Reward, r, err)
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
	if err == nil {
		t.Fatal("changed controller accepted")
	}
}

// The same seed gives the same trials whatever the parallelism and the
// order in which trials finish.
func TestSameSeedSameTrialsInParallel(t *testing.T) {
	var ref [][]int
	for _, par := range []int{1, 4} {
		for _, ctrl := range []string{"rl", "evolution"} {
			st := openStore(t)
			s := Settings{Name: "p", Controller: ctrl, Trials: 30, Seed: 11, Parallel: par, Window: 4}
			if _, err := Run(context.Background(), st, testSpace(), s, &jittered{}, nil, Hooks{}); err != nil {
				t.Fatal(err)
			}
			got := decisions(t, st, "p")
			if ctrl == "rl" {
				if ref == nil {
					ref = got
				} else if !slices.EqualFunc(ref, got, slices.Equal) {
					t.Fatalf("parallel %d: trials differ from parallel 1", par)
				}
			}
		}
	}
}

const childEnv = "EFFNAS_SEARCH_TEST_CHILD"

// TestChildSearch is the child process of TestResumeAfterSIGKILL.
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
	Run(context.Background(), st, testSpace(), Settings{Name: "k", Controller: "rl", Trials: n, Seed: 5, Parallel: 2},
		Synthetic{Delay: 25 * time.Millisecond}, nil, Hooks{})
}

func TestResumeAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	const n = 60
	path := filepath.Join(t.TempDir(), "kill.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildSearch$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+path, childEnv+"_N="+strconv.Itoa(n))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A reader of the live search answers quickly, and the search makes progress.
	var before []store.Trial
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		ro, err := store.OpenReadOnly(path, nil)
		if err != nil {
			continue
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
		if err == nil && countDone(trials) >= 15 {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	ro, err := store.OpenReadOnly(path, nil)
	if err != nil {
		t.Fatal(err)
	}
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
	sum, err := Run(context.Background(), st, testSpace(), Settings{Name: "k", Controller: "rl", Trials: n, Seed: 5, Parallel: 2}, ev, nil, Hooks{})
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
	if len(got) != n {
		t.Fatalf("%d trials, want %d", len(got), n)
	}
	// The controller continued exactly: the trials equal those of a search
	// that was never interrupted.
	ref := openStore(t)
	if _, err := Run(context.Background(), ref, testSpace(), Settings{Name: "k", Controller: "rl", Trials: n, Seed: 5, Parallel: 2}, Synthetic{}, nil, Hooks{}); err != nil {
		t.Fatal(err)
	}
	if want := decisions(t, ref, "k"); !slices.EqualFunc(want, got, slices.Equal) {
		t.Fatal("the resumed search proposed other trials than an uninterrupted one")
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
	st.View(func(tx *store.Tx) error {
		trials, _ := tx.Trials("f")
		for _, tr := range trials {
			switch {
			case tr.ID%5 == 0 || tr.ID == 7:
				if tr.Status != store.StatusFailed || tr.Attempts != 2 || tr.Error == "" {
					t.Errorf("trial %d: %s after %d attempts, %q", tr.ID, tr.Status, tr.Attempts, tr.Error)
				}
			case tr.ID%3 == 0:
				if tr.Status != store.StatusDone || tr.Attempts != 2 {
					t.Errorf("trial %d: %s after %d attempts", tr.ID, tr.Status, tr.Attempts)
				}
			}
		}
		return nil
	})
}

func TestCancelStopsCleanly(t *testing.T) {
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	seen := 0
	sum, err := Run(ctx, st, testSpace(), Settings{Name: "c", Controller: "rl", Trials: 50, Seed: 2},
		Synthetic{Delay: 5 * time.Millisecond}, nil, Hooks{Trial: func(store.Trial, int, int, *store.Trial) {
			if seen++; seen == 5 {
				cancel()
			}
		}})
	if err != nil || !sum.Interrupted || sum.Done < 5 || sum.Done >= 50 {
		t.Fatalf("%+v %v", sum, err)
	}
	sum, err = Run(context.Background(), st, testSpace(), Settings{Name: "c", Controller: "rl", Trials: 50, Seed: 2}, Synthetic{}, nil, Hooks{})
	if err != nil || sum.Done != 50 {
		t.Fatalf("resume: %+v %v", sum, err)
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
