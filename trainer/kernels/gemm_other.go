//go:build !amd64

package kernels

// avx512Available is false off amd64: only the portable backends exist.
const avx512Available = false

func avx512Tile(m, n, k int, transA bool) tile {
	panic("kernels: no avx512 backend on this architecture")
}
