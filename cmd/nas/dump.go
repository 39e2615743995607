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
		name: "dump",
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
		name: "convert",
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
