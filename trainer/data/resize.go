package data

import (
	"fmt"
	"math"
)

// ResizeBilinear resizes one HWC image src (sh x sw x c) into dst (dh x dw x
// c) by bilinear interpolation with half-pixel centers, matching
// TensorFlow's tf.image.resize / ResizeBilinear(half_pixel_centers=True,
// align_corners=False) without antialiasing: output pixel x samples the
// source at (x+0.5)*sw/dw - 0.5, neighbours clamped to the image. Equal sizes
// copy. It does not allocate.
func ResizeBilinear(dst []float32, dh, dw int, src []float32, sh, sw, c int) {
	if len(dst) < dh*dw*c || len(src) < sh*sw*c {
		panic(fmt.Sprintf("data: ResizeBilinear: buffers %d/%d too small for %dx%dx%d <- %dx%dx%d", len(dst), len(src), dh, dw, c, sh, sw, c))
	}
	if dh == sh && dw == sw {
		copy(dst[:dh*dw*c], src[:sh*sw*c])
		return
	}
	sy, sx := float64(sh)/float64(dh), float64(sw)/float64(dw)
	for y := 0; y < dh; y++ {
		y0, y1, fy := interp(y, sy, sh)
		r0, r1 := src[y0*sw*c:], src[y1*sw*c:]
		out := dst[y*dw*c : (y+1)*dw*c]
		for x := 0; x < dw; x++ {
			x0, x1, fx := interp(x, sx, sw)
			for k := 0; k < c; k++ {
				tl, tr := r0[x0*c+k], r0[x1*c+k]
				bl, br := r1[x0*c+k], r1[x1*c+k]
				top := tl + (tr-tl)*fx
				bot := bl + (br-bl)*fx
				out[x*c+k] = top + (bot-top)*fy
			}
		}
	}
}

// interp gives the two source indices and the weight of the second for
// output index o, as TensorFlow's compute_interpolation_weights.
func interp(o int, scale float64, n int) (lo, hi int, frac float32) {
	in := (float64(o)+0.5)*scale - 0.5
	f := math.Floor(in)
	lo = max(int(f), 0)
	hi = min(int(math.Ceil(in)), n-1)
	return lo, hi, float32(in - f)
}

// Norm is a per-channel normalisation x' = (x - Mean[c]) / Std[c]. Mean and
// Std have one value per channel, or a single value for all channels.
type Norm struct {
	Mean, Std []float32
}

// ChannelNorm computes the per-channel mean and standard deviation of d over
// the samples idx (pass the training indices so held-out data never leaks
// into the statistics). A channel with zero variance gets Std 1.
func (d *Dataset) ChannelNorm(idx []int) Norm {
	sum := make([]float64, d.C)
	sq := make([]float64, d.C)
	for _, i := range idx {
		img := d.Image(i)
		for p := 0; p < len(img); p += d.C {
			for k := 0; k < d.C; k++ {
				v := float64(img[p+k])
				sum[k] += v
				sq[k] += v * v
			}
		}
	}
	cnt := float64(len(idx) * d.H * d.W)
	n := Norm{Mean: make([]float32, d.C), Std: make([]float32, d.C)}
	for k := range sum {
		if cnt == 0 {
			n.Std[k] = 1
			continue
		}
		m := sum[k] / cnt
		v := sq[k]/cnt - m*m
		n.Mean[k] = float32(m)
		n.Std[k] = 1
		if v > 1e-12 {
			n.Std[k] = float32(math.Sqrt(v))
		}
	}
	return n
}

// check reports whether the norm fits c channels.
func (n *Norm) check(c int) error {
	if n == nil {
		return nil
	}
	if (len(n.Mean) != 1 && len(n.Mean) != c) || len(n.Std) != len(n.Mean) {
		return fmt.Errorf("data: norm has %d means and %d stds for %d channels", len(n.Mean), len(n.Std), c)
	}
	for _, s := range n.Std {
		if !(s > 0) {
			return fmt.Errorf("data: norm std %v must be positive", s)
		}
	}
	return nil
}

// Apply normalises an HWC image with c channels in place. A nil Norm does
// nothing.
func (n *Norm) Apply(img []float32, c int) {
	if n == nil {
		return
	}
	if len(n.Mean) == 1 {
		m, inv := n.Mean[0], 1/n.Std[0]
		for i := range img {
			img[i] = (img[i] - m) * inv
		}
		return
	}
	for p := 0; p < len(img); p += c {
		for k := 0; k < c; k++ {
			img[p+k] = (img[p+k] - n.Mean[k]) / n.Std[k]
		}
	}
}
