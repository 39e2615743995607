package console

import (
	"fmt"
	"io"
	"time"

	"github.com/effnas/effnas/report"
	"github.com/effnas/effnas/search"
)

// WriteSearchSummary writes what a search run did: one line with its
// trials and whether it finished or was stopped, the run's time rounded
// to the second, then the best trial so far (report.WriteTrial), if any.
func WriteSearchSummary(w io.Writer, sum search.Summary, db string, elapsed time.Duration) error {
	state := "finished"
	if sum.Interrupted {
		state = "stopped"
	}
	if _, err := fmt.Fprintf(w, "search %q in %s: %d of %d trials done (%d failed), %s, %s this run\n", sum.Name, db, sum.Done, sum.Total,
		sum.Failed, state, elapsed.Round(time.Second)); err != nil || sum.Best == nil {
		return err
	}
	return report.WriteTrial(w, *sum.Best)
}
