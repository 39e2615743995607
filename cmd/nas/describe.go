package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"text/tabwriter"

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
					return writeJSON(struct {
						Name        string                  `json:"name"`
						ImageSize   int                     `json:"image_size"`
						NumClasses  int                     `json:"num_classes"`
						Params      int64                   `json:"params"`
						ParamsTotal int64                   `json:"params_total"`
						MACs        int64                   `json:"macs"`
						Parts       []searchspace.PartCount `json:"parts"`
						Arch        searchspace.Arch        `json:"arch"`
					}{a.Name, acc.ImageSize, acc.NumClasses, acc.Total.Params, acc.Total.ParamsTotal, acc.Total.MACs, acc.Parts, a})
				}
				printAccounting(a, acc)
				return nil
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
				fmt.Fprintf(stdout, "space %q over backbone %q (%d stages)\n\n", sp.Name, sp.Backbone.Name, len(sp.Stages))
				tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
				fmt.Fprintln(tw, "#\tstage\tchoice\toptions")
				for i, d := range sp.Decisions() {
					fmt.Fprintf(tw, "%d\t%d\t%s\t%v\n", i+1, d.Stage, d.Field, d.Options)
				}
				tw.Flush()
				fmt.Fprintf(stdout, "\n%d decisions, %s architectures\n", len(sp.Decisions()), sp.Size())
				return nil
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

func printAccounting(a searchspace.Arch, acc searchspace.Accounting) {
	fmt.Fprintf(stdout, "%s: %dx%dx%d input, %d classes\n\n", a.Name, acc.ImageSize, acc.ImageSize, a.InputChannels, acc.NumClasses)
	tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "part\tblock\tout\tparams\tmult-adds\t")
	for _, p := range acc.Parts {
		block := p.Block
		switch p.Name {
		case "stem":
			block = fmt.Sprintf("conv%dx%d s%d -> %d", a.Stem.Kernel, a.Stem.Kernel, a.Stem.Stride, a.Stem.Channels)
		case "head":
			block = fmt.Sprintf("conv1x1 -> %d", a.HeadChannels)
		case "classifier":
			block = fmt.Sprintf("dense -> %d", acc.NumClasses)
		}
		fmt.Fprintf(tw, "%s\t%s\t%dx%d\t%s\t%s\t\n", p.Name, block, p.OutSize, p.OutSize, commas(p.Params), commas(p.MACs))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nparams %s trainable, %s with BatchNorm statistics; %s multiply-adds (%.3f G)\n",
		commas(acc.Total.Params), commas(acc.Total.ParamsTotal), commas(acc.Total.MACs), float64(acc.Total.MACs)/1e9)
}

// commas formats 7139704 as 7,139,704.
func commas(n int64) string {
	s := fmt.Sprint(n)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
