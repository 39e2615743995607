package trainer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/effnas/effnas/safetensors"
	"github.com/effnas/effnas/searchspace"
	"gorgonia.org/tensor"
)

// DumpParity writes the network before the step and the parity record of
// a synthetic batch at the training size, with smoothed targets; both
// files are recognised as checkpoints or not as they should be.
func TestDumpParity(t *testing.T) {
	a, _ := searchspace.Reference("bench-dw")
	net, err := NewNet(a, tensor.Float32, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	p, err := DumpParity(dir, net, nil, nil, DumpOptions{Batch: 2, Seed: 1, LabelSmoothing: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if p.Size != a.TrainSize() || p.Source != "synthetic standard normal, seed 1, label smoothing 0.1" {
		t.Fatalf("size %d, source %q", p.Size, p.Source)
	}
	k := float32(a.NumClasses)
	for n := range 2 {
		var sum float32
		for _, v := range p.Y[n*a.NumClasses : (n+1)*a.NumClasses] {
			if v != 0.1/k && v != 0.9+0.1/k {
				t.Fatalf("target %v, want %v or %v", v, 0.1/k, 0.9+0.1/k)
			}
			sum += v
		}
		if sum < 0.9999 || sum > 1.0001 {
			t.Errorf("targets of sample %d sum to %v", n, sum)
		}
	}
	m, err := LoadModel(filepath.Join(dir, DumpModelFile))
	if err != nil || m.Net.Arch.Name != "bench-dw" {
		t.Fatalf("model file: %v", err)
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, DumpParityFile))
	if err != nil || f.Metadata["source"] != p.Source {
		t.Fatalf("parity file: %v %v", err, f)
	}
	if !IsCheckpointFile(filepath.Join(dir, DumpModelFile)) || !IsCheckpointFile(filepath.Join("testdata", "v1.ckpt")) {
		t.Error("a checkpoint not recognised")
	}
	notCk := filepath.Join(dir, "arch.json")
	os.WriteFile(notCk, []byte(`{"format":"effnas/arch","version":1}`), 0o644)
	if IsCheckpointFile(notCk) || IsCheckpointFile(filepath.Join(dir, "missing")) {
		t.Error("an architecture file or a missing file taken for a checkpoint")
	}
	if _, err := DumpParity(dir, net, nil, nil, DumpOptions{Batch: 2, LabelSmoothing: 1}); err == nil {
		t.Error("label smoothing 1 accepted")
	}
}
