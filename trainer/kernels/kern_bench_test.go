//go:build amd64

package kernels

import (
	"fmt"
	"testing"
	"unsafe"
)

// BenchmarkKernelL1 times single micro-kernels on operands that sit in L1
// (kc = 256), the upper bound for the blocked driver.
func BenchmarkKernelL1(b *testing.B) {
	if !avx512Available {
		b.Skip("no AVX-512")
	}
	const kc = 256
	for nv := 1; nv <= 4; nv++ {
		mr := avx512MaxMR[nv]
		for _, lay := range []string{"N", "T"} {
			kern := avx512KernN[nv][mr]
			rs, cs := uintptr(4*kc), uintptr(4)
			if lay == "T" {
				kern = avx512KernT[nv][mr]
				rs, cs = 4, uintptr(4*mr)
			}
			a := make([]float32, mr*kc+16)
			bp := make([]float32, kc*16*nv+16)
			c := make([]float32, mr*16*nv)
			b.Run(fmt.Sprintf("%s%dx%d", lay, mr, 16*nv), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					kern(kc, unsafe.Pointer(&a[0]), rs, cs, unsafe.Pointer(&bp[0]), unsafe.Pointer(&c[0]), uintptr(4*16*nv), ^uint64(0), 1)
				}
				b.ReportMetric(2*float64(mr*16*nv*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
