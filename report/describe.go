package report

import (
	"io"

	"github.com/effnas/effnas/searchspace"
)

// ArchDescription is what "nas describe" shows of an architecture: its
// accounting at an image size and number of classes (as JSON, with the
// total also at the top level) and the architecture itself.
type ArchDescription struct {
	Name string `json:"name"`
	searchspace.Accounting
	searchspace.Count
	Arch searchspace.Arch `json:"arch"`
}

// DescribeArch counts a's parameters and multiply-adds at imageSize with
// classes (0: the architecture's own).
func DescribeArch(a searchspace.Arch, imageSize, classes int) (ArchDescription, error) {
	acc, err := a.Count(imageSize, classes)
	if err != nil {
		return ArchDescription{}, err
	}
	return ArchDescription{Name: a.Name, Accounting: acc, Count: acc.Total, Arch: a}, nil
}

// WriteText writes the accounting as a table (WriteAccounting).
func (d ArchDescription) WriteText(w io.Writer) error {
	return WriteAccounting(w, d.Arch, d.Accounting)
}
