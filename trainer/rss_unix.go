//go:build linux || darwin || freebsd || netbsd || openbsd

package trainer

import (
	"runtime"
	"syscall"
)

// PeakRSS returns the process's peak resident memory in bytes (getrusage
// maxrss), or 0 when unknown.
func PeakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) // bytes
	}
	return int64(ru.Maxrss) * 1024 // KiB
}
