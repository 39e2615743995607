package main

import (
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/effnas/effnas/report"
)

func TestSearchCommandsSynthetic(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	out, errs, code := nas(t, "search", "--evaluator", "synthetic", "--db", db, "--trials", "12", "--controller", "evolution", "--quiet")
	if code != 0 || !strings.Contains(out, "12 of 12 trials done") {
		t.Fatalf("search: exit %d\n%s\n%s", code, out, errs)
	}
	out, _, code = nas(t, "trials", "--db", db)
	if code != 0 || strings.Count(out, "\n") != 12+3 {
		t.Fatalf("trials: exit %d\n%s", code, out)
	}
	out, _, _ = nas(t, "trials", "--db", db, "--csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 13 || len(rows[0]) != len(report.TrialColumns()) || rows[1][0] != "1" || rows[1][1] != "done" {
		t.Fatalf("csv: %v rows %d: %v", err, len(rows), rows[:2])
	}
	out, _, _ = nas(t, "best", "--db", db, "--json")
	var best struct {
		ID     int     `json:"id"`
		Reward float64 `json:"reward"`
	}
	if err := json.Unmarshal([]byte(out), &best); err != nil || best.ID < 1 || best.Reward <= 0 {
		t.Fatalf("best: %v %+v", err, best)
	}
	for _, row := range rows[1:] {
		if r, _ := strconv.ParseFloat(row[3], 64); r > best.Reward {
			t.Fatalf("trial %s has reward %v above the best %v", row[0], r, best.Reward)
		}
	}
	if out, _, code := nas(t, "show", "3", "--db", db); code != 0 || !strings.HasPrefix(out, "trial 3 (done") {
		t.Fatalf("show: %d %s", code, out)
	}
	if _, errs, code := nas(t, "show", "99", "--db", db); code != 1 || !strings.Contains(errs, "has 12 trials") {
		t.Fatalf("show 99: %d %s", code, errs)
	}
	// A second search in the same file makes --name necessary.
	nas(t, "search", "--evaluator", "synthetic", "--db", db, "--trials", "3", "--name", "other", "--controller", "random", "--quiet")
	if _, errs, code := nas(t, "trials", "--db", db); code != 1 || !strings.Contains(errs, "choose one with --name") {
		t.Fatalf("ambiguous: %d %s", code, errs)
	}
	if _, errs, code := nas(t, "trials", "--db", filepath.Join(t.TempDir(), "none.db")); code != 1 || !strings.Contains(errs, "no such database") {
		t.Fatalf("missing db: %d %s", code, errs)
	}
	// An unknown evaluator is a usage error that names the known ones.
	if _, errs, code := nas(t, "search", "--evaluator", "bogus", "--db", db); code != 2 ||
		!strings.Contains(errs, `--evaluator: unknown evaluator "bogus": want synthetic or train`) || !strings.Contains(errs, "usage: nas search") {
		t.Fatalf("bogus evaluator: %d %s", code, errs)
	}
}

func TestCompareCommand(t *testing.T) {
	out, errs, code := nas(t, "compare", "--seeds", "2", "--trials", "20", "--controllers", "random,evolution")
	if code != 0 || strings.Count(out, "\n") != 4 || !strings.Contains(out, "| evolution |") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if _, errs, code := nas(t, "compare", "--controllers", "magic"); code != 2 || !strings.Contains(errs, "magic") {
		t.Fatalf("bad controller: %d %s", code, errs)
	}
}
