package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/effnas/effnas/store"
)

// plotDB writes searches "a" (12 trials) and "b" (7) into a new database.
func plotDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i, n := range []int{12, 7} {
		rec, trials := synthetic(t, string(rune('a'+i)), n, uint64(i+1))
		err := st.Update(func(tx *store.Tx) error {
			if err := tx.PutSearch(rec); err != nil {
				return err
			}
			for _, tr := range trials {
				if err := tx.PutTrial(rec.Name, tr); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestPlotKinds(t *testing.T) {
	db, dir := plotDB(t), t.TempDir()
	fam := filepath.Join(dir, "fam.json")
	if err := os.WriteFile(fam, []byte(`[{"name": "x", "params": 1000, "step_time_ms": 27.5, "accuracy": 0.5},
		{"name": "y", "params": 2000, "accuracy": 0.6}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	rec, trials := synthetic(t, "a", 12, 1)
	front := len(Pareto(rec, trials, StepTime).Front)
	for _, c := range []struct {
		r    PlotRequest
		want string
	}{
		{PlotRequest{Kind: "pareto", Names: []string{"a"}, Cost: "time", Out: "p.svg"}, fmt.Sprintf(`search "a": 12 trials plotted, %d on the front`, front)},
		{PlotRequest{Kind: "pareto", Names: []string{"b"}, Cost: "params", Out: "p.png"}, `search "b": 7 trials plotted, `},
		{PlotRequest{Kind: "progress", Out: "all.svg"}, "2 searches"},
		{PlotRequest{Kind: "progress", Names: []string{"b"}, Out: "b.png"}, `search "b"`},
		{PlotRequest{Kind: "family", Args: []string{fam}, Out: "f.svg"}, "2 models"},
	} {
		c.r.Database, c.r.Out = db, filepath.Join(dir, c.r.Out)
		what, err := Plot(c.r)
		if err != nil || !strings.HasPrefix(what, c.want) {
			t.Errorf("%+v: %q, %v; want %q", c.r, what, err, c.want)
			continue
		}
		data, err := os.ReadFile(c.r.Out)
		if err != nil {
			t.Fatal(err)
		}
		checkImage(t, c.r.Kind, strings.TrimPrefix(filepath.Ext(c.r.Out), "."), data)
	}
}

func TestPlotRequestErrors(t *testing.T) {
	db, dir := plotDB(t), t.TempDir()
	out := filepath.Join(dir, "x.png")
	for _, c := range []struct {
		r   PlotRequest
		msg string
	}{
		{PlotRequest{Kind: "pareto", Names: []string{"a"}}, "missing -o FILE.png or FILE.svg"},
		{PlotRequest{Kind: "pareto", Names: []string{"a"}, Out: "x.gif"}, "-o "},
		{PlotRequest{Kind: "pareto", Args: []string{"z"}, Out: out}, `unexpected argument "z"`},
		{PlotRequest{Kind: "progress", Args: []string{"z"}, Out: out}, `unexpected argument "z"`},
		{PlotRequest{Kind: "pareto", Names: []string{"a", "b"}, Out: out}, "pareto plots one search: give --name once"},
		{PlotRequest{Kind: "pareto", Names: []string{"a"}, Cost: "macs", Out: out}, "--x "},
		{PlotRequest{Kind: "family", Out: out}, "family takes one FAMILY.json file"},
		{PlotRequest{Kind: "histogram", Out: out}, `unknown plot "histogram": want pareto, progress or family`},
	} {
		c.r.Database = db
		_, err := Plot(c.r)
		var pe *PlotArgError
		if !errors.As(err, &pe) || !strings.HasPrefix(pe.Msg, c.msg) {
			t.Errorf("%+v: %v, want a PlotArgError %q", c.r, err, c.msg)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused request wrote %s", out)
	}
}

func TestPlotHintsDatabaseErrors(t *testing.T) {
	db, dir := plotDB(t), t.TempDir()
	hinted := errors.New("hinted")
	hint := func(err error) error { return fmt.Errorf("%w: %w", hinted, err) }
	out := filepath.Join(dir, "x.png")
	for _, c := range []struct {
		r    PlotRequest
		hint bool
	}{
		{PlotRequest{Kind: "pareto", Database: filepath.Join(dir, "none.db")}, true},
		{PlotRequest{Kind: "pareto", Database: db}, true}, // two searches: ambiguous
		{PlotRequest{Kind: "progress", Database: db, Names: []string{"zz"}}, true},
		{PlotRequest{Kind: "family", Args: []string{filepath.Join(dir, "none.json")}}, false},
	} {
		c.r.Out, c.r.Hint, c.r.Cost = out, hint, "time"
		_, err := Plot(c.r)
		if err == nil || errors.Is(err, hinted) != c.hint {
			t.Errorf("%+v: %v, hinted %v", c.r, err, c.hint)
		}
		var pe *PlotArgError
		if errors.As(err, &pe) {
			t.Errorf("%+v: %v is a PlotArgError", c.r, err)
		}
	}
}
