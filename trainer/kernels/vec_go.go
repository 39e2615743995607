package kernels

import (
	"math"
	"unsafe"
)

// The portable row kernels. refVec is the plain loops (the reference the
// assembly is tested against); goVec computes exactly the same values with
// loops the Go compiler handles better: four elements per iteration from
// fixed-length subslices (one bounds check per four), and a sigmoid without
// data-dependent branches (its sign test and the floor in exp are selects).

func sl(p *float32, n int) []float32 { return unsafe.Slice(p, n) }

// exp32 is a float32 exponential with a relative error of a few ulps
// (Cephes expf: range reduction by ln 2 in two parts, degree-6 polynomial,
// exponent bits). Arguments whose result is near overflow or subnormal take
// the float64 path. Same as package ops' exp32.
func exp32(x float32) float32 {
	if x > 88 || x < -87 || x != x {
		return float32(math.Exp(float64(x)))
	}
	fx := x*1.44269504088896341 + 0.5
	n := int32(fx)
	if float32(n) > fx {
		n--
	}
	return expPoly(x, n)
}

// expPoly is exp32's polynomial times 2^n for n = floor(x*log2(e) + 1/2).
func expPoly(x float32, n int32) float32 {
	fn := float32(n)
	r := x - fn*0.693359375 - fn*-2.12194440e-4
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*r*r + r + 1
	return y * math.Float32frombits(uint32(n+127)<<23)
}

// sigmoid32 is a numerically stable float32 logistic function.
func sigmoid32(x float32) float32 {
	if x >= 0 {
		return 1 / (1 + exp32(-x))
	}
	e := exp32(x)
	return e / (1 + e)
}

// sigmoidGo equals sigmoid32 for every input: e = exp(-|x|) either way,
// and the numerator (1 or e) is picked by the sign bit.
func sigmoidGo(x float32) float32 {
	b := math.Float32bits(x)
	t := math.Float32frombits(b | 1<<31) // -|x|
	var e float32
	if t < -87 || t != t {
		e = float32(math.Exp(float64(t)))
	} else {
		fx := t*1.44269504088896341 + 0.5
		n := int32(fx)
		d := int32(0)
		if float32(n) > fx {
			d = 1
		}
		e = expPoly(t, n-d)
	}
	m := uint32(int32(b) >> 31) // all ones when the sign bit is set
	num := math.Float32frombits(0x3f800000&^m | math.Float32bits(e)&m)
	return num / (1 + e)
}

var refVec = vecOps{
	silu: func(dst, x *float32, n int) {
		d := sl(dst, n)
		for i, v := range sl(x, n) {
			d[i] = v * sigmoid32(v)
		}
	},
	sigmoid: func(dst, x *float32, n int) {
		d := sl(dst, n)
		for i, v := range sl(x, n) {
			d[i] = sigmoid32(v)
		}
	},
	siluGrad: func(dst, x, gy *float32, n int) {
		d, g := sl(dst, n), sl(gy, n)
		for i, v := range sl(x, n) {
			s := sigmoid32(v)
			d[i] = g[i] * s * (1 + v*(1-s))
		}
	},
	affineSiLU: func(dst, x, s, t *float32, n int) {
		d, sv, tv := sl(dst, n), sl(s, n), sl(t, n)
		for i, v := range sl(x, n) {
			z := v*sv[i] + tv[i]
			d[i] = z * sigmoid32(z)
		}
	},
	affineSiLUGrad: func(dst, x, gy, s, t *float32, n int) {
		d, g, sv, tv := sl(dst, n), sl(gy, n), sl(s, n), sl(t, n)
		for i, v := range sl(x, n) {
			z := v*sv[i] + tv[i]
			sg := sigmoid32(z)
			d[i] = g[i] * sg * (1 + z*(1-sg))
		}
	},
	fma: func(dst, a, b *float32, n int) {
		d, bv := sl(dst, n), sl(b, n)
		for i, v := range sl(a, n) {
			d[i] += v * bv[i]
		}
	},
	affine: func(dst, x, s, t *float32, n int) {
		d, sv, tv := sl(dst, n), sl(s, n), sl(t, n)
		for i, v := range sl(x, n) {
			d[i] = v*sv[i] + tv[i]
		}
	},
	affine2: func(dst, x, s, y, u, t *float32, n int) {
		d, sv, yv, uv, tv := sl(dst, n), sl(s, n), sl(y, n), sl(u, n), sl(t, n)
		for i, v := range sl(x, n) {
			d[i] = v*sv[i] + yv[i]*uv[i] + tv[i]
		}
	},
	add: func(dst, x *float32, n int) {
		d := sl(dst, n)
		for i, v := range sl(x, n) {
			d[i] += v
		}
	},
	mul: func(dst, x, s *float32, n int) {
		d, sv := sl(dst, n), sl(s, n)
		for i, v := range sl(x, n) {
			d[i] = v * sv[i]
		}
	},
	sqDev: func(dst, x, m *float32, n int) {
		d, mv := sl(dst, n), sl(m, n)
		for i, v := range sl(x, n) {
			e := v - mv[i]
			d[i] += e * e
		}
	},
	gradSums: func(s1, s2, gv, x, m *float32, n int) {
		a, b, xv, mv := sl(s1, n), sl(s2, n), sl(x, n), sl(m, n)
		for i, v := range sl(gv, n) {
			a[i] += v
			b[i] += v * (xv[i] - mv[i])
		}
	},
	copy: func(dst, x *float32, n int) { copy(sl(dst, n), sl(x, n)) },
	shiftSq: func(s1, s2, x, k *float32, n int) {
		a, b, kv := sl(s1, n), sl(s2, n), sl(k, n)
		for i, v := range sl(x, n) {
			d := v - kv[i]
			a[i] += d
			b[i] += d * d
		}
	},
	copy2D: func(dst *float32, ds int, x *float32, xs int, n, count int) {
		d, s := sl(dst, (count-1)*ds+n), sl(x, (count-1)*xs+n)
		for i := 0; i < count; i++ {
			copy(d[i*ds:i*ds+n], s[i*xs:i*xs+n])
		}
	},
	add2D: func(dst *float32, ds int, x *float32, xs int, n, count int) {
		d, s := sl(dst, (count-1)*ds+n), sl(x, (count-1)*xs+n)
		for i := 0; i < count; i++ {
			dr, sr := d[i*ds:i*ds+n], s[i*xs:i*xs+n]
			for j, v := range sr {
				dr[j] += v
			}
		}
	},
	dwPixel: func(dst, x, w *float32, xoff, woff *int, ntaps, c int) {
		d := sl(dst, c)
		clear(d)
		for t := 0; t < ntaps; t++ {
			xo, wo := *(*int)(unsafe.Add(unsafe.Pointer(xoff), 8*t)), *(*int)(unsafe.Add(unsafe.Pointer(woff), 8*t))
			xr, wr := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(x), 4*xo)), c), unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(w), 4*wo)), c)
			for i := range d {
				d[i] += xr[i] * wr[i]
			}
		}
	},
}

// goVec: the same values as refVec.
var goVec = vecOps{
	silu: func(dst, x *float32, n int) {
		d, xs := sl(dst, n), sl(x, n)
		for i, v := range xs {
			d[i] = v * sigmoidGo(v)
		}
	},
	sigmoid: func(dst, x *float32, n int) {
		d, xs := sl(dst, n), sl(x, n)
		for i, v := range xs {
			d[i] = sigmoidGo(v)
		}
	},
	siluGrad: func(dst, x, gy *float32, n int) {
		d, g := sl(dst, n), sl(gy, n)
		for i, v := range sl(x, n) {
			s := sigmoidGo(v)
			d[i] = g[i] * s * (1 + v*(1-s))
		}
	},
	affineSiLU: func(dst, x, s, t *float32, n int) {
		d, sv, tv := sl(dst, n), sl(s, n), sl(t, n)
		for i, v := range sl(x, n) {
			z := v*sv[i] + tv[i]
			d[i] = z * sigmoidGo(z)
		}
	},
	affineSiLUGrad: func(dst, x, gy, s, t *float32, n int) {
		d, g, sv, tv := sl(dst, n), sl(gy, n), sl(s, n), sl(t, n)
		for i, v := range sl(x, n) {
			z := v*sv[i] + tv[i]
			sg := sigmoidGo(z)
			d[i] = g[i] * sg * (1 + z*(1-sg))
		}
	},
	fma: goFMA,
	affine: func(dst, x, s, t *float32, n int) {
		d, xv, sv, tv := sl(dst, n), sl(x, n), sl(s, n), sl(t, n)
		i := 0
		for ; i+4 <= n; i += 4 {
			dd, xx, ss, tt := d[i:i+4:i+4], xv[i:i+4:i+4], sv[i:i+4:i+4], tv[i:i+4:i+4]
			dd[0] = xx[0]*ss[0] + tt[0]
			dd[1] = xx[1]*ss[1] + tt[1]
			dd[2] = xx[2]*ss[2] + tt[2]
			dd[3] = xx[3]*ss[3] + tt[3]
		}
		for ; i < n; i++ {
			d[i] = xv[i]*sv[i] + tv[i]
		}
	},
	affine2: refVec.affine2,
	add:     goAdd,
	mul: func(dst, x, s *float32, n int) {
		d, xv, sv := sl(dst, n), sl(x, n), sl(s, n)
		i := 0
		for ; i+4 <= n; i += 4 {
			dd, xx, ss := d[i:i+4:i+4], xv[i:i+4:i+4], sv[i:i+4:i+4]
			dd[0] = xx[0] * ss[0]
			dd[1] = xx[1] * ss[1]
			dd[2] = xx[2] * ss[2]
			dd[3] = xx[3] * ss[3]
		}
		for ; i < n; i++ {
			d[i] = xv[i] * sv[i]
		}
	},
	sqDev:    refVec.sqDev,
	gradSums: refVec.gradSums,
	copy: func(dst, x *float32, n int) {
		if n >= 16 {
			copy(sl(dst, n), sl(x, n))
			return
		}
		d, xv := sl(dst, n), sl(x, n)
		for i, v := range xv {
			d[i] = v
		}
	},
	shiftSq: func(s1, s2, x, k *float32, n int) {
		a, b, xv, kv := sl(s1, n), sl(s2, n), sl(x, n), sl(k, n)
		i := 0
		for ; i+4 <= n; i += 4 {
			aa, bb, xx, kk := a[i:i+4:i+4], b[i:i+4:i+4], xv[i:i+4:i+4], kv[i:i+4:i+4]
			d0, d1, d2, d3 := xx[0]-kk[0], xx[1]-kk[1], xx[2]-kk[2], xx[3]-kk[3]
			aa[0] += d0
			aa[1] += d1
			aa[2] += d2
			aa[3] += d3
			bb[0] += d0 * d0
			bb[1] += d1 * d1
			bb[2] += d2 * d2
			bb[3] += d3 * d3
		}
		for ; i < n; i++ {
			d := xv[i] - kv[i]
			a[i] += d
			b[i] += d * d
		}
	},
	copy2D: refVec.copy2D,
	add2D: func(dst *float32, ds int, x *float32, xs int, n, count int) {
		for i := 0; i < count; i++ {
			goAdd((*float32)(unsafe.Add(unsafe.Pointer(dst), 4*i*ds)), (*float32)(unsafe.Add(unsafe.Pointer(x), 4*i*xs)), n)
		}
	},
	dwPixel: func(dst, x, w *float32, xoff, woff *int, ntaps, c int) {
		d := sl(dst, c)
		clear(d)
		for t := 0; t < ntaps; t++ {
			xo, wo := *(*int)(unsafe.Add(unsafe.Pointer(xoff), 8*t)), *(*int)(unsafe.Add(unsafe.Pointer(woff), 8*t))
			goFMA(dst, (*float32)(unsafe.Add(unsafe.Pointer(x), 4*xo)), (*float32)(unsafe.Add(unsafe.Pointer(w), 4*wo)), c)
		}
	},
}

func goFMA(dst, a, b *float32, n int) {
	d, av, bv := sl(dst, n), sl(a, n), sl(b, n)
	i := 0
	for ; i+4 <= n; i += 4 {
		dd, aa, bb := d[i:i+4:i+4], av[i:i+4:i+4], bv[i:i+4:i+4]
		dd[0] += aa[0] * bb[0]
		dd[1] += aa[1] * bb[1]
		dd[2] += aa[2] * bb[2]
		dd[3] += aa[3] * bb[3]
	}
	for ; i < n; i++ {
		d[i] += av[i] * bv[i]
	}

}

func goAdd(dst, x *float32, n int) {
	d, xv := sl(dst, n), sl(x, n)
	i := 0
	for ; i+4 <= n; i += 4 {
		dd, xx := d[i:i+4:i+4], xv[i:i+4:i+4]
		dd[0] += xx[0]
		dd[1] += xx[1]
		dd[2] += xx[2]
		dd[3] += xx[3]
	}
	for ; i < n; i++ {
		d[i] += xv[i]
	}

}
