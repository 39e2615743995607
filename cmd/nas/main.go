// Command nas is the effnas program: describe architectures and spaces,
// train and benchmark networks, run searches and look at their results.
//
// Run "nas help" for the commands and "nas help COMMAND" (or
// "nas COMMAND --help") for one.
package main

import (
	"embed"
	"flag"
	"io"
	"os"

	"github.com/effnas/effnas/internal/cli"
)

// command is one subcommand of the program (a cli.Command). Its texts come
// from help/NAME.txt (cli.Command.ReadHelp); help, when set, replaces the
// file's paragraphs.
type command struct {
	name   string
	help   string
	noArgs bool   // refuses positional arguments
	one    string // names the one positional argument the command wants ("ARCH")
	flags  func(fs *flag.FlagSet) func(args []string) error
}

var (
	commands = map[string]*command{}
	program  = cli.Program{Name: "nas", Title: "nas: training-aware neural architecture search (EfficientNetV2) in Go"}
)

//go:embed help/*.txt
var helpFiles embed.FS

// register adds c with the texts of its help file.
func register(c *command) {
	text, err := helpFiles.ReadFile("help/" + c.name + ".txt")
	if err != nil {
		panic("nas: no help file for command " + c.name)
	}
	cc := &cli.Command{Name: c.name, Help: c.help, NoArgs: c.noArgs, One: c.one, Flags: c.flags}
	cc.ReadHelp(string(text))
	c.help = cc.Help
	commands[c.name] = c
	program.Add(cc)
}

// usageError is a mistake in how the program was called: exit status 2.
type usageError = cli.UsageError

// exitError ends the program with its code after its message (130 for a
// search stopped by Ctrl-C).
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }
func (e exitError) ExitCode() int { return e.code }

func main() {
	progName = cli.ProgramName(os.Args[0], "go run ./cmd/nas")
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

// commandLine is the program's command line, quoted for a POSIX shell.
func commandLine() string { return cli.CommandLine(progName, invocation) }

func run(args []string, out, errw io.Writer) int {
	stdout, stderr, invocation = out, errw, args
	return program.Run(args, out, errw)
}

// printAs prints v as JSON with asJSON, else as text writes it.
func printAs(asJSON bool, v any, text func(io.Writer) error) error {
	if asJSON {
		return writeJSON(v)
	}
	return text(stdout)
}
