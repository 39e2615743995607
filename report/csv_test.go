package report

import (
	"bytes"
	"encoding/csv"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/effnas/effnas/store"
)

func TestWriteTrialsCSV(t *testing.T) {
	_, trials := synthetic(t, "s", 3, 1)
	trials[2].Status, trials[2].Metrics, trials[2].Reward, trials[2].Error = store.StatusFailed, nil, math.NaN(), "loss is NaN, twice"
	var b bytes.Buffer
	if err := WriteTrialsCSV(&b, trials); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows", len(rows))
	}
	col := map[string]int{}
	for i, c := range TrialColumns() {
		if rows[0][i] != c.Name {
			t.Fatalf("header %v", rows[0])
		}
		col[c.Name] = i
	}
	for i, tr := range trials[:2] {
		r, m := rows[i+1], tr.Metrics
		num := func(name string) float64 {
			v, err := strconv.ParseFloat(r[col[name]], 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return v
		}
		if r[col["id"]] != strconv.Itoa(tr.ID) || r[col["status"]] != "done" || num("reward") != tr.Reward ||
			num("accuracy") != m.Accuracy || num("step_ms_median") != m.StepTime.Median*1e3 || num("step_ms_p90") != m.StepTime.P90*1e3 ||
			num("params") != float64(m.Params) || num("macs") != float64(m.MACs) || num("wall_s") != m.WallTime ||
			r[col["blocks"]] != strings.Join(tr.Arch.BlockStrings(), " ") || len(strings.Fields(r[col["decisions"]])) != len(tr.Decisions) {
			t.Errorf("row %v for trial %+v", r, tr)
		}
	}
	failed := rows[3]
	if failed[col["status"]] != "failed" || failed[col["reward"]] != "NaN" || failed[col["accuracy"]] != "0" ||
		failed[col["error"]] != "loss is NaN, twice" {
		t.Errorf("failed trial row %v", failed)
	}
	if doc := TrialColumnsDoc(); strings.Count(doc, "\n") != len(TrialColumns()) || !strings.Contains(doc, "step_ms_p10") {
		t.Errorf("column doc:\n%s", doc)
	}
}
