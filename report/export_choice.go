package report

import (
	"time"

	"github.com/effnas/effnas/store"
)

// ExportChosen is the document "nas export" writes of search s: with
// front, an ExportList of every trial on the (accuracy, step time, params)
// front (Front3); else the Export of trial id, or of the best with id 0
// (ExportTrial).
func ExportChosen(s store.Search, trials []store.Trial, id int, front bool, database string, now time.Time) (any, error) {
	if front {
		return NewExportList(s, Front3(trials), database, now), nil
	}
	return ExportTrial(s, trials, id, database, now)
}
