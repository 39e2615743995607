package trainer

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/safetensors"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer/data"
	"github.com/effnas/effnas/version"
	"gorgonia.org/tensor"
)

// Checkpoint format identifiers (metadata "format" and "version").
const (
	ModelFormat  = "effnas/checkpoint"
	ModelVersion = 2
)

// Model is a network and what goes with it in a checkpoint.
//
// Checkpoints are safetensors files (package safetensors) that any
// framework can read. Tensors, named as TensorNames says:
//
//   - every parameter, float32, in the trainer's layouts (HWIO convolutions,
//     HWC depthwise, (in, out) dense);
//   - every BatchNorm layer's running_mean and running_var, float64 (the
//     trainer keeps them in float64; float32 files are accepted on reading);
//   - with a training state, the optimizer's slots "opt.<name>.<slot>",
//     float32.
//
// Metadata (string values; JSON where structured):
//
//	format        "effnas/checkpoint"
//	version       "2" (version 1 is the older EFFNASCK file, still read)
//	arch          the architecture document (effnas/arch JSON)
//	layout        "nhwc": activations NHWC, weights as above
//	code_version  the program's VCS revision ("+dirty" when modified)
//	norm          input normalisation {"mean": [...], "std": [...]} (optional)
//	settings      training settings (optional): optimizer, lr, momentum,
//	              rms_decay, epsilon, weight_decay, schedule, warmup_epochs,
//	              label_smoothing, augment, dropout, seed
//	optimizer     {"kind", "steps", "lr", "momentum", "decay", "epsilon",
//	              "beta1", "beta2", "weight_decay"} (with a training state)
//	mask_rng      hex state of the dropout / stochastic-depth mask generator
//	              (with a training state)
//	aug_rng       hex state of the augmentation generator and the run's step
//	aug_step      it continues at (with a training state that trained)
//	meta          free-form JSON object: dataset, epochs, accuracy...
type Model struct {
	Net *Net
	// Norm is the input normalisation the network was trained with.
	Norm *data.Norm
	// Settings are the training settings (nil: not recorded). Only the
	// plain fields are kept (not Progress, Gate nor State).
	Settings *Settings
	// State is the optimizer state and mask generator, for resuming
	// (nil: not saved).
	State *TrainState
	// Meta is free-form (dataset, epochs, accuracy...); JSON-encodable.
	Meta map[string]any
	// CodeVersion is the VCS revision of the program that wrote the file
	// (set by EncodeModel, read back by DecodeModel).
	CodeVersion string
}

// settingsDoc is the JSON form of Settings in a checkpoint.
type settingsDoc struct {
	Optimizer      string       `json:"optimizer"`
	LR             float64      `json:"lr"`
	Momentum       float64      `json:"momentum"`
	RMSDecay       float64      `json:"rms_decay"`
	Epsilon        float64      `json:"epsilon"`
	WeightDecay    float64      `json:"weight_decay"`
	Schedule       string       `json:"schedule"`
	WarmupEpochs   float64      `json:"warmup_epochs"`
	LabelSmoothing float64      `json:"label_smoothing"`
	Augment        data.Augment `json:"augment"`
	Dropout        *float64     `json:"dropout,omitempty"`
	Seed           uint64       `json:"seed"`
}

// doc is the checkpoint form of the settings, after their defaults.
func (s Settings) doc() settingsDoc {
	d := s.withDefaults()
	return settingsDoc{Optimizer: d.Optimizer, LR: d.LR, Momentum: d.Momentum, RMSDecay: d.RMSDecay,
		Epsilon: d.Epsilon, WeightDecay: d.WeightDecay, Schedule: d.Schedule, WarmupEpochs: d.WarmupEpochs,
		LabelSmoothing: d.LabelSmoothing, Augment: d.Augment, Dropout: d.Dropout, Seed: d.Seed}
}

// ErrConflict marks settings that differ from a checkpoint's, where they
// must agree (a resumed run).
var ErrConflict = errors.New("conflicts with the checkpoint")

// Conflict compares the settings a checkpoint keeps (both after their
// defaults; not Progress, Gate, State, Baseline nor Progressive) and
// reports the first that differs as a *fielderr.Error wrapping
// ErrConflict, named as in the checkpoint's metadata, with the saved value:
// "lr = 0.002: want the checkpoint's 0.001". Nil when they agree.
func (s Settings) Conflict(saved Settings) error {
	var mine, theirs map[string]json.RawMessage
	for _, x := range []struct {
		s   Settings
		out *map[string]json.RawMessage
	}{{s, &mine}, {saved, &theirs}} {
		b, err := json.Marshal(x.s.doc())
		if err == nil {
			err = json.Unmarshal(b, x.out)
		}
		if err != nil {
			return err
		}
	}
	for _, k := range []string{"optimizer", "lr", "momentum", "rms_decay", "epsilon", "weight_decay", "schedule", "warmup_epochs",
		"label_smoothing", "augment", "dropout", "seed"} {
		if a, b := string(mine[k]), string(theirs[k]); a != b {
			if a == "" {
				a = "unset"
			}
			if b == "" {
				b = "unset"
			}
			return &fielderr.Error{Field: k, Value: a, Allowed: "want the checkpoint's " + b, Err: ErrConflict}
		}
	}
	return nil
}

type optimizerDoc struct {
	Kind        string  `json:"kind"`
	Steps       int     `json:"steps"`
	LR          float64 `json:"lr"`
	Momentum    float64 `json:"momentum"`
	Decay       float64 `json:"decay"`
	Epsilon     float64 `json:"epsilon"`
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	WeightDecay float64 `json:"weight_decay"`
}

type normDoc struct {
	Mean []float32 `json:"mean"`
	Std  []float32 `json:"std"`
}

// slotNames are the optimizer slot names of slot1 and slot2 per optimizer.
func slotNames(kind string) (s1, s2 string) {
	switch kind {
	case RMSProp:
		return "mom", "ms"
	case Adam:
		return "m", "v"
	}
	return "mom", ""
}

// CodeVersion is the code version recorded in a checkpoint's metadata:
// the commit, "+dirty" when the tree had changes, "+maybe-dirty" when that is
// unknown, or "unknown" (see package version).
func CodeVersion() string { return version.Get().Compact() }

// SaveModel writes a checkpoint atomically (temporary file, sync, rename).
func SaveModel(path string, m Model) error {
	f, err := EncodeModel(m)
	if err != nil {
		return err
	}
	return safetensors.WriteFile(path, f)
}

// EncodeModel builds the checkpoint file of m.
func EncodeModel(m Model) (*safetensors.File, error) {
	net := m.Net
	if net == nil {
		return nil, fmt.Errorf("trainer: checkpoint without a network")
	}
	if net.Dtype != tensor.Float32 {
		return nil, fmt.Errorf("trainer: checkpoints hold float32 networks, not %v", net.Dtype)
	}
	pnames, bnames, err := net.TensorNames()
	if err != nil {
		return nil, err
	}
	arch, err := json.Marshal(net.Arch)
	if err != nil {
		return nil, err
	}
	f := &safetensors.File{Metadata: map[string]string{
		"format": ModelFormat, "version": strconv.Itoa(ModelVersion), "arch": string(arch),
		"layout": "nhwc", "code_version": CodeVersion(),
	}}
	put := func(key string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("trainer: checkpoint %s: %w", key, err)
		}
		f.Metadata[key] = string(b)
		return nil
	}
	if m.Norm != nil {
		if err := put("norm", normDoc{Mean: m.Norm.Mean, Std: m.Norm.Std}); err != nil {
			return nil, err
		}
	}
	if s := m.Settings; s != nil {
		if err := put("settings", s.doc()); err != nil {
			return nil, err
		}
	}
	if m.Meta != nil {
		if err := put("meta", m.Meta); err != nil {
			return nil, err
		}
	}
	for i, p := range net.Params {
		if err := f.Add(pnames[i], safetensors.FromFloat32(p.Value.Shape(), p.Value.Data().([]float32))); err != nil {
			return nil, err
		}
	}
	for i, bn := range net.BNs {
		mean, vari := bn.Stats()
		if err := f.Add(bnames[i]+".running_mean", safetensors.FromFloat64([]int{len(mean)}, mean)); err != nil {
			return nil, err
		}
		if err := f.Add(bnames[i]+".running_var", safetensors.FromFloat64([]int{len(vari)}, vari)); err != nil {
			return nil, err
		}
	}
	if ts := m.State; ts != nil && ts.solver != nil {
		o := ts.solver
		if len(o.slot1) != len(net.Params) {
			return nil, fmt.Errorf("trainer: training state is for %d parameters, the network has %d", len(o.slot1), len(net.Params))
		}
		if err := put("optimizer", optimizerDoc{Kind: o.kind, Steps: o.t, LR: o.lr, Momentum: o.momentum, Decay: o.decay,
			Epsilon: o.eps, Beta1: o.beta1, Beta2: o.beta2, WeightDecay: o.weightDecay}); err != nil {
			return nil, err
		}
		n1, n2 := slotNames(o.kind)
		for i, p := range net.Params {
			shape := p.Value.Shape()
			if err := f.Add("opt."+pnames[i]+"."+n1, safetensors.FromFloat32(shape, o.slot1[i])); err != nil {
				return nil, err
			}
			if n2 != "" {
				if err := f.Add("opt."+pnames[i]+"."+n2, safetensors.FromFloat32(shape, o.slot2[i])); err != nil {
					return nil, err
				}
			}
		}
		if ts.src != nil {
			b, err := ts.src.MarshalBinary()
			if err != nil {
				return nil, err
			}
			f.Metadata["mask_rng"] = hex.EncodeToString(b)
		}
		if ts.aug != nil {
			b, err := ts.aug.MarshalBinary()
			if err != nil {
				return nil, err
			}
			f.Metadata["aug_rng"] = hex.EncodeToString(b)
			f.Metadata["aug_step"] = strconv.Itoa(ts.augStep)
		}
	}
	return f, nil
}

// LoadModel reads a checkpoint: a safetensors file written by SaveModel,
// or a file of the older version-1 format (recognised by its magic; see
// checkpoint.go), which has no settings nor training state.
func LoadModel(path string) (*Model, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(raw, []byte(checkpointMagic)) {
		m, err := decodeCheckpoint(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return m, nil
	}
	f, err := safetensors.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: neither safetensors (%w) nor the older %s format", path, ErrCheckpoint, err, checkpointMagic)
	}
	m, err := DecodeModel(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// DecodeModel rebuilds a checkpoint's network (and training state, when
// saved) from its file. Every tensor of the network must be present with
// its shape; BatchNorm statistics may be float32 or float64; PyTorch's
// "num_batches_tracked" buffers are ignored; any other tensor is an error.
// The network is left in evaluation mode.
func DecodeModel(f *safetensors.File) (*Model, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCheckpoint, fmt.Sprintf(format, args...))
	}
	md := f.Metadata
	if md["format"] != ModelFormat {
		return nil, bad("metadata format = %q, want %q (not an effnas checkpoint)", md["format"], ModelFormat)
	}
	if v, err := strconv.Atoi(md["version"]); err != nil || v != ModelVersion {
		return nil, bad("metadata version = %q, this program reads version %d", md["version"], ModelVersion)
	}
	if l := md["layout"]; l != "nhwc" {
		return nil, bad("metadata layout = %q, want \"nhwc\"", l)
	}
	arch, err := searchspace.DecodeArch([]byte(md["arch"]))
	if err != nil {
		return nil, bad("metadata arch: %v", err)
	}
	net, err := NewNet(arch, tensor.Float32, 0)
	if err != nil {
		return nil, err
	}
	pnames, bnames, err := net.TensorNames()
	if err != nil {
		return nil, err
	}
	m := &Model{Net: net, CodeVersion: md["code_version"]}
	used := map[string]bool{}
	get := func(name string, shape []int) (safetensors.Tensor, error) {
		t, ok := f.Tensor(name)
		if !ok {
			return t, bad("no tensor %q (the architecture has it)", name)
		}
		if !slices.Equal(t.Shape, shape) {
			return t, bad("tensor %q has shape %v, the architecture wants %v", name, t.Shape, shape)
		}
		used[name] = true
		return t, nil
	}
	for i, p := range net.Params {
		t, err := get(pnames[i], p.Value.Shape())
		if err != nil {
			return nil, err
		}
		v, err := t.Float32s()
		if err != nil {
			return nil, bad("tensor %q: %v", pnames[i], err)
		}
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, bad("tensor %q holds %v", pnames[i], x)
			}
		}
		copy(p.Value.Data().([]float32), v)
	}
	for i, bn := range net.BNs {
		var st [2][]float64
		for j, suffix := range []string{".running_mean", ".running_var"} {
			t, err := get(bnames[i]+suffix, []int{bn.Channels()})
			if err != nil {
				return nil, err
			}
			if st[j], err = t.Float64s(); err != nil {
				return nil, bad("tensor %q: %v", bnames[i]+suffix, err)
			}
		}
		if err := bn.SetStats(st[0], st[1]); err != nil {
			return nil, bad("BatchNorm %s: %v", bnames[i], err)
		}
	}
	if s, ok := md["norm"]; ok {
		var d normDoc
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			return nil, bad("metadata norm: %v", err)
		}
		m.Norm = &data.Norm{Mean: d.Mean, Std: d.Std}
	}
	if s, ok := md["settings"]; ok {
		var d settingsDoc
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			return nil, bad("metadata settings: %v", err)
		}
		m.Settings = &Settings{Optimizer: d.Optimizer, LR: d.LR, Momentum: d.Momentum, RMSDecay: d.RMSDecay, Epsilon: d.Epsilon,
			WeightDecay: d.WeightDecay, Schedule: d.Schedule, WarmupEpochs: d.WarmupEpochs, LabelSmoothing: d.LabelSmoothing,
			Augment: d.Augment, Dropout: d.Dropout, Seed: d.Seed}
		if m.Settings.WeightDecay == 0 {
			m.Settings.WeightDecay = -1 // saved effective value 0; zero in Settings means the default
		}
	}
	if s, ok := md["meta"]; ok {
		if err := json.Unmarshal([]byte(s), &m.Meta); err != nil {
			return nil, bad("metadata meta: %v", err)
		}
	}
	if s, ok := md["optimizer"]; ok {
		if m.State, err = decodeState(f, s, md, net, pnames, used, bad); err != nil {
			return nil, err
		}
	}
	for _, name := range f.Names() {
		if !used[name] && !strings.HasSuffix(name, ".num_batches_tracked") {
			return nil, bad("unexpected tensor %q (not part of the architecture)", name)
		}
	}
	net.SetBNMode(false, false)
	return m, nil
}

func decodeState(f *safetensors.File, doc string, md map[string]string, net *Net, pnames []string, used map[string]bool,
	bad func(string, ...any) error) (*TrainState, error) {
	var d optimizerDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return nil, bad("metadata optimizer: %v", err)
	}
	sol, err := newSolver(Settings{Optimizer: d.Kind}, net.Params)
	if err != nil {
		return nil, bad("metadata optimizer: %v", err)
	}
	sol.t, sol.lr, sol.momentum, sol.decay, sol.eps = d.Steps, d.LR, d.Momentum, d.Decay, d.Epsilon
	sol.beta1, sol.beta2, sol.weightDecay = d.Beta1, d.Beta2, d.WeightDecay
	n1, n2 := slotNames(sol.kind)
	for i, p := range net.Params {
		for _, s := range []struct {
			name string
			dst  []float32
		}{{n1, sol.slot1[i]}, {n2, sol.slot2[i]}} {
			if s.name == "" {
				continue
			}
			name := "opt." + pnames[i] + "." + s.name
			t, ok := f.Tensor(name)
			if !ok {
				return nil, bad("no tensor %q (the %s state has it)", name, sol.kind)
			}
			if !slices.Equal(t.Shape, []int(p.Value.Shape())) {
				return nil, bad("tensor %q has shape %v, want %v", name, t.Shape, p.Value.Shape())
			}
			v, err := t.Float32s()
			if err != nil {
				return nil, bad("tensor %q: %v", name, err)
			}
			copy(s.dst, v)
			used[name] = true
		}
	}
	ts := &TrainState{solver: sol}
	pcg := func(key string) (*rand.PCG, error) {
		b, err := hex.DecodeString(md[key])
		src := &rand.PCG{}
		if err == nil {
			err = src.UnmarshalBinary(b)
		}
		if err != nil {
			return nil, bad("metadata %s: %v", key, err)
		}
		return src, nil
	}
	if md["mask_rng"] == "" {
		return nil, bad("metadata optimizer without mask_rng")
	}
	if ts.src, err = pcg("mask_rng"); err != nil {
		return nil, err
	}
	ts.rng = rand.New(ts.src)
	if md["aug_rng"] != "" {
		if ts.aug, err = pcg("aug_rng"); err != nil {
			return nil, err
		}
		if ts.augStep, err = strconv.Atoi(md["aug_step"]); err != nil || ts.augStep < 0 {
			return nil, bad("metadata aug_step = %q: want the run's step, an integer >= 0", md["aug_step"])
		}
	}
	return ts, nil
}
