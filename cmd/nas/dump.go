package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/effnas/effnas/safetensors"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
	"gorgonia.org/tensor"
)

func init() {
	register(&command{
		name:    "dump",
		args:    "ARCH|CKPT -o DIR [--image-size S] [--batch B] [--seed N] [--synthetic] [--label-smoothing EPS]",
		summary: "run one batch through a network and write what it computed, for parity checks with other frameworks",
		help: `Builds ARCH (a built-in name or an architecture file; weights initialised
from --seed) or loads the checkpoint CKPT, then writes to DIR:

  model.safetensors   the network as a checkpoint: weights and BatchNorm
                      statistics before the step (tensor names: "go doc
                      ./trainer Net.TensorNames")
  parity.safetensors  one batch and what the trainer computed on it:
                      x (N,S,S,C), y (N,K) targets, eval.logits
                      (running statistics), train.logits and train.loss
                      (batch statistics, the dropout and drop-connect masks
                      mask.dropout and mask.blocks.I it used),
                      grad.<parameter> for every parameter,
                      after.<batchnorm>.running_mean/.running_var after the
                      step, eval_after.logits with those statistics

No optimizer update is applied. The batch is training images of --dataset
(Fashion-MNIST by default; normalised as the checkpoint says, or by the
split's statistics) when the network's channels and classes match it and
the data is installed, otherwise standard-normal images with uniform labels
from --seed (--synthetic forces it). bench/torch_parity.py runs this and
compares with PyTorch.`,
		examples: []string{
			"nas dump bench-dw -o dump/                              # one batch through a fresh network, for parity checks",
			"nas dump bench-dw.safetensors -o dump/ --batch 8 --synthetic",
		},
		flags: func(fs *flag.FlagSet) func([]string) error {
			df := addDataFlags(fs)
			out := fs.String("o", "", "output directory (created)")
			size := fs.Int("image-size", 0, "image size (default: the architecture's training size)")
			batch := fs.Int("batch", 4, "batch size")
			seed := fs.Uint64("seed", 1, "seed of the initial weights, the batch and the masks")
			synthetic := fs.Bool("synthetic", false, "use synthetic images even when the dataset is installed")
			smooth := fs.Float64("label-smoothing", 0, "smooth the one-hot targets: 1-eps+eps/K and eps/K")
			return func(args []string) error {
				if len(args) != 1 {
					return usagef("want exactly one ARCH or CKPT")
				}
				if *out == "" {
					return usagef("-o DIR is required")
				}
				if *batch < 1 || *size < 0 {
					return usagef("--batch must be positive and --image-size not negative")
				}
				if *smooth < 0 || *smooth >= 1 {
					return usagef("--label-smoothing %v: want [0, 1)", *smooth)
				}
				net, norm, err := loadNetOrModel(args[0], *seed)
				if err != nil {
					return err
				}
				a := net.Arch
				sz := *size
				if sz == 0 {
					sz = a.TrainSize()
				}
				var ds *data.Dataset
				if !*synthetic {
					if ds, err = df.load("train"); err != nil {
						fmt.Fprintf(os.Stderr, "note: %v; using synthetic images\n", err)
						ds = nil
					} else if ds.C != a.InputChannels || ds.NumClasses != a.NumClasses {
						fmt.Fprintf(os.Stderr, "note: %s images have %d channel(s) and %d classes, %s takes %d and %d; using synthetic images\n",
							ds.Name, ds.C, ds.NumClasses, a.Name, a.InputChannels, a.NumClasses)
						ds = nil
					}
				}
				if ds == nil {
					norm = nil
				}
				x, y, src, err := trainer.ParityBatch(net, ds, norm, *batch, sz, *seed)
				if err != nil {
					return err
				}
				if *smooth > 0 {
					k := float32(a.NumClasses)
					for i := range y {
						y[i] = y[i]*(1-float32(*smooth)) + float32(*smooth)/k
					}
					src += fmt.Sprintf(", label smoothing %g", *smooth)
				}
				model, err := trainer.EncodeModel(trainer.Model{Net: net, Norm: norm})
				if err != nil {
					return err
				}
				p, err := trainer.RunParity(net, x, y, *batch, sz, *seed)
				if err != nil {
					return err
				}
				p.Source = src
				pf, err := p.File(net)
				if err != nil {
					return err
				}
				if err := os.MkdirAll(*out, 0o755); err != nil {
					return err
				}
				for name, f := range map[string]*safetensors.File{"model.safetensors": model, "parity.safetensors": pf} {
					if err := safetensors.WriteFile(filepath.Join(*out, name), f); err != nil {
						return err
					}
				}
				fmt.Fprintf(stdout, "%s: batch %d at %dx%dx%d (%s), training loss %.6f; wrote %s and %s\n", a.Name, *batch, sz, sz,
					a.InputChannels, src, p.Loss, filepath.Join(*out, "model.safetensors"), filepath.Join(*out, "parity.safetensors"))
				return nil
			}
		},
	})
}

func init() {
	register(&command{
		name:    "convert",
		args:    "CKPT -o OUT.safetensors",
		summary: "rewrite a checkpoint (either format) as a safetensors checkpoint",
		help: `Reads a checkpoint of either format (the older EFFNASCK files that "nas
train -o" wrote before it wrote safetensors, or safetensors) and writes it as
a safetensors checkpoint: weights, BatchNorm statistics, input normalisation
and metadata, with the tensor names of "go doc ./trainer TensorNames" (the
PyTorch module bench/effnas_torch.py loads it). Weights and statistics are
kept bit for bit.`,
		examples: []string{
			"nas convert bench-dw.ckpt -o bench-dw.safetensors      # a checkpoint of the older format as safetensors",
			"nas convert winner.ckpt -o winner.safetensors",
		},
		flags: func(fs *flag.FlagSet) func([]string) error {
			out := fs.String("o", "", "output file")
			return func(args []string) error {
				if len(args) != 1 {
					return usagef("want exactly one CKPT")
				}
				if *out == "" {
					return usagef("-o OUT.safetensors is required")
				}
				m, err := trainer.LoadModel(args[0])
				if err != nil {
					return err
				}
				if err := trainer.SaveModel(*out, *m); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s: %s, %d parameters, %d BatchNorm layers; wrote %s\n", args[0], m.Net.Arch.Name,
					m.Net.NumParams(), len(m.Net.BNs), *out)
				return nil
			}
		},
	})
}

// loadNetOrModel resolves an argument that may be a checkpoint (a
// safetensors or version-1 file) or an ARCH (initialised from seed). It
// returns the checkpoint's normalisation, nil for an ARCH.
func loadNetOrModel(ref string, seed uint64) (*trainer.Net, *data.Norm, error) {
	if isCheckpointFile(ref) {
		m, err := trainer.LoadModel(ref)
		if err != nil {
			return nil, nil, err
		}
		return m.Net, m.Norm, nil
	}
	a, err := loadArch(ref)
	if err != nil {
		return nil, nil, err
	}
	net, err := trainer.NewNet(a, tensor.Float32, seed)
	return net, nil, err
}

// isCheckpointFile reports whether ref is a checkpoint file: a version-1
// file (its magic) or a safetensors file (a plausible header length, then
// a JSON object).
func isCheckpointFile(ref string) bool {
	f, err := os.Open(ref)
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
	if string(head[:8]) == "EFFNASCK" {
		return true
	}
	return head[8] == '{' && binary.LittleEndian.Uint64(head[:8]) <= uint64(st.Size()-8)
}
