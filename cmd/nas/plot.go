package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/report"
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
					return cli.Usagef("missing what to plot: %s", report.PlotKindList())
				}
				what, err := report.Plot(report.PlotRequest{Kind: args[0], Args: args[1:], Out: *out, Database: *db, Names: ns, Cost: *x,
					Hint: func(err error) error { return readHint(*db, err) }})
				if pe := (*report.PlotArgError)(nil); errors.As(err, &pe) {
					return cli.Usagef("%s", pe.Msg)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "wrote %s (%s)\n", *out, what)
				return nil
			}
		},
	})
}
