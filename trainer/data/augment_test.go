package data

import (
	"math"
	"slices"
	"testing"
)

// testImage is an h x w x c image with distinct values in [0.05, 0.95].
func testImage(h, w, c int) []float32 {
	img := make([]float32, h*w*c)
	for i := range img {
		img[i] = 0.05 + 0.9*float32((i*37)%101)/100
	}
	return img
}

func TestOpsShapeAndDeterminism(t *testing.T) {
	const h, w = 9, 11
	for _, c := range []int{1, 3} {
		src := testImage(h, w, c)
		for op := Op(0); op < numOps; op++ {
			for _, m := range []float64{0, 9, 30} {
				run := func(seed uint64) []float32 {
					img := slices.Clone(src)
					tmp := make([]float32, len(img))
					ApplyOp(op, img, tmp, h, w, c, m, 0.5, NewRand(seed, 0))
					return img
				}
				a, b := run(1), run(1)
				if len(a) != h*w*c {
					t.Fatalf("%v: length %d", op, len(a))
				}
				if !slices.Equal(a, b) {
					t.Fatalf("%v c=%d m=%v: same seed, different output", op, c, m)
				}
				for _, v := range a {
					if math.IsNaN(float64(v)) || v < 0 || v > 1 {
						t.Fatalf("%v c=%d m=%v: value %v outside [0,1]", op, c, m, v)
					}
				}
				if op == OpIdentity && !slices.Equal(a, src) {
					t.Fatal("identity changed the image")
				}
			}
		}
	}
}

func TestOpValues(t *testing.T) {
	const h, w = 4, 5
	src := testImage(h, w, 1)
	apply := func(op Op, m float64, img []float32) []float32 {
		img = slices.Clone(img)
		ApplyOp(op, img, make([]float32, len(img)), h, w, 1, m, 0.25, NewRand(2, 0))
		return img
	}
	// Magnitude 0 leaves geometric and enhance ops as identity.
	for _, op := range []Op{OpRotate, OpShearX, OpShearY, OpTranslateX, OpTranslateY, OpColor, OpContrast, OpBrightness, OpSharpness, OpSolarize, OpPosterize, OpCutout} {
		got := apply(op, 0, src)
		for i := range got {
			if math.Abs(float64(got[i]-src[i])) > 1e-6 {
				t.Fatalf("%v at magnitude 0 changed pixel %d: %v -> %v", op, i, src[i], got[i])
			}
		}
	}
	// Solarize at m=10 inverts everything.
	for i, v := range apply(OpSolarize, 10, src) {
		if v != 1-src[i] {
			t.Fatalf("solarize: %v -> %v", src[i], v)
		}
	}
	// Posterize at m=10 keeps 4 bits: multiples of 16/255.
	for _, v := range apply(OpPosterize, 10, src) {
		q := int(math.Round(float64(v) * 255))
		if q%16 != 0 {
			t.Fatalf("posterize left level %d", q)
		}
	}
	// Translate shifts by whole pixels and fills with the fill value.
	tx := apply(OpTranslateX, 2.5, src) // round(0.45*0.25*5) = 1 pixel
	for y := 0; y < h; y++ {
		row, srow := tx[y*w:(y+1)*w], src[y*w:(y+1)*w]
		left := slices.Equal(row[:w-1], srow[1:]) && row[w-1] == 0.25
		right := slices.Equal(row[1:], srow[:w-1]) && row[0] == 0.25
		if !left && !right {
			t.Fatalf("translate row %d: %v from %v", y, row, srow)
		}
	}
	// AutoContrast stretches to [0,1].
	ac := apply(OpAutoContrast, 0, src)
	if lo, hi := slices.Min(ac), slices.Max(ac); math.Abs(float64(lo)) > 1e-6 || math.Abs(float64(hi-1)) > 1e-6 {
		t.Fatalf("autocontrast range %v..%v", lo, hi)
	}
	// Equalize spreads a low-contrast image.
	// (PIL's rule needs more pixels than levels: use 32x32.)
	dim := make([]float32, 32*32)
	for i := range dim {
		dim[i] = 0.4 + 0.1*float32(i)/float32(len(dim))
	}
	equalize(dim, 1)
	if eq := dim; slices.Max(eq)-slices.Min(eq) < 0.8 {
		t.Fatalf("equalize range %v..%v", slices.Min(eq), slices.Max(eq))
	}
	// Cutout at m=30 on a 4x5 image covers some pixels with the fill.
	if !slices.Contains(apply(OpCutout, 30, src), 0.25) {
		t.Fatal("cutout filled nothing")
	}
}

func TestRandomCropFlip(t *testing.T) {
	const h, w, c = 6, 7, 2
	src := testImage(h, w, c)
	dst := make([]float32, len(src))
	mirrored, plain := false, false
	for s := uint64(0); s < 20; s++ {
		RandomCropFlip(dst, src, h, w, c, 0, true, NewRand(s, 0))
		switch {
		case slices.Equal(dst, src):
			plain = true
		default:
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					if !slices.Equal(dst[(y*w+x)*c:][:c], src[(y*w+w-1-x)*c:][:c]) {
						t.Fatal("flip is not a mirror image")
					}
				}
			}
			mirrored = true
		}
	}
	if !mirrored || !plain {
		t.Fatalf("flip never/always happened: mirrored=%v plain=%v", mirrored, plain)
	}
	// With padding every output pixel is zero or the source pixel at one
	// common offset within [-pad, pad].
	for s := uint64(0); s < 20; s++ {
		RandomCropFlip(dst, src, h, w, c, 2, false, NewRand(s, 1))
		found := false
		for dy := -2; dy <= 2 && !found; dy++ {
			for dx := -2; dx <= 2 && !found; dx++ {
				ok := true
				for y := 0; y < h && ok; y++ {
					for x := 0; x < w && ok; x++ {
						sy, sx := y+dy, x+dx
						for k := 0; k < c; k++ {
							want := float32(0)
							if sy >= 0 && sy < h && sx >= 0 && sx < w {
								want = src[(sy*w+sx)*c+k]
							}
							ok = ok && dst[(y*w+x)*c+k] == want
						}
					}
				}
				found = ok
			}
		}
		if !found {
			t.Fatalf("seed %d: crop is no shifted copy", s)
		}
	}
}

func TestRandAugmentDeterministic(t *testing.T) {
	const h, w, c = 8, 8, 3
	run := func(seed uint64) []float32 {
		img := testImage(h, w, c)
		RandAugment(img, make([]float32, len(img)), h, w, c, 3, 12, nil, 0.5, NewRand(seed, 0))
		return img
	}
	if !slices.Equal(run(4), run(4)) {
		t.Fatal("same seed, different output")
	}
	if slices.Equal(run(4), run(5)) && slices.Equal(run(4), run(6)) {
		t.Fatal("seed has no effect")
	}
}

func TestBeta(t *testing.T) {
	rng := NewRand(1, 0)
	for _, a := range []float64{0.2, 1, 3} {
		var sum, sq float64
		const n = 20000
		for i := 0; i < n; i++ {
			v := Beta(rng, a, a)
			if v < 0 || v > 1 {
				t.Fatalf("Beta(%v) = %v", a, v)
			}
			sum += v
			sq += v * v
		}
		mean, vr := sum/n, sq/n-(sum/n)*(sum/n)
		wantVar := 1 / (4 * (2*a + 1))
		if math.Abs(mean-0.5) > 0.01 || math.Abs(vr-wantVar) > 0.1*wantVar {
			t.Fatalf("Beta(%v,%v): mean %v var %v want 0.5 %v", a, a, mean, vr, wantVar)
		}
	}
}

func TestMixupAndSmoothing(t *testing.T) {
	const n, L, k = 5, 4, 3
	row := make([]float32, k)
	OneHot(row, 1, 0.3)
	for i, want := range []float32{0.1, 0.8, 0.1} { // 1-eps+eps/K and eps/K
		if math.Abs(float64(row[i]-want)) > 1e-6 {
			t.Fatalf("smoothed row %v", row)
		}
	}
	OneHot(row, 2, 0)
	if !slices.Equal(row, []float32{0, 0, 1}) {
		t.Fatalf("one-hot row %v", row)
	}

	x := make([]float32, n*L)
	y := make([]float32, n*k)
	for i := 0; i < n; i++ {
		for p := 0; p < L; p++ {
			x[i*L+p] = float32(i)
		}
		OneHot(y[i*k:(i+1)*k], i%k, 0.1)
	}
	x0, y0 := slices.Clone(x), slices.Clone(y)
	Mixup(x, L, y, k, n, 0.4, NewRand(3, 0))
	for i := 0; i < n; i++ {
		var s float32
		for _, v := range y[i*k : (i+1)*k] {
			s += v
		}
		if math.Abs(float64(s-1)) > 1e-5 {
			t.Fatalf("mixed target row %d sums to %v", i, s)
		}
		// x_i = w*i + (1-w)*(n-1-i) with w >= 0.5: the sample keeps the larger share.
		j := n - 1 - i
		if i != j {
			wgt := (x[i*L] - float32(j)) / float32(i-j)
			if wgt < 0.5-1e-5 || wgt > 1+1e-5 {
				t.Fatalf("row %d own weight %v", i, wgt)
			}
			for c := 0; c < k; c++ {
				want := wgt*y0[i*k+c] + (1-wgt)*y0[j*k+c]
				if math.Abs(float64(y[i*k+c]-want)) > 1e-5 {
					t.Fatalf("row %d targets %v not mixed like the image (w=%v)", i, y[i*k:(i+1)*k], wgt)
				}
			}
		}
	}
	if x[2*L] != x0[2*L] || !slices.Equal(y[2*k:3*k], y0[2*k:3*k]) {
		t.Fatal("middle sample of an odd batch changed")
	}
	x2, y2 := slices.Clone(x0), slices.Clone(y0)
	Mixup(x2, L, y2, k, n, 0.4, NewRand(3, 0))
	if !slices.Equal(x, x2) || !slices.Equal(y, y2) {
		t.Fatal("mixup not deterministic")
	}
}
