//go:build amd64

package kernels

func init() {
	if avx2Available {
		vecTab[backendAVX2] = &avx2Vec
	}
	if avx512Available {
		vecTab[backendAVX512] = &avx512Vec
	}
}

// avx512Vec is the table of the hand-written AVX-512 row kernels.
var avx512Vec = vecOps{
	silu: avx512SiLU, sigmoid: avx512Sigmoid, siluGrad: avx512SiLUGrad,
	affineSiLU: avx512AffineSiLU, affineSiLUGrad: avx512AffineSiLUGrad,
	fma: avx512FMA, affine: avx512Affine, affine2: avx512Affine2,
	add: avx512Add, mul: avx512Mul, sqDev: avx512SqDev, gradSums: avx512GradSums,
	copy: avx512Copy, shiftSq: avx512ShiftSq, copy2D: avx512Copy2D, add2D: avx512Add2D,
	dwPixel: avx512DWPixel,
	// the Winograd transforms move data more than they compute: AVX2's
	winoIn: avx2WinoIn, winoOut: avx2WinoOut, winoFilter: avx2WinoFilter,
	winoFilter2: avx2WinoFilter2, winoOut3: avx2WinoOut3,
}

//go:noescape
func avx512SiLU(dst, x *float32, n int)

//go:noescape
func avx512Sigmoid(dst, x *float32, n int)

//go:noescape
func avx512SiLUGrad(dst, x, gy *float32, n int)

//go:noescape
func avx512AffineSiLU(dst, x, s, t *float32, n int)

//go:noescape
func avx512AffineSiLUGrad(dst, x, gy, s, t *float32, n int)

//go:noescape
func avx512FMA(dst, a, b *float32, n int)

//go:noescape
func avx512Affine(dst, x, s, t *float32, n int)

//go:noescape
func avx512Affine2(dst, x, s, y, u, t *float32, n int)

//go:noescape
func avx512Add(dst, x *float32, n int)

//go:noescape
func avx512Mul(dst, x, s *float32, n int)

//go:noescape
func avx512SqDev(dst, x, m *float32, n int)

//go:noescape
func avx512GradSums(s1, s2, gv, x, m *float32, n int)

//go:noescape
func avx512Copy(dst, x *float32, n int)

//go:noescape
func avx512Copy2D(dst *float32, ds int, x *float32, xs int, n, count int)

//go:noescape
func avx512Add2D(dst *float32, ds int, x *float32, xs int, n, count int)

//go:noescape
func avx512ShiftSq(s1, s2, x, k *float32, n int)

//go:noescape
func avx512DWPixel(dst, x, w *float32, xoff, woff *int, ntaps, c int)
