package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/effnas/effnas/fielderr"
)

type exit struct{ code int }

func (e exit) Error() string { return fmt.Sprintf("stopped (%d)", e.code) }
func (e exit) ExitCode() int { return e.code }

// testProgram has a command "greet" (one NAME, --loud, and errors on
// demand) and "list" (no arguments).
func testProgram() *Program {
	p := &Program{Name: "prog", Title: "prog: a test program"}
	greet := &Command{Name: "greet", One: "NAME", Flags: func(fs *flag.FlagSet) func([]string) error {
		loud := fs.Bool("loud", false, "shout")
		fail := fs.String("fail", "", "usage, exit or plain: fail that way")
		return func(args []string) error {
			switch *fail {
			case "usage":
				return Usagef("--fail = %q: no", *fail)
			case "exit":
				return fmt.Errorf("wrapped: %w", exit{130})
			case "plain":
				return errors.New("it broke\non two lines")
			}
			if *loud {
				args[0] = strings.ToUpper(args[0])
			}
			return nil
		}
	}}
	greet.ReadHelp("NAME [--loud]\nsay hello\n\nGreets NAME.\n\nexamples:\n  prog greet bob   # hello\n  prog greet --loud bob\n")
	p.Add(greet)
	list := &Command{Name: "list", NoArgs: true, Help: "given help", Flags: func(fs *flag.FlagSet) func([]string) error {
		return func([]string) error { return nil }
	}}
	list.ReadHelp("\nlist things\n\nfile help\n")
	p.Add(list)
	return p
}

func run(p *Program, args ...string) (string, string, int) {
	var out, errw bytes.Buffer
	code := p.Run(args, &out, &errw)
	return out.String(), errw.String(), code
}

func TestReadHelp(t *testing.T) {
	c := &Command{}
	c.ReadHelp("ARCH [--json]\ndescribe an architecture\n\nFirst paragraph.\n\nSecond.\n\nexamples:\n  nas describe x   # one\n  nas describe y\n")
	if c.Args != "ARCH [--json]" || c.Summary != "describe an architecture" || c.Help != "\nFirst paragraph.\n\nSecond.\n" ||
		len(c.Examples) != 2 || c.Examples[0] != "nas describe x   # one" || c.Examples[1] != "nas describe y" {
		t.Fatalf("%#v", c)
	}
	c = &Command{Help: "kept"}
	c.ReadHelp("\nno arguments\n")
	if c.Args != "" || c.Summary != "no arguments" || c.Help != "kept" || c.Examples != nil {
		t.Fatalf("%#v", c)
	}
}

func TestRunExitCodes(t *testing.T) {
	p := testProgram()
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"greet", "bob"}, 0, ""},
		{[]string{"greet", "--loud", "bob"}, 0, ""},
		{[]string{"greet", "bob", "--loud"}, 0, ""},
		{[]string{"greet"}, 2, "prog greet: want exactly one NAME\nusage: prog greet NAME [--loud] (see \"prog help greet\")\n"},
		{[]string{"greet", "a", "b"}, 2, "prog greet: want exactly one NAME\n"},
		{[]string{"greet", "--bogus", "a"}, 2, "prog greet: flag provided but not defined: -bogus\nusage: prog greet"},
		{[]string{"greet", "--fail", "usage", "a"}, 2, "prog greet: --fail = \"usage\": no\nusage: prog greet"},
		{[]string{"greet", "--fail", "exit", "a"}, 130, "prog greet: wrapped: stopped (130)\n"},
		{[]string{"greet", "--fail", "plain", "a"}, 1, "prog greet: it broke; on two lines\n"},
		{[]string{"list", "x"}, 2, "prog list: unexpected argument \"x\"\nusage: prog list  (see"},
		{[]string{"list"}, 0, ""},
		{[]string{"frob"}, 2, "prog: unknown command \"frob\" (run \"prog help\" for the list)\n"},
		{[]string{"help", "frob"}, 2, "prog: unknown command \"frob\""},
	} {
		_, errs, code := run(p, c.args...)
		if code != c.code || !strings.HasPrefix(errs, c.stderr) || (c.stderr == "" && errs != "") {
			t.Errorf("%q: exit %d, stderr %q; want %d, %q", c.args, code, errs, c.code, c.stderr)
		}
	}
}

func TestHelp(t *testing.T) {
	p := testProgram()
	want := "prog: a test program\n\nusage: prog COMMAND [arguments] [flags]\n\ncommands:\n" +
		"  greet      say hello\n  list       list things\n\nRun \"prog help COMMAND\" for the arguments and flags of one command.\n"
	for _, args := range [][]string{nil, {"help"}, {"-h"}, {"--help"}} {
		if out, _, code := run(p, args...); code != 0 || out != want {
			t.Errorf("%q: exit %d\n%s", args, code, out)
		}
	}
	want = "usage: prog greet NAME [--loud]\n\nsay hello\n\nGreets NAME.\n\nflags:\n" +
		"  -fail string\n    \tusage, exit or plain: fail that way\n  -loud\n    \tshout\n\n" +
		"examples:\n  prog greet bob   # hello\n  prog greet --loud bob\n"
	for _, args := range [][]string{{"help", "greet"}, {"greet", "--help"}, {"greet", "x", "-h"}} {
		if out, _, code := run(p, args...); code != 0 || out != want {
			t.Errorf("%q: exit %d\n%s", args, code, out)
		}
	}
	if out, _, _ := run(p, "help", "list"); out != "usage: prog list \n\nlist things\n\ngiven help\n" {
		t.Errorf("list: %q", out)
	}
}

func TestParseInterspersed(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	n := fs.Int("n", 0, "")
	pos, err := ParseInterspersed(fs, []string{"a", "-n", "3", "b", "--", "-n", "c"})
	if err != nil || *n != 3 || strings.Join(pos, " ") != "a b -n c" {
		t.Fatalf("%q %v n=%d", pos, err, *n)
	}
	fs.SetOutput(new(bytes.Buffer))
	if _, err := ParseInterspersed(fs, []string{"a", "-n", "x"}); !errors.As(err, new(UsageError)) {
		t.Fatalf("bad value: %v", err)
	}
	if _, err := ParseInterspersed(fs, []string{"-help"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("help: %v", err)
	}
}

func TestFlagHelpers(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Int("min-dropout", 0, "")
	fs.Int("stages", 0, "")
	fs.Bool("progressive", false, "")
	fs.Parse([]string{"--stages", "3"})
	set := Given(fs)
	if len(set) != 1 || !set["stages"] {
		t.Fatalf("given %v", set)
	}
	if err := Needs(set, "progressive", "min-dropout", "stages"); err == nil || err.Error() != "--stages needs --progressive" || !errors.As(err, new(UsageError)) {
		t.Fatalf("needs: %v", err)
	}
	if err := Needs(set, "progressive", "min-dropout"); err != nil {
		t.Fatalf("needs: %v", err)
	}
	fe := &fielderr.Error{Scope: "trainer", Field: "min_dropout", Value: -1, Allowed: "want [0, 1)"}
	if err := FlagError(fs, fmt.Errorf("x: %w", fe)); err == nil || err.Error() != "--min-dropout = -1: want [0, 1)" || !errors.As(err, new(UsageError)) {
		t.Fatalf("flag error: %v", err)
	}
	other := &fielderr.Error{Scope: "trainer", Field: "momentum", Value: 2, Allowed: "want < 1"}
	if err := FlagError(fs, other); err != error(other) {
		t.Fatalf("field without a flag: %v", err)
	}
	abg := &fielderr.Error{Field: "alpha*beta^2*gamma^2", Value: 3.5, Allowed: "want 2 ± 0.1"}
	if err := FlagError(fs, abg); err == nil || err.Error() != "--alpha, --beta, --gamma: alpha*beta^2*gamma^2 = 3.5: want 2 ± 0.1 (or widen --tolerance)" {
		t.Fatalf("compound: %v", err)
	}
	plain := errors.New("plain")
	if FlagError(fs, plain) != plain || FlagError(fs, nil) != nil {
		t.Fatal("other errors pass through")
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain-name_1.db": "plain-name_1.db", "": "''", "a b": "'a b'", "it's": `'it'\''s'`, "$HOME": "'$HOME'", "k=v,x:y@z%": "k=v,x:y@z%",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := CommandLine("go run ./cmd/nas", []string{"search", "--name", "my run", ""}); got != "go run ./cmd/nas search --name 'my run' ''" {
		t.Errorf("CommandLine: %s", got)
	}
	if ProgramName("/tmp/go-build123/b001/exe/nas", "go run ./cmd/nas") != "go run ./cmd/nas" || ProgramName("./nas", "x") != "./nas" {
		t.Error("ProgramName")
	}
}
