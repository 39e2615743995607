package searchspace

import "fmt"

// FitToNote fits the architecture to a dataset's input as FitTo does and,
// when that changed it, says so in one line: "NAME adapted to DATASET:
// SxSxC input, K classes" (", stem stride 1" when FitTo set it); "" when
// nothing changed.
func (a Arch) FitToNote(in Input, dataset string) (Arch, string) {
	b, changed, stem1 := a.FitTo(in)
	if !changed {
		return b, ""
	}
	note := fmt.Sprintf("%s adapted to %s: %dx%dx%d input, %d classes", a.Name, dataset, b.ImageSize, b.ImageSize, b.InputChannels, b.NumClasses)
	if stem1 {
		note += ", stem stride 1"
	}
	return b, note
}
