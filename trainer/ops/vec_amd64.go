//go:build amd64

package ops

import "golang.org/x/sys/cpu"

var vecAvailable = cpu.X86.HasAVX512F

//go:noescape
func vSiLU(dst, x *float32, n int)

//go:noescape
func vSigmoid(dst, x *float32, n int)

//go:noescape
func vSiLUGrad(dst, x, gy *float32, n int)

//go:noescape
func vAffineSiLU(dst, x, s, t *float32, n int)

//go:noescape
func vAffineSiLUGrad(dst, x, gy, s, t *float32, n int)

//go:noescape
func vFMA(dst, a, b *float32, n int)

//go:noescape
func vAffine(dst, x, s, t *float32, n int)

//go:noescape
func vAffine2(dst, x, s, y, u, t *float32, n int)

//go:noescape
func vAdd(dst, x *float32, n int)

//go:noescape
func vMul(dst, x, s *float32, n int)

//go:noescape
func vSqDev(dst, x, m *float32, n int)

//go:noescape
func vGradSums(s1, s2, gv, x, m *float32, n int)

//go:noescape
func vCopy(dst, x *float32, n int)

//go:noescape
func vCopy2D(dst *float32, ds int, x *float32, xs int, n, count int)

//go:noescape
func vAdd2D(dst *float32, ds int, x *float32, xs int, n, count int)

//go:noescape
func vShiftSq(s1, s2, x, k *float32, n int)

//go:noescape
func vDWPixel(dst, x, w *float32, xoff, woff *int, ntaps, c int)
