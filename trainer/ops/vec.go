package ops

import (
	"unsafe"

	"github.com/effnas/effnas/trainer/kernels"
)

// Row kernels on float32 slices: AVX-512 assembly on amd64 CPUs that have it
// while the kernels backend is "avx512" (EFFNAS_KERNELS=go or ref selects
// these portable loops everywhere), plain Go otherwise. n is len(dst); the
// other operands must be at least as long. The assembly rounds differently
// (fused multiply-adds, its own exp), so results agree with the Go loops to a
// few ulps, not bit for bit.

func useVec() bool { return vecAvailable && kernels.AVX512() }

func p32(s []float32) *float32 { return unsafe.SliceData(s) }

// siluRow: dst = x*sigmoid(x).
func siluRow(dst, x []float32) {
	n := len(dst)
	x = x[:n]
	if n > 0 && useVec() {
		vSiLU(p32(dst), p32(x), n)
		return
	}
	for i, v := range x {
		dst[i] = v * sigmoid32(v)
	}
}

// sigmoidRow: dst = sigmoid(x).
func sigmoidRow(dst, x []float32) {
	n := len(dst)
	x = x[:n]
	if n > 0 && useVec() {
		vSigmoid(p32(dst), p32(x), n)
		return
	}
	for i, v := range x {
		dst[i] = sigmoid32(v)
	}
}

// siluGradRow: dst = gy * s * (1 + x*(1-s)), s = sigmoid(x).
func siluGradRow(dst, x, gy []float32) {
	n := len(dst)
	x, gy = x[:n], gy[:n]
	if n > 0 && useVec() {
		vSiLUGrad(p32(dst), p32(x), p32(gy), n)
		return
	}
	for i, v := range x {
		s := sigmoid32(v)
		dst[i] = gy[i] * s * (1 + v*(1-s))
	}
}

// affineSiLURow: dst = silu(x*s + t).
func affineSiLURow(dst, x, s, t []float32) {
	n := len(dst)
	x, s, t = x[:n], s[:n], t[:n]
	if n > 0 && useVec() {
		vAffineSiLU(p32(dst), p32(x), p32(s), p32(t), n)
		return
	}
	for i, v := range x {
		z := v*s[i] + t[i]
		dst[i] = z * sigmoid32(z)
	}
}

// affineSiLUGradRow: dst = gy * silu'(x*s + t).
func affineSiLUGradRow(dst, x, gy, s, t []float32) {
	n := len(dst)
	x, gy, s, t = x[:n], gy[:n], s[:n], t[:n]
	if n > 0 && useVec() {
		vAffineSiLUGrad(p32(dst), p32(x), p32(gy), p32(s), p32(t), n)
		return
	}
	for i, v := range x {
		z := v*s[i] + t[i]
		sg := sigmoid32(z)
		dst[i] = gy[i] * sg * (1 + z*(1-sg))
	}
}

// fmaRow: dst += a*b.
func fmaRow(dst, a, b []float32) {
	n := len(dst)
	a, b = a[:n], b[:n]
	if n > 0 && useVec() {
		vFMA(p32(dst), p32(a), p32(b), n)
		return
	}
	for i := range dst {
		dst[i] += a[i] * b[i]
	}
}

// affineRow: dst = x*s + t.
func affineRow(dst, x, s, t []float32) {
	n := len(dst)
	x, s, t = x[:n], s[:n], t[:n]
	if n > 0 && useVec() {
		vAffine(p32(dst), p32(x), p32(s), p32(t), n)
		return
	}
	for i, v := range x {
		dst[i] = v*s[i] + t[i]
	}
}

// affine2Row: dst = x*s + y*u + t.
func affine2Row(dst, x, s, y, u, t []float32) {
	n := len(dst)
	x, s, y, u, t = x[:n], s[:n], y[:n], u[:n], t[:n]
	if n > 0 && useVec() {
		vAffine2(p32(dst), p32(x), p32(s), p32(y), p32(u), p32(t), n)
		return
	}
	for i, v := range x {
		dst[i] = v*s[i] + y[i]*u[i] + t[i]
	}
}

// addRow: dst += x.
func addRow(dst, x []float32) {
	n := len(dst)
	x = x[:n]
	if n > 0 && useVec() {
		vAdd(p32(dst), p32(x), n)
		return
	}
	for i, v := range x {
		dst[i] += v
	}
}

// copyRow: dst = x (short rows: no call into memmove's size dispatch).
func copyRow(dst, x []float32) {
	n := len(dst)
	x = x[:n]
	if n > 0 && useVec() {
		vCopy(p32(dst), p32(x), n)
		return
	}
	copy(dst, x)
}

// mulRow: dst = x*s.
func mulRow(dst, x, s []float32) {
	n := len(dst)
	x, s = x[:n], s[:n]
	if n > 0 && useVec() {
		vMul(p32(dst), p32(x), p32(s), n)
		return
	}
	for i, v := range x {
		dst[i] = v * s[i]
	}
}

// sqDevRow: dst += (x-m)^2.
func sqDevRow(dst, x, m []float32) {
	n := len(dst)
	x, m = x[:n], m[:n]
	if n > 0 && useVec() {
		vSqDev(p32(dst), p32(x), p32(m), n)
		return
	}
	for i, v := range x {
		d := v - m[i]
		dst[i] += d * d
	}
}

// shiftSqRow: d = x-k; s1 += d; s2 += d*d.
func shiftSqRow(s1, s2, x, k []float32) {
	n := len(s1)
	s2, x, k = s2[:n], x[:n], k[:n]
	if n > 0 && useVec() {
		vShiftSq(p32(s1), p32(s2), p32(x), p32(k), n)
		return
	}
	for i, v := range x {
		d := v - k[i]
		s1[i] += d
		s2[i] += d * d
	}
}

// gradSumsRow: s1 += g; s2 += g*(x-m).
func gradSumsRow(s1, s2, g, x, m []float32) {
	n := len(s1)
	s2, g, x, m = s2[:n], g[:n], x[:n], m[:n]
	if n > 0 && useVec() {
		vGradSums(p32(s1), p32(s2), p32(g), p32(x), p32(m), n)
		return
	}
	for i, v := range g {
		s1[i] += v
		s2[i] += v * (x[i] - m[i])
	}
}

// as32 reinterprets a slice of a 4-byte Float type as []float32.
func as32[T Float](s []T) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

func isF32T[T Float]() bool {
	var z T
	return unsafe.Sizeof(z) == 4
}

// Generic forms of the row kernels for the [T Float] kernels: float32 goes
// to the vector kernels, float64 runs the plain loops.

func fmaT[T Float](dst, a, b []T) {
	if isF32T[T]() {
		fmaRow(as32(dst), as32(a), as32(b))
		return
	}
	b = b[:len(dst)]
	for i, v := range a[:len(dst)] {
		dst[i] += v * b[i]
	}
}

func addT[T Float](dst, x []T) {
	if isF32T[T]() {
		addRow(as32(dst), as32(x))
		return
	}
	for i, v := range x[:len(dst)] {
		dst[i] += v
	}
}

func copyT[T Float](dst, x []T) {
	if isF32T[T]() {
		copyRow(as32(dst), as32(x))
		return
	}
	copy(dst, x[:len(dst)])
}

// copy2DT copies count runs of n elements: dst[i*ds:][:n] = x[i*xs:][:n].
func copy2DT[T Float](dst []T, ds int, x []T, xs int, n, count int) {
	if n <= 0 || count <= 0 {
		return
	}
	_, _ = dst[(count-1)*ds+n-1], x[(count-1)*xs+n-1]
	if isF32T[T]() && useVec() {
		vCopy2D(p32(as32(dst)), ds, p32(as32(x)), xs, n, count)
		return
	}
	for i := 0; i < count; i++ {
		copy(dst[i*ds:i*ds+n], x[i*xs:i*xs+n])
	}
}

// add2DT adds count runs of n elements in order: dst[i*ds:][:n] +=
// x[i*xs:][:n] (runs of dst may overlap).
func add2DT[T Float](dst []T, ds int, x []T, xs int, n, count int) {
	if n <= 0 || count <= 0 {
		return
	}
	_, _ = dst[(count-1)*ds+n-1], x[(count-1)*xs+n-1]
	if isF32T[T]() && useVec() {
		vAdd2D(p32(as32(dst)), ds, p32(as32(x)), xs, n, count)
		return
	}
	for i := 0; i < count; i++ {
		d, s := dst[i*ds:i*ds+n], x[i*xs:i*xs+n]
		for j, v := range s {
			d[j] += v
		}
	}
}

func mulT[T Float](dst, x, s []T) {
	if isF32T[T]() {
		mulRow(as32(dst), as32(x), as32(s))
		return
	}
	s = s[:len(dst)]
	for i, v := range x[:len(dst)] {
		dst[i] = v * s[i]
	}
}

// dwPixelT writes dst[:c] = sum over taps t of x[xoff[t]:][:c] *
// w[woff[t]:][:c], the taps in order (one depthwise output or input-gradient
// pixel, accumulated in registers). No taps: zeros.
func dwPixelT[T Float](dst, x, w []T, xoff, woff []int, c int) {
	dst = dst[:c]
	woff = woff[:len(xoff)]
	for t, o := range xoff {
		_, _ = x[o:o+c], w[woff[t]:woff[t]+c]
	}
	if isF32T[T]() && c > 0 && useVec() {
		var xp, wp *int
		if len(xoff) > 0 {
			xp, wp = &xoff[0], &woff[0]
		}
		vDWPixel(p32(as32(dst)), p32(as32(x)), p32(as32(w)), xp, wp, len(xoff), c)
		return
	}
	clear(dst)
	for t, o := range xoff {
		xr, wr := x[o:o+c], w[woff[t]:woff[t]+c]
		for i := range dst {
			dst[i] += xr[i] * wr[i]
		}
	}
}
