package report

import (
	"testing"
	"time"

	"github.com/effnas/effnas/store"
)

func TestExportTrial(t *testing.T) {
	rec, trials := synthetic(t, "s", 12, 3)
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	best, _ := store.BestTrial(trials)
	for _, id := range []int{0, 1, 7, 12} {
		e, err := ExportTrial(rec, trials, id, "x.db", now)
		want := id
		if id == 0 {
			want = best.ID
		}
		if err != nil || e.Provenance.Trial != want || e.Provenance.Database != "x.db" || e.Arch.Name != trials[want-1].Arch.Name {
			t.Errorf("trial %d: exported trial %d (%v), want %d", id, e.Provenance.Trial, err, want)
		}
	}
	if _, err := ExportTrial(rec, trials, 13, "x.db", now); err == nil || err.Error() != `trial 13: search "s" has 12 trials` {
		t.Errorf("trial 13: %v", err)
	}
	if _, err := ExportTrial(rec, nil, 0, "x.db", now); err == nil || err.Error() != `search "s": no finished trial yet` {
		t.Errorf("best of none: %v", err)
	}
}
