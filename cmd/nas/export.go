package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/effnas/effnas/report"
	"github.com/effnas/effnas/store"
)

func init() {
	register(&command{
		name: "export",
		flags: func(fs *flag.FlagSet) func([]string) error {
			db := fs.String("db", defaultDB, "search database file")
			name := fs.String("name", "", "search name (default: the only one)")
			id := fs.Int("trial", 0, "export this trial")
			best := fs.Bool("best", false, "export the trial with the highest reward")
			pareto := fs.Bool("pareto", false, "export every trial on the (accuracy, step time, params) front")
			out := fs.String("o", "", "output file (default: standard output)")
			return func(args []string) error {
				if len(args) != 0 {
					return usagef("unexpected argument %q", args[0])
				}
				n := 0
				for _, set := range []bool{*id != 0, *best, *pareto} {
					if set {
						n++
					}
				}
				if n != 1 {
					return usagef("want exactly one of --trial ID, --best and --pareto")
				}
				if *id < 0 {
					return usagef("--trial %d: want a trial id (1, 2, ...)", *id)
				}
				rec, trials, err := loadTrials(*db, *name)
				if err != nil {
					return err
				}
				now := time.Now()
				var doc any
				switch {
				case *pareto:
					doc = report.NewExportList(rec, report.Front3(trials), *db, now)
				case *best:
					t, ok := store.BestTrial(trials)
					if !ok {
						return fmt.Errorf("search %q: no finished trial yet", rec.Name)
					}
					doc = report.NewExport(rec, t, *db, now)
				default:
					var t *store.Trial
					for i := range trials {
						if trials[i].ID == *id {
							t = &trials[i]
						}
					}
					if t == nil {
						return fmt.Errorf("trial %d: search %q has %d trials", *id, rec.Name, len(trials))
					}
					doc = report.NewExport(rec, *t, *db, now)
				}
				data, err := report.Encode(doc)
				if err != nil {
					return err
				}
				return writeOutput(*out, data)
			}
		},
	})
}
