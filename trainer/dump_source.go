package trainer

import (
	"fmt"
	"path/filepath"

	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer/data"
	"gorgonia.org/tensor"
)

// LoadModelOrArch resolves an argument that may be a checkpoint
// (IsCheckpointFile: read with LoadModel) or else an architecture, resolved
// by arch (searchspace.Load or the caller's version of it) and initialised
// from seed, without normalisation.
func LoadModelOrArch(ref string, seed uint64, arch func(string) (searchspace.Arch, error)) (*Model, error) {
	if IsCheckpointFile(ref) {
		return LoadModel(ref)
	}
	a, err := arch(ref)
	if err != nil {
		return nil, err
	}
	net, err := NewNet(a, tensor.Float32, seed)
	if err != nil {
		return nil, err
	}
	return &Model{Net: net}, nil
}

// DumpDataset picks the images DumpParity runs on: ds, as loading it
// returned it with err, when it loaded and has a's input channels and
// classes; else nil (synthetic images) with a note that says why.
func DumpDataset(a searchspace.Arch, ds *data.Dataset, err error) (*data.Dataset, string) {
	switch {
	case err != nil:
		return nil, fmt.Sprintf("%v; using synthetic images", err)
	case ds == nil:
		return nil, ""
	case ds.C != a.InputChannels || ds.NumClasses != a.NumClasses:
		return nil, fmt.Sprintf("%s images have %d channel(s) and %d classes, %s takes %d and %d; using synthetic images",
			ds.Name, ds.C, ds.NumClasses, a.Name, a.InputChannels, a.NumClasses)
	}
	return ds, ""
}

// DumpSummary is the line that says what DumpParity wrote to dir for
// the network of a: the batch, where it came from, the training loss and
// the two files.
func (p *Parity) DumpSummary(a searchspace.Arch, dir string) string {
	return fmt.Sprintf("%s: batch %d at %dx%dx%d (%s), training loss %.6f; wrote %s and %s", a.Name, p.Batch, p.Size, p.Size,
		a.InputChannels, p.Source, p.Loss, filepath.Join(dir, DumpModelFile), filepath.Join(dir, DumpParityFile))
}
