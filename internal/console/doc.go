// Package console shows long work on a terminal for the nas command: a
// progress bar when the writer is a terminal, otherwise plain lines that
// keep a log file readable. Training shows its steps (Training); a search
// shows its trials and what the running ones do (Search).
package console

import (
	"io"
	"os"

	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
