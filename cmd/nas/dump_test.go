package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/effnas/effnas/safetensors"
	"github.com/effnas/effnas/trainer"
)

func TestDumpBenchDW(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := nas(t, "dump", "bench-dw", "-o", dir, "--batch", "2", "--synthetic")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "bench-dw: batch 2 at 28x28x1 (synthetic") {
		t.Errorf("output %q", out)
	}
	m, err := trainer.LoadModel(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Net.Arch.Name != "bench-dw" {
		t.Errorf("model of %q", m.Net.Arch.Name)
	}
	// the model file holds the statistics before the step: all initial
	mean, vari := m.Net.BNs[0].Stats()
	if mean[0] != 0 || vari[0] != 1 {
		t.Errorf("stem statistics %v %v in the model file, want the initial 0 and 1", mean[0], vari[0])
	}
	p, err := safetensors.ReadFile(filepath.Join(dir, "parity.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	names, bns, _ := m.Net.TensorNames()
	for _, n := range names {
		g, ok := p.Tensor("grad." + n)
		if !ok {
			t.Fatalf("no gradient of %s", n)
		}
		if v, _ := g.Float32s(); len(v) == 0 {
			t.Errorf("gradient of %s is empty", n)
		}
	}
	if _, ok := p.Tensor("after." + bns[len(bns)-1] + ".running_var"); !ok {
		t.Error("no statistics after the step")
	}
	if x, _ := p.Tensor("x"); len(x.Shape) != 4 || x.Shape[0] != 2 || x.Shape[1] != 28 || x.Shape[3] != 1 {
		t.Errorf("batch shape %v", x.Shape)
	}
	if _, ok := p.Tensor("mask.dropout"); !ok {
		t.Error("bench-dw has dropout 0.2, the dump no dropout mask")
	}

	// the dumped checkpoint dumps again, with the same batch and outputs
	dir2 := t.TempDir()
	if _, errs, code := nas(t, "dump", filepath.Join(dir, "model.safetensors"), "-o", dir2, "--batch", "2", "--synthetic"); code != 0 {
		t.Fatalf("dump of a checkpoint: exit %d: %s", code, errs)
	}
	p2, err := safetensors.ReadFile(filepath.Join(dir2, "parity.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"x", "train.logits", "grad.stem.conv.weight", "after.stem.bn.running_mean"} {
		a, _ := p.Tensor(n)
		b, _ := p2.Tensor(n)
		if string(a.Data) != string(b.Data) {
			t.Errorf("%s differs between the dump of bench-dw and of its dumped checkpoint", n)
		}
	}
}

func TestDumpErrors(t *testing.T) {
	if _, errs, code := nas(t, "dump", "bench-dw"); code != 2 || !strings.Contains(errs, "-o DIR") {
		t.Errorf("no -o: exit %d, %q", code, errs)
	}
	if _, errs, code := nas(t, "dump", "no-such.json", "-o", t.TempDir()); code != 1 || !strings.Contains(errs, "no-such.json") {
		t.Errorf("missing file: exit %d, %q", code, errs)
	}
}

// TestConvertVersion1 converts a file of the older format (written by its
// last writer; see trainer/testdata) and finds every tensor of its
// safetensors twin, bit for bit.
func TestConvertVersion1(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join("..", "..", "trainer", "testdata", "v1.ckpt")
	out, errs, code := nas(t, "convert", old, "-o", filepath.Join(dir, "new.safetensors"))
	if code != 0 || !strings.Contains(out, "v1-fixture") || !strings.Contains(out, "wrote") {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	got, err := safetensors.ReadFile(filepath.Join(dir, "new.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := safetensors.ReadFile(filepath.Join("..", "..", "trainer", "testdata", "v1.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Names()) != len(want.Names()) {
		t.Fatalf("%d tensors, want %d", len(got.Names()), len(want.Names()))
	}
	for _, n := range want.Names() {
		a, _ := want.Tensor(n)
		b, ok := got.Tensor(n)
		if !ok || a.Dtype != b.Dtype || string(a.Data) != string(b.Data) {
			t.Errorf("%s changed in the conversion", n)
		}
	}
	for _, k := range []string{"arch", "norm", "meta"} {
		if got.Metadata[k] != want.Metadata[k] {
			t.Errorf("metadata %s: %s, want %s", k, got.Metadata[k], want.Metadata[k])
		}
	}
	// the old file itself evaluates and dumps as its conversion does
	for _, cmd := range [][]string{{"eval", "--dataset", "synthetic"}, {"dump", "--synthetic", "-o", dir}} {
		a, errs, code := nas(t, append(append([]string{}, cmd...), old)...)
		b, _, _ := nas(t, append(append([]string{}, cmd...), filepath.Join(dir, "new.safetensors"))...)
		if code != 0 || a == "" || strings.ReplaceAll(a, old, "X") != strings.ReplaceAll(b, filepath.Join(dir, "new.safetensors"), "X") {
			t.Errorf("%s: exit %d %s: %q, the converted file %q", cmd[0], code, errs, a, b)
		}
	}
	if _, errs, code := nas(t, "convert", filepath.Join(dir, "new.safetensors")); code != 2 || !strings.Contains(errs, "-o") {
		t.Errorf("no -o: exit %d, %q", code, errs)
	}
}
