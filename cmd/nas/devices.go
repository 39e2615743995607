package main

import (
	"flag"
	"io"

	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/cuda"
	"github.com/effnas/effnas/trainer/cudaops"
)

func init() {
	register(&command{
		name: "devices",
		flags: func(fs *flag.FlagSet) func([]string) error {
			check := fs.Bool("check", false, "compare every GPU kernel with the CPU ops; exit 1 on a mismatch")
			only := fs.String("only", "", "with --check: only the ops whose name contains this")
			seed := fs.Uint64("seed", 1, "with --check: random seed of the inputs")
			bench := fs.Bool("bench", false, "time GPU kernels (depthwise against cuDNN, BatchNorm+SiLU)")
			device := fs.String("device", "cuda:0", "GPU for --check and --bench")
			tf32 := fs.Bool("tf32", false, "allow TF32 tensor cores in cuBLAS and cuDNN (default: full FP32)")
			asJSON := fs.Bool("json", false, "print the listing as JSON")
			source := fs.Bool("source", false, "print the CUDA source of the GPU kernels and exit")
			return func(args []string) error {
				if len(args) != 0 {
					return cli.Usagef("devices takes no arguments")
				}
				if *source {
					_, err := io.WriteString(stdout, cudaops.Source())
					return err
				}
				if !*check && !*bench {
					v := trainer.ListDevices()
					return printAs(*asJSON, v, v.WriteText)
				}
				d, err := openDevice(*device, *tf32)
				if err != nil {
					return err
				}
				if d == nil {
					return cli.Usagef("--check and --bench need a GPU: --device cuda or cuda:N")
				}
				defer d.Close()
				return cudaops.CheckDevice(stdout, d, cudaops.DeviceCheck{Parity: *check, Bench: *bench, CheckOptions: cudaops.CheckOptions{Seed: *seed, Only: *only}})
			}
		},
	})
}

// openDevice opens the device a --device flag names: nil for "cpu", the
// GPU for "cuda" or "cuda:N", or one line saying why it cannot be used.
func openDevice(name string, tf32 bool) (*cuda.Device, error) {
	idx, err := cuda.ParseDevice(name)
	if err != nil {
		return nil, cli.Usagef("--device: %v", err)
	}
	if idx < 0 {
		return nil, nil
	}
	return cuda.Open(idx, &cuda.Options{TF32: tf32})
}
