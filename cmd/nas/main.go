// Command nas is the effnas program: describe architectures and spaces,
// train and benchmark networks, run searches and look at their results.
//
// Run "nas help" for the commands and "nas help COMMAND" (or
// "nas COMMAND --help") for one.
package main

import (
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand of the program. Its texts come from
// help/NAME.txt: the synopsis of its arguments, the one-line summary, then
// after a blank line the help paragraphs and, after "examples:", the
// examples.
type command struct {
	name    string
	args    string // synopsis of the positional arguments
	summary string // one line for the command list
	help    string // paragraphs after the usage line (when set, not read from the file)
	// examples are command lines, each with a "# comment", printed last
	// by "nas help COMMAND".
	examples []string
	// noArgs refuses positional arguments; one, when set, names the one
	// positional argument the command wants ("ARCH", "CKPT").
	noArgs bool
	one    string
	flags  func(fs *flag.FlagSet) func(args []string) error
}

var commands = map[string]*command{}

//go:embed help/*.txt
var helpFiles embed.FS

// register adds c with the texts of its help file.
func register(c *command) {
	text, err := helpFiles.ReadFile("help/" + c.name + ".txt")
	if err != nil {
		panic("nas: no help file for command " + c.name)
	}
	head, body, _ := strings.Cut(string(text), "\n\n")
	c.args, c.summary, _ = strings.Cut(strings.TrimSuffix(head, "\n"), "\n")
	help, examples, _ := strings.Cut("\n"+body, "\nexamples:\n")
	if c.help == "" {
		c.help = help
	}
	for _, e := range strings.Split(strings.TrimRight(examples, "\n"), "\n") {
		if e != "" {
			c.examples = append(c.examples, strings.TrimPrefix(e, "  "))
		}
	}
	commands[c.name] = c
}

// usageError is a mistake in how the program was called: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitError ends the program with its code after its message (130 for a
// search stopped by Ctrl-C).
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func main() {
	progName = programName(os.Args[0])
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

var (
	stdout io.Writer = os.Stdout
	stderr io.Writer = os.Stderr
	// progName and invocation say how the program was run, for messages
	// that tell how to run it again.
	progName   = "nas"
	invocation []string
)

// programName is how the user ran the program: as typed, or "go run
// ./cmd/nas" for a binary that go run built in a temporary folder.
func programName(arg0 string) string {
	if strings.Contains(arg0, "go-build") {
		return "go run ./cmd/nas"
	}
	return arg0
}

// commandLine is the program's command line, quoted for a POSIX shell.
func commandLine() string {
	parts := []string{progName}
	for _, a := range invocation {
		if a == "" || strings.ContainsFunc(a, func(r rune) bool { return !strings.ContainsRune(safeShell, r) }) {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

const safeShell = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+./,:@%"

func run(args []string, out, errw io.Writer) int {
	stdout, stderr, invocation = out, errw, args
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				printCommandHelp(out, c)
				return 0
			}
			fmt.Fprintf(errw, "nas: unknown command %q (run \"nas help\" for the list)\n", args[1])
			return 2
		}
		printHelp(out)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(errw, "nas: unknown command %q (run \"nas help\" for the list)\n", args[0])
		return 2
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runFn := c.flags(fs)
	pos, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		printCommandHelp(out, c)
		return 0
	}
	switch {
	case err != nil:
	case c.noArgs && len(pos) != 0:
		err = usagef("unexpected argument %q", pos[0])
	case c.one != "" && len(pos) != 1:
		err = usagef("want exactly one %s", c.one)
	default:
		err = runFn(pos)
	}
	if err != nil {
		msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
		fmt.Fprintf(errw, "nas %s: %s\n", c.name, msg)
		var ue usageError
		var ee exitError
		switch {
		case errors.As(err, &ue):
			fmt.Fprintf(errw, "usage: nas %s %s (see \"nas help %s\")\n", c.name, c.args, c.name)
			return 2
		case errors.As(err, &ee):
			return ee.code
		}
		return 1
	}
	return 0
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments ("nas describe efficientnetv2-s --json").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// printAs prints v as JSON with asJSON, else as text writes it.
func printAs(asJSON bool, v any, text func(io.Writer) error) error {
	if asJSON {
		return writeJSON(v)
	}
	return text(stdout)
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "nas: training-aware neural architecture search (EfficientNetV2) in Go")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: nas COMMAND [arguments] [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "nas help COMMAND" for the arguments and flags of one command.`)
}

func printCommandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: nas %s %s\n\n%s\n", c.name, c.args, c.summary)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.flags(fs)
	has := false
	fs.VisitAll(func(*flag.Flag) { has = true })
	if has {
		fmt.Fprintln(w, "\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if len(c.examples) > 0 {
		fmt.Fprintln(w, "\nexamples:")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}
