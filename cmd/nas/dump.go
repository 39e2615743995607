package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
)

func init() {
	register(&command{
		name: "dump",
		one:  "ARCH or CKPT",
		flags: func(fs *flag.FlagSet) func([]string) error {
			df := cli.AddDataFlags(fs)
			out := fs.String("o", "", "output directory (created)")
			size := fs.Int("image-size", 0, "image size (default: the architecture's training size)")
			batch := fs.Int("batch", 4, "batch size")
			seed := fs.Uint64("seed", 1, "seed of the initial weights, the batch and the masks")
			synthetic := fs.Bool("synthetic", false, "use synthetic images even when the dataset is installed")
			smooth := fs.Float64("label-smoothing", 0, "smooth the one-hot targets: 1-eps+eps/K and eps/K")
			return func(args []string) error {
				if *out == "" {
					return cli.Usagef("-o DIR is required")
				}
				if *batch < 1 || *size < 0 {
					return cli.Usagef("--batch must be positive and --image-size not negative")
				}
				if *smooth < 0 || *smooth >= 1 {
					return cli.Usagef("--label-smoothing %v: want [0, 1)", *smooth)
				}
				m, err := trainer.LoadModelOrArch(args[0], *seed, loadArch)
				if err != nil {
					return err
				}
				var ds *data.Dataset
				if !*synthetic {
					loaded, err := df.Load("train")
					var note string
					if ds, note = trainer.DumpDataset(m.Net.Arch, loaded, err); note != "" {
						fmt.Fprintf(os.Stderr, "note: %s\n", note)
					}
				}
				p, err := trainer.DumpParity(*out, m.Net, ds, m.Norm, trainer.DumpOptions{Batch: *batch, Size: *size, Seed: *seed, LabelSmoothing: *smooth})
				if err != nil {
					return err
				}
				fmt.Fprintln(stdout, p.DumpSummary(m.Net.Arch, *out))
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
					return cli.Usagef("-o OUT.safetensors is required")
				}
				line, err := trainer.ConvertModel(args[0], *out)
				if err != nil {
					return err
				}
				fmt.Fprintln(stdout, line)
				return nil
			}
		},
	})
}
