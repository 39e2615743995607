package ops

import (
	"unsafe"

	"github.com/effnas/effnas/trainer/kernels"
)

// Row kernels on float32 slices: thin names for the row kernels of package
// kernels, which follow the kernels backend (AVX-512, AVX2 or NEON assembly,
// or portable Go; EFFNAS_KERNELS selects one). n is len(dst); the other
// operands must be at least as long. The assembly rounds differently
// (fused multiply-adds, its own exp), so backends agree to a few ulps, not
// bit for bit; each backend is deterministic.

// siluRow: dst = x*sigmoid(x).
func siluRow(dst, x []float32) { kernels.SiLU(dst, x) }

// sigmoidRow: dst = sigmoid(x).
func sigmoidRow(dst, x []float32) { kernels.Sigmoid(dst, x) }

// siluGradRow: dst = gy * s * (1 + x*(1-s)), s = sigmoid(x).
func siluGradRow(dst, x, gy []float32) { kernels.SiLUGrad(dst, x, gy) }

// affineSiLURow: dst = silu(x*s + t).
func affineSiLURow(dst, x, s, t []float32) { kernels.AffineSiLU(dst, x, s, t) }

// affineSiLUGradRow: dst = gy * silu'(x*s + t).
func affineSiLUGradRow(dst, x, gy, s, t []float32) { kernels.AffineSiLUGrad(dst, x, gy, s, t) }

// fmaRow: dst += a*b.
func fmaRow(dst, a, b []float32) { kernels.FMA(dst, a, b) }

// affineRow: dst = x*s + t.
func affineRow(dst, x, s, t []float32) { kernels.Affine(dst, x, s, t) }

// affine2Row: dst = x*s + y*u + t.
func affine2Row(dst, x, s, y, u, t []float32) { kernels.Affine2(dst, x, s, y, u, t) }

// addRow: dst += x.
func addRow(dst, x []float32) { kernels.Add(dst, x) }

// copyRow: dst = x (short rows: no call into memmove's size dispatch).
func copyRow(dst, x []float32) { kernels.Copy(dst, x) }

// mulRow: dst = x*s.
func mulRow(dst, x, s []float32) { kernels.Mul(dst, x, s) }

// sqDevRow: dst += (x-m)^2.
func sqDevRow(dst, x, m []float32) { kernels.SqDev(dst, x, m) }

// shiftSqRow: d = x-k; s1 += d; s2 += d*d.
func shiftSqRow(s1, s2, x, k []float32) { kernels.ShiftSq(s1, s2, x, k) }

// gradSumsRow: s1 += g; s2 += g*(x-m).
func gradSumsRow(s1, s2, g, x, m []float32) { kernels.GradSums(s1, s2, g, x, m) }

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
	if isF32T[T]() {
		kernels.Copy2D(as32(dst), ds, as32(x), xs, n, count)
		return
	}
	_, _ = dst[(count-1)*ds+n-1], x[(count-1)*xs+n-1]
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
	if isF32T[T]() {
		kernels.Add2D(as32(dst), ds, as32(x), xs, n, count)
		return
	}
	_, _ = dst[(count-1)*ds+n-1], x[(count-1)*xs+n-1]
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
	if isF32T[T]() {
		kernels.DWPixel(as32(dst), as32(x), as32(w), xoff, woff, c)
		return
	}
	dst = dst[:c]
	woff = woff[:len(xoff)]
	clear(dst)
	for t, o := range xoff {
		xr, wr := x[o:o+c], w[woff[t]:woff[t]+c]
		for i := range dst {
			dst[i] += xr[i] * wr[i]
		}
	}
}
