//go:build (linux || darwin || freebsd || netbsd) && !nocuda

package cuda

import (
	"github.com/ebitengine/purego"
)

// dlopen loads path with its symbols global, so that libraries loaded
// later (and the libraries' own dlopen by soname) find it.
func dlopen(path string) (uintptr, error) {
	return purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
}

// dlsym returns the address of name in the library h (0 if missing).
func dlsym(h uintptr, name string) uintptr {
	a, err := purego.Dlsym(h, name)
	if err != nil {
		return 0
	}
	return a
}

// gettid is the calling OS thread's id (0 where unknown).
func gettid() int { return gettidImpl() }

// registerFunc makes the Go function variable fn (a pointer to a func)
// call the C function at addr.
func registerFunc(fn any, addr uintptr) { purego.RegisterFunc(fn, addr) }
