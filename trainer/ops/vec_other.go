//go:build !amd64

package ops

const vecAvailable = false

func vSiLU(dst, x *float32, n int)                     { panic("unreachable") }
func vSigmoid(dst, x *float32, n int)                  { panic("unreachable") }
func vSiLUGrad(dst, x, gy *float32, n int)             { panic("unreachable") }
func vAffineSiLU(dst, x, s, t *float32, n int)         { panic("unreachable") }
func vAffineSiLUGrad(dst, x, gy, s, t *float32, n int) { panic("unreachable") }
func vFMA(dst, a, b *float32, n int)                   { panic("unreachable") }
func vAffine(dst, x, s, t *float32, n int)             { panic("unreachable") }
func vAffine2(dst, x, s, y, u, t *float32, n int)      { panic("unreachable") }
func vAdd(dst, x *float32, n int)                      { panic("unreachable") }
func vMul(dst, x, s *float32, n int)                   { panic("unreachable") }
func vSqDev(dst, x, m *float32, n int)                 { panic("unreachable") }
func vGradSums(s1, s2, gv, x, m *float32, n int)       { panic("unreachable") }

func vCopy(dst, x *float32, n int) { panic("unreachable") }

func vCopy2D(dst *float32, ds int, x *float32, xs int, n, count int) { panic("unreachable") }
func vAdd2D(dst *float32, ds int, x *float32, xs int, n, count int)  { panic("unreachable") }

func vShiftSq(s1, s2, x, k *float32, n int) { panic("unreachable") }

func vDWPixel(dst, x, w *float32, xoff, woff *int, ntaps, c int) { panic("unreachable") }
