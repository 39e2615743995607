package console

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/effnas/effnas/report"
	"github.com/effnas/effnas/search"
	"github.com/effnas/effnas/store"
)

func TestWriteSearchSummary(t *testing.T) {
	var b bytes.Buffer
	WriteSearchSummary(&b, search.Summary{Name: "s", Done: 3, Failed: 1, Total: 10, Interrupted: true}, "x.db", 2600*time.Millisecond)
	if want := "search \"s\" in x.db: 3 of 10 trials done (1 failed), stopped, 3s this run\n"; b.String() != want {
		t.Fatalf("%q, want %q", b.String(), want)
	}
	best := store.Trial{ID: 2, Status: store.StatusDone, Attempts: 1, Reward: 0.75}
	var trial bytes.Buffer
	report.WriteTrial(&trial, best)
	b.Reset()
	WriteSearchSummary(&b, search.Summary{Name: "s", Done: 10, Total: 10, Best: &best}, "x.db", 0)
	head, rest, _ := strings.Cut(b.String(), "\n")
	if head != `search "s" in x.db: 10 of 10 trials done (0 failed), finished, 0s this run` || rest != trial.String() || rest == "" {
		t.Fatalf("%q", b.String())
	}
}
