package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
	"gorgonia.org/tensor"
)

func init() {
	register(&command{
		name: "dump",
		one:  "ARCH or CKPT",
		flags: func(fs *flag.FlagSet) func([]string) error {
			df := addDataFlags(fs)
			out := fs.String("o", "", "output directory (created)")
			size := fs.Int("image-size", 0, "image size (default: the architecture's training size)")
			batch := fs.Int("batch", 4, "batch size")
			seed := fs.Uint64("seed", 1, "seed of the initial weights, the batch and the masks")
			synthetic := fs.Bool("synthetic", false, "use synthetic images even when the dataset is installed")
			smooth := fs.Float64("label-smoothing", 0, "smooth the one-hot targets: 1-eps+eps/K and eps/K")
			return func(args []string) error {
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
				p, err := trainer.DumpParity(*out, net, ds, norm, trainer.DumpOptions{Batch: *batch, Size: *size, Seed: *seed, LabelSmoothing: *smooth})
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s: batch %d at %dx%dx%d (%s), training loss %.6f; wrote %s and %s\n", a.Name, *batch, p.Size, p.Size,
					a.InputChannels, p.Source, p.Loss, filepath.Join(*out, trainer.DumpModelFile), filepath.Join(*out, trainer.DumpParityFile))
				return nil
			}
		},
	})
}

func init() {
	register(&command{
		name: "convert",
		one:  "CKPT",
		flags: func(fs *flag.FlagSet) func([]string) error {
			out := fs.String("o", "", "output file")
			return func(args []string) error {
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
	if trainer.IsCheckpointFile(ref) {
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
