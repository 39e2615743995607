package cli

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to write from the watching goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAfterInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	var w syncBuffer
	done := AfterInterrupt(ctx, func() { close(stopped) }, &w, "stopping: waiting")
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stop not called after the interrupt")
	}
	for deadline := time.Now().Add(5 * time.Second); w.String() == "" && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	done()
	if w.String() != "stopping: waiting\n" {
		t.Fatalf("note %q", w.String())
	}

}
