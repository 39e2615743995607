package cli

import (
	"errors"
	"flag"
	"strings"

	"github.com/effnas/effnas/fielderr"
)

// Given returns the names of the flags given on the command line.
func Given(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// Needs refuses any of names given (in set) without the flag on:
// "--stages needs --progressive".
func Needs(set map[string]bool, on string, names ...string) error {
	for _, n := range names {
		if set[n] {
			return Usagef("--%s needs --%s", n, on)
		}
	}
	return nil
}

// FlagError turns a field error (fielderr.Error) into a usage error naming
// the flag ("--width = -1: want ..."), when the field, with "_" read as
// "-", is one of fs's flags; other errors are returned as they are. The
// compound-scaling constraint names the three flags it joins.
func FlagError(fs *flag.FlagSet, err error) error {
	var fe *fielderr.Error
	if !errors.As(err, &fe) {
		return err
	}
	if fe.Field == "alpha*beta^2*gamma^2" {
		return Usagef("--alpha, --beta, --gamma: %s = %v: %s (or widen --tolerance)", fe.Field, fe.Value, fe.Allowed)
	}
	name := strings.ReplaceAll(fe.Field, "_", "-")
	if fs.Lookup(name) == nil {
		return err
	}
	return Usagef("--%s = %v: %s", name, fe.Value, fe.Allowed)
}
