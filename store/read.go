package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/effnas/effnas/searchspace"
)

// ErrAmbiguous is returned when a search is asked for without a name and
// the store holds several.
var ErrAmbiguous = errors.New("choose one")

// SearchTrials is a search record with its trials, read in one
// transaction.
type SearchTrials struct {
	Search Search
	Trials []Trial
}

// PickSearch returns the named search or, when name is "", the only search
// of the store. Without a name, an empty store gives an error wrapping
// ErrNotFound and a store of several searches one wrapping ErrAmbiguous
// that lists their names.
func (tx *Tx) PickSearch(name string) (Search, error) {
	if name != "" {
		return tx.Search(name)
	}
	all, err := tx.Searches()
	if err != nil {
		return Search{}, err
	}
	switch len(all) {
	case 0:
		return Search{}, fmt.Errorf("store %s holds no search: %w", tx.s.path, ErrNotFound)
	case 1:
		return all[0], nil
	}
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.Name
	}
	return Search{}, fmt.Errorf("store %s holds %d searches (%s): %w", tx.s.path, len(all), strings.Join(names, ", "), ErrAmbiguous)
}

// ReadSearch opens the store at path read-only and returns the search
// PickSearch(name) finds, with its trials. A missing file gives an error
// wrapping os.ErrNotExist.
func ReadSearch(path, name string) (SearchTrials, error) {
	var out SearchTrials
	err := readOnly(path, func(tx *Tx) error {
		var err error
		if out.Search, err = tx.PickSearch(name); err != nil {
			return err
		}
		out.Trials, err = tx.Trials(out.Search.Name)
		return err
	})
	return out, err
}

// ReadSearches opens the store at path read-only and returns the named
// searches with their trials, in the order given, or every search (sorted
// by name) when no name is given; a store without any search then gives an
// error wrapping ErrNotFound.
func ReadSearches(path string, names ...string) ([]SearchTrials, error) {
	var out []SearchTrials
	err := readOnly(path, func(tx *Tx) error {
		var recs []Search
		for _, n := range names {
			rec, err := tx.Search(n)
			if err != nil {
				return err
			}
			recs = append(recs, rec)
		}
		if len(names) == 0 {
			var err error
			if recs, err = tx.Searches(); err != nil {
				return err
			}
			if len(recs) == 0 {
				return fmt.Errorf("store %s holds no search: %w", tx.s.path, ErrNotFound)
			}
		}
		for _, rec := range recs {
			trials, err := tx.Trials(rec.Name)
			if err != nil {
				return err
			}
			out = append(out, SearchTrials{Search: rec, Trials: trials})
		}
		return nil
	})
	return out, err
}

// readOnly runs fn in one read-only transaction of the store at path.
func readOnly(path string, fn func(*Tx) error) error {
	st, err := OpenReadOnly(path, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.View(fn)
}

// Trial returns trial id of the search, or its best trial (BestTrial) when
// id is 0.
func (st SearchTrials) Trial(id int) (Trial, error) {
	if id == 0 {
		t, ok := BestTrial(st.Trials)
		if !ok {
			return Trial{}, fmt.Errorf("search %q: no finished trial yet", st.Search.Name)
		}
		return t, nil
	}
	for _, t := range st.Trials {
		if t.ID == id {
			return t, nil
		}
	}
	return Trial{}, fmt.Errorf("trial %d: search %q has %d trials: %w", id, st.Search.Name, len(st.Trials), ErrNotFound)
}

// TrialArch returns the architecture of Trial(id) (the best trial when id
// is 0), named "trial-ID" when it has no name, after validating it.
func (st SearchTrials) TrialArch(id int) (searchspace.Arch, error) {
	t, err := st.Trial(id)
	if err != nil {
		return searchspace.Arch{}, err
	}
	a := t.Arch.Clone()
	if a.Name == "" {
		a.Name = fmt.Sprintf("trial-%d", t.ID)
	}
	if err := a.Validate(); err != nil {
		return searchspace.Arch{}, fmt.Errorf("search %q: trial %d: %w", st.Search.Name, t.ID, err)
	}
	return a, nil
}
