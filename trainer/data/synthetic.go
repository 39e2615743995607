package data

import (
	"fmt"
	"math"
)

// SyntheticConfig describes a procedural dataset. Zero fields take the
// defaults noted.
type SyntheticConfig struct {
	Size      int     // image side (default 16)
	Channels  int     // default 1
	Classes   int     // default 10
	Count     int     // training images (default 1000)
	TestCount int     // test images (default Count/5)
	Seed      uint64  // generator seed; train and test use different streams
	Noise     float64 // std of the additive Gaussian pixel noise (default 0.08; negative: none)
}

func (c SyntheticConfig) withDefaults() SyntheticConfig {
	if c.Size <= 0 {
		c.Size = 16
	}
	if c.Channels <= 0 {
		c.Channels = 1
	}
	if c.Classes <= 0 {
		c.Classes = 10
	}
	if c.Count <= 0 {
		c.Count = 1000
	}
	if c.TestCount <= 0 {
		c.TestCount = max(c.Count/5, 1)
	}
	if c.Noise == 0 {
		c.Noise = 0.08
	}
	if c.Noise < 0 {
		c.Noise = 0
	}
	return c
}

// Synthetic generates split ("train" or "test") of a seeded procedural
// dataset: sample i has label i mod Classes and shows a sinusoidal grating
// whose orientation is pi*label/Classes (period max(3, Size/4) pixels, a
// small random phase jitter) plus Gaussian noise; with several channels each
// channel is tinted by a class-dependent gain. Classes are separable by a
// tiny convolutional net (and even by nearest class mean), and the pattern
// survives small crops, but a horizontal flip maps orientation t to pi-t, so
// keep flipping off for this dataset. Equal configs give equal data.
func Synthetic(cfg SyntheticConfig, split string) (*Dataset, error) {
	cfg = cfg.withDefaults()
	var n int
	var stream uint64
	switch split {
	case Train:
		n, stream = cfg.Count, 1
	case Test:
		n, stream = cfg.TestCount, 2
	default:
		return nil, fmt.Errorf("data: synthetic: unknown split %q (want %q or %q)", split, Train, Test)
	}
	s, c, k := cfg.Size, cfg.Channels, cfg.Classes
	rng := NewRand(cfg.Seed, 0x5a17+stream)
	period := math.Max(3, float64(s)/4)
	images := make([]float32, n*s*s*c)
	labels := make([]int, n)
	for i := range labels {
		label := i % k
		labels[i] = label
		theta := math.Pi * float64(label) / float64(k)
		ct, st := math.Cos(theta), math.Sin(theta)
		phase := (rng.Float64() - 0.5) * 0.5 * math.Pi
		img := images[i*s*s*c : (i+1)*s*s*c]
		for y := 0; y < s; y++ {
			for x := 0; x < s; x++ {
				u := (float64(x)-float64(s-1)/2)*ct + (float64(y)-float64(s-1)/2)*st
				v := 0.35 * math.Cos(2*math.Pi*u/period+phase)
				for ch := 0; ch < c; ch++ {
					gain := 1.0
					if c > 1 {
						gain = 0.75 + 0.25*math.Cos(2*math.Pi*(float64(label)/float64(k)+float64(ch)/float64(c)))
					}
					p := 0.5 + gain*v + cfg.Noise*rng.NormFloat64()
					img[(y*s+x)*c+ch] = float32(min(max(p, 0), 1))
				}
			}
		}
	}
	names := make([]string, k)
	for i := range names {
		names[i] = fmt.Sprintf("grating%d", i)
	}
	return NewDataset("synthetic", split, images, labels, s, s, c, k, names)
}
