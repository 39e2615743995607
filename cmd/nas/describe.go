package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"

	"github.com/effnas/effnas/report"
	"github.com/effnas/effnas/search"
	"github.com/effnas/effnas/searchspace"
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
		name: "space",
		flags: func(fs *flag.FlagSet) func([]string) error {
			asJSON := fs.Bool("json", false, "print the space document as JSON")
			evaluator := fs.String("evaluator", "train", "the space of nas search with this evaluator: train or synthetic")
			df := addDataFlags(fs)
			width := fs.Float64("width", 0.5, "proxy width multiplier of the backbone (train evaluator)")
			depth := fs.Float64("depth", 0.5, "proxy depth multiplier of the backbone (train evaluator)")
			size := fs.Int("image-size", 0, "proxy image size (train evaluator; default: the dataset's)")
			se := fs.Bool("search-se", false, "also search the squeeze-excite ratio {0, 0.25}")
			return func(args []string) error {
				if len(args) > 1 {
					return usagef("want at most one FILE.json")
				}
				if len(args) == 1 && len(setFlags(fs)) > 0 && !(len(setFlags(fs)) == 1 && *asJSON) {
					return usagef("FILE.json is shown as it is: only --json goes with it")
				}
				if *width <= 0 || *depth <= 0 || *size < 0 {
					return usagef("--width and --depth must be positive, --image-size 0 or more")
				}
				var sp searchspace.Space
				var err error
				what := ""
				if len(args) == 1 {
					sp, err = loadSpace(args[0])
				} else {
					sp, err = search.SpaceOf(search.ProxyOptions{Evaluator: *evaluator, Dataset: *df.dataset, DataDir: *df.dir,
						ImageSize: *size, Width: *width, Depth: *depth, SearchSE: *se})
					what = fmt.Sprintf("the space \"nas search --evaluator %s\" searches", *evaluator)
					if *evaluator == "train" {
						what += fmt.Sprintf(" on %s at width %g, depth %g", *df.dataset, *width, *depth)
					}
				}
				if errors.Is(err, search.ErrUnknownEvaluator) {
					return usagef("--evaluator: %v", err)
				}
				if err != nil {
					return err
				}
				if *asJSON {
					data, err := searchspace.EncodeSpace(sp)
					if err != nil {
						return err
					}
					return writeOutput("", data)
				}
				if what != "" {
					fmt.Fprintf(stdout, "%s:\n", what)
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
