//go:build arm64

package kernels

import "golang.org/x/sys/cpu"

// neonAvailable: Advanced SIMD (mandatory in ARMv8-A, reported by the OS).
var neonAvailable = cpu.ARM64.HasASIMD

func init() {
	if neonAvailable {
		vecTab[backendNEON] = &neonVec
	}
}

func archBackends() []int32 {
	if neonAvailable {
		return []int32{backendNEON}
	}
	return nil
}

// archTile picks the NEON micro-kernels for one call.
func archTile(be int32, m, n, k int, transA bool) tile {
	return pickTile(n, 4, neonEff[:], neonMaxMR[:], false, func(nv int) []microKernel {
		if transA {
			return neonKernT[nv][:]
		}
		return neonKernN[nv][:]
	})
}

// neonEff weighs the tile widths (4 and 8 columns) by the FMLAs per load,
// not by a measurement (none was possible: the kernels were developed under
// qemu).
var neonEff = [...]float64{0, 0.7, 1.0}
