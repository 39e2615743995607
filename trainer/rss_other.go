//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package trainer

// PeakRSS returns 0: the peak resident memory is not known on this system.
func PeakRSS() int64 { return 0 }
