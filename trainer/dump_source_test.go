package trainer

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer/data"
	"gorgonia.org/tensor"
)

// A checkpoint is read as it is (its weights and normalisation); any
// other argument goes to the architecture resolver and is initialised
// from the seed.
func TestLoadModelOrArch(t *testing.T) {
	a, _ := searchspace.Reference("bench-dw")
	net, err := NewNet(a, tensor.Float32, 5)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	norm := &data.Norm{Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}}
	if err := SaveModel(path, Model{Net: net, Norm: norm}); err != nil {
		t.Fatal(err)
	}
	noArch := func(ref string) (searchspace.Arch, error) {
		t.Fatalf("resolver called with %q", ref)
		return searchspace.Arch{}, nil
	}
	m, err := LoadModelOrArch(path, 9, noArch)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Norm, norm) || !reflect.DeepEqual(m.Net.Params[0].Value.Data(), net.Params[0].Value.Data()) {
		t.Errorf("checkpoint read back with norm %+v and other weights", m.Norm)
	}

	var asked string
	byName := func(ref string) (searchspace.Arch, error) { asked = ref; return searchspace.Reference(ref) }
	m, err = LoadModelOrArch("bench-dw", 5, byName)
	if err != nil || asked != "bench-dw" || m.Norm != nil || m.Net.Arch.Name != "bench-dw" {
		t.Fatalf("%v, asked %q, %+v", err, asked, m)
	}
	if !reflect.DeepEqual(m.Net.Params[0].Value.Data(), net.Params[0].Value.Data()) {
		t.Error("seed 5 gave other initial weights than NewNet with seed 5")
	}
	bad := errors.New("no such architecture")
	if _, err := LoadModelOrArch("nope", 1, func(string) (searchspace.Arch, error) { return searchspace.Arch{}, bad }); !errors.Is(err, bad) {
		t.Errorf("resolver's error: %v", err)
	}
}

func TestDumpDataset(t *testing.T) {
	a, _ := searchspace.Reference("bench-dw")
	fits, err := data.Synthetic(data.SyntheticConfig{Channels: a.InputChannels, Classes: a.NumClasses, Count: 10}, "train")
	if err != nil {
		t.Fatal(err)
	}
	if ds, note := DumpDataset(a, fits, nil); ds != fits || note != "" {
		t.Errorf("fitting dataset: %p, %q", ds, note)
	}
	other, err := data.Synthetic(data.SyntheticConfig{Channels: a.InputChannels + 2, Classes: a.NumClasses + 1, Count: 10}, "train")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s images have %d channel(s) and %d classes, bench-dw takes %d and %d; using synthetic images",
		other.Name, a.InputChannels+2, a.NumClasses+1, a.InputChannels, a.NumClasses)
	if ds, note := DumpDataset(a, other, nil); ds != nil || note != want {
		t.Errorf("other shape: %p, %q\nwant %q", ds, note, want)
	}
	if ds, note := DumpDataset(a, nil, errors.New("data: x not found")); ds != nil || note != "data: x not found; using synthetic images" {
		t.Errorf("not loaded: %p, %q", ds, note)
	}
}

func TestDumpSummary(t *testing.T) {
	a, _ := searchspace.Reference("bench-dw")
	p := &Parity{Batch: 2, Size: 32, Source: "synthetic standard normal, seed 1", Loss: 2.5}
	want := "bench-dw: batch 2 at 32x32x" + strconv.Itoa(a.InputChannels) + " (synthetic standard normal, seed 1), training loss 2.500000; wrote " +
		filepath.Join("out", DumpModelFile) + " and " + filepath.Join("out", DumpParityFile)
	if got := p.DumpSummary(a, "out"); got != want {
		t.Errorf("%q\nwant %q", got, want)
	}
}
