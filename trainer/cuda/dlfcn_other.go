//go:build !(linux || darwin || freebsd || netbsd)

package cuda

import (
	"fmt"
	"runtime"
)

func dlopen(path string) (uintptr, error) {
	return 0, fmt.Errorf("loading shared libraries is not supported on %s", runtime.GOOS)
}

func dlsym(uintptr, string) uintptr { return 0 }

func gettid() int { return 0 }
