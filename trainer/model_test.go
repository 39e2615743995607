package trainer

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/effnas/effnas/safetensors"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer/data"
	"gorgonia.org/tensor"
)

// modelProblem is a small synthetic task for checkpoint tests: 12x12 grey
// images, 4 classes, a network with every block kind, SE, dropout and
// stochastic depth.
func modelProblem(t *testing.T) Problem {
	t.Helper()
	ds, err := data.Synthetic(data.SyntheticConfig{Size: 12, Channels: 1, Classes: 4, Count: 512, TestCount: 64, Seed: 3}, "train")
	if err != nil {
		t.Fatal(err)
	}
	stages, err := searchspace.ParseBlockStrings([]string{"r1_k3_s1_e1_i8_o8_se0.25_c1", "r2_k3_s2_e4_i8_o16_c1",
		"r2_k5_s2_e1_i16_o16", "r2_k3_s1_e4_i16_o24_se0.25"})
	if err != nil {
		t.Fatal(err)
	}
	a := searchspace.Arch{Name: "ckpt", InputChannels: 1, ImageSize: 12, NumClasses: 4,
		Stem: searchspace.Stem{Channels: 8, Kernel: 3, Stride: 1}, Stages: stages, HeadChannels: 32, Dropout: 0.2, SurvivalProb: 0.7}
	train, val, err := ds.ValidationSplit(64, 5)
	if err != nil {
		t.Fatal(err)
	}
	return Problem{Arch: a, Data: ds, Train: train, Val: val}
}

func TestTensorNames(t *testing.T) {
	a, _ := searchspace.Reference("bench-dw")
	net, err := NewNet(a, tensor.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	params, bns, err := net.TensorNames()
	if err != nil {
		t.Fatal(err)
	}
	// bench-dw: fused e1 (block 0), fused e4 (1, 2), MBConv e4 with SE (3, 4), MBConv e6 with SE (5, 6)
	for _, want := range []string{"stem.conv.weight", "stem.bn.weight", "stem.bn.bias", "blocks.0.fused.conv.weight",
		"blocks.0.fused.bn.weight", "blocks.2.expand.conv.weight", "blocks.2.project.conv.weight", "blocks.3.dw.conv.weight",
		"blocks.6.se.reduce.weight", "blocks.6.se.expand.bias", "head.conv.weight", "head.bn.bias", "head.dense.weight", "head.dense.bias"} {
		if !slices.Contains(params, want) {
			t.Errorf("no parameter %q in %v", want, params)
		}
	}
	for _, want := range []string{"stem.bn", "blocks.0.fused.bn", "blocks.1.expand.bn", "blocks.4.dw.bn", "blocks.6.project.bn", "head.bn"} {
		if !slices.Contains(bns, want) {
			t.Errorf("no BatchNorm %q in %v", want, bns)
		}
	}
	seen := map[string]bool{}
	for _, n := range append(slices.Clone(params), bns...) {
		if seen[n] {
			t.Errorf("name %q twice", n)
		}
		seen[n] = true
	}
	if len(params) != len(net.Params) || len(bns) != len(net.BNs) {
		t.Errorf("%d names for %d parameters, %d for %d BatchNorms", len(params), len(net.Params), len(bns), len(net.BNs))
	}
}

func sameNets(t *testing.T, a, b *Net) {
	t.Helper()
	for i := range a.Params {
		x, y := a.Params[i].Value.Data().([]float32), b.Params[i].Value.Data().([]float32)
		for j := range x {
			if math.Float32bits(x[j]) != math.Float32bits(y[j]) {
				t.Fatalf("%s[%d]: %v vs %v", a.Params[i].Name, j, x[j], y[j])
			}
		}
	}
	for i := range a.BNs {
		m1, v1 := a.BNs[i].Stats()
		m2, v2 := b.BNs[i].Stats()
		if !slices.Equal(m1, m2) || !slices.Equal(v1, v2) {
			t.Fatalf("BatchNorm %s statistics differ", a.BNNames[i])
		}
	}
}

// TestModelResumesExactly trains 5 steps, saves the network with its
// optimizer state and mask generator, loads it and trains 3 more: the
// result is bit-identical to 8 steps in one go.
func TestModelResumesExactly(t *testing.T) {
	p := modelProblem(t)
	for _, opt := range []string{RMSProp, Adam, SGD} {
		s := Settings{Seed: 4, LR: 2e-3, Optimizer: opt, Schedule: "cosine", WeightDecay: -1}
		b := Budget{Steps: 8, Batch: 32, TimingSteps: -1, RecalBatches: -1}
		whole, _ := NewNet(p.Arch, tensor.Float32, 1)
		s.State = &TrainState{}
		if _, err := whole.Train(context.Background(), p, s, b); err != nil {
			t.Fatal(err)
		}

		first, _ := NewNet(p.Arch, tensor.Float32, 1)
		s.State = &TrainState{}
		b1 := b
		b1.Steps, b1.TotalSteps = 5, 8
		res, err := first.Train(context.Background(), p, s, b1)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "m.safetensors")
		meta := map[string]any{"dataset": "synthetic", "steps": 5}
		if err := SaveModel(path, Model{Net: first, Norm: &res.Norm, Settings: &s, State: s.State, Meta: meta}); err != nil {
			t.Fatal(err)
		}
		m, err := LoadModel(path)
		if err != nil {
			t.Fatal(err)
		}
		sameNets(t, first, m.Net)
		if m.Meta["dataset"] != "synthetic" || m.Meta["steps"] != 5.0 {
			t.Errorf("meta %v", m.Meta)
		}
		if !slices.Equal(m.Norm.Mean, res.Norm.Mean) || !slices.Equal(m.Norm.Std, res.Norm.Std) {
			t.Errorf("norm %v, want %v", m.Norm, res.Norm)
		}
		if m.Settings.Optimizer != opt || m.Settings.LR != 2e-3 || m.Settings.Schedule != "cosine" || m.Settings.WeightDecay != -1 ||
			m.Settings.Seed != 4 || m.Settings.Momentum != 0.9 {
			t.Errorf("settings %+v", *m.Settings)
		}
		if m.State.Steps() != 5 {
			t.Errorf("restored optimizer at step %d, want 5", m.State.Steps())
		}
		if err := s.Conflict(*m.Settings); err != nil {
			t.Errorf("settings read back conflict with those saved: %v", err)
		}
		other := s
		other.Epsilon = 1e-4
		if err := other.Conflict(*m.Settings); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "epsilon = 0.0001: want the checkpoint's ") {
			t.Errorf("another epsilon: %v", err)
		}
		s.State = m.State
		b2 := b
		b2.Steps, b2.StepOffset, b2.TotalSteps = 3, 5, 8
		if _, err := m.Net.Train(context.Background(), p, s, b2); err != nil {
			t.Fatal(err)
		}
		sameNets(t, whole, m.Net)
	}
}

func TestModelFileContents(t *testing.T) {
	p := modelProblem(t)
	net, _ := NewNet(p.Arch, tensor.Float32, 3)
	f, err := EncodeModel(Model{Net: net})
	if err != nil {
		t.Fatal(err)
	}
	md := f.Metadata
	if md["format"] != "effnas/checkpoint" || md["version"] != "2" || md["layout"] != "nhwc" || md["code_version"] == "" {
		t.Errorf("metadata %v", md)
	}
	a, err := searchspace.DecodeArch([]byte(md["arch"]))
	if err != nil || a.NumBlocks() != p.Arch.NumBlocks() {
		t.Errorf("arch in metadata: %v", err)
	}
	w, _ := f.Tensor("blocks.5.dw.conv.weight") // the first MBConv block of stage 4: k3, mid 64
	if w.Dtype != safetensors.F32 || !slices.Equal(w.Shape, []int{3, 3, 64}) {
		t.Errorf("depthwise weight %v %v", w.Dtype, w.Shape)
	}
	rv, _ := f.Tensor("head.bn.running_var")
	if v, _ := rv.Float64s(); rv.Dtype != safetensors.F64 || len(v) != 32 || v[0] != 1 {
		t.Errorf("running variance %v %v", rv.Dtype, v)
	}
	if _, ok := f.Tensor("opt.head.dense.weight.ms"); ok {
		t.Error("optimizer state without a training state")
	}
	// float32 statistics (as PyTorch writes them) and PyTorch's batch
	// counters are accepted
	for _, n := range f.Names() {
		if strings.HasSuffix(n, ".running_mean") {
			x, _ := f.Tensor(n)
			v, _ := x.Float64s()
			v32 := make([]float32, len(v))
			for i := range v {
				v32[i] = float32(v[i]) + 0.5
			}
			g := &safetensors.File{Metadata: md}
			for _, m := range f.Names() {
				y, _ := f.Tensor(m)
				if m == n {
					y = safetensors.FromFloat32(x.Shape, v32)
				}
				g.Add(m, y)
			}
			g.Add(strings.TrimSuffix(n, "running_mean")+"num_batches_tracked", safetensors.FromInt64(nil, []int64{3}))
			m, err := DecodeModel(g)
			if err != nil {
				t.Fatal(err)
			}
			mean, _ := m.Net.BNs[0].Stats()
			if mean[0] != 0.5 {
				t.Errorf("float32 running mean read as %v", mean[0])
			}
			break
		}
	}
}

func TestModelErrors(t *testing.T) {
	p := modelProblem(t)
	net, _ := NewNet(p.Arch, tensor.Float32, 3)
	f, err := EncodeModel(Model{Net: net})
	if err != nil {
		t.Fatal(err)
	}
	edit := func(fn func(name string, x safetensors.Tensor) (string, safetensors.Tensor, bool)) *safetensors.File {
		g := &safetensors.File{Metadata: map[string]string{}}
		for k, v := range f.Metadata {
			g.Metadata[k] = v
		}
		for _, n := range f.Names() {
			x, _ := f.Tensor(n)
			if n2, x2, keep := fn(n, x); keep {
				if err := g.Add(n2, x2); err != nil {
					t.Fatal(err)
				}
			}
		}
		return g
	}
	keep := func(n string, x safetensors.Tensor) (string, safetensors.Tensor, bool) { return n, x, true }
	missing := edit(func(n string, x safetensors.Tensor) (string, safetensors.Tensor, bool) {
		return n, x, n != "blocks.0.se.reduce.bias"
	})
	reshaped := edit(func(n string, x safetensors.Tensor) (string, safetensors.Tensor, bool) {
		if n == "head.dense.weight" {
			x.Shape = []int{x.Shape[1], x.Shape[0]}
		}
		return n, x, true
	})
	extra := edit(keep)
	extra.Add("blocks.99.dw.conv.weight", safetensors.FromFloat32([]int{1}, []float32{1}))
	nan := edit(func(n string, x safetensors.Tensor) (string, safetensors.Tensor, bool) {
		if n == "stem.conv.weight" {
			v, _ := x.Float32s()
			v[3] = float32(math.NaN())
			x = safetensors.FromFloat32(x.Shape, v)
		}
		return n, x, true
	})
	foreign := edit(keep)
	foreign.Metadata["format"] = "pt"
	badArch := edit(keep)
	badArch.Metadata["arch"] = `{"format":"effnas/arch","version":1}`
	for _, c := range []struct {
		name string
		f    *safetensors.File
		want string
	}{
		{"missing", missing, `no tensor "blocks.0.se.reduce.bias"`},
		{"reshaped", reshaped, `"head.dense.weight" has shape [4 32], the architecture wants [32 4]`},
		{"extra", extra, `unexpected tensor "blocks.99.dw.conv.weight"`},
		{"nan", nan, `"stem.conv.weight" holds NaN`},
		{"foreign", foreign, `format = "pt"`},
		{"bad arch", badArch, "metadata arch"},
	} {
		_, err := DecodeModel(c.f)
		if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an ErrCheckpoint saying %q", c.name, err, c.want)
		}
	}
}

// TestLoadModelReadsVersion1 checks that checkpoints of the older format
// still load: testdata/v1.ckpt was written by the last writer of that
// format (SaveCheckpoint, at commit 1671865), testdata/v1.safetensors by
// SaveModel from the same network (every block kind, fitted to the
// synthetic dataset's defaults, trained 3 steps).
func TestLoadModelReadsVersion1(t *testing.T) {
	old, err := LoadModel("testdata/v1.ckpt")
	if err != nil {
		t.Fatal(err)
	}
	twin, err := LoadModel("testdata/v1.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	sameNets(t, twin.Net, old.Net)
	if mean, _ := old.Net.BNs[3].Stats(); mean[0] == 0 {
		t.Error("the fixture's statistics are the initial ones: it tests too little")
	}
	if !slices.Equal(old.Norm.Mean, twin.Norm.Mean) || !slices.Equal(old.Norm.Std, twin.Norm.Std) || old.Meta["epochs"] != 0.1 ||
		old.Meta["dataset"] != "synthetic" || old.Net.Arch.Name != "v1-fixture" || old.CodeVersion != "unknown" || old.State != nil || old.Settings != nil {
		t.Errorf("norm %v meta %v, code %q", old.Norm, old.Meta, old.CodeVersion)
	}
	// and a version-1 file converts to version 2 without loss
	dir := t.TempDir()
	if err := SaveModel(filepath.Join(dir, "v2.safetensors"), *old); err != nil {
		t.Fatal(err)
	}
	m2, err := LoadModel(filepath.Join(dir, "v2.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	sameNets(t, old.Net, m2.Net)

	// damaged and foreign files are errors that say so
	raw, err := os.ReadFile("testdata/v1.ckpt")
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "damaged.ckpt")
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"flipped byte", func() []byte { b := slices.Clone(raw); b[len(b)/2] ^= 0xff; return b }(), "checksum mismatch"},
		{"truncated", raw[:len(raw)-100], "checksum mismatch"},
		{"junk", []byte("not a checkpoint at all"), "neither safetensors (invalid safetensors file: header length"},
		{"short", []byte("hi"), "neither safetensors (invalid safetensors file: 2 bytes"},
	} {
		os.WriteFile(bad, c.data, 0o644)
		_, err := LoadModel(bad)
		if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), bad+": ") {
			t.Errorf("%s: %v, want an ErrCheckpoint naming the file and saying %q", c.name, err, c.want)
		}
		if c.name == "junk" && !errors.Is(err, safetensors.ErrFormat) {
			t.Errorf("junk: %v does not wrap safetensors.ErrFormat", err)
		}
	}
}
