package store

import (
	"fmt"

	"github.com/effnas/effnas/searchspace"
)

// ReadTrialArch reads the architecture of trial id (0: the best trial) of
// the search ReadSearch(path, name) finds (SearchTrials.TrialArch). The
// errors of reading the store are ReadSearch's, as they are; those of
// finding the trial and its architecture start with path.
func ReadTrialArch(path, name string, id int) (searchspace.Arch, error) {
	st, err := ReadSearch(path, name)
	if err != nil {
		return searchspace.Arch{}, err
	}
	a, err := st.TrialArch(id)
	if err != nil {
		return searchspace.Arch{}, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}
