package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/reward"
	"github.com/effnas/effnas/store"
	"github.com/effnas/effnas/version"
)

// Files WriteReport writes into its folder.
const (
	ReadmeFile       = "README.md"
	ParetoTimeFile   = "pareto-time.png"
	ParetoParamsFile = "pareto-params.png"
	ProgressFile     = "progress.png"
	BestFile         = "best.json"
)

// Options tunes WriteReport.
type Options struct {
	// Database is the file the records were read from, for the README
	// and best.json's provenance; "" leaves it out.
	Database string
	// Now stamps the report and the export; zero means time.Now().
	Now time.Time
	// Top is the number of best trials listed; 0 means 10.
	Top int
	// Code is the code version of the program writing the report; zero
	// means version.Get().
	Code version.Code
}

// WriteReport writes a folder ready to commit: README.md (setup, best
// trials, Pareto front), pareto-time.png, pareto-params.png, progress.png
// and best.json (the export of the best trial; absent when no trial is
// done). The folder is created if needed; files of the same names are
// replaced.
func WriteReport(dir string, s store.Search, trials []store.Trial, opts Options) error {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Top <= 0 {
		opts.Top = 10
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	figs := []struct {
		name string
		fig  *Figure
	}{
		{ParetoTimeFile, PlotPareto(s, trials, StepTime)},
		{ParetoParamsFile, PlotPareto(s, trials, Params)},
		{ProgressFile, PlotProgress([]store.SearchTrials{{Search: s, Trials: trials}})},
	}
	for _, f := range figs {
		if err := f.fig.Save(filepath.Join(dir, f.name)); err != nil {
			return err
		}
	}
	best, hasBest := store.BestTrial(trials)
	bestPath := filepath.Join(dir, BestFile)
	if hasBest {
		b, err := Encode(NewExport(s, best, opts.Database, opts.Now))
		if err != nil {
			return err
		}
		if err := os.WriteFile(bestPath, b, 0o644); err != nil {
			return err
		}
	} else if err := os.Remove(bestPath); err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ReadmeFile), Readme(s, trials, opts), 0o644)
}

// Readme returns the report's README.md.
func Readme(s store.Search, trials []store.Trial, opts Options) []byte {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Code.IsZero() {
		opts.Code = version.Get()
	}
	if opts.Top <= 0 {
		opts.Top = 10
	}
	var b bytes.Buffer
	pf := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	counts := map[store.Status]int{}
	for _, t := range trials {
		counts[t.Status]++
	}
	pf("# Search %q\n\n", s.Name)
	pf("%d trials of %d (%d done, %d failed), search %s. Report of %s",
		len(trials), s.Trials, counts[store.StatusDone], counts[store.StatusFailed],
		orDash(s.Status), opts.Now.UTC().Format("2006-01-02 15:04 MST"))
	if opts.Database != "" {
		pf(" from `%s`", filepath.Base(opts.Database))
	}
	pf(".\n\n")
	if s.Synthetic() {
		pf("**Synthetic results.** This search scored its trials with the synthetic evaluator, a formula of the ")
		pf("architecture (`go doc ./search Synthetic`), not by training them: its accuracies and step times are not measurements.\n\n")
	}
	best, hasBest := store.BestTrial(trials)
	if hasBest {
		pf("Best reward: trial %d, reward %.4f, %s (exported in [%s](%s)).\n\n", best.ID, best.Reward, short(best.Metrics), BestFile, BestFile)
	} else {
		pf("No trial is done yet.\n\n")
	}
	pf("![accuracy vs step time](%s)\n\n![accuracy vs parameters](%s)\n\n![progress](%s)\n\n", ParetoTimeFile, ParetoParamsFile, ProgressFile)
	pf("The Pareto plots show every done trial (light to dark: early to late), the front of accuracy against that cost, ")
	pf("the best-reward trial and the backbone. The progress plot shows each trial's reward with the best so far, ")
	pf("and the hypervolume of accuracy, step time and parameters as a fraction of the box between the ideal point ")
	pf("(100%%, 0 ms, 0 parameters) and the reference point (0%%, twice the slowest step time, twice the most parameters).\n\n")

	pf("## Setup\n\n| | |\n|---|---|\n")
	pf("| controller | %s |\n| seed | %d |\n| trials | %d (target %d), %d in parallel |\n", orDash(s.Controller), s.Seed, len(trials), s.Trials, s.Parallel)
	pf("| started | %s |\n", stamp(s.Created))
	if !s.Created.IsZero() && !s.Updated.IsZero() {
		pf("| last update | %s (%s after the start) |\n", stamp(s.Updated), s.Updated.Sub(s.Created).Round(time.Second))
	}
	var wall float64
	for _, t := range trials {
		if t.Metrics != nil && finite(t.Metrics.WallTime) {
			wall += t.Metrics.WallTime
		}
	}
	if wall > 0 {
		pf("| evaluation time | %s (summed over trials) |\n", (time.Duration(wall * float64(time.Second))).Round(time.Second))
	}
	h := s.Host
	pf("| host | %s; %s/%s, %d cores, GOMAXPROCS %d, %s, backend %s; fingerprint `%s` |\n", orDash(h.CPU), orDash(h.OS), orDash(h.Arch),
		h.Cores, h.GOMAXPROCS, orDash(h.GoVersion), orDash(h.Backend), h.Fingerprint())
	if s.Synthetic() {
		pf("| evaluator | synthetic: a formula of the architecture, not training |\n")
	}
	pf("| code | %s |\n", codeText(s, trials, opts.Code))
	pf("| reward | %s |\n", rewardText(s.Reward))
	if m := s.Baseline; m != nil {
		acc := "not measured"
		if finite(m.Accuracy) && m.Accuracy > 0 {
			acc = fmt.Sprintf("%.2f%%", 100*m.Accuracy)
		}
		pf("| backbone | step %.1f ms, %s params, %s MACs, accuracy %s |\n", 1e3*m.StepTime.Median, mill(m.Params), mill(m.MACs), acc)
	}
	if s.Note != "" {
		pf("| note | %s |\n", cell(s.Note))
	}
	pf("\n### Search space\n\n")
	sp := s.Space
	pf("Space %q over backbone %q: %d decisions, %s architectures. ", sp.Name, sp.Backbone.Name, len(sp.Cardinalities()), sp.Size())
	pf("An empty choice keeps the backbone's value; squeeze-excite %g on MBConv and %g on Fused-MBConv stages unless searched.\n\n", sp.MBConvSE, sp.FusedSE)
	pf("| stage | backbone | blocks | kernels | expansions | repeats | SE |\n|---|---|---|---|---|---|---|\n")
	bs := sp.Backbone.BlockStrings()
	for i, c := range sp.Stages {
		bstr := ""
		if i < len(bs) {
			bstr = "`" + bs[i] + "`"
		}
		blocks := make([]string, len(c.Blocks))
		for k, x := range c.Blocks {
			blocks[k] = x.String()
		}
		pf("| %d | %s | %s | %s | %s | %s | %s |\n", i+1, bstr, list(blocks), ints(c.Kernels), ints(c.Expands), ints(c.Repeats), floats(c.SE))
	}
	if len(s.Config) > 0 {
		var v bytes.Buffer
		if json.Indent(&v, s.Config, "", "  ") == nil {
			pf("\n### Search loop and evaluator\n\n```json\n%s\n```\n", v.String())
		}
	}

	done := make([]store.Trial, 0, len(trials))
	for _, t := range trials {
		if t.Done() && !math.IsNaN(t.Reward) {
			done = append(done, t)
		}
	}
	slices.SortStableFunc(done, func(a, b store.Trial) int {
		if a.Reward != b.Reward {
			if a.Reward > b.Reward {
				return -1
			}
			return 1
		}
		return a.ID - b.ID
	})
	top := done[:min(opts.Top, len(done))]
	pf("\n## Best trials\n\nThe %d highest rewards of %d done trials.\n\n", len(top), len(done))
	trialTable(&b, top, true)

	front := Front3(trials)
	slices.SortStableFunc(front, func(a, b store.Trial) int {
		x, y := a.Metrics.StepTime.Median, b.Metrics.StepTime.Median
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
		return a.ID - b.ID
	})
	pf("\n## Pareto front\n\nThe %d done trials that no other trial beats in all of accuracy, step time and parameters, by step time. ", len(front))
	pf("The plots draw the two-objective fronts (accuracy and one cost).\n\n")
	trialTable(&b, front, false)
	return b.Bytes()
}

func trialTable(b *bytes.Buffer, trials []store.Trial, rank bool) {
	if len(trials) == 0 {
		b.WriteString("(none)\n")
		return
	}
	if rank {
		b.WriteString("| rank ")
	}
	b.WriteString("| trial | reward | accuracy | step (ms) | params (M) | MACs (M) | blocks |\n")
	if rank {
		b.WriteString("|---")
	}
	b.WriteString("|---:|---:|---:|---:|---:|---:|---|\n")
	for i, t := range trials {
		if rank {
			fmt.Fprintf(b, "| %d ", i+1)
		}
		m := t.Metrics
		if m == nil {
			m = &measure.Metrics{}
		}
		blocks := t.Arch.BlockStrings()
		for k := range blocks {
			blocks[k] = "`" + blocks[k] + "`"
		}
		fmt.Fprintf(b, "| %d | %.4f | %.2f%% | %.1f | %.3f | %.1f | %s |\n", t.ID, t.Reward, 100*m.Accuracy, 1e3*m.StepTime.Median,
			float64(m.Params)/1e6, float64(m.MACs)/1e6, strings.Join(blocks, " "))
	}
}

// codeText says which code created the search, measured its trials and
// wrote the report.
func codeText(s store.Search, trials []store.Trial, report version.Code) string {
	counts := map[string]int{}
	var order []string
	for _, t := range trials {
		if t.Metrics == nil {
			continue
		}
		c := t.Metrics.Host.Code.String()
		if counts[c] == 0 {
			order = append(order, c)
		}
		counts[c]++
	}
	parts := []string{"search created by " + s.Host.Code.String()}
	for _, c := range order {
		parts = append(parts, fmt.Sprintf("%d trials measured by %s", counts[c], c))
	}
	parts = append(parts, "report written by "+report.String())
	return cell(strings.Join(parts, "; "))
}

// rewardText describes a reward settings document with its resolved
// exponents.
func rewardText(doc json.RawMessage) string {
	s, err := reward.DecodeSettings(doc)
	if err != nil {
		return "invalid settings: " + cell(err.Error())
	}
	r, err := s.Resolve()
	if err != nil {
		return "invalid settings: " + cell(err.Error())
	}
	exp := func(v string, a, b float64) string {
		if a == b {
			return fmt.Sprintf("(%s/%s0)^%g", v, v, a)
		}
		return fmt.Sprintf("(%s/%s0)^(%g if %s ≤ %s0, else %g)", v, v, a, v, v, b)
	}
	return fmt.Sprintf("%s: A · %s · %s, S0 = %.1f ms, P0 = %s params", r.Kind, exp("S", *r.Time.Alpha, *r.Time.Beta),
		exp("P", *r.Params.Alpha, *r.Params.Beta), 1e3*r.Time.Ref, mill(int64(r.Params.Ref)))
}

func short(m *measure.Metrics) string {
	if m == nil {
		return "no metrics"
	}
	return fmt.Sprintf("accuracy %.2f%%, step %.1f ms, %s params", 100*m.Accuracy, 1e3*m.StepTime.Median, mill(m.Params))
}

// mill formats a count in millions ("7.14 M").
func mill(n int64) string { return strconv.FormatFloat(float64(n)/1e6, 'f', 2, 64) + " M" }

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 MST")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return cell(s)
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func list(xs []string) string {
	if len(xs) == 0 {
		return "(backbone)"
	}
	return strings.Join(xs, ", ")
}

func ints(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return list(s)
}

func floats(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return list(s)
}
