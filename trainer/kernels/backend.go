package kernels

import (
	"fmt"
	"os"
	"sync/atomic"
)

// float32 GEMM backends.
const (
	backendRef    int32 = iota // gemmRef loops
	backendGo                  // portable blocked Go (packing, threads, scalar micro-kernel)
	backendAVX512              // amd64 AVX-512 assembly micro-kernels
)

var backendNames = [...]string{"ref", "go", "avx512"}

// EnvBackend is the environment variable read at start-up to force a float32
// GEMM backend: "ref", "go" or "avx512" (empty or "auto": the fastest one
// this CPU supports).
const EnvBackend = "EFFNAS_KERNELS"

var activeBackend atomic.Int32

func init() {
	if err := SetBackend(os.Getenv(EnvBackend)); err != nil {
		fmt.Fprintf(os.Stderr, "kernels: %v; using %s\n", err, Backend())
	}
}

// Backend names the active float32 GEMM backend: "avx512", "go" or "ref".
// Record it alongside timings.
func Backend() string { return backendNames[activeBackend.Load()] }

// AVX512 reports whether the active backend is "avx512" (a cheap check for
// per-row kernels that follow the backend choice).
func AVX512() bool { return activeBackend.Load() == backendAVX512 }

// Backends lists the float32 backends that can run on this machine, best last.
func Backends() []string {
	out := []string{"ref", "go"}
	if avx512Available {
		out = append(out, "avx512")
	}
	return out
}

// SetBackend selects the float32 GEMM backend: "ref", "go", "avx512", or ""
// / "auto" for the fastest supported one. Asking for a backend this CPU
// cannot run selects the automatic choice and returns an error. It is meant
// for start-up and tests; calls already running finish on the old backend.
func SetBackend(name string) error {
	auto := backendGo
	if avx512Available {
		auto = backendAVX512
	}
	switch name {
	case "", "auto":
		activeBackend.Store(auto)
	case "ref":
		activeBackend.Store(backendRef)
	case "go":
		activeBackend.Store(backendGo)
	case "avx512":
		if !avx512Available {
			activeBackend.Store(auto)
			return fmt.Errorf("backend %q not supported on this CPU", name)
		}
		activeBackend.Store(backendAVX512)
	default:
		activeBackend.Store(auto)
		return fmt.Errorf("unknown backend %q (want ref, go, avx512 or auto)", name)
	}
	return nil
}
