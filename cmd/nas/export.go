package main

import (
	"flag"
	"time"

	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/report"
)

func init() {
	register(&command{
		name:   "export",
		noArgs: true,
		flags: func(fs *flag.FlagSet) func([]string) error {
			db := fs.String("db", defaultDB, "search database file")
			name := fs.String("name", "", "search name (default: the only one)")
			id := fs.Int("trial", 0, "export this trial")
			best := fs.Bool("best", false, "export the trial with the highest reward")
			pareto := fs.Bool("pareto", false, "export every trial on the (accuracy, step time, params) front")
			out := fs.String("o", "", "output file (default: standard output)")
			return func(args []string) error {
				n := 0
				for _, set := range []bool{*id != 0, *best, *pareto} {
					if set {
						n++
					}
				}
				if n != 1 {
					return cli.Usagef("want exactly one of --trial ID, --best and --pareto")
				}
				if *id < 0 {
					return cli.Usagef("--trial %d: want a trial id (1, 2, ...)", *id)
				}
				rec, trials, err := loadTrials(*db, *name)
				if err != nil {
					return err
				}
				doc, err := report.ExportChosen(rec, trials, *id, *pareto, *db, time.Now())
				if err != nil {
					return err
				}
				return writeJSONFile(*out, doc)
			}
		},
	})
}
