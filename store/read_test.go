package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/effnas/effnas/searchspace"
)

func TestReadHelpers(t *testing.T) {
	s, path := tempStore(t)
	// An empty store: nothing to pick.
	if _, err := ReadSearch(path, ""); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "holds no search") {
		t.Fatalf("empty store: %v", err)
	}
	if _, err := ReadSearches(path); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty store, all searches: %v", err)
	}
	mustUpdate(t, s, func(tx *Tx) error {
		if err := tx.PutSearch(Search{Name: "b", Trials: 2}); err != nil {
			return err
		}
		for id := 1; id <= 2; id++ {
			if err := tx.PutTrial("b", Trial{ID: id, Status: StatusDone, Reward: float64(id)}); err != nil {
				return err
			}
		}
		return nil
	})
	// One search: it is the one.
	got, err := ReadSearch(path, "")
	if err != nil || got.Search.Name != "b" || len(got.Trials) != 2 || got.Trials[1].Reward != 2 {
		t.Fatalf("only search: %+v %v", got, err)
	}
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutSearch(Search{Name: "a"}) })
	// Two: a name is needed, and the error lists them.
	_, err = ReadSearch(path, "")
	if !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), "holds 2 searches (a, b): choose one") {
		t.Fatalf("two searches: %v", err)
	}
	if got, err := ReadSearch(path, "a"); err != nil || got.Search.Name != "a" || len(got.Trials) != 0 {
		t.Fatalf("named: %+v %v", got, err)
	}
	if _, err := ReadSearch(path, "zz"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"zz"`) {
		t.Fatalf("missing search: %v", err)
	}
	// Several: in the order given, or all by name.
	runs, err := ReadSearches(path, "b", "a")
	if err != nil || len(runs) != 2 || runs[0].Search.Name != "b" || len(runs[0].Trials) != 2 || runs[1].Search.Name != "a" {
		t.Fatalf("named searches: %+v %v", runs, err)
	}
	runs, err = ReadSearches(path)
	if err != nil || len(runs) != 2 || runs[0].Search.Name != "a" || runs[1].Search.Name != "b" {
		t.Fatalf("all searches: %+v %v", runs, err)
	}
	if _, err := ReadSearches(path, "a", "zz"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("one missing: %v", err)
	}
	// A missing file is not created.
	none := filepath.Join(t.TempDir(), "none.db")
	if _, err := ReadSearch(none, ""); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := os.Stat(none); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("reading created the file")
	}
}

func TestTrialArch(t *testing.T) {
	b0, err := searchspace.Reference("efficientnetv2-b0")
	if err != nil {
		t.Fatal(err)
	}
	named := b0.Clone()
	named.Name = "mine"
	broken := b0.Clone()
	broken.Stages = nil
	st := SearchTrials{Search: Search{Name: "s"}, Trials: []Trial{
		{ID: 1, Status: StatusDone, Reward: 0.5, Arch: func() searchspace.Arch { a := b0.Clone(); a.Name = ""; return a }()},
		{ID: 2, Status: StatusDone, Reward: 0.7, Arch: named},
		{ID: 3, Status: StatusFailed, Arch: broken},
	}}
	if a, err := st.TrialArch(1); err != nil || a.Name != "trial-1" {
		t.Fatalf("trial 1: %q %v", a.Name, err)
	}
	if a, err := st.TrialArch(0); err != nil || a.Name != "mine" {
		t.Fatalf("best: %q %v", a.Name, err)
	}
	if _, err := st.TrialArch(3); err == nil || !strings.Contains(err.Error(), `search "s": trial 3:`) {
		t.Fatalf("invalid architecture: %v", err)
	}
	if _, err := st.TrialArch(9); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `trial 9: search "s" has 3 trials`) {
		t.Fatalf("missing trial: %v", err)
	}
	st.Trials = st.Trials[2:]
	if _, err := st.TrialArch(0); err == nil || !strings.Contains(err.Error(), "no finished trial yet") {
		t.Fatalf("no best trial: %v", err)
	}
}
