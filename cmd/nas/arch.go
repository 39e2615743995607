package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/report"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
	"github.com/effnas/effnas/trainer/data"
)

// loadArch resolves the ARCH argument every command takes (searchspace.Load).
func loadArch(ref string) (searchspace.Arch, error) {
	if ref == "" {
		return searchspace.Arch{}, cli.Usagef("missing ARCH: a built-in name (%s) or a JSON file", strings.Join(searchspace.ReferenceNames(), ", "))
	}
	return searchspace.Load(ref)
}

// fitArch fits an architecture to a dataset at size (0: the dataset's) and
// says so on standard error.
func fitArch(a searchspace.Arch, ds *data.Dataset, size int) searchspace.Arch {
	if size == 0 {
		size = ds.H
	}
	b, note := a.FitToNote(searchspace.Input{ImageSize: size, Channels: ds.C, Classes: ds.NumClasses}, ds.Name)
	if note != "" {
		fmt.Fprintf(os.Stderr, "note: %s\n", note)
	}
	return b
}

// archSource is ARCH or a trial of a search database.
type archSource struct {
	db, name *string
	trial    *int
	best     *bool
}

func addArchSourceFlags(fs *flag.FlagSet) archSource {
	return archSource{
		db:    fs.String("db", "", "search database to take the architecture from (with --trial or --best; default "+defaultDB+")"),
		name:  fs.String("name", "", "search name within the database (default: the only one)"),
		trial: fs.Int("trial", 0, "take the architecture of this trial of the search database"),
		best:  fs.Bool("best", false, "take the architecture of the search's best trial (highest reward)"),
	}
}

// load resolves the positional ARCH or the database trial.
func (s archSource) load(args []string) (searchspace.Arch, error) {
	switch {
	case *s.trial < 0:
		return searchspace.Arch{}, cli.Usagef("--trial = %d: want a trial id (1, 2, ...)", *s.trial)
	case *s.trial == 0 && !*s.best && *s.db != "":
		return searchspace.Arch{}, cli.Usagef("--db needs --trial ID or --best")
	case *s.trial == 0 && !*s.best && len(args) != 1:
		return searchspace.Arch{}, cli.Usagef("want exactly one ARCH (or --db FILE with --trial ID or --best), got %d arguments", len(args))
	case *s.trial == 0 && !*s.best:
		return loadArch(args[0])
	case len(args) != 0:
		return searchspace.Arch{}, cli.Usagef("give either ARCH or --trial/--best, not both")
	case *s.trial > 0 && *s.best:
		return searchspace.Arch{}, cli.Usagef("give either --trial or --best, not both")
	}
	db := *s.db
	if db == "" {
		db = defaultDB
	}
	a, err := store.ReadTrialArch(db, *s.name, *s.trial) // 0: the best trial
	return a, readHint(db, err)
}

// loadSpace reads a space file, or returns the default space when path is "".
func loadSpace(path string) (searchspace.Space, error) {
	if path == "" {
		return searchspace.DefaultSpace(), nil
	}
	return searchspace.LoadSpace(path)
}

// writeJSON prints v as indented JSON.
func writeJSON(v any) error { return writeJSONFile("", v) }

// writeJSONFile writes v as indented JSON to path (see writeOutput).
func writeJSONFile(path string, v any) error {
	b, err := report.Encode(v)
	if err != nil {
		return err
	}
	return writeOutput(path, b)
}

// writeOutput writes data to path, or to standard output when path is "" or "-".
func writeOutput(path string, data []byte) error {
	if path == "" || path == "-" {
		_, err := stdout.Write(data)
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
