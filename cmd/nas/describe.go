package main

import (
	"flag"
	"fmt"
	"math/rand/v2"

	"github.com/effnas/effnas/report"
	"github.com/effnas/effnas/searchspace"
)

func init() {
	register(&command{
		name:    "describe",
		args:    "NAME|FILE.json [--image-size N] [--classes N] [--json]",
		summary: "show an architecture: per-stage block strings, resolution, params and multiply-adds",
		help: `NAME is a built-in architecture (efficientnetv2-b0, -s, -m, -l, -xl,
efficientnet-b0, bench-dw, bench-fused); FILE.json is an architecture document
(as written by "nas sample" or "nas export"). Parameters are counted as the
official code does: "params" are trainable, "params_total" adds BatchNorm
moving statistics; "macs" are multiply-adds of convolutions and dense layers
for one image.`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			size := fs.Int("image-size", 0, "input image size (default: the architecture's evaluation size)")
			classes := fs.Int("classes", 0, "number of classes (default: the architecture's)")
			asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
			return func(args []string) error {
				if len(args) != 1 {
					return usagef("want exactly one ARCH, got %d arguments", len(args))
				}
				if *size < 0 || *classes < 0 {
					return usagef("--image-size and --classes must be positive")
				}
				a, err := loadArch(args[0])
				if err != nil {
					return err
				}
				acc, err := a.Count(*size, *classes)
				if err != nil {
					return err
				}
				if *asJSON {
					return writeJSON(struct { // the accounting, with its total also at the top
						Name string `json:"name"`
						searchspace.Accounting
						searchspace.Count
						Arch searchspace.Arch `json:"arch"`
					}{a.Name, acc, acc.Total, a})
				}
				return report.WriteAccounting(stdout, a, acc)
			}
		},
	})
	register(&command{
		name:    "space",
		args:    "[FILE.json] [--json]",
		summary: "show a search space: backbone, per-stage choices, decisions and size",
		help: `Without FILE.json, the default space: the EfficientNetV2 search space over the
efficientnetv2-b0 backbone (per stage: MBConv or Fused-MBConv, kernel 3 or 5,
expansion 1, 4 or 6, repeats base-1, base or base+1). With --json the space
document is printed; save it, edit it, and pass it back with --space.`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			asJSON := fs.Bool("json", false, "print the space document as JSON")
			se := fs.Bool("search-se", false, "also search the squeeze-excite ratio {0, 0.25} (default space only)")
			return func(args []string) error {
				if len(args) > 1 {
					return usagef("want at most one FILE.json")
				}
				path := ""
				if len(args) == 1 {
					path = args[0]
				}
				sp, err := loadSpace(path)
				if err != nil {
					return err
				}
				if *se && path == "" {
					sp = searchspace.NewSpace(sp.Backbone, true)
				}
				if *asJSON {
					data, err := searchspace.EncodeSpace(sp)
					if err != nil {
						return err
					}
					return writeOutput("", data)
				}
				return report.WriteSpace(stdout, sp)
			}
		},
	})
	register(&command{
		name:    "sample",
		args:    "[--space FILE.json] [--seed N]",
		summary: "print a random architecture of a space as JSON",
		flags: func(fs *flag.FlagSet) func([]string) error {
			spacePath := fs.String("space", "", "space document (default: the EfficientNetV2 space)")
			seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same architecture")
			return func(args []string) error {
				if len(args) != 0 {
					return usagef("unexpected argument %q", args[0])
				}
				sp, err := loadSpace(*spacePath)
				if err != nil {
					return err
				}
				r := rand.New(rand.NewPCG(*seed, 0x5eed))
				a, err := sp.Decode(sp.Sample(r))
				if err != nil {
					return err
				}
				a.Name = fmt.Sprintf("sample-%d", *seed)
				data, err := searchspace.EncodeArch(a)
				if err != nil {
					return err
				}
				return writeOutput("", data)
			}
		},
	})
}
