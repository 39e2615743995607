package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/report"
	"github.com/effnas/effnas/reward"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
)

// resultsDB writes a database with searches "a" (40 trials) and "b" (25
// trials, the last pending) with made-up metrics, and returns its path and
// the trials of "a".
func resultsDB(t *testing.T) (string, []store.Trial) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.db")
	st, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sp := searchspace.DefaultSpace()
	rs := reward.EfficientNetV2(0.4, 7e6)
	rsDoc, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	var trialsA []store.Trial
	for k, name := range []string{"a", "b"} {
		n := 40 - 15*k
		r := rand.New(rand.NewPCG(uint64(k), 1))
		rec := store.Search{Name: name, Controller: []string{"rl", "random"}[k], Seed: uint64(k + 1), Trials: n, Space: sp,
			Reward: rsDoc, Host: measure.Host{CPU: "test", Cores: 2}, Status: store.SearchFinished,
			Baseline: &measure.Metrics{Accuracy: 0.7, StepTime: measure.StepStats{Median: 0.4}, Params: 7e6}}
		err := st.Update(func(tx *store.Tx) error {
			if err := tx.PutSearch(rec); err != nil {
				return err
			}
			for i := 1; i <= n; i++ {
				d := sp.Sample(r)
				a, err := sp.Decode(d)
				if err != nil {
					return err
				}
				a.Name = name + "-" + strconv.Itoa(i)
				params := 3e6 + 8e6*r.Float64()
				m := &measure.Metrics{Accuracy: 0.5 + params/3e7 + 0.1*r.Float64(), StepTime: measure.StepStats{Median: 0.1 + params/3e7 + 0.1*r.Float64()},
					Params: int64(params), MACs: int64(params) * 70}
				tr := store.Trial{ID: i, Decisions: d, Arch: a, Status: store.StatusDone, Attempts: 1, Metrics: m}
				if tr.Reward, err = rs.Score(*m); err != nil {
					return err
				}
				if name == "b" && i == n {
					tr.Status, tr.Metrics, tr.Reward = store.StatusPending, nil, 0
				}
				if err := tx.PutTrial(name, tr); err != nil {
					return err
				}
			}
			if name == "a" {
				trialsA, err = tx.Trials("a")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return path, trialsA
}

func TestPlotCommands(t *testing.T) {
	db, _ := resultsDB(t)
	dir := t.TempDir()
	fam := filepath.Join(dir, "family.json")
	os.WriteFile(fam, []byte(`{"format": "effnas/family", "version": 1, "points": [
		{"name": "x-s", "family": "x", "params": 5000000, "step_time": 0.08, "accuracy": 0.91},
		{"name": "x-m", "family": "x", "params": 12000000, "step_time": 0.17, "accuracy": 0.93},
		{"name": "ref", "params": 9000000, "step_time": 0.1, "accuracy": 0.92, "reference": true}]}`), 0o644)
	for _, c := range []struct {
		args []string
		out  string
	}{
		{[]string{"plot", "pareto", "--db", db, "--name", "a"}, "p.png"},
		{[]string{"plot", "pareto", "--db", db, "--name", "b", "--x", "params"}, "p.svg"},
		{[]string{"plot", "progress", "--db", db}, "all.png"},
		{[]string{"plot", "progress", "--db", db, "--name", "b", "--name", "a"}, "two.svg"},
		{[]string{"plot", "family", fam}, "f.png"},
	} {
		p := filepath.Join(dir, c.out)
		out, errs, code := nas(t, append(c.args, "-o", p)...)
		if code != 0 || !strings.HasPrefix(out, "wrote "+p) {
			t.Fatalf("%v: exit %d %q %q", c.args, code, out, errs)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, ".png") && !strings.HasPrefix(string(data), "\x89PNG") ||
			strings.HasSuffix(p, ".svg") && !strings.Contains(string(data[:min(len(data), 500)]), "<svg") {
			t.Fatalf("%s: not an image: %.40q", p, data)
		}
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"plot", "pareto", "--db", db, "--name", "a"}, 2, "missing -o"},
		{[]string{"plot", "pareto", "--db", db, "--name", "a", "-o", "x.gif"}, 2, ".png or .svg"},
		{[]string{"plot", "pareto", "--db", db, "-o", "x.png"}, 1, "choose one with --name"},
		{[]string{"plot", "pareto", "--db", db, "--name", "a", "--name", "b", "-o", "x.png"}, 2, "give --name once"},
		{[]string{"plot", "pareto", "--db", db, "--name", "a", "--x", "macs", "-o", "x.png"}, 2, "want time or params"},
		{[]string{"plot", "histogram", "-o", "x.png"}, 2, "unknown plot"},
		{[]string{"plot", "progress", "--db", db, "--name", "zz", "-o", "x.png"}, 1, "zz"},
		{[]string{"plot", "family", "-o", "x.png"}, 2, "FAMILY.json"},
	} {
		_, errs, code := nas(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d %q, want %d %q", c.args, code, errs, c.code, c.msg)
		}
	}
}

func TestExportCommand(t *testing.T) {
	db, trials := resultsDB(t)
	dir := t.TempDir()
	best, _ := store.BestTrial(trials)
	p := filepath.Join(dir, "best.json")
	if _, errs, code := nas(t, "export", "--db", db, "--name", "a", "--best", "-o", p); code != 0 {
		t.Fatalf("export: %s", errs)
	}
	// the file is an ARCH for every command, and decodes to the same
	// architecture
	a, err := loadArch(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, best.Arch) {
		t.Fatalf("exported architecture differs:\n%+v\n%+v", a, best.Arch)
	}
	out, errs, code := nas(t, "describe", p)
	if code != 0 || !strings.Contains(out, best.Arch.BlockStrings()[5]) {
		t.Fatalf("describe exported: exit %d %s %s", code, out, errs)
	}
	var doc struct {
		Format     string
		Version    int
		Reward     float64
		Metrics    measure.Metrics
		Provenance report.Provenance
	}
	data, _ := os.ReadFile(p)
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	pv := doc.Provenance
	rs, err := reward.DecodeSettings(pv.Reward)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Format != "effnas/export" || doc.Version != 1 || doc.Reward != best.Reward || pv.Search != "a" || pv.Trial != best.ID ||
		pv.Seed != 1 || pv.Controller != "rl" || pv.HostFingerprint != (measure.Host{CPU: "test", Cores: 2}).Fingerprint() ||
		pv.Database != db || pv.ExportedAt.IsZero() || rs.Time.Ref != 0.4 || doc.Metrics.Params != best.Metrics.Params {
		t.Fatalf("export document:\n%s", data)
	}

	out, _, code = nas(t, "export", "--db", db, "--name", "a", "--trial", "7")
	var one report.Export
	if code != 0 || json.Unmarshal([]byte(out), &one) != nil || one.Provenance.Trial != 7 || !reflect.DeepEqual(one.Arch, trials[6].Arch) {
		t.Fatalf("--trial 7: exit %d\n%s", code, out)
	}

	out, _, code = nas(t, "export", "--db", db, "--name", "a", "--pareto")
	var list report.ExportList
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || list.Format != "effnas/export-list" || list.Version != 1 {
		t.Fatalf("--pareto: exit %d\n%.300s", code, out)
	}
	front := report.Front3(trials)
	if len(list.Items) != len(front) || len(front) == 0 {
		t.Fatalf("%d items, front of %d", len(list.Items), len(front))
	}
	for i, it := range list.Items {
		if it.Provenance.Trial != front[i].ID || !reflect.DeepEqual(it.Arch, front[i].Arch) {
			t.Fatalf("item %d: trial %d, want %d", i, it.Provenance.Trial, front[i].ID)
		}
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"export", "--db", db, "--name", "a"}, 2, "exactly one of"},
		{[]string{"export", "--db", db, "--name", "a", "--best", "--pareto"}, 2, "exactly one of"},
		{[]string{"export", "--db", db, "--name", "a", "--trial", "99"}, 1, "trial 99"},
		{[]string{"export", "--db", filepath.Join(dir, "none.db"), "--best"}, 1, "no such database"},
	} {
		_, errs, code := nas(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d %q, want %d %q", c.args, code, errs, c.code, c.msg)
		}
	}
}

func TestReportCommand(t *testing.T) {
	db, trials := resultsDB(t)
	dir := filepath.Join(t.TempDir(), "results", "a")
	out, errs, code := nas(t, "report", "--db", db, "--name", "a", "-o", dir)
	if code != 0 || !strings.Contains(out, "README.md") {
		t.Fatalf("exit %d %q %q", code, out, errs)
	}
	for _, f := range []string{"README.md", "pareto-time.png", "pareto-params.png", "progress.png", "best.json"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	best, _ := store.BestTrial(trials)
	if !strings.Contains(string(md), "## Best trials") || !strings.Contains(string(md), "## Pareto front") ||
		!strings.Contains(string(md), "| 1 | "+strconv.Itoa(best.ID)+" | ") {
		t.Fatalf("README:\n%s", md)
	}
	if a, err := loadArch(filepath.Join(dir, "best.json")); err != nil || !reflect.DeepEqual(a, best.Arch) {
		t.Fatalf("best.json: %v", err)
	}
	if _, errs, code := nas(t, "report", "--db", db, "--name", "a"); code != 2 || !strings.Contains(errs, "missing -o") {
		t.Fatalf("no -o: %d %q", code, errs)
	}
}
