package report

import (
	"reflect"
	"testing"
	"time"
)

func TestExportChosen(t *testing.T) {
	rec, trials := synthetic(t, "s", 20, 5)
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	doc, err := ExportChosen(rec, trials, 0, true, "x.db", now)
	if err != nil {
		t.Fatal(err)
	}
	if want := NewExportList(rec, Front3(trials), "x.db", now); !reflect.DeepEqual(doc, want) {
		t.Errorf("front: %T, want the list of the %d trials of Front3", doc, len(Front3(trials)))
	}
	for _, id := range []int{0, 4} {
		doc, err := ExportChosen(rec, trials, id, false, "x.db", now)
		want, werr := ExportTrial(rec, trials, id, "x.db", now)
		if err != nil || werr != nil || !reflect.DeepEqual(doc, want) {
			t.Errorf("trial %d: %T %v, want ExportTrial's", id, doc, err)
		}
	}
	if _, err := ExportChosen(rec, trials, 21, false, "x.db", now); err == nil {
		t.Error("trial 21 of 20: no error")
	}
}
