package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/effnas/effnas/report"
	"github.com/effnas/effnas/store"
)

// names is a repeatable string flag.
type names []string

func (n *names) String() string { return strings.Join(*n, ",") }

func (n *names) Set(s string) error {
	*n = append(*n, s)
	return nil
}

func init() {
	register(&command{
		name:    "plot",
		args:    "pareto|progress|family [FAMILY.json] [--db effnas.db] [--name NAME ...] [--x time|params] -o FILE.png|.svg",
		summary: "plot a search's Pareto front, its progress, or a model family",
		help: `pareto: validation accuracy (%) against training step time (ms, --x time)
or parameters (M, --x params). Every done trial is a point, light to dark in
trial order (to show where the controller went); the front of accuracy and
that cost is a step line; the best-reward trial is a red cross and the
backbone a triangle (a dashed vertical line when only its cost is measured).

progress: the reward of each trial with the best so far, and below the
hypervolume of (accuracy, step time, parameters) over trials, as a fraction
of the box between the ideal point (100%, 0 ms, 0 parameters) and the
reference point (0%, twice the slowest step time, twice the most parameters
among the plotted trials). One line per search: give --name several times,
or leave it out for every search of the database (e.g. to compare
controllers).

family FAMILY.json: accuracy against parameters and against step time for a
scaled family and reference models, read from a JSON document:
  {"format": "effnas/family", "version": 1, "title": "...",
   "points": [{"name": "effnas-s", "family": "effnas", "params": 5100000,
               "step_time": 0.084, "accuracy": 0.912, "reference": false}, ...]}
step_time in seconds (0 or absent: not measured), accuracy 0 to 1; points of
one family are joined by a line, reference points drawn as squares. A bare
array of points is accepted too.

The image format follows the extension of -o: .png or .svg.`,
		examples: []string{
			"nas plot pareto -o pareto.png                          # accuracy vs step time",
			"nas plot progress --name rl --name evo -o progress.svg # two searches compared",
			"nas plot family results/family/family.json -o family.png",
		},
		flags: func(fs *flag.FlagSet) func([]string) error {
			db := fs.String("db", defaultDB, "search database file")
			var ns names
			fs.Var(&ns, "name", "search name (default: the only one; progress: every search); progress takes it several times")
			x := fs.String("x", "time", "pareto x axis: time (training step time) or params")
			out := fs.String("o", "", "output image file, .png or .svg (required)")
			return func(args []string) error {
				if len(args) == 0 {
					return usagef("missing what to plot: pareto, progress or family")
				}
				kind, rest := args[0], args[1:]
				if *out == "" {
					return usagef("missing -o FILE.png or FILE.svg")
				}
				if _, err := report.FormatOf(*out); err != nil {
					return usagef("-o %s", err)
				}
				var fig *report.Figure
				var what string
				switch kind {
				case "pareto":
					if len(rest) != 0 {
						return usagef("unexpected argument %q", rest[0])
					}
					if len(ns) > 1 {
						return usagef("pareto plots one search: give --name once")
					}
					cost, err := report.ParseCost(*x)
					if err != nil {
						return usagef("--x %s", err)
					}
					rec, trials, err := loadTrials(*db, strings.Join(ns, ""))
					if err != nil {
						return err
					}
					d := report.Pareto(rec, trials, cost)
					fig = d.Figure()
					what = fmt.Sprintf("search %q: %d trials plotted, %d on the front", rec.Name, len(d.Points), len(d.Front))
				case "progress":
					if len(rest) != 0 {
						return usagef("unexpected argument %q", rest[0])
					}
					runs, err := store.ReadSearches(*db, ns...)
					if err != nil {
						return readHint(*db, err)
					}
					fig = report.PlotProgress(runs)
					what = fmt.Sprintf("%d searches", len(runs))
					if len(runs) == 1 {
						what = fmt.Sprintf("search %q", runs[0].Search.Name)
					}
				case "family":
					if len(rest) != 1 {
						return usagef("family takes one FAMILY.json file")
					}
					data, err := os.ReadFile(rest[0])
					if err != nil {
						return err
					}
					f, err := report.DecodeFamily(data)
					if err != nil {
						return fmt.Errorf("%s: %w", rest[0], err)
					}
					fig = f.Figure()
					what = fmt.Sprintf("%d models", len(f.Points))
				default:
					return usagef("unknown plot %q: want pareto, progress or family", kind)
				}
				if err := fig.Save(*out); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "wrote %s (%s)\n", *out, what)
				return nil
			}
		},
	})
}
