package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/reward"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
	"github.com/effnas/effnas/version"
)

// synthetic returns a search record and n done trials with made-up metrics
// (accuracy grows with size, with noise), in ID order.
func synthetic(t testing.TB, name string, n int, seed uint64) (store.Search, []store.Trial) {
	t.Helper()
	sp := searchspace.DefaultSpace()
	r := rand.New(rand.NewPCG(seed, 7))
	s0, p0 := 0.5, 7e6
	rs := reward.EfficientNetV2(s0, p0)
	rsDoc, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	rec := store.Search{Name: name, Controller: "random", Seed: seed, Trials: n, Parallel: 1, Space: sp, Reward: rsDoc,
		Config: json.RawMessage(`{"evaluator":{"name":"test"}}`), Host: measure.Host{CPU: "test cpu", Cores: 2, Backend: "test"},
		Baseline: &measure.Metrics{StepTime: measure.StepStats{Median: s0}, Params: int64(p0)}, Status: store.SearchFinished,
		Created: time.Unix(1_700_000_000, 0).UTC(), Updated: time.Unix(1_700_003_600, 0).UTC()}
	trials := make([]store.Trial, n)
	for i := range trials {
		d := sp.Sample(r)
		a, err := sp.Decode(d)
		if err != nil {
			t.Fatal(err)
		}
		params := 2e6 + 10e6*r.Float64()
		step := 0.1 + params/2e7 + 0.2*r.Float64()
		acc := math.Min(0.99, 0.5+0.4*math.Log1p(params/3e6)/math.Log(5)-0.1*r.Float64())
		m := &measure.Metrics{Accuracy: acc, StepTime: measure.StepStats{Median: step, P10: step, P90: step, Count: 5},
			Params: int64(params), MACs: int64(params) * 80, WallTime: 1}
		score, err := rs.Score(*m)
		if err != nil {
			t.Fatal(err)
		}
		trials[i] = store.Trial{ID: i + 1, Decisions: d, Arch: a, Status: store.StatusDone, Attempts: 1, Metrics: m, Reward: score}
	}
	return rec, trials
}

// throughStore writes the records into a new database with store.Open and
// PutTrial and reads them back.
func throughStore(t testing.TB, rec store.Search, trials []store.Trial) (store.Search, []store.Trial) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Update(func(tx *store.Tx) error {
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
	err = st.View(func(tx *store.Tx) error {
		if rec, err = tx.Search(rec.Name); err != nil {
			return err
		}
		trials, err = tx.Trials(rec.Name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rec, trials
}

// bruteFront returns the ids of the trials that no other trial dominates in
// (accuracy max, cost min), by the definition.
func bruteFront(trials []store.Trial, cost Cost) []int {
	var ids []int
	for _, a := range trials {
		dominated := false
		for _, b := range trials {
			ab, ac := a.Metrics.Accuracy, cost.raw(a.Metrics)
			bb, bc := b.Metrics.Accuracy, cost.raw(b.Metrics)
			if bb >= ab && bc <= ac && (bb > ab || bc < ac) {
				dominated = true
				break
			}
		}
		if !dominated {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

func TestParetoFrontIsComputedFront(t *testing.T) {
	rec, trials := synthetic(t, "s", 400, 3)
	// a duplicate of a front point stays on the front, a failed trial and a
	// diverged one are left out
	trials = append(trials, store.Trial{ID: 401, Status: store.StatusFailed, Arch: trials[0].Arch})
	bad := trials[1]
	bad.ID, bad.Metrics = 402, &measure.Metrics{Accuracy: math.NaN(), StepTime: measure.StepStats{Median: 0.1}, Params: 1}
	trials = append(trials, bad)
	for _, cost := range []Cost{StepTime, Params} {
		d := Pareto(rec, trials, cost)
		if len(d.Points) != 400 || d.Skipped != 1 || d.Total != 402 {
			t.Fatalf("%v: %d points, %d skipped, %d total", cost, len(d.Points), d.Skipped, d.Total)
		}
		var got []int
		for i, p := range d.Front {
			got = append(got, p.ID)
			if i > 0 && (p.Cost < d.Front[i-1].Cost || p.Accuracy < d.Front[i-1].Accuracy) {
				t.Fatalf("%v: front not a staircase at %d: %+v after %+v", cost, i, p, d.Front[i-1])
			}
		}
		slices.Sort(got)
		want := bruteFront(trials[:400], cost)
		if !slices.Equal(got, want) || len(got) < 3 {
			t.Fatalf("%v: front %v, want %v", cost, got, want)
		}
		best, _ := store.BestTrial(trials)
		if d.Best == nil || d.Best.ID != best.ID {
			t.Fatalf("best %+v, want %d", d.Best, best.ID)
		}
		if d.Baseline == nil || d.Baseline.Accuracy != 0 {
			t.Fatalf("baseline %+v: want a timing-only mark", d.Baseline)
		}
		for _, p := range d.Front {
			tr := trials[p.ID-1]
			if p.Accuracy != 100*tr.Metrics.Accuracy || p.Cost != cost.Display(cost.raw(tr.Metrics)) {
				t.Fatalf("front point %+v does not show trial %d's metrics", p, tr.ID)
			}
		}
	}
}

func TestFront3(t *testing.T) {
	_, trials := synthetic(t, "s", 300, 5)
	var pts []reward.Point
	for _, tr := range trials {
		pts = append(pts, reward.Point{Objectives: []float64{tr.Metrics.Accuracy, tr.Metrics.StepTime.Median, float64(tr.Metrics.Params)}})
	}
	f := Front3(trials)
	if len(f) != len(reward.SearchDirections().NonDominated(pts)) || len(f) == 0 {
		t.Fatalf("front of %d", len(f))
	}
	for _, a := range f {
		for _, b := range trials {
			if reward.SearchDirections().Dominates(pts[b.ID-1], pts[a.ID-1]) {
				t.Fatalf("trial %d on the front is dominated by %d", a.ID, b.ID)
			}
		}
	}
}

func TestProgressHypervolume(t *testing.T) {
	rec, trials := synthetic(t, "a", 200, 9)
	rec2, trials2 := synthetic(t, "b", 150, 10)
	trials[10].Status, trials[10].Metrics = store.StatusFailed, nil
	d := Progress([]store.SearchTrials{{Search: rec, Trials: trials}, {Search: rec2, Trials: trials2}})
	if len(d.Series) != 2 || len(d.Series[0].Points) != 199 || len(d.Series[1].Points) != 150 {
		t.Fatalf("series %d", len(d.Series))
	}
	var maxStep, maxParams float64
	for _, tr := range slices.Concat(trials, trials2) {
		if tr.Metrics != nil {
			maxStep, maxParams = max(maxStep, tr.Metrics.StepTime.Median), max(maxParams, float64(tr.Metrics.Params))
		}
	}
	if d.Ref != (HypervolumeRef{0, 2 * maxStep, 2 * maxParams}) {
		t.Fatalf("ref %+v", d.Ref)
	}
	for k, run := range [][]store.Trial{trials, trials2} {
		s := d.Series[k]
		for i, p := range s.Points {
			if i > 0 && (p.Hypervolume < s.Points[i-1].Hypervolume || p.Best < s.Points[i-1].Best) {
				t.Fatalf("series %d not monotone at %d", k, i)
			}
		}
		// the incremental value equals the hypervolume of all the points
		var pts []reward.Point
		bestR := math.Inf(-1)
		for _, tr := range run {
			if tr.Done() {
				pts = append(pts, reward.Point{Objectives: []float64{tr.Metrics.Accuracy, tr.Metrics.StepTime.Median, float64(tr.Metrics.Params)}})
				bestR = max(bestR, tr.Reward)
			}
		}
		hv, err := reward.SearchDirections().Hypervolume(pts, []float64{0, d.Ref.StepTime, d.Ref.Params})
		if err != nil {
			t.Fatal(err)
		}
		last := s.Points[len(s.Points)-1]
		if want := hv / (d.Ref.StepTime * d.Ref.Params); math.Abs(last.Hypervolume-want) > 1e-12 || last.Best != bestR {
			t.Fatalf("series %d: final hypervolume %v best %v, want %v %v", k, last.Hypervolume, last.Best, want, bestR)
		}
	}
}

// checkImage checks that data is a decodable PNG or well-formed SVG.
func checkImage(t *testing.T, what, format string, data []byte) {
	t.Helper()
	if len(data) < 500 {
		t.Fatalf("%s: %d bytes", what, len(data))
	}
	switch format {
	case "png":
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 400 {
			t.Fatalf("%s: %v", what, b)
		}
	case "svg":
		dec := xml.NewDecoder(bytes.NewReader(data))
		root := ""
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if se, ok := tok.(xml.StartElement); ok && root == "" {
				root = se.Name.Local
			}
		}
		if root != "svg" {
			t.Fatalf("%s: root element %q", what, root)
		}
	}
}

func TestPlotsEmptyOneMany(t *testing.T) {
	for _, n := range []int{0, 1, 5000} {
		rec, trials := synthetic(t, "s", n, 1)
		rec, trials = throughStore(t, rec, trials)
		if len(trials) != n {
			t.Fatalf("%d trials back, want %d", len(trials), n)
		}
		start := time.Now()
		figs := map[string]*Figure{
			"pareto-time":   PlotPareto(rec, trials, StepTime),
			"pareto-params": PlotPareto(rec, trials, Params),
			"progress":      PlotProgress([]store.SearchTrials{{Search: rec, Trials: trials}}),
		}
		formats := []string{"png", "svg"}
		if n == 5000 && testing.Short() {
			formats = formats[:1]
		}
		for name, f := range figs {
			for _, format := range formats {
				var buf bytes.Buffer
				if err := f.WriteTo(&buf, format); err != nil {
					t.Fatal(err)
				}
				checkImage(t, name+"."+format, format, buf.Bytes())
			}
		}
		el := time.Since(start)
		t.Logf("%d trials: 3 plots in %d formats in %v", n, len(formats), el)
		if n == 5000 && el > 30*time.Second {
			t.Fatalf("5000 trials took %v", el)
		}
	}
}

func TestSaveChoosesFormat(t *testing.T) {
	rec, trials := synthetic(t, "s", 20, 2)
	dir := t.TempDir()
	f := PlotPareto(rec, trials, StepTime)
	for _, format := range []string{"png", "svg"} {
		p := filepath.Join(dir, "x."+strings.ToUpper(format))
		if err := f.Save(p); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(p)
		checkImage(t, p, format, data)
	}
	if err := f.Save(filepath.Join(dir, "x.gif")); err == nil || !strings.Contains(err.Error(), ".png or .svg") {
		t.Fatalf("gif: %v", err)
	}
}

func TestFamily(t *testing.T) {
	doc := `{"format": "effnas/family", "version": 1, "title": "t", "points": [
	  {"name": "a-s", "family": "a", "params": 5000000, "step_time": 0.08, "accuracy": 0.91},
	  {"name": "a-m", "family": "a", "params": 12000000, "step_time": 0.17, "accuracy": 0.93},
	  {"name": "ref-s", "params": 20000000, "step_time": 0.25, "accuracy": 0.92, "reference": true},
	  {"name": "ref-x", "params": 11000000, "accuracy": 0.9, "reference": true}]}`
	f, err := DecodeFamily([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Points) != 4 || !f.Points[2].Reference || f.Points[3].StepTime != 0 {
		t.Fatalf("%+v", f)
	}
	g := groupFamily(f.Points)
	if len(g) != 2 || g[0].name != "a" || g[1].name != "reference" || len(g[1].points) != 2 {
		t.Fatalf("groups %+v", g)
	}
	// "nas family --train -o" writes a bare array with step_time_ms
	arr, err := DecodeFamily([]byte(`[{"name": "x", "params": 1000, "macs": 5, "step_time_ms": 27.5, "accuracy": 0.5, "phi": 0},
		{"name": "y", "params": 2000, "accuracy": 0.6}]`))
	if err != nil || len(arr.Points) != 2 || arr.Points[0].StepTime != 0.0275 || arr.Points[1].StepTime != 0 {
		t.Fatalf("bare array: %v %+v", err, arr)
	}
	if g := groupFamily(arr.Points); len(g) != 1 || g[0].name != "family" {
		t.Fatalf("groups %+v", g)
	}
	for _, bad := range []string{`{"format": "x", "version": 1}`, `[{"name": "x", "params": 0, "accuracy": 0.5}]`,
		`[{"name": "x", "params": 5, "accuracy": 50}]`, `[{"name": "x", "params": 5, "accuracy": 0.5, "step_time": 0.1, "step_time_ms": 200}]`} {
		if _, err := DecodeFamily([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	for _, ff := range []Family{f, {}} {
		var buf bytes.Buffer
		if err := ff.Figure().WriteTo(&buf, "png"); err != nil {
			t.Fatal(err)
		}
		checkImage(t, "family", "png", buf.Bytes())
	}
}

func TestExportRoundTrip(t *testing.T) {
	rec, trials := synthetic(t, "s", 30, 4)
	rec, trials = throughStore(t, rec, trials)
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	best, _ := store.BestTrial(trials)
	data, err := Encode(NewExport(rec, best, "x.db", now))
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Format     string
		Version    int
		Arch       json.RawMessage
		Reward     float64
		Metrics    measure.Metrics
		Provenance Provenance
	}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	a, err := searchspace.DecodeArch(back.Arch)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, best.Arch) {
		t.Fatalf("arch differs:\n%+v\n%+v", a, best.Arch)
	}
	p := back.Provenance
	rs, err := reward.DecodeSettings(p.Reward)
	if err != nil {
		t.Fatal(err)
	}
	if back.Format != ExportFormat || back.Version != 1 || back.Reward != best.Reward || !reflect.DeepEqual(back.Metrics, *best.Metrics) ||
		p.Search != "s" || p.Trial != best.ID || p.Seed != 4 || p.Controller != "random" || p.HostFingerprint != rec.Host.Fingerprint() ||
		!p.ExportedAt.Equal(now) || rs.Time.Ref != 0.5 {
		t.Fatalf("export %s", data)
	}
	// a trial without a result exports its architecture and no reward
	pending := store.Trial{ID: 31, Arch: trials[0].Arch, Status: store.StatusPending, Reward: math.NaN()}
	if _, err := Encode(NewExport(rec, pending, "", now)); err != nil {
		t.Fatal(err)
	}
}

func TestWriteReport(t *testing.T) {
	rec, trials := synthetic(t, "my-search", 60, 6)
	rec, trials = throughStore(t, rec, trials)
	dir := filepath.Join(t.TempDir(), "results", "my-search")
	if err := WriteReport(dir, rec, trials, Options{Database: "/x/effnas.db"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ReadmeFile, ParetoTimeFile, ParetoParamsFile, ProgressFile, BestFile} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || len(data) == 0 {
			t.Fatalf("%s: %v", f, err)
		}
		if strings.HasSuffix(f, ".png") {
			checkImage(t, f, "png", data)
		}
	}
	readme, _ := os.ReadFile(filepath.Join(dir, ReadmeFile))
	md := string(readme)
	best, _ := store.BestTrial(trials)
	for _, want := range []string{`# Search "my-search"`, "| controller | random |", "| seed | 6 |", "S0 = 500.0 ms",
		"## Best trials", "| rank | trial | reward | accuracy | step (ms) | params (M) | MACs (M) | blocks |",
		"| 1 | " + strconv.Itoa(best.ID) + " | ", "## Pareto front", "| trial | reward | accuracy |", "`r1_k3_s1_e1_i32_o16_c1`",
		`"evaluator"`, "![progress](progress.png)", "fingerprint `" + rec.Host.Fingerprint() + "`"} {
		if !strings.Contains(md, want) {
			t.Errorf("README lacks %q", want)
		}
	}
	rows := 0
	for _, l := range strings.Split(md[strings.Index(md, "## Best trials"):strings.Index(md, "## Pareto front")], "\n") {
		if strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| rank") {
			rows++
		}
	}
	if rows != 10 {
		t.Errorf("%d best-trial rows, want 10", rows)
	}
	front := strings.Count(md[strings.Index(md, "## Pareto front"):], "\n| ") - 1
	if front != len(Front3(trials)) {
		t.Errorf("%d front rows, want %d", front, len(Front3(trials)))
	}
	data, _ := os.ReadFile(filepath.Join(dir, BestFile))
	var e Export
	if err := json.Unmarshal(data, &e); err != nil || e.Provenance.Trial != best.ID || !reflect.DeepEqual(e.Arch, best.Arch) {
		t.Fatalf("best.json: %v %+v", err, e.Provenance)
	}

	// an empty search gives the plots and README, no best.json
	empty := t.TempDir()
	if err := WriteReport(empty, rec, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(empty, BestFile)); !os.IsNotExist(err) {
		t.Fatalf("best.json for an empty search: %v", err)
	}
	if md, _ := os.ReadFile(filepath.Join(empty, ReadmeFile)); !strings.Contains(string(md), "No trial is done yet") {
		t.Fatalf("empty README:\n%s", md)
	}
}

// Results of the synthetic evaluator say so in the README, the plot
// titles and exports; every output names the code that made it.
func TestSyntheticAndCodeAreMarked(t *testing.T) {
	rec, trials := synthetic(t, "syn", 12, 3)
	clean, dirty := false, true
	searchCode := version.Code{Module: version.Module, Commit: strings.Repeat("ab", 20), Modified: &clean, Source: version.SourceBuildInfo}
	trialCode := version.Code{Module: version.Module, Commit: strings.Repeat("cd", 20), Modified: &dirty, Source: version.SourceGitDir}
	rec.Host.Code = searchCode
	for i := range trials {
		trials[i].Metrics.Host.Code = trialCode
	}
	rec, trials = throughStore(t, rec, trials)
	reportCode := version.Code{Module: version.Module, Commit: strings.Repeat("ef", 20), Source: version.SourceLinker}
	md := string(Readme(rec, trials, Options{Code: reportCode}))
	if !strings.Contains(md, "| code | search created by commit abababababab (clean); 12 trials measured by commit cdcdcdcdcdcd (modified); "+
		"report written by commit efefefefefef (modification unknown) |") {
		t.Errorf("README's code row:\n%s", md)
	}
	if strings.Contains(md, "Synthetic") || strings.Contains(Pareto(rec, trials, StepTime).Title, "SYNTHETIC") {
		t.Error("a trained search is marked synthetic")
	}
	if e := NewExport(rec, trials[0], "", time.Now()); e.Provenance.Synthetic || e.Provenance.ExportedBy != version.Get() {
		t.Errorf("export of a trained search: %+v", e.Provenance)
	}

	rec.Host.Backend = measure.BackendSynthetic
	for i := range trials {
		trials[i].Metrics.Host.Backend = measure.BackendSynthetic
	}
	md = string(Readme(rec, trials, Options{}))
	for _, want := range []string{"**Synthetic results.**", "| evaluator | synthetic: a formula of the architecture, not training |"} {
		if !strings.Contains(md, want) {
			t.Errorf("synthetic README lacks %q", want)
		}
	}
	const mark = "SYNTHETIC evaluator (a formula, not training)"
	if title := Pareto(rec, trials, Params).Title; !strings.Contains(title, mark) {
		t.Errorf("pareto title %q", title)
	}
	runs := []store.SearchTrials{{Search: rec, Trials: trials}}
	if title := Progress(runs).Title; !strings.Contains(title, mark) {
		t.Errorf("progress title %q", title)
	}
	other, _ := synthetic(t, "trained", 3, 1)
	if title := Progress(append(runs, store.SearchTrials{Search: other})).Title; !strings.Contains(title, "1 of them with the "+mark) {
		t.Errorf("progress title of two searches %q", title)
	}
	e := NewExport(rec, trials[0], "", time.Now())
	data, _ := Encode(e)
	if !e.Provenance.Synthetic || !strings.Contains(string(data), `"synthetic": true`) || !strings.Contains(string(data), `"exported_by"`) {
		t.Errorf("synthetic export:\n%s", data)
	}
}
