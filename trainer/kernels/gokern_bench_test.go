package kernels

import (
	"fmt"
	"testing"
	"unsafe"
)

// BenchmarkGoKernelL1 times the go backend's micro-kernels (and the earlier
// 4x4 one) in L1, kc = 256.
func BenchmarkGoKernelL1(b *testing.B) {
	const kc = 256
	for _, v := range []struct {
		name string
		t    tile
	}{{"3x3", goTile3x3}, {"4x2", goTile4x2}, {"old4x4", goTileOld}} {
		for _, lay := range []string{"N", "T"} {
			mr, nr := v.t.mr, v.t.nr
			kern := v.t.kern[mr]
			rs, cs := uintptr(4*kc), uintptr(4)
			if lay == "T" {
				rs, cs = 4, uintptr(4*mr)
			}
			a := make([]float32, mr*kc+16)
			bp := make([]float32, kc*nr+16)
			c := make([]float32, mr*nr)
			b.Run(fmt.Sprintf("%s/%s", v.name, lay), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					kern(kc, unsafe.Pointer(&a[0]), rs, cs, unsafe.Pointer(&bp[0]), unsafe.Pointer(&c[0]), uintptr(4*nr), uint64(1)<<nr-1, 1)
				}
				b.ReportMetric(2*float64(mr*nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
