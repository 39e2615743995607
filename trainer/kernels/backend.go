package kernels

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// float32 backends. The GEMM micro-kernels and the row kernels (vec.go)
// follow the same choice.
const (
	backendRef    int32 = iota // reference loops
	backendGo                  // portable Go: blocked GEMM, register-blocked scalar micro-kernel
	backendAVX2                // amd64 AVX2+FMA assembly (256-bit)
	backendAVX512              // amd64 AVX-512F assembly (512-bit)
	backendNEON                // arm64 NEON (ASIMD) assembly (128-bit)
	numBackends
)

var backendNames = [numBackends]string{"ref", "go", "avx2", "avx512", "neon"}

// EnvBackend is the environment variable read at start-up to force a float32
// backend: "ref", "go", "avx2", "avx512" or "neon" (empty or "auto": the
// fastest one this CPU supports).
const EnvBackend = "EFFNAS_KERNELS"

var activeBackend atomic.Int32

func init() {
	if err := SetBackend(os.Getenv(EnvBackend)); err != nil {
		fmt.Fprintf(os.Stderr, "kernels: %v; using %s\n", err, Backend())
	}
}

// Backend names the active float32 backend: "avx512", "avx2", "neon", "go"
// or "ref". Record it alongside timings.
func Backend() string { return backendNames[activeBackend.Load()] }

// Vector reports whether the active backend is an assembly one (avx2,
// avx512 or neon).
func Vector() bool { return activeBackend.Load() >= backendAVX2 }

// AVX512 reports whether the active backend is "avx512".
func AVX512() bool { return activeBackend.Load() == backendAVX512 }

// available lists the backends this machine runs, best last.
func available() []int32 {
	return append([]int32{backendRef, backendGo}, archBackends()...)
}

// Backends lists the float32 backends that can run on this machine, best last.
func Backends() []string {
	var out []string
	for _, be := range available() {
		out = append(out, backendNames[be])
	}
	return out
}

// SetBackend selects the float32 backend: "ref", "go", "avx2", "avx512",
// "neon", or "" / "auto" for the fastest supported one. Asking for a backend
// this CPU cannot run selects the automatic choice and returns an error. It
// is meant for start-up and tests; calls already running finish on the old
// backend.
func SetBackend(name string) error {
	av := available()
	auto := av[len(av)-1]
	if name == "" || name == "auto" {
		activeBackend.Store(auto)
		return nil
	}
	for _, be := range av {
		if backendNames[be] == name {
			activeBackend.Store(be)
			return nil
		}
	}
	activeBackend.Store(auto)
	for _, known := range backendNames {
		if known == name {
			return fmt.Errorf("backend %q not supported on this CPU (supported: %s)", name, strings.Join(Backends(), ", "))
		}
	}
	return fmt.Errorf("unknown backend %q (want one of %s, or auto)", name, strings.Join(backendNames[:], ", "))
}
