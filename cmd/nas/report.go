package main

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/effnas/effnas/report"
)

func init() {
	register(&command{
		name:    "report",
		args:    "[--db effnas.db] [--name NAME] -o DIR",
		summary: "write a search's report folder (README, plots, best trial) to commit under results/",
		help: `Writes into DIR (created if needed; files of the same names are replaced):
  README.md          setup (controller, seed, space, reward, evaluator and
                     budget, host, time taken), the best trials by reward and
                     the Pareto front of accuracy, step time and parameters
  pareto-time.png    accuracy against training step time
  pareto-params.png  accuracy against parameters
  progress.png       reward, best so far and hypervolume over trials
  best.json          the best trial, as "nas export --best" writes it`,
		examples: []string{
			"nas report -o results/my-search                        # README.md, plots and best.json",
			"nas report --db results/fmnist-search/search.db -o results/fmnist-search/report",
		},
		flags: func(fs *flag.FlagSet) func([]string) error {
			db := fs.String("db", defaultDB, "search database file")
			name := fs.String("name", "", "search name (default: the only one)")
			out := fs.String("o", "", "output folder (required)")
			return func(args []string) error {
				if len(args) != 0 {
					return usagef("unexpected argument %q", args[0])
				}
				if *out == "" {
					return usagef("missing -o DIR")
				}
				rec, trials, err := loadTrials(*db, *name)
				if err != nil {
					return err
				}
				if err := report.WriteReport(*out, rec, trials, report.Options{Database: *db}); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "wrote %s (search %q, %d trials)\n", filepath.Join(*out, report.ReadmeFile), rec.Name, len(trials))
				return nil
			}
		},
	})
}
