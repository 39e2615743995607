//go:build unix

package cli

import (
	"syscall"
	"testing"
	"time"
)

func TestInterruptibleCancelsOnSIGTERM(t *testing.T) {
	ctx, stop := Interruptible()
	defer stop()
	if ctx.Err() != nil {
		t.Fatal("cancelled before any signal")
	}
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
}
