package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/report"
	"github.com/effnas/effnas/search"
)

func init() {
	register(&command{
		name: "describe",
		flags: func(fs *flag.FlagSet) func([]string) error {
			size := fs.Int("image-size", 0, "input image size (default: the architecture's evaluation size)")
			classes := fs.Int("classes", 0, "number of classes (default: the architecture's)")
			asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
			return func(args []string) error {
				if len(args) != 1 {
					return cli.Usagef("want exactly one ARCH, got %d arguments", len(args))
				}
				if *size < 0 || *classes < 0 {
					return cli.Usagef("--image-size and --classes must be positive")
				}
				a, err := loadArch(args[0])
				if err != nil {
					return err
				}
				d, err := report.DescribeArch(a, *size, *classes)
				if err != nil {
					return err
				}
				return printAs(*asJSON, d, d.WriteText)
			}
		},
	})
	register(&command{
		name: "space",
		flags: func(fs *flag.FlagSet) func([]string) error {
			asJSON := fs.Bool("json", false, "print the space document as JSON")
			evaluator := fs.String("evaluator", "train", "the space of nas search with this evaluator: train or synthetic")
			df := cli.AddDataFlags(fs)
			width := fs.Float64("width", 0.5, "proxy width multiplier of the backbone (train evaluator)")
			depth := fs.Float64("depth", 0.5, "proxy depth multiplier of the backbone (train evaluator)")
			size := fs.Int("image-size", 0, "proxy image size (train evaluator; default: the dataset's)")
			se := fs.Bool("search-se", false, "also search the squeeze-excite ratio {0, 0.25}")
			return func(args []string) error {
				if len(args) > 1 {
					return cli.Usagef("want at most one FILE.json")
				}
				if n := len(cli.Given(fs)); len(args) == 1 && n > 0 && !(n == 1 && *asJSON) {
					return cli.Usagef("FILE.json is shown as it is: only --json goes with it")
				}
				if *width <= 0 || *depth <= 0 || *size < 0 {
					return cli.Usagef("--width and --depth must be positive, --image-size 0 or more")
				}
				o := search.ProxyOptions{Evaluator: *evaluator, Dataset: df.Dataset, DataDir: df.Dir,
					ImageSize: *size, Width: *width, Depth: *depth, SearchSE: *se}
				if len(args) == 1 {
					o.SpaceFile = args[0]
				}
				sp, err := search.SpaceOf(o)
				if errors.Is(err, search.ErrUnknownEvaluator) {
					return cli.Usagef("--evaluator: %v", err)
				}
				if err != nil {
					return err
				}
				if *asJSON {
					return writeJSON(sp)
				}
				if title := o.SpaceTitle(); title != "" {
					fmt.Fprintf(stdout, "%s:\n", title)
				}
				return report.WriteSpace(stdout, sp)
			}
		},
	})
	register(&command{
		name:   "sample",
		noArgs: true,
		flags: func(fs *flag.FlagSet) func([]string) error {
			spacePath := fs.String("space", "", "space document (default: the EfficientNetV2 space)")
			seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same architecture")
			return func(args []string) error {
				sp, err := loadSpace(*spacePath)
				if err != nil {
					return err
				}
				a, err := sp.SampleArch(*seed)
				if err != nil {
					return err
				}
				return writeJSON(a)
			}
		},
	})
}
