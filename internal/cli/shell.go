package cli

import "strings"

// safeShell are the characters a POSIX shell word may hold unquoted.
const safeShell = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+./,:@%"

// Quote returns s as one word for a POSIX shell: as it is when every
// character is safe, else in single quotes (and "" as ”).
func Quote(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return !strings.ContainsRune(safeShell, r) }) {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}

// CommandLine is prog followed by args, each quoted for a POSIX shell
// (prog as it is: it may be "go run ./cmd/nas").
func CommandLine(prog string, args []string) string {
	parts := []string{prog}
	for _, a := range args {
		parts = append(parts, Quote(a))
	}
	return strings.Join(parts, " ")
}

// ProgramName is how the user ran the program from its argument 0: as
// typed, or "go run ./cmd/NAME" (pkg) for a binary that go run built in a
// temporary folder.
func ProgramName(arg0, goRun string) string {
	if strings.Contains(arg0, "go-build") {
		return goRun
	}
	return arg0
}
