package main

import (
	"flag"
	"fmt"
	"runtime"

	"github.com/effnas/effnas/version"
)

func init() {
	register(&command{
		name: "version",
		flags: func(fs *flag.FlagSet) func([]string) error {
			asJSON := fs.Bool("json", false, "print JSON")
			return func(args []string) error {
				if len(args) != 0 {
					return usagef("unexpected argument %q", args[0])
				}
				c := version.Get()
				if *asJSON {
					return writeJSON(c)
				}
				src := c.Source
				if src == "" {
					src = "no build information, link flags or git directory"
				}
				fmt.Fprintf(stdout, "effnas %s %s\n", c.Module, c.Version)
				commit := c.Commit
				if commit == "" {
					commit = "unknown"
				}
				modified := "unknown"
				if c.Modified != nil {
					modified = fmt.Sprint(*c.Modified)
				}
				fmt.Fprintf(stdout, "commit %s, modified %s (from %s)\n%s %s/%s\n", commit, modified, src, runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return nil
			}
		},
	})
}
