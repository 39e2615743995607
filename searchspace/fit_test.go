package searchspace

import "testing"

func TestFitTo(t *testing.T) {
	b0, err := Reference("efficientnetv2-b0")
	if err != nil {
		t.Fatal(err)
	}
	if b0.SmallImage() {
		t.Fatal("b0 has a stride-2 stem")
	}
	// Fashion-MNIST: 28x28 grey, 10 classes: small, so stem stride 1.
	f, changed, stem1 := b0.FitTo(Input{ImageSize: 28, Channels: 1, Classes: 10})
	if !changed || !stem1 || !f.SmallImage() || f.ImageSize != 28 || f.TrainSize() != 28 || f.InputChannels != 1 || f.NumClasses != 10 {
		t.Fatalf("fitted to 28x28x1: changed %v stem1 %v %+v", changed, stem1, f)
	}
	if b0.Stem.Stride != 2 {
		t.Fatal("FitTo changed its receiver")
	}
	// 65 pixels is not small: the stem keeps its stride.
	if f, _, stem1 := b0.FitTo(Input{ImageSize: SmallImageMax + 1, Channels: 3, Classes: 10}); stem1 || f.Stem.Stride != 2 {
		t.Fatalf("65 px: stem %d", f.Stem.Stride)
	}
	if _, _, stem1 := b0.FitTo(Input{ImageSize: SmallImageMax, Channels: 3, Classes: 10}); !stem1 {
		t.Fatal("64 px: stem stride kept")
	}
	// Already fitted: nothing changes, nothing is reported.
	if g, changed, stem1 := f.FitTo(Input{ImageSize: 28, Channels: 1, Classes: 10}); changed || stem1 || g.ImageSize != 28 {
		t.Fatalf("refit: changed %v stem1 %v", changed, stem1)
	}
	// Zero fields keep the architecture's values; a new size on a fitted
	// architecture reports no stem change.
	if g, changed, stem1 := f.FitTo(Input{ImageSize: 32}); !changed || stem1 || g.ImageSize != 32 || g.InputChannels != 1 {
		t.Fatalf("resize: changed %v stem1 %v %+v", changed, stem1, g)
	}
}

func TestFitToNote(t *testing.T) {
	b0, err := Reference("efficientnetv2-b0")
	if err != nil {
		t.Fatal(err)
	}
	f, note := b0.FitToNote(Input{ImageSize: 28, Channels: 1, Classes: 10}, "fashion-mnist")
	if want := "efficientnetv2-b0 adapted to fashion-mnist: 28x28x1 input, 10 classes, stem stride 1"; note != want || f.ImageSize != 28 {
		t.Errorf("%q\nwant %q", note, want)
	}
	if _, note := b0.FitToNote(Input{ImageSize: 96, Channels: 3, Classes: 100}, "folder:x"); note != "efficientnetv2-b0 adapted to folder:x: 96x96x3 input, 100 classes" {
		t.Errorf("96 px: %q", note)
	}
	if g, note := f.FitToNote(Input{ImageSize: 28, Channels: 1, Classes: 10}, "fashion-mnist"); note != "" || g.ImageSize != 28 {
		t.Errorf("already fitted: %q", note)
	}
}
