package main

import (
	"flag"

	"github.com/effnas/effnas/version"
)

func init() {
	register(&command{
		name:   "version",
		noArgs: true,
		flags: func(fs *flag.FlagSet) func([]string) error {
			asJSON := fs.Bool("json", false, "print JSON")
			return func(args []string) error {
				c := version.Get()
				return printAs(*asJSON, c, c.WriteText)
			}
		},
	})
}
