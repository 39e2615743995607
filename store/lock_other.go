//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import (
	"os"
	"time"
)

// lockFile leaves the locking to bbolt, which waits at most the timeout.
func lockFile(*os.File, bool, time.Duration) error { return nil }

// unlockFile does nothing: bbolt locks and unlocks by itself here.
func unlockFile(*os.File) {}
