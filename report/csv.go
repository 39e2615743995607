package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/store"
)

// Column is one column of a CSV table: its header and what it holds.
type Column struct {
	Name, Doc string
}

var trialColumns = []Column{
	{"id", "trial id"},
	{"status", "pending, running, done or failed"},
	{"attempts", "evaluations started"},
	{"reward", "the reward"},
	{"accuracy", "validation accuracy, 0-1"},
	{"step_ms_median", "training step time in milliseconds: median"},
	{"step_ms_p10", "10th percentile"},
	{"step_ms_p90", "90th percentile"},
	{"params", "trainable parameters"},
	{"macs", "multiply-adds per image"},
	{"image_size", "training image size"},
	{"batch", "training batch size"},
	{"steps", "training steps"},
	{"wall_s", "seconds of the whole evaluation"},
	{"blocks", "official block strings joined by spaces"},
	{"decisions", "option indices joined by spaces"},
	{"error", "the last failure"},
}

// TrialColumns returns the columns WriteTrialsCSV writes, in order.
func TrialColumns() []Column { return append([]Column(nil), trialColumns...) }

// TrialColumnsDoc lists the columns of WriteTrialsCSV, one a line, for a
// help text.
func TrialColumnsDoc() string {
	var b strings.Builder
	for _, c := range trialColumns {
		fmt.Fprintf(&b, "  %-15s %s\n", c.Name, c.Doc)
	}
	return b.String()
}

// WriteTrialsCSV writes trials as CSV: a header of TrialColumns, then a row
// a trial. Figures keep the stored units except step times (ms); a trial
// without metrics has zeros. Floats are written in the shortest form that
// reads back exactly ("NaN" and "+Inf" for non-finite ones).
func WriteTrialsCSV(w io.Writer, trials []store.Trial) error {
	cw := csv.NewWriter(w)
	header := make([]string, len(trialColumns))
	for i, c := range trialColumns {
		header[i] = c.Name
	}
	cw.Write(header)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, t := range trials {
		m := t.Metrics
		if m == nil {
			m = &measure.Metrics{}
		}
		dec := make([]string, len(t.Decisions))
		for i, d := range t.Decisions {
			dec[i] = strconv.Itoa(d)
		}
		cw.Write([]string{strconv.Itoa(t.ID), string(t.Status), strconv.Itoa(t.Attempts), f(t.Reward), f(m.Accuracy),
			f(m.StepTime.Median * 1e3), f(m.StepTime.P10 * 1e3), f(m.StepTime.P90 * 1e3), strconv.FormatInt(m.Params, 10),
			strconv.FormatInt(m.MACs, 10), strconv.Itoa(m.ImageSize), strconv.Itoa(m.Batch), strconv.Itoa(m.Steps), f(m.WallTime),
			strings.Join(t.Arch.BlockStrings(), " "), strings.Join(dec, " "), t.Error})
	}
	cw.Flush()
	return cw.Error()
}
