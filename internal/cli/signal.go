package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// Interruptible returns a context cancelled by Ctrl-C (SIGINT) or, on
// Unix, SIGTERM. Until its cancel function is called the signals do not
// end the program; after it, a second Ctrl-C does.
func Interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, sigterm)
}

// AfterInterrupt watches ctx (from Interruptible) until the returned
// function is called: once ctx is cancelled it calls stop, so that a
// second Ctrl-C ends the program at once, and, unless the work has ended
// or note is "", prints note on w (what the program is waiting for).
func AfterInterrupt(ctx context.Context, stop context.CancelFunc, w io.Writer, note string) (done func()) {
	finished := make(chan struct{})
	go func() {
		select {
		case <-finished:
		case <-ctx.Done():
			stop()
			select {
			case <-finished:
			default:
				if note != "" {
					fmt.Fprintln(w, note)
				}
			}
		}
	}()
	return func() { close(finished) }
}
