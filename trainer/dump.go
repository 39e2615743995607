package trainer

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/effnas/effnas/safetensors"
	"github.com/effnas/effnas/trainer/data"
)

// DumpOptions are the batch that DumpParity runs.
type DumpOptions struct {
	Batch int
	// Size is the image size (0: the architecture's training size).
	Size int
	Seed uint64
	// LabelSmoothing eps makes the one-hot targets 1-eps+eps/K and eps/K.
	LabelSmoothing float64
}

// Dump files in the folder DumpParity writes.
const (
	DumpModelFile  = "model.safetensors"
	DumpParityFile = "parity.safetensors"
)

// DumpParity runs one batch through net (ParityBatch from ds with norm;
// ds nil: synthetic) and writes to dir (created) the network before the
// step as a checkpoint, DumpModelFile, and the batch with what the
// trainer computed on it, DumpParityFile (Parity.File). It returns the
// record (Source says where the batch came from).
func DumpParity(dir string, net *Net, ds *data.Dataset, norm *data.Norm, o DumpOptions) (*Parity, error) {
	a := net.Arch
	if o.LabelSmoothing < 0 || o.LabelSmoothing >= 1 {
		return nil, fmt.Errorf("trainer: label smoothing %v: want [0, 1)", o.LabelSmoothing)
	}
	size := o.Size
	if size == 0 {
		size = a.TrainSize()
	}
	if ds == nil {
		norm = nil
	}
	x, y, src, err := ParityBatch(net, ds, norm, o.Batch, size, o.Seed)
	if err != nil {
		return nil, err
	}
	if eps := o.LabelSmoothing; eps > 0 {
		k := float32(a.NumClasses)
		for i := range y {
			y[i] = y[i]*(1-float32(eps)) + float32(eps)/k
		}
		src += fmt.Sprintf(", label smoothing %g", eps)
	}
	model, err := EncodeModel(Model{Net: net, Norm: norm})
	if err != nil {
		return nil, err
	}
	p, err := RunParity(net, x, y, o.Batch, size, o.Seed)
	if err != nil {
		return nil, err
	}
	p.Source = src
	pf, err := p.File(net)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for name, f := range map[string]*safetensors.File{DumpModelFile: model, DumpParityFile: pf} {
		if err := safetensors.WriteFile(filepath.Join(dir, name), f); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// IsCheckpointFile reports whether path is a checkpoint file: one of the
// older format (its magic) or a safetensors file (a plausible header
// length, then a JSON object). It reads only the first bytes.
func IsCheckpointFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false
	}
	var head [9]byte
	if n, _ := f.Read(head[:]); n < len(head) {
		return false
	}
	if string(head[:8]) == checkpointMagic {
		return true
	}
	return head[8] == '{' && binary.LittleEndian.Uint64(head[:8]) <= uint64(st.Size()-8)
}
