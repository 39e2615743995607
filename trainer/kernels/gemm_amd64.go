//go:build amd64

package kernels

import "golang.org/x/sys/cpu"

// CPU and OS support (x/sys/cpu checks XCR0 for the ymm, zmm and opmask
// state): AVX-512F for the avx512 backend, AVX2 and FMA for avx2.
var (
	avx512Available = cpu.X86.HasAVX512F
	avx2Available   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

func archBackends() []int32 {
	var out []int32
	if avx2Available {
		out = append(out, backendAVX2)
	}
	if avx512Available {
		out = append(out, backendAVX512)
	}
	return out
}

// archTile picks the micro-kernels of an assembly backend for one call.
func archTile(be int32, m, n, k int, transA bool) tile {
	if be == backendAVX2 {
		return pickTile(n, 8, avx2Eff[:], avx2MaxMR[:], false, func(nv int) []microKernel {
			if transA {
				return avx2KernT[nv][:]
			}
			return avx2KernN[nv][:]
		})
	}
	return pickTile(n, 16, avx512Eff[:], avx512MaxMR[:], true, func(nv int) []microKernel {
		if transA {
			return avx512KernT[nv][:]
		}
		return avx512KernN[nv][:]
	})
}

// Measured in-L1 efficiency of the tile widths (1, 2, 3[, 4] vectors),
// relative to the best: go-avx2-gemm.md (12x8, 6x16, 4x24) and
// go-simd-gemm.md (16x16, 14x32, 9x48, 6x64).
var (
	avx2Eff   = [...]float64{0, 0.7, 1.0, 0.93}
	avx512Eff = [...]float64{0, 0.75, 1.0, 0.97, 0.95}
)
