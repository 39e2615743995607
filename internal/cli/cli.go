// Package cli is the command framework of the nas program: a registry of
// subcommands whose texts come from help files, the command list and each
// command's help, flags that may come between the positional arguments,
// and the exit status an error gives (2 for a usage mistake, 1 for a
// failure, or the code of an ExitCoder such as 130 after Ctrl-C). It also
// holds what several commands share: flag helpers that turn field errors
// into flag errors, shell quoting for "resume with:" hints, and a context
// that Ctrl-C cancels.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Command is one subcommand of a program.
type Command struct {
	Name    string
	Args    string // synopsis of the positional arguments
	Summary string // one line for the command list
	Help    string // paragraphs after the usage line
	// Examples are command lines, each with a "# comment", printed last
	// by "PROGRAM help COMMAND".
	Examples []string
	// NoArgs refuses positional arguments; One, when set, names the one
	// positional argument the command wants ("ARCH", "CKPT").
	NoArgs bool
	One    string
	// Flags defines the command's flags on fs and returns the function
	// that runs it with the positional arguments.
	Flags func(fs *flag.FlagSet) func(args []string) error
}

// ReadHelp sets c's texts from its help file: the synopsis of its
// arguments, the one-line summary, then after a blank line the help
// paragraphs and, after "examples:", the examples indented by two spaces.
// A Help already set is kept.
func (c *Command) ReadHelp(text string) {
	head, body, _ := strings.Cut(text, "\n\n")
	c.Args, c.Summary, _ = strings.Cut(strings.TrimSuffix(head, "\n"), "\n")
	help, examples, _ := strings.Cut("\n"+body, "\nexamples:\n")
	if c.Help == "" {
		c.Help = help
	}
	c.Examples = nil
	for _, e := range strings.Split(strings.TrimRight(examples, "\n"), "\n") {
		if e != "" {
			c.Examples = append(c.Examples, strings.TrimPrefix(e, "  "))
		}
	}
}

// Program is a set of commands run by name.
type Program struct {
	Name     string // in messages: "nas: unknown command ..."
	Title    string // first line of the command list
	commands map[string]*Command
}

// Add registers c under its name.
func (p *Program) Add(c *Command) {
	if p.commands == nil {
		p.commands = map[string]*Command{}
	}
	p.commands[c.Name] = c
}

// Run runs the command args name with the rest of args and returns the
// exit status: 0, 1 for a failure, 2 for a usage mistake (an unknown
// command or flag, a UsageError), or an ExitCoder's code. The error is one
// line on errw, after the command's name; a usage mistake adds the
// command's synopsis. No arguments, "help", -h or --help print the command
// list; "help COMMAND" or a command's -h or --help print its help.
func (p *Program) Run(args []string, out, errw io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := p.commands[args[1]]; ok {
				p.writeCommandHelp(out, c)
				return 0
			}
			fmt.Fprintf(errw, "%s: unknown command %q (run \"%s help\" for the list)\n", p.Name, args[1], p.Name)
			return 2
		}
		p.writeHelp(out)
		return 0
	}
	c, ok := p.commands[args[0]]
	if !ok {
		fmt.Fprintf(errw, "%s: unknown command %q (run \"%s help\" for the list)\n", p.Name, args[0], p.Name)
		return 2
	}
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runFn := c.Flags(fs)
	pos, err := ParseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		p.writeCommandHelp(out, c)
		return 0
	}
	switch {
	case err != nil:
	case c.NoArgs && len(pos) != 0:
		err = Usagef("unexpected argument %q", pos[0])
	case c.One != "" && len(pos) != 1:
		err = Usagef("want exactly one %s", c.One)
	default:
		err = runFn(pos)
	}
	if err == nil {
		return 0
	}
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	fmt.Fprintf(errw, "%s %s: %s\n", p.Name, c.Name, msg)
	var ue UsageError
	var ee ExitCoder
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(errw, "usage: %s %s %s (see \"%s help %s\")\n", p.Name, c.Name, c.Args, p.Name, c.Name)
		return 2
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return 1
}

// ParseInterspersed parses flags that may come before, between or after
// the positional arguments ("nas describe efficientnetv2-s --json"); "--"
// ends the flags. A malformed flag is a UsageError.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, UsageError{err.Error()}
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

func (p *Program) writeHelp(w io.Writer) {
	fmt.Fprintln(w, p.Title)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "usage: %s COMMAND [arguments] [flags]\n", p.Name)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(p.commands))
	for n := range p.commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, p.commands[n].Summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Run \"%s help COMMAND\" for the arguments and flags of one command.\n", p.Name)
}

func (p *Program) writeCommandHelp(w io.Writer, c *Command) {
	fmt.Fprintf(w, "usage: %s %s %s\n\n%s\n", p.Name, c.Name, c.Args, c.Summary)
	if c.Help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.Help))
	}
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	c.Flags(fs)
	has := false
	fs.VisitAll(func(*flag.Flag) { has = true })
	if has {
		fmt.Fprintln(w, "\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if len(c.Examples) > 0 {
		fmt.Fprintln(w, "\nexamples:")
		for _, e := range c.Examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}
