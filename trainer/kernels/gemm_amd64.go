//go:build amd64

package kernels

import "golang.org/x/sys/cpu"

//go:generate go run gen_amd64.go

// avx512Available reports CPU and OS support for the AVX-512F kernels
// (x/sys/cpu checks XCR0 for the opmask and zmm state).
var avx512Available = cpu.X86.HasAVX512F

// avx512Tile picks the micro-kernel width for an m x n x k problem: the
// column count 16*nv that wastes the least of the tile, weighted by the
// measured in-L1 efficiency of each width.
func avx512Tile(m, n, k int, transA bool) tile {
	eff := [5]float64{0, 0.75, 1.0, 0.97, 0.95}
	best, bestScore := 1, -1.0
	for nv := 1; nv <= 4; nv++ {
		nr := 16 * nv
		panels := (n + nr - 1) / nr
		s := eff[nv] * float64(n) / float64(panels*nr)
		if s > bestScore+1e-9 {
			best, bestScore = nv, s
		}
	}
	mr := avx512MaxMR[best]
	t := tile{mr: mr, nr: 16 * best}
	if transA {
		t.kern = avx512KernT[best][:mr+1]
	} else {
		t.kern = avx512KernN[best][:mr+1]
	}
	return t
}
