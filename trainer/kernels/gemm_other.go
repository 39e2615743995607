//go:build !amd64 && !arm64

package kernels

// No assembly backends off amd64 and arm64: only ref and go.
func archBackends() []int32 { return nil }

func archTile(be int32, m, n, k int, transA bool) tile {
	panic("kernels: no assembly backend on this architecture")
}
