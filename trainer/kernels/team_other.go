//go:build !linux

package kernels

import "runtime"

// osYield offers the processor to other goroutines (threads yield on
// Linux only).
func osYield() { runtime.Gosched() }
