package searchspace

// SmallImageMax is the largest input treated as a small image: an
// architecture fitted to images up to this size gets stem stride 1, as is
// usual for CIFAR- and MNIST-sized inputs (a stride-2 stem would halve a
// 28x28 image before the first block).
const SmallImageMax = 64

// Input is the shape of a dataset's images and its number of classes.
type Input struct {
	ImageSize, Channels, Classes int
}

// FitTo adapts the architecture to a dataset: input channels, classes and
// image size (the evaluation size; the training size follows it), and stem
// stride 1 for small images (SmallImageMax). A zero field of in keeps the
// architecture's value. It reports whether anything changed and whether the
// stem stride was set to 1.
func (a Arch) FitTo(in Input) (fitted Arch, changed, stemStride1 bool) {
	size := in.ImageSize
	if size == 0 {
		size = a.ImageSize
	}
	channels, classes := in.Channels, in.Classes
	if channels == 0 {
		channels = a.InputChannels
	}
	if classes == 0 {
		classes = a.NumClasses
	}
	if a.InputChannels == channels && a.NumClasses == classes && a.ImageSize == size {
		return a, false, false
	}
	small := size <= SmallImageMax && a.Stem.Stride != 1
	return a.WithInput(size, channels, classes, small), true, small
}

// SmallImage reports an architecture fitted to small images (stem stride
// 1, as FitTo and the proxy search space make them).
func (a Arch) SmallImage() bool { return a.Stem.Stride == 1 }
