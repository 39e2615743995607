package main

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/report"
)

func init() {
	register(&command{
		name:   "report",
		noArgs: true,
		flags: func(fs *flag.FlagSet) func([]string) error {
			db := fs.String("db", defaultDB, "search database file")
			name := fs.String("name", "", "search name (default: the only one)")
			out := fs.String("o", "", "output folder (required)")
			return func(args []string) error {
				if *out == "" {
					return cli.Usagef("missing -o DIR")
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
