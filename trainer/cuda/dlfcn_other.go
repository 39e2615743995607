//go:build !(linux || darwin || freebsd || netbsd) || nocuda

// Without CUDA support (other systems, or built with -tags nocuda for a
// static binary that never loads shared libraries) every library is
// missing and Open and Probe report why.

package cuda

import (
	"fmt"
	"runtime"
)

func dlopen(path string) (uintptr, error) {
	return 0, fmt.Errorf("this build of effnas cannot load shared libraries (%s, or built with -tags nocuda)", runtime.GOOS)
}

func registerFunc(any, uintptr) {}

func dlsym(uintptr, string) uintptr { return 0 }

func gettid() int { return 0 }
