package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
)

// thread is one goroutine locked to one OS thread that runs closures, in
// the order they arrive, one at a time. A CUDA context is current per OS
// thread: the device thread makes the device's context current once and
// every CUDA call of the device runs on it, so no call ever runs without
// (or with another) context, and calls never interleave.
type thread struct {
	work chan func()
	tid  int // OS thread id (0 where unknown)
}

// errReentrant is returned when a closure running on the device thread
// asks the device thread to run another one (it would wait for itself).
var errReentrant = errors.New("cuda: Device.Do called from inside Do; use the *Ctx passed to the closure")

// startThread starts the thread and runs init on it first; an init error
// stops the thread and is returned.
func startThread(init func() error) (*thread, error) {
	t := &thread{work: make(chan func())}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: when the goroutine ends, the OS thread ends with
		// it and takes the context binding along.
		runtime.LockOSThread()
		t.tid = gettid()
		if err := safely(init); err != nil {
			errc <- err
			return
		}
		errc <- nil
		for fn := range t.work {
			fn()
		}
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return t, nil
}

// run runs fn on the thread and returns its error (a panic in fn is
// returned as an error with its stack; the thread lives on).
func (t *thread) run(fn func() error) error {
	if t.tid != 0 && gettid() == t.tid {
		return errReentrant
	}
	done := make(chan error, 1)
	t.work <- func() { done <- safely(fn) }
	return <-done
}

// stop ends the thread after the closures already sent.
func (t *thread) stop() { close(t.work) }

func safely(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cuda: panic on the device thread: %v\n%s", r, debug.Stack())
		}
	}()
	return fn()
}
