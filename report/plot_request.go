package report

import (
	"fmt"
	"os"
	"strings"

	"github.com/effnas/effnas/store"
)

// PlotKinds are the plots PlotRequest draws.
var PlotKinds = []string{"pareto", "progress", "family"}

// PlotRequest is one plot as "nas plot" asks for it: which kind, its
// arguments and where to save it.
type PlotRequest struct {
	// Kind is one of PlotKinds; Args its arguments (family: the one
	// FAMILY.json file; the others take none).
	Kind string
	Args []string
	// Out is the image file, .png or .svg.
	Out string
	// Database is the search database of pareto and progress; Names the
	// searches: pareto plots one (none: the only one), progress every one
	// named (none: every search).
	Database string
	Names    []string
	// Cost is pareto's x axis (ParseCost).
	Cost string
	// Hint, when set, rewrites an error of reading the database (to say
	// what the user can do about it).
	Hint func(error) error
}

// PlotArgError is a mistake in a PlotRequest's kind, arguments or options,
// not in the data: the caller's to fix.
type PlotArgError struct{ Msg string }

func (e *PlotArgError) Error() string { return e.Msg }

func plotArgf(format string, args ...any) error {
	return &PlotArgError{fmt.Sprintf(format, args...)}
}

// Plot draws the plot r asks for and saves it to r.Out. It returns what
// was plotted, for a line such as "wrote p.png (search "s": 30 trials
// plotted, 4 on the front)". Mistakes in the request are *PlotArgError.
func Plot(r PlotRequest) (what string, err error) {
	if r.Out == "" {
		return "", plotArgf("missing -o FILE.png or FILE.svg")
	}
	if _, err := FormatOf(r.Out); err != nil {
		return "", plotArgf("-o %s", err)
	}
	hint := r.Hint
	if hint == nil {
		hint = func(err error) error { return err }
	}
	var fig *Figure
	switch r.Kind {
	case "pareto", "progress":
		if len(r.Args) != 0 {
			return "", plotArgf("unexpected argument %q", r.Args[0])
		}
	}
	switch r.Kind {
	case "pareto":
		if len(r.Names) > 1 {
			return "", plotArgf("pareto plots one search: give --name once")
		}
		cost, err := ParseCost(r.Cost)
		if err != nil {
			return "", plotArgf("--x %s", err)
		}
		st, err := store.ReadSearch(r.Database, strings.Join(r.Names, ""))
		if err != nil {
			return "", hint(err)
		}
		d := Pareto(st.Search, st.Trials, cost)
		fig = d.Figure()
		what = fmt.Sprintf("search %q: %d trials plotted, %d on the front", st.Search.Name, len(d.Points), len(d.Front))
	case "progress":
		runs, err := store.ReadSearches(r.Database, r.Names...)
		if err != nil {
			return "", hint(err)
		}
		fig = PlotProgress(runs)
		what = fmt.Sprintf("%d searches", len(runs))
		if len(runs) == 1 {
			what = fmt.Sprintf("search %q", runs[0].Search.Name)
		}
	case "family":
		if len(r.Args) != 1 {
			return "", plotArgf("family takes one FAMILY.json file")
		}
		data, err := os.ReadFile(r.Args[0])
		if err != nil {
			return "", err
		}
		f, err := DecodeFamily(data)
		if err != nil {
			return "", fmt.Errorf("%s: %w", r.Args[0], err)
		}
		fig = f.Figure()
		what = fmt.Sprintf("%d models", len(f.Points))
	default:
		return "", plotArgf("unknown plot %q: want %s", r.Kind, PlotKindList())
	}
	return what, fig.Save(r.Out)
}

// PlotKindList is "pareto, progress or family".
func PlotKindList() string {
	n := len(PlotKinds)
	return strings.Join(PlotKinds[:n-1], ", ") + " or " + PlotKinds[n-1]
}
