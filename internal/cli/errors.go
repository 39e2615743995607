package cli

import "fmt"

// UsageError is a mistake in how the program was called: exit status 2,
// with the command's synopsis.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError with the formatted message.
func Usagef(format string, args ...any) error { return UsageError{fmt.Sprintf(format, args...)} }

// ExitCoder is an error that ends the program with its own exit status
// (130 for a search or training stopped by Ctrl-C).
type ExitCoder interface {
	error
	ExitCode() int
}
