package scaling

import "github.com/effnas/effnas/searchspace"

// Policies that pick sizes from the architecture being scaled, for the
// commands and for workers that scale on their own.

// ScaleToSize is Scale with the training-size rule of a new evaluation
// size: when o sets ImageSize but not TrainImageSize, an architecture that
// trains at its own smaller size gets TrainImageSizeFor(ImageSize) (0.8 x
// the size, a multiple of 8, at most the size: the official ratio), and one
// that trains at its evaluation size keeps doing so. The result records no
// separate training size when it equals the evaluation size.
func ScaleToSize(a searchspace.Arch, o Options) (searchspace.Arch, error) {
	if o.ImageSize > 0 && o.TrainImageSize == 0 {
		if a.TrainImageSize > 0 && a.TrainImageSize != a.ImageSize {
			o.TrainImageSize = min(o.ImageSize, TrainImageSizeFor(o.ImageSize, 0, 0))
		} else {
			a = a.Clone()
			a.TrainImageSize = 0
		}
	}
	b, err := Scale(a, o)
	if err != nil {
		return b, err
	}
	if b.TrainImageSize == b.ImageSize {
		b.TrainImageSize = 0
	}
	return b, nil
}

// FamilyDefaults are the family settings that depend on the base.
type FamilyDefaults struct {
	// MaxImageSize caps the evaluation size (EfficientNetV2 §3.3): the
	// ImageNet cap 480, or for a base fitted to small images
	// ProposeMaxImageSize of its native size (56 for 28x28).
	MaxImageSize int
	// TrainRatio and TrainMultiple give the training sizes: the defaults
	// (0.8, multiples of 8), or for small images the evaluation size itself
	// (1, multiples of 4): without random-resized crops, training smaller
	// than testing changes the apparent object size.
	TrainRatio    float64
	TrainMultiple int
}

// FamilyDefaultsFor returns the defaults for compound-scaling base.
func FamilyDefaultsFor(base searchspace.Arch) FamilyDefaults {
	if base.SmallImage() {
		return FamilyDefaults{MaxImageSize: ProposeMaxImageSize(base.ImageSize), TrainRatio: 1, TrainMultiple: 4}
	}
	return FamilyDefaults{MaxImageSize: ImageNetMaxImageSize}
}
