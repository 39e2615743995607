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
		name:    "export",
		args:    "[--db effnas.db] [--name NAME] (--trial ID | --best | --pareto) [-o FILE]",
		summary: "export trials as architecture files with their metrics and provenance",
		help: `--trial and --best write one document:
  {"format": "effnas/export", "version": 1,
   "arch": <architecture document>, "decisions": [...], "status": "done",
   "metrics": {...}, "reward": 0.82,
   "provenance": {"search", "trial", "database", "seed", "controller",
                  "host_fingerprint", "host", "reward" (settings),
                  "baseline", "exported_at"}}
Every command that takes an ARCH (describe, train, bench) accepts the file.

--pareto writes {"format": "effnas/export-list", "version": 1, "items": [...]}
with one such document for every done trial on the front of (accuracy,
step time, parameters), in trial order.

Without -o the JSON goes to standard output.`,
		examples: []string{
			"nas export --best -o winner.json                       # then: nas train winner.json",
			"nas export --trial 12 --name evo",
			"nas export --pareto -o front.json",
		},
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
