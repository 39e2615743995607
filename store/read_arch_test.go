package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/effnas/effnas/searchspace"
)

func TestReadTrialArch(t *testing.T) {
	s, path := tempStore(t)
	b0, err := searchspace.Reference("efficientnetv2-b0")
	if err != nil {
		t.Fatal(err)
	}
	named := b0.Clone()
	named.Name = "kept"
	unnamed := b0.Clone()
	unnamed.Name = ""
	mustUpdate(t, s, func(tx *Tx) error {
		if err := tx.PutSearch(Search{Name: "s", Trials: 2}); err != nil {
			return err
		}
		if err := tx.PutTrial("s", Trial{ID: 1, Status: StatusDone, Reward: 0.5, Arch: named}); err != nil {
			return err
		}
		return tx.PutTrial("s", Trial{ID: 2, Status: StatusDone, Reward: 0.7, Arch: unnamed})
	})
	if a, err := ReadTrialArch(path, "", 1); err != nil || a.Name != "kept" {
		t.Fatalf("trial 1: %q %v", a.Name, err)
	}
	// the best (highest reward) is trial 2, named for its id
	if a, err := ReadTrialArch(path, "s", 0); err != nil || a.Name != "trial-2" || len(a.Stages) != len(b0.Stages) {
		t.Fatalf("best: %q %v", a.Name, err)
	}
	if _, err := ReadTrialArch(path, "", 9); !errors.Is(err, ErrNotFound) || !strings.HasPrefix(err.Error(), path+": trial 9: ") {
		t.Fatalf("trial 9: %v", err)
	}
	if _, err := ReadTrialArch(path, "zz", 1); !errors.Is(err, ErrNotFound) || strings.HasPrefix(err.Error(), path+": ") {
		t.Fatalf("no such search: %v", err)
	}
	if _, err := ReadTrialArch(filepath.Join(t.TempDir(), "none.db"), "", 1); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("no such file: %v", err)
	}
}
