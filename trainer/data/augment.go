package data

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// RandomCropFlip writes into dst (h x w x c) a crop of src (same size)
// zero-padded by pad pixels on every side, at a uniformly random offset in
// [-pad, pad]^2, mirrored left-right with probability 1/2 when flip is set.
// This is the standard CIFAR-style augmentation; pad 0 and flip false copy.
// dst and src must not overlap.
func RandomCropFlip(dst, src []float32, h, w, c, pad int, flip bool, rng *rand.Rand) {
	dy, dx := 0, 0
	if pad > 0 {
		dy, dx = rng.IntN(2*pad+1)-pad, rng.IntN(2*pad+1)-pad
	}
	mirror := flip && rng.IntN(2) == 1
	for y := 0; y < h; y++ {
		row := dst[y*w*c : (y+1)*w*c]
		sy := y + dy
		if sy < 0 || sy >= h {
			clear(row)
			continue
		}
		srow := src[sy*w*c : (sy+1)*w*c]
		for x := 0; x < w; x++ {
			sx := x + dx
			if mirror {
				sx = w - 1 - x + dx
			}
			out := row[x*c : (x+1)*c]
			if sx < 0 || sx >= w {
				clear(out)
				continue
			}
			copy(out, srow[sx*c:(sx+1)*c])
		}
	}
}

// Op is one RandAugment operation on a float image with values in [0,1].
type Op int

// The RandAugment operations. Magnitude m is on the official code's scale:
// level fraction f = m/10 (its _MAX_LEVEL), m accepted in [0, 30]. Signed
// ops pick a random sign. Mappings:
//
//	Rotate       30*f degrees
//	ShearX/Y     0.3*f (about the image centre)
//	TranslateX/Y round(0.45*f*side) pixels (100 px at 224 in the official code)
//	Cutout       square of side 2*round(f*side*40/224) at a random centre
//	Color, Contrast, Brightness, Sharpness
//	             blend factor max(0, 1 ± 0.9*f)
//	Solarize     invert pixels >= 1-f
//	Posterize    keep 8-round(4*f) bits (at least 1)
//
// Enhance ops, solarize and posterize use the "increasing" variant (strength
// grows with m; in the official mapping the enhance ops are identity near m=5
// and solarize weakens as m grows). Pixels uncovered by geometric ops and the
// cutout square take the fill value. Equalize works on 256 quantised levels
// per channel like PIL; AutoContrast stretches each channel to [0,1].
const (
	OpIdentity Op = iota
	OpAutoContrast
	OpEqualize
	OpRotate
	OpSolarize
	OpColor
	OpContrast
	OpBrightness
	OpSharpness
	OpPosterize
	OpShearX
	OpShearY
	OpTranslateX
	OpTranslateY
	OpCutout
	numOps
)

var opNames = [numOps]string{"Identity", "AutoContrast", "Equalize", "Rotate", "Solarize", "Color", "Contrast",
	"Brightness", "Sharpness", "Posterize", "ShearX", "ShearY", "TranslateX", "TranslateY", "Cutout"}

func (o Op) String() string {
	if o >= 0 && o < numOps {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// DefaultOps is the RandAugment op list used when none is given: every Op.
var DefaultOps = []Op{OpIdentity, OpAutoContrast, OpEqualize, OpRotate, OpSolarize, OpColor, OpContrast,
	OpBrightness, OpSharpness, OpPosterize, OpShearX, OpShearY, OpTranslateX, OpTranslateY, OpCutout}

// MaxMagnitude is the largest RandAugment magnitude accepted.
const MaxMagnitude = 30

// ApplyOp applies op with magnitude m to the HWC image img in place. tmp is
// scratch of at least len(img) values (geometric ops and sharpness use it).
// Random choices (sign, cutout position) come from rng.
func ApplyOp(op Op, img, tmp []float32, h, w, c int, m float64, fill float32, rng *rand.Rand) {
	f := min(max(m, 0), MaxMagnitude) / 10
	sign := func() float64 {
		if rng.IntN(2) == 0 {
			return -1
		}
		return 1
	}
	enhance := func() float32 { return float32(max(0, 1+sign()*0.9*f)) }
	switch op {
	case OpIdentity:
	case OpAutoContrast:
		autoContrast(img, c)
	case OpEqualize:
		equalize(img, c)
	case OpRotate:
		a := sign() * 30 * f * math.Pi / 180
		cs, sn := math.Cos(a), math.Sin(a)
		warp(img, tmp, h, w, c, cs, -sn, sn, cs, 0, 0, fill)
	case OpShearX:
		warp(img, tmp, h, w, c, 1, sign()*0.3*f, 0, 1, 0, 0, fill)
	case OpShearY:
		warp(img, tmp, h, w, c, 1, 0, sign()*0.3*f, 1, 0, 0, fill)
	case OpTranslateX:
		warp(img, tmp, h, w, c, 1, 0, 0, 1, sign()*math.Round(0.45*f*float64(w)), 0, fill)
	case OpTranslateY:
		warp(img, tmp, h, w, c, 1, 0, 0, 1, 0, sign()*math.Round(0.45*f*float64(h)), fill)
	case OpSolarize:
		t := float32(1 - min(f, 1))
		for i, v := range img {
			if v >= t {
				img[i] = 1 - v
			}
		}
	case OpPosterize:
		bits := min(max(8-int(math.Round(4*f)), 1), 8)
		if bits == 8 {
			break // keeping all 8 bits is the identity (no quantisation)
		}
		mask := uint8(0xff << (8 - bits))
		for i, v := range img {
			img[i] = float32(quant(v)&mask) / 255
		}
	case OpColor:
		saturation(img, c, enhance())
	case OpContrast:
		contrast(img, c, enhance())
	case OpBrightness:
		blendConst(img, 0, enhance())
	case OpSharpness:
		sharpness(img, tmp, h, w, c, enhance())
	case OpCutout:
		half := int(math.Round(f * float64(min(h, w)) * 40 / 224))
		cy, cx := rng.IntN(h), rng.IntN(w)
		for y := max(cy-half, 0); y < min(cy+half, h); y++ {
			for x := max(cx-half, 0); x < min(cx+half, w); x++ {
				for k := 0; k < c; k++ {
					img[(y*w+x)*c+k] = fill
				}
			}
		}
	default:
		panic(fmt.Sprintf("data: unknown augmentation op %d", int(op)))
	}
}

// quant maps [0,1] to a byte with rounding and clamping.
func quant(v float32) uint8 {
	return uint8(min(max(v*255+0.5, 0), 255))
}

func clamp01(v float32) float32 { return min(max(v, 0), 1) }

// blendConst sets img = d + factor*(img-d), clamped, for a constant d.
func blendConst(img []float32, d, factor float32) {
	for i, v := range img {
		img[i] = clamp01(d + factor*(v-d))
	}
}

func luma(px []float32) float32 { return 0.299*px[0] + 0.587*px[1] + 0.114*px[2] }

// saturation blends with the grayscale image (saturation); identity for c < 3.
func saturation(img []float32, c int, factor float32) {
	if c < 3 {
		return
	}
	for p := 0; p < len(img); p += c {
		g := luma(img[p:])
		for k := 0; k < 3; k++ {
			img[p+k] = clamp01(g + factor*(img[p+k]-g))
		}
	}
}

// contrast blends with the mean gray level of the image.
func contrast(img []float32, c int, factor float32) {
	var sum float64
	for p := 0; p < len(img); p += c {
		if c >= 3 {
			sum += float64(luma(img[p:]))
		} else {
			sum += float64(img[p])
		}
	}
	blendConst(img, float32(sum/float64(len(img)/c)), factor)
}

// sharpness blends with a 3x3 smoothed copy (kernel 1 1 1 / 1 5 1 / 1 1 1,
// border pixels unsmoothed) as PIL's ImageEnhance.Sharpness.
func sharpness(img, tmp []float32, h, w, c int, factor float32) {
	tmp = tmp[:len(img)]
	copy(tmp, img)
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			for k := 0; k < c; k++ {
				var s float32
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						s += img[((y+dy)*w+x+dx)*c+k]
					}
				}
				s += 4 * img[(y*w+x)*c+k]
				tmp[(y*w+x)*c+k] = s / 13
			}
		}
	}
	for i, v := range img {
		img[i] = clamp01(tmp[i] + factor*(v-tmp[i]))
	}
}

// autoContrast stretches each channel's range to [0,1].
func autoContrast(img []float32, c int) {
	for k := 0; k < c; k++ {
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for p := k; p < len(img); p += c {
			lo, hi = min(lo, img[p]), max(hi, img[p])
		}
		if hi <= lo {
			continue
		}
		s := 1 / (hi - lo)
		for p := k; p < len(img); p += c {
			img[p] = (img[p] - lo) * s
		}
	}
}

// equalize equalises the histogram of each channel over 256 levels with
// PIL's ImageOps.equalize rule.
func equalize(img []float32, c int) {
	for k := 0; k < c; k++ {
		var hist [256]int
		for p := k; p < len(img); p += c {
			hist[quant(img[p])]++
		}
		last, total := 0, 0
		for i, n := range hist {
			if n > 0 {
				last = i
			}
			total += n
		}
		step := (total - hist[last]) / 255
		if step == 0 {
			continue
		}
		var lut [256]float32
		n := step / 2
		for i := range lut {
			lut[i] = float32(min(n/step, 255)) / 255
			n += hist[i]
		}
		for p := k; p < len(img); p += c {
			img[p] = lut[quant(img[p])]
		}
	}
}

// warp resamples img in place through the affine map from output pixel
// (x, y) to source (sx, sy) = A*(x-cx, y-cy) + (cx, cy) - (tx, ty), with
// A = [a b; d e] and (cx, cy) the image centre, by bilinear interpolation;
// source neighbours outside the image read as fill.
func warp(img, tmp []float32, h, w, c int, a, b, d, e, tx, ty float64, fill float32) {
	tmp = tmp[:len(img)]
	copy(tmp, img)
	cx, cy := float64(w-1)/2, float64(h-1)/2
	at := func(x, y, k int) float32 {
		if x < 0 || y < 0 || x >= w || y >= h {
			return fill
		}
		return tmp[(y*w+x)*c+k]
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			ox, oy := float64(x)-cx, float64(y)-cy
			sx := a*ox + b*oy + cx - tx
			sy := d*ox + e*oy + cy - ty
			x0, y0 := math.Floor(sx), math.Floor(sy)
			fx, fy := float32(sx-x0), float32(sy-y0)
			ix, iy := int(x0), int(y0)
			if sx < -1 || sy < -1 || sx > float64(w) || sy > float64(h) {
				for k := 0; k < c; k++ {
					img[(y*w+x)*c+k] = fill
				}
				continue
			}
			for k := 0; k < c; k++ {
				top := at(ix, iy, k) + (at(ix+1, iy, k)-at(ix, iy, k))*fx
				bot := at(ix, iy+1, k) + (at(ix+1, iy+1, k)-at(ix, iy+1, k))*fx
				img[(y*w+x)*c+k] = top + (bot-top)*fy
			}
		}
	}
}

// RandAugment applies n ops drawn uniformly (with replacement) from ops
// (DefaultOps when nil), each at magnitude m, to img in place; see Op for the
// magnitude scale. tmp is scratch of at least len(img) values.
func RandAugment(img, tmp []float32, h, w, c int, n int, m float64, ops []Op, fill float32, rng *rand.Rand) {
	if ops == nil {
		ops = DefaultOps
	}
	for i := 0; i < n; i++ {
		ApplyOp(ops[rng.IntN(len(ops))], img, tmp, h, w, c, m, fill, rng)
	}
}

// Beta draws from the Beta(a, b) distribution (a, b > 0).
func Beta(rng *rand.Rand, a, b float64) float64 {
	x, y := gamma(rng, a), gamma(rng, b)
	if x+y == 0 {
		return 0.5
	}
	return x / (x + y)
}

// gamma draws from Gamma(a, 1) by Marsaglia and Tsang's method.
func gamma(rng *rand.Rand, a float64) float64 {
	if a < 1 {
		u := rng.Float64()
		return gamma(rng, a+1) * math.Pow(u, 1/a)
	}
	d := a - 1.0/3
	cc := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + cc*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// Mixup mixes the first n samples of a batch in place as the EfficientNetV2
// code does: sample i is paired with sample n-1-i and takes weight
// w = max(l, 1-l), l ~ Beta(alpha, alpha) drawn per sample, so that
// x_i' = w*x_i + (1-w)*x_(n-1-i) and likewise for the soft targets y (rows of
// k values; y may be nil). Rows of targets that sum to 1 still sum to 1.
// x holds rows of sampleLen values. alpha <= 0 does nothing.
func Mixup(x []float32, sampleLen int, y []float32, k, n int, alpha float64, rng *rand.Rand) {
	if alpha <= 0 || n < 2 {
		return
	}
	for i := 0; i < n/2; i++ {
		j := n - 1 - i
		li, lj := Beta(rng, alpha, alpha), Beta(rng, alpha, alpha)
		wi, wj := float32(max(li, 1-li)), float32(max(lj, 1-lj))
		mixRows(x[i*sampleLen:(i+1)*sampleLen], x[j*sampleLen:(j+1)*sampleLen], wi, wj)
		if y != nil {
			mixRows(y[i*k:(i+1)*k], y[j*k:(j+1)*k], wi, wj)
		}
	}
}

// mixRows sets a, b = wa*a + (1-wa)*b, wb*b + (1-wb)*a.
func mixRows(a, b []float32, wa, wb float32) {
	b = b[:len(a)]
	for t := range a {
		va, vb := a[t], b[t]
		a[t] = wa*va + (1-wa)*vb
		b[t] = wb*vb + (1-wb)*va
	}
}

// OneHot writes the soft target of label into row (len = class count):
// 1-eps+eps/K at the label and eps/K elsewhere (label smoothing eps; 0 gives
// a one-hot row).
func OneHot(row []float32, label int, eps float64) {
	k := len(row)
	off := float32(eps / float64(k))
	for i := range row {
		row[i] = off
	}
	row[label] = float32(1-eps) + off
}
