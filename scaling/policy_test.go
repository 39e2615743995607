package scaling

import (
	"testing"

	"github.com/effnas/effnas/searchspace"
)

func TestFamilyDefaultsFor(t *testing.T) {
	b0, _ := searchspace.Reference("efficientnetv2-b0")
	if d := FamilyDefaultsFor(b0); d != (FamilyDefaults{MaxImageSize: 480}) {
		t.Fatalf("ImageNet base: %+v", d)
	}
	small, _, _ := b0.FitTo(searchspace.Input{ImageSize: 28, Channels: 1, Classes: 10})
	if d := FamilyDefaultsFor(small); d != (FamilyDefaults{MaxImageSize: 56, TrainRatio: 1, TrainMultiple: 4}) {
		t.Fatalf("28x28 base: %+v", d)
	}
}

func TestScaleToSize(t *testing.T) {
	b0, _ := searchspace.Reference("efficientnetv2-b0") // evaluates at 224, trains at 192
	// A new evaluation size: training follows at 0.8, a multiple of 8.
	b, err := ScaleToSize(b0, Options{Width: 1.1, Depth: 1.2, ImageSize: 260})
	if err != nil || b.ImageSize != 260 || b.TrainSize() != 208 {
		t.Fatalf("B2 sizes %d/%d, %v", b.ImageSize, b.TrainSize(), err)
	}
	// An explicit training size wins.
	if b, _ = ScaleToSize(b0, Options{ImageSize: 260, TrainImageSize: 240}); b.TrainSize() != 240 {
		t.Fatalf("explicit training size: %d", b.TrainSize())
	}
	// An architecture that trains at its evaluation size keeps doing so,
	// and a training size equal to the evaluation size is not recorded.
	same := b0.Clone()
	same.TrainImageSize = 0
	if b, _ = ScaleToSize(same, Options{ImageSize: 32}); b.TrainSize() != 32 || b.TrainImageSize != 0 {
		t.Fatalf("same-size training: %d (recorded %d)", b.TrainSize(), b.TrainImageSize)
	}
	if b, _ = ScaleToSize(b0, Options{ImageSize: 240, TrainImageSize: 240}); b.TrainImageSize != 0 {
		t.Fatalf("recorded training size %d equal to the evaluation size", b.TrainImageSize)
	}
	if b0.TrainImageSize != 192 {
		t.Fatal("ScaleToSize changed its base")
	}
}
