package report

import (
	"fmt"
	"time"

	"github.com/effnas/effnas/store"
)

// ExportTrial exports one trial of search s (see NewExport): the one with
// id, or with id 0 the best (store.BestTrial). It is an error when there
// is no such trial, or no finished one for the best.
func ExportTrial(s store.Search, trials []store.Trial, id int, database string, now time.Time) (Export, error) {
	if id == 0 {
		t, ok := store.BestTrial(trials)
		if !ok {
			return Export{}, fmt.Errorf("search %q: no finished trial yet", s.Name)
		}
		return NewExport(s, t, database, now), nil
	}
	for _, t := range trials {
		if t.ID == id {
			return NewExport(s, t, database, now), nil
		}
	}
	return Export{}, fmt.Errorf("trial %d: search %q has %d trials", id, s.Name, len(trials))
}
