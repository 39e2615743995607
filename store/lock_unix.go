//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store

import (
	"os"
	"syscall"
	"time"

	berrors "go.etcd.io/bbolt/errors"
)

// lockFile takes the flock that bbolt takes next (exclusive for a writer,
// shared for a reader), polling every lockPoll rather than bbolt's 50 ms so
// that a waiting process gets in within the yieldGap between two
// transactions of a busy writer. bbolt's own flock on the same descriptor
// then succeeds at once.
func lockFile(f *os.File, exclusive bool, timeout time.Duration) error {
	how := syscall.LOCK_SH | syscall.LOCK_NB
	if exclusive {
		how = syscall.LOCK_EX | syscall.LOCK_NB
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err == nil {
			return nil
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
		if !time.Now().Before(deadline) {
			return berrors.ErrTimeout
		}
		time.Sleep(lockPoll)
	}
}

// unlockFile releases the flock of f.
func unlockFile(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
