package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/searchspace"
	bolt "go.etcd.io/bbolt"
)

// ts is a time as JSON keeps it: UTC, no monotonic reading.
func ts(sec int64) time.Time { return time.Unix(sec, 123456789).UTC() }

func host(name string) measure.Host {
	return measure.Host{Hostname: name, OS: "linux", Arch: "amd64", CPU: "Test CPU @ 3.0GHz", Cores: 16,
		GOMAXPROCS: 8, GoVersion: "go1.26.0", Backend: "avx512"}
}

func metrics(seed float64) *measure.Metrics {
	return &measure.Metrics{
		Accuracy: 0.7 + seed/1000, Loss: 1.25 + seed,
		StepTime:    measure.StepStats{Median: 0.125, P10: 0.1, P90: 0.2, Mean: 0.13 + seed/1e6, Count: 50},
		ForwardTime: measure.StepStats{Median: 0.05, P10: 0.04, P90: 0.07, Mean: 0.051, Count: 20},
		Params:      7_100_000, ParamsTotal: 7_200_000, MACs: 390_000_000,
		WallTime: 61.5, TrainTime: 55.25, Epochs: 1.5, Steps: 300, ImageSize: 32, Batch: 64,
		Host:  host("node1"),
		Extra: map[string]float64{"val_top5": 0.95, "peak_rss_mb": 812},
	}
}

func fullSearch(name string) Search {
	sp := searchspace.DefaultSpace()
	return Search{
		Name: name, Created: ts(1_700_000_000), Updated: ts(1_700_000_500),
		Controller: "reinforce", Seed: math.MaxUint64 - 7, Trials: 1000, Parallel: 4,
		Space: sp, Reward: json.RawMessage(`{"kind":"effnetv2","time":{"ref":0.125,"alpha":-0.07},"params":{"ref":7100000}}`),
		Config:   json.RawMessage(`{"evaluator":"proxy","budget":{"epochs":1.5,"steps":null}}`),
		Host:     host("node1"),
		Baseline: metrics(0),
		Status:   SearchRunning, Note: "first try — ünïcode",
	}
}

func fullTrial(t *testing.T, id int) Trial {
	t.Helper()
	sp := searchspace.DefaultSpace()
	r := rand.New(rand.NewPCG(uint64(id), 1))
	d := sp.Sample(r)
	a, err := sp.Decode(d)
	if err != nil {
		t.Fatal(err)
	}
	a.Name = "trial"
	return Trial{
		ID: id, Decisions: d, Arch: a, Status: StatusDone, Attempts: 2,
		Metrics: metrics(float64(id)), Reward: 0.5 + float64(id)/1e4, Error: "first attempt: out of memory",
		Created: ts(1_700_000_000 + int64(id)), Started: ts(1_700_000_100 + int64(id)),
		Finished: ts(1_700_000_200 + int64(id)), Worker: "node1/2",
	}
}

func tempStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "search.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

func mustUpdate(t *testing.T, s *Store, fn func(*Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func mustView(t *testing.T, s *Store, fn func(*Tx) error) {
	t.Helper()
	if err := s.View(fn); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	s, path := tempStore(t)
	if s.Path() != path {
		t.Fatalf("Path() = %q, want %q", s.Path(), path)
	}
	search := fullSearch("s1")
	trials := []Trial{fullTrial(t, 1), fullTrial(t, 2), fullTrial(t, 3)}
	trials[2].Status, trials[2].Metrics, trials[2].Error = StatusPending, nil, ""
	trials[2].Started, trials[2].Finished, trials[2].Worker = time.Time{}, time.Time{}, ""
	state := []byte{0, 1, 2, 0xff, 'x'}
	mustUpdate(t, s, func(tx *Tx) error {
		if err := tx.PutSearch(search); err != nil {
			return err
		}
		for _, tr := range trials {
			if err := tx.PutTrial("s1", tr); err != nil {
				return err
			}
		}
		return tx.PutControllerState("s1", state)
	})

	check := func(s *Store) {
		t.Helper()
		mustView(t, s, func(tx *Tx) error {
			got, err := tx.Search("s1")
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got, search) {
				t.Errorf("search differs:\n got %+v\nwant %+v", got, search)
			}
			all, err := tx.Searches()
			if err != nil {
				return err
			}
			if len(all) != 1 || !reflect.DeepEqual(all[0], search) {
				t.Errorf("Searches() = %d searches", len(all))
			}
			gotTrials, err := tx.Trials("s1")
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(gotTrials, trials) {
				t.Errorf("trials differ:\n got %+v\nwant %+v", gotTrials, trials)
			}
			one, err := tx.Trial("s1", 2)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(one, trials[1]) {
				t.Errorf("Trial(2) = %+v", one)
			}
			st, err := tx.ControllerState("s1")
			if err != nil {
				return err
			}
			if !bytes.Equal(st, state) {
				t.Errorf("controller state %v, want %v", st, state)
			}
			next, err := tx.NextTrialID("s1")
			if err != nil {
				return err
			}
			if next != 4 {
				t.Errorf("NextTrialID = %d, want 4", next)
			}
			return nil
		})
	}
	check(s)
	s2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	check(s2)
	r, err := OpenReadOnly(path, &Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	check(r)
}

func TestEmptyStore(t *testing.T) {
	s, _ := tempStore(t)
	mustUpdate(t, s, func(tx *Tx) error {
		all, err := tx.Searches()
		if err != nil || len(all) != 0 {
			t.Errorf("Searches() = %v, %v", all, err)
		}
		if err := tx.PutSearch(Search{Name: "bare"}); err != nil {
			return err
		}
		if st, err := tx.ControllerState("bare"); err != nil || st != nil {
			t.Errorf("ControllerState = %v, %v; want nil, nil", st, err)
		}
		if id, err := tx.NextTrialID("bare"); err != nil || id != 1 {
			t.Errorf("NextTrialID = %d, %v; want 1", id, err)
		}
		if tr, err := tx.Trials("bare"); err != nil || len(tr) != 0 {
			t.Errorf("Trials = %v, %v", tr, err)
		}
		return nil
	})
	mustView(t, s, func(tx *Tx) error {
		got, err := tx.Search("bare")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, Search{Name: "bare"}) {
			t.Errorf("zero search round trip: %+v", got)
		}
		return nil
	})
}

func TestTrialOrderAndNextID(t *testing.T) {
	s, path := tempStore(t)
	const n = 600 // beyond 255 and 256: little-endian or text keys would misorder
	ids := rand.New(rand.NewPCG(1, 2)).Perm(n)
	mustUpdate(t, s, func(tx *Tx) error {
		if err := tx.PutSearch(Search{Name: "a"}); err != nil {
			return err
		}
		for _, i := range ids {
			if err := tx.PutTrial("a", Trial{ID: i + 1, Status: StatusPending, Decisions: []int{i}}); err != nil {
				return err
			}
		}
		return nil
	})
	r, err := OpenReadOnly(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustView(t, r, func(tx *Tx) error {
		trials, err := tx.Trials("a")
		if err != nil {
			return err
		}
		if len(trials) != n {
			t.Fatalf("%d trials, want %d", len(trials), n)
		}
		for i, tr := range trials {
			if tr.ID != i+1 || tr.Decisions[0] != i {
				t.Fatalf("trials[%d] has ID %d", i, tr.ID)
			}
		}
		if id, err := tx.NextTrialID("a"); err != nil || id != n+1 {
			t.Errorf("NextTrialID = %d, %v; want %d", id, err, n+1)
		}
		return nil
	})
	// Replacing a trial keeps the count; a gap is fine.
	mustUpdate(t, s, func(tx *Tx) error {
		if err := tx.PutTrial("a", Trial{ID: 256, Status: StatusDone, Reward: 1}); err != nil {
			return err
		}
		return tx.PutTrial("a", Trial{ID: 70000, Status: StatusPending})
	})
	mustView(t, s, func(tx *Tx) error {
		trials, _ := tx.Trials("a")
		if len(trials) != n+1 || trials[255].Status != StatusDone || trials[n].ID != 70000 {
			t.Errorf("after replace: %d trials, trials[255] = %+v", len(trials), trials[255])
		}
		if id, _ := tx.NextTrialID("a"); id != 70001 {
			t.Errorf("NextTrialID = %d, want 70001", id)
		}
		return nil
	})
}

func TestSearchesIsolated(t *testing.T) {
	s, _ := tempStore(t)
	names := []string{"zeta", "alpha", "mid", "alpha-2"}
	mustUpdate(t, s, func(tx *Tx) error {
		for i, name := range names {
			if err := tx.PutSearch(Search{Name: name, Seed: uint64(i)}); err != nil {
				return err
			}
			for id := 1; id <= i+1; id++ {
				if err := tx.PutTrial(name, Trial{ID: id, Worker: name}); err != nil {
					return err
				}
			}
			if err := tx.PutControllerState(name, []byte(name)); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx *Tx) error {
		all, err := tx.Searches()
		if err != nil {
			return err
		}
		var got []string
		for _, s := range all {
			got = append(got, s.Name)
		}
		if want := []string{"alpha", "alpha-2", "mid", "zeta"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Searches() names %v, want %v", got, want)
		}
		for i, name := range names {
			trials, err := tx.Trials(name)
			if err != nil {
				return err
			}
			if len(trials) != i+1 {
				t.Errorf("%s: %d trials, want %d", name, len(trials), i+1)
			}
			for _, tr := range trials {
				if tr.Worker != name {
					t.Errorf("%s holds a trial of %s", name, tr.Worker)
				}
			}
			if st, _ := tx.ControllerState(name); string(st) != name {
				t.Errorf("%s: controller state %q", name, st)
			}
		}
		return nil
	})
	// Deleting one search leaves the others; putting a search record again
	// keeps its trials and state.
	mustUpdate(t, s, func(tx *Tx) error {
		if err := tx.DeleteSearch("mid"); err != nil {
			return err
		}
		return tx.PutSearch(Search{Name: "zeta", Note: "renamed note"})
	})
	mustView(t, s, func(tx *Tx) error {
		if _, err := tx.Search("mid"); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted search: %v", err)
		}
		if _, err := tx.Trials("mid"); !errors.Is(err, ErrNotFound) {
			t.Errorf("trials of deleted search: %v", err)
		}
		z, _ := tx.Search("zeta")
		trials, _ := tx.Trials("zeta")
		st, _ := tx.ControllerState("zeta")
		if z.Note != "renamed note" || len(trials) != 1 || string(st) != "zeta" {
			t.Errorf("zeta after PutSearch: %+v, %d trials, state %q", z, len(trials), st)
		}
		all, _ := tx.Searches()
		if len(all) != 3 {
			t.Errorf("%d searches after delete", len(all))
		}
		return nil
	})
}

func TestErrors(t *testing.T) {
	s, _ := tempStore(t)
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutSearch(Search{Name: "a"}) })
	mustUpdate(t, s, func(tx *Tx) error {
		for what, err := range map[string]error{
			"Search":     func() error { _, err := tx.Search("nope"); return err }(),
			"Trials":     func() error { _, err := tx.Trials("nope"); return err }(),
			"Trial":      func() error { _, err := tx.Trial("nope", 1); return err }(),
			"Trial 9":    func() error { _, err := tx.Trial("a", 9); return err }(),
			"Trial 0":    func() error { _, err := tx.Trial("a", 0); return err }(),
			"NextID":     func() error { _, err := tx.NextTrialID("nope"); return err }(),
			"State":      func() error { _, err := tx.ControllerState("nope"); return err }(),
			"PutState":   tx.PutControllerState("nope", []byte("x")),
			"PutTrial":   tx.PutTrial("nope", Trial{ID: 1}),
			"DeleteNope": tx.DeleteSearch("nope"),
		} {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", what, err)
			} else if !strings.Contains(err.Error(), `"nope"`) && !strings.Contains(err.Error(), `"a"`) {
				t.Errorf("%s: %v does not name the search", what, err)
			}
		}
		for _, id := range []int{0, -1} {
			if err := tx.PutTrial("a", Trial{ID: id}); err == nil {
				t.Errorf("PutTrial with ID %d succeeded", id)
			}
		}
		for _, name := range []string{"", "a\nb", string([]byte{0xff}), strings.Repeat("x", MaxNameLen+1)} {
			if err := tx.PutSearch(Search{Name: name}); err == nil {
				t.Errorf("PutSearch(%q) succeeded", name)
			}
		}
		// Config must be valid JSON.
		if err := tx.PutSearch(Search{Name: "bad", Config: json.RawMessage("{")}); err == nil {
			t.Error("PutSearch with invalid Config succeeded")
		}
		return nil
	})
}

func TestTxAfterFunction(t *testing.T) {
	s, _ := tempStore(t)
	var late *Tx
	mustUpdate(t, s, func(tx *Tx) error { late = tx; return tx.PutSearch(Search{Name: "a"}) })
	if _, err := late.Searches(); !errors.Is(err, errTxDone) {
		t.Errorf("Searches after the transaction: %v", err)
	}
	if err := late.PutTrial("a", Trial{ID: 1}); !errors.Is(err, errTxDone) || errors.Is(err, ErrDamaged) {
		t.Errorf("PutTrial after the transaction: %v", err)
	}
}

func TestNonFiniteValues(t *testing.T) {
	s, _ := tempStore(t)
	m := metrics(1)
	m.Loss, m.Accuracy, m.StepTime.P90 = math.NaN(), math.Inf(-1), math.Inf(1)
	m.Extra["grad_norm"] = math.NaN()
	in := Trial{ID: 1, Status: StatusFailed, Metrics: m, Reward: math.NaN()}
	mustUpdate(t, s, func(tx *Tx) error {
		if err := tx.PutSearch(Search{Name: "a", Baseline: m}); err != nil {
			return err
		}
		return tx.PutTrial("a", in)
	})
	mustView(t, s, func(tx *Tx) error {
		got, err := tx.Trial("a", 1)
		if err != nil {
			return err
		}
		g := got.Metrics
		if !math.IsNaN(got.Reward) || !math.IsNaN(g.Loss) || !math.IsInf(g.Accuracy, -1) ||
			!math.IsInf(g.StepTime.P90, 1) || !math.IsNaN(g.Extra["grad_norm"]) || g.Extra["val_top5"] != 0.95 {
			t.Errorf("non-finite values lost: %+v %+v", got, g)
		}
		// Apart from the NaNs, the trial is the same.
		got.Reward, g.Loss, g.Extra["grad_norm"] = 0, 0, 0
		want := in
		wm := *in.Metrics
		wm.Extra = map[string]float64{"val_top5": 0.95, "peak_rss_mb": 812, "grad_norm": 0}
		wm.Loss = 0
		want.Metrics, want.Reward = &wm, 0
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		return nil
	})
}

func TestUpdateRollsBack(t *testing.T) {
	s, path := tempStore(t)
	mustUpdate(t, s, func(tx *Tx) error {
		if err := tx.PutSearch(Search{Name: "a", Note: "before"}); err != nil {
			return err
		}
		return tx.PutTrial("a", Trial{ID: 1})
	})
	before, _ := os.ReadFile(path)
	snapshot := func() (Search, []Trial, []byte) {
		var sr Search
		var tr []Trial
		var st []byte
		mustView(t, s, func(tx *Tx) (err error) {
			if sr, err = tx.Search("a"); err != nil {
				return err
			}
			if tr, err = tx.Trials("a"); err != nil {
				return err
			}
			st, err = tx.ControllerState("a")
			return err
		})
		return sr, tr, st
	}
	s0, t0, c0 := snapshot()
	mutate := func(tx *Tx) {
		for _, err := range []error{
			tx.PutSearch(Search{Name: "a", Note: "after"}),
			tx.PutTrial("a", Trial{ID: 2}),
			tx.PutControllerState("a", []byte("state")),
			tx.PutSearch(Search{Name: "b"}),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	boom := errors.New("boom")
	if err := s.Update(func(tx *Tx) error { mutate(tx); return boom }); !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	func() {
		defer func() {
			if r := recover(); r != "panic in fn" {
				t.Fatalf("recovered %v, want the function's panic", r)
			}
		}()
		_ = s.Update(func(tx *Tx) error { mutate(tx); panic("panic in fn") })
		t.Fatal("Update did not re-panic")
	}()
	s1, t1, c1 := snapshot()
	if !reflect.DeepEqual(s0, s1) || !reflect.DeepEqual(t0, t1) || !bytes.Equal(c0, c1) {
		t.Fatalf("state changed: %+v %+v %q", s1, t1, c1)
	}
	mustView(t, s, func(tx *Tx) error {
		if _, err := tx.Search("b"); !errors.Is(err, ErrNotFound) {
			t.Errorf("search b survived a rollback: %v", err)
		}
		return nil
	})
	// The store still works after the panic (the lock was released).
	r, err := OpenReadOnly(path, &Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mustView(t, r, func(*Tx) error { return nil })
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutTrial("a", Trial{ID: 2}) })
	if after, _ := os.ReadFile(path); bytes.Equal(before, after) {
		t.Error("file unchanged after a committed update")
	}
}

func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	_, err := OpenReadOnly(missing, nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("OpenReadOnly(missing) = %v, want os.ErrNotExist naming the path", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("OpenReadOnly created the file")
	}
	s, path := tempStore(t)
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutSearch(Search{Name: "a"}) })
	before, _ := os.ReadFile(path)
	r, err := OpenReadOnly(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Update(func(tx *Tx) error { return tx.PutSearch(Search{Name: "b"}) }); err == nil {
		t.Fatal("Update on a read-only store succeeded")
	}
	mustView(t, r, func(tx *Tx) error {
		if err := tx.PutSearch(Search{Name: "c"}); err == nil {
			t.Error("PutSearch in a View succeeded")
		}
		return nil
	})
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("read-only use changed the file")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.View(func(*Tx) error { return nil }); err == nil {
		t.Fatal("View after Close succeeded")
	}
}

func TestBestTrialAndDone(t *testing.T) {
	if _, ok := BestTrial(nil); ok {
		t.Fatal("BestTrial(nil) found one")
	}
	trials := []Trial{
		{ID: 1, Status: StatusDone, Reward: 0.5},
		{ID: 2, Status: StatusFailed, Reward: 0.9},
		{ID: 3, Status: StatusDone, Reward: math.NaN()},
		{ID: 5, Status: StatusDone, Reward: 0.7},
		{ID: 4, Status: StatusDone, Reward: 0.7},
		{ID: 6, Status: StatusRunning, Reward: 0.8},
	}
	best, ok := BestTrial(trials)
	if !ok || best.ID != 4 {
		t.Fatalf("BestTrial = %d, %v; want trial 4", best.ID, ok)
	}
	if _, ok := BestTrial(trials[1:3]); ok {
		t.Fatal("BestTrial picked a failed trial or a NaN reward")
	}
	for _, st := range []Status{StatusPending, StatusRunning, StatusFailed} {
		if (Trial{Status: st}).Done() || !st.Valid() {
			t.Errorf("status %s", st)
		}
	}
	if !(Trial{Status: StatusDone}).Done() || Status("bogus").Valid() {
		t.Error("Done/Valid")
	}
}

// boltFile makes a bbolt file at path, set up by fn.
func boltFile(t *testing.T, path string, fn func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if fn != nil {
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// bothOpens opens path with Open and OpenReadOnly, checks that neither
// changed the file and that errors name it.
func bothOpens(t *testing.T, path string) map[string]error {
	t.Helper()
	before, _ := os.ReadFile(path)
	errs := map[string]error{}
	_, errs["Open"] = Open(path, &Options{Timeout: time.Second})
	_, errs["OpenReadOnly"] = OpenReadOnly(path, &Options{Timeout: time.Second})
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("opening %s changed it", path)
	}
	for what, err := range errs {
		if err != nil && !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v does not name the file", what, err)
		}
	}
	return errs
}

func TestNotStore(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("these are notes, not a database\n"), 0o644)
	bigText := filepath.Join(dir, "big.txt")
	os.WriteFile(bigText, bytes.Repeat([]byte("a line of text\n"), 5000), 0o644)
	foreign := filepath.Join(dir, "foreign.db")
	boltFile(t, foreign, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("users"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	wrongFormat := filepath.Join(dir, "other.db")
	boltFile(t, wrongFormat, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		b.Put(keyFormat, []byte("someone/else"))
		return b.Put(keyVersion, []byte("1"))
	})
	for _, path := range []string{text, bigText, foreign, wrongFormat, dir} {
		for what, err := range bothOpens(t, path) {
			if !errors.Is(err, ErrNotStore) {
				t.Errorf("%s(%s) = %v, want ErrNotStore", what, filepath.Base(path), err)
			}
		}
	}
	// An empty bbolt database, or an empty file, becomes a store on Open;
	// OpenReadOnly refuses it (and leaves it alone).
	emptyBolt := filepath.Join(dir, "empty.db")
	boltFile(t, emptyBolt, nil)
	emptyFile := filepath.Join(dir, "empty")
	os.WriteFile(emptyFile, nil, 0o644)
	for _, path := range []string{emptyBolt, emptyFile} {
		if _, err := OpenReadOnly(path, nil); !errors.Is(err, ErrNotStore) {
			t.Errorf("OpenReadOnly(%s) = %v, want ErrNotStore", filepath.Base(path), err)
		}
		s, err := Open(path, nil)
		if err != nil {
			t.Fatalf("Open(%s): %v", filepath.Base(path), err)
		}
		mustUpdate(t, s, func(tx *Tx) error { return tx.PutSearch(Search{Name: "x"}) })
		if _, err := OpenReadOnly(path, nil); err != nil {
			t.Errorf("OpenReadOnly(%s) after Open: %v", filepath.Base(path), err)
		}
	}
}

func TestNewerSchema(t *testing.T) {
	s, path := tempStore(t)
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutSearch(Search{Name: "a"}) })
	db, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyVersion, []byte("99")) })
	db.Close()
	for what, err := range bothOpens(t, path) {
		if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "99") {
			t.Errorf("%s = %v, want ErrNewerSchema naming version 99", what, err)
		}
	}
	// A Store opened before the change refuses too.
	if err := s.View(func(*Tx) error { return nil }); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("View on a newer schema = %v", err)
	}
	if err := s.Update(func(tx *Tx) error { return tx.PutSearch(Search{Name: "b"}) }); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("Update on a newer schema = %v", err)
	}
}

// damagedCopies writes damaged variants of a populated store.
func damagedCopies(t *testing.T) map[string]string {
	s, path := tempStore(t)
	mustUpdate(t, s, func(tx *Tx) error {
		for i := range 3 {
			name := string(rune('a' + i))
			if err := tx.PutSearch(fullSearch(name)); err != nil {
				return err
			}
			for id := 1; id <= 40; id++ {
				if err := tx.PutTrial(name, fullTrial(t, id)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("store of %d bytes", len(good))
	dir := t.TempDir()
	out := map[string]string{}
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out[name] = p
	}
	used := int(usedSize(t, path))
	for _, n := range []int{10, 100, 4096, 5000, 8192, 12288, used / 2, used - 4096} {
		write("truncated-"+strconv.Itoa(n), good[:n])
	}
	garbage := func(off, n int, seed uint64) []byte {
		d := bytes.Clone(good)
		r := rand.New(rand.NewPCG(seed, 0))
		for i := off; i < off+n && i < len(d); i++ {
			d[i] = byte(r.Uint32())
		}
		return d
	}
	write("garbage-meta0", garbage(0, 4096, 1))
	write("garbage-meta0-body", garbage(16, 100, 2)) // magic gone from page 0, page 1 intact
	write("garbage-metas", garbage(0, 8192, 3))
	write("garbage-checksums", garbage(32, 40, 4)) // both meta pages' fields, page 0
	write("garbage-pages", garbage(8192, len(good), 5))
	write("garbage-middle", garbage(len(good)/2, 8192, 6))
	for i := range 8 {
		write("garbage-random-"+strconv.Itoa(i), garbage(8192+i*4096, 4096, uint64(10+i)))
	}
	return out
}

func TestDamaged(t *testing.T) {
	for name, path := range damagedCopies(t) {
		errs := bothOpens(t, path) // must not panic
		for what, err := range errs {
			t.Logf("%s %s: %v", name, what, err)
			if err != nil && !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrNotStore) {
				t.Errorf("%s %s: %v, want ErrDamaged or ErrNotStore", name, what, err)
			}
		}
		if n, ok := strings.CutPrefix(name, "truncated-"); ok {
			// A truncation that keeps bbolt's magic number is damage, not a
			// foreign file.
			if size, _ := strconv.Atoi(n); size >= 100 {
				for what, err := range errs {
					if !errors.Is(err, ErrDamaged) {
						t.Errorf("%s %s: %v, want ErrDamaged", name, what, err)
					}
				}
			}
		}
		// Writing to what opened must not panic, and must not leave the
		// file locked when bbolt gives up on it.
		if errs["Open"] == nil {
			w, _ := Open(path, nil)
			err := w.Update(func(tx *Tx) error { return tx.PutTrial("a", Trial{ID: 99}) })
			t.Logf("%s: update: %v", name, err)
			if err != nil && !errors.Is(err, ErrDamaged) {
				t.Errorf("%s: update: %v, want nil or ErrDamaged", name, err)
			}
			r, err := OpenReadOnly(path, &Options{Timeout: 500 * time.Millisecond})
			if errors.Is(err, ErrLocked) {
				t.Errorf("%s: the failed update left the file locked: %v", name, err)
			} else if err == nil {
				err = r.View(func(*Tx) error { return nil })
				if errors.Is(err, ErrLocked) {
					t.Errorf("%s: the failed update left the file locked: %v", name, err)
				}
			}
		}
		// Reading everything from what opened must not panic either.
		if errs["OpenReadOnly"] == nil {
			r, _ := OpenReadOnly(path, nil)
			err := r.View(func(tx *Tx) error {
				all, err := tx.Searches()
				if err != nil {
					return err
				}
				for _, s := range all {
					if _, err := tx.Trials(s.Name); err != nil {
						return err
					}
				}
				return nil
			})
			t.Logf("%s: reading all: %v", name, err)
			if err != nil && !errors.Is(err, ErrDamaged) {
				t.Errorf("%s: reading all: %v, want nil or ErrDamaged", name, err)
			}
		}
	}
}

// A damaged freelist makes bbolt panic while a writer opens the file; the
// Update reports ErrDamaged and leaves the file unlocked.
func TestDamagedFreelistUnlocks(t *testing.T) {
	s, path := tempStore(t)
	mustUpdate(t, s, func(tx *Tx) error {
		if err := tx.PutSearch(fullSearch("a")); err != nil {
			return err
		}
		return tx.PutTrial("a", fullTrial(t, 1))
	})
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutTrial("a", fullTrial(t, 1)) }) // frees pages
	db, err := bolt.Open(path, 0o644, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	var freelist int
	db.View(func(tx *bolt.Tx) error {
		for id := 2; ; id++ {
			p, err := tx.Page(id)
			if err != nil || p == nil {
				return err
			}
			if p.Type == "freelist" {
				freelist = id
			}
		}
	})
	pageSize := db.Info().PageSize
	db.Close()
	if freelist == 0 {
		t.Skip("no freelist page found")
	}
	data, _ := os.ReadFile(path)
	for i := range pageSize {
		data[freelist*pageSize+i] = 0xA5
	}
	os.WriteFile(path, data, 0o644)

	err = s.Update(func(tx *Tx) error { return tx.PutTrial("a", Trial{ID: 2}) })
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("Update with a damaged freelist: %v, want ErrDamaged", err)
	}
	t.Log(err)
	r, err := OpenReadOnly(path, &Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("after the failed update: %v", err)
	}
	mustView(t, r, func(tx *Tx) error {
		_, err := tx.Trials("a")
		return err
	})
}

// Truncating a small store leaves pages that bbolt maps past the end of the
// file: reading them faults, which must come back as ErrDamaged.
func TestTruncatedSmallStore(t *testing.T) {
	s, path := tempStore(t)
	mustUpdate(t, s, func(tx *Tx) error {
		if err := tx.PutSearch(Search{Name: "a"}); err != nil {
			return err
		}
		return tx.PutTrial("a", Trial{ID: 1, Error: strings.Repeat("x", 5000)})
	})
	good, _ := os.ReadFile(path)
	used := usedSize(t, path)
	t.Logf("store of %d bytes, %d in use", len(good), used)
	for n := 8192; n < len(good); n += 4096 {
		p := filepath.Join(t.TempDir(), "t.db")
		os.WriteFile(p, good[:n], 0o644)
		r, err := OpenReadOnly(p, nil)
		if err == nil {
			err = r.View(func(tx *Tx) error { _, err := tx.Trials("a"); return err })
		}
		t.Logf("truncated to %d: %v", n, err)
		if int64(n) >= used {
			if err != nil {
				t.Errorf("truncated to %d of which %d in use: %v", n, used, err)
			}
		} else if !errors.Is(err, ErrDamaged) {
			t.Errorf("truncated to %d: %v, want ErrDamaged", n, err)
		}
	}
}

// usedSize is the size of the pages in use in a bbolt file; bbolt grows the
// file ahead, and the tail past this size is unused.
func usedSize(t *testing.T, path string) int64 {
	t.Helper()
	db, err := bolt.Open(path, 0o644, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var used int64
	db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
	return used
}
