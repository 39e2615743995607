package cli

import (
	"context"
	"os"
	"os/signal"
)

// Interruptible returns a context cancelled by Ctrl-C (SIGINT) or, on
// Unix, SIGTERM. Until its cancel function is called the signals do not
// end the program; after it, a second Ctrl-C does.
func Interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, sigterm)
}
