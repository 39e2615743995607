package kernels

import (
	"runtime"

	"golang.org/x/sys/cpu"
)

// What the CPU reports, independently of the backend tables.
func avx512CPU() bool { return runtime.GOARCH == "amd64" && cpu.X86.HasAVX512F }
func avx2CPU() bool   { return runtime.GOARCH == "amd64" && cpu.X86.HasAVX2 && cpu.X86.HasFMA }
