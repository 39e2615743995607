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
		name: "plot",
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
