package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"

	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/internal/console"
	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/recipe"
)

func init() {
	register(&command{
		name: "train",
		flags: func(fs *flag.FlagSet) func([]string) error {
			tf := cli.AddTrainFlags(fs)
			size := fs.Int("image-size", 0, "image size (default: the dataset's)")
			out := fs.String("o", "", "write the trained network to this checkpoint file (.safetensors)")
			resume := fs.String("resume", "", "continue the run saved in this checkpoint")
			stopAt := fs.Int("stop-at", 0, "stop after this step of the run and save it (-o) to resume later")
			val := fs.Int("val", 0, "hold out this many training images and report validation accuracy")
			asJSON := fs.Bool("json", false, "print the result as JSON")
			pf := cli.AddProgressiveFlags(fs, "s", true)
			dev := addDeviceFlags(fs)
			return func(args []string) error {
				var ck *trainer.Model
				if *resume != "" && len(args) <= 1 {
					var err error
					if ck, err = resumeFlags(fs, *resume); err != nil {
						return err
					}
					if *out == "" {
						*out = *resume
					}
				} else if len(args) != 1 {
					return cli.Usagef("want exactly one ARCH (or --resume CKPT)")
				}
				if *stopAt < 0 || (*stopAt > 0 && *out == "") {
					return cli.Usagef("--stop-at %d: want a step > 0, with -o CKPT to save the run to", *stopAt)
				}
				if err := pf.Check(); err != nil {
					return err
				}
				s, b, err := tf.Values(fs)
				if err != nil {
					return err
				}
				if m := pf.Given.MaxImageSize; pf.On && m > 0 && *size > 0 && *size != m {
					return cli.Usagef("--image-size %d and --max-image-size %d differ: with --progressive give one (the last stage's size)", *size, m)
				} else if pf.On && m > 0 {
					*size = m
				}
				var a searchspace.Arch
				if len(args) == 1 {
					if a, err = loadArch(args[0]); err != nil {
						return err
					}
				} else {
					a = ck.Net.Arch
				}
				p, err := trainProblem(tf, a, *size)
				if err != nil {
					return err
				}
				if *val > 0 {
					if p.Train, p.Val, err = p.Data.ValidationSplit(*val, tf.Settings.Seed); err != nil {
						return err
					}
				}
				if pf.On {
					pg, err := recipe.Schedule(pf.Profile, pf.Override, p.Arch.ImageSize, 0)
					if err != nil {
						return cli.FlagError(fs, err)
					}
					s.Progressive = &pg
				}
				b.ImageSize = p.Arch.ImageSize
				s, release, err := dev.settings(s)
				if err != nil {
					return err
				}
				defer release()
				md := recipe.Model{Problem: p, Settings: s, Budget: b, Checkpoint: *out, StopAt: *stopAt, Resume: ck}
				if err := md.CheckResume(); err != nil {
					return resumeError(fs, err)
				}
				ctx, stop := cli.Interruptible()
				defer stop()
				bar := console.NewTraining(os.Stderr, "")
				run, err := recipe.Train(ctx, md, bar.Report)
				bar.Finish()
				if err != nil {
					return trainStopped(run, err)
				}
				if *asJSON {
					return writeJSON(run)
				}
				if err := run.WriteText(stdout); err != nil || *out == "" {
					return err
				}
				if !run.Finished() {
					_, err = fmt.Fprintf(stdout, "checkpoint written to %s; resume with: %s\n", *out, resumeCommand(*out))
					return err
				}
				_, err = fmt.Fprintf(stdout, "checkpoint written to %s\n", *out)
				return err
			}
		},
	})
	register(&command{
		name: "eval",
		one:  "CKPT",
		flags: func(fs *flag.FlagSet) func([]string) error {
			df := cli.AddDataFlags(fs)
			split := fs.String("split", "test", "dataset split: test or train")
			batch := fs.Int("batch", 256, "evaluation batch size")
			asJSON := fs.Bool("json", false, "print the result as JSON")
			dev := addDeviceFlags(fs)
			return func(args []string) error {
				ck, err := trainer.LoadModel(args[0])
				if err != nil {
					return err
				}
				ds, err := df.Load(*split)
				if err != nil {
					return err
				}
				a := ck.Net.Arch
				s, release, err := dev.settings(trainer.Settings{})
				if err != nil {
					return err
				}
				defer release()
				ctx, stop := cli.Interruptible()
				defer stop()
				r, err := ck.Net.Evaluate(ctx, trainer.Problem{Data: ds, Val: ds.All()}, trainer.Eval{Batch: *batch, ImageSize: a.ImageSize, Norm: ck.Norm, Device: s.Device})
				if err != nil {
					return err
				}
				if *asJSON {
					return writeJSON(map[string]any{"accuracy": r.Accuracy, "loss": r.Loss, "images": ds.N, "split": *split, "arch": a})
				}
				fmt.Fprintf(stdout, "%s: %s accuracy %.2f%% (loss %.4f) on %d images\n", args[0], *split, 100*r.Accuracy, r.Loss, ds.N)
				return nil
			}
		},
	})
	register(&command{
		name: "bench",
		one:  "ARCH",
		flags: func(fs *flag.FlagSet) func([]string) error {
			batch := fs.Int("batch", 64, "batch size")
			size := fs.Int("image-size", 0, "image size (default: the architecture's training size)")
			channels := fs.Int("channels", 0, "input channels (default: the architecture's)")
			classes := fs.Int("classes", 0, "classes (default: the architecture's)")
			steps := fs.Int("steps", 20, "timed steps")
			warm := fs.Int("warmup", 3, "untimed warm-up steps")
			asJSON := fs.Bool("json", false, "print the result as JSON")
			threads := fs.Int("threads", 0, "GOMAXPROCS for the measurement (default: unchanged)")
			layers := fs.Bool("layers", false, "also report where a training step's time goes, by op")
			against := fs.String("against", "", "also time the training step relative to this architecture's, interleaved")
			pairs := fs.Int("pairs", 6, "with --against: pairs of bursts")
			burst := fs.Int("burst", 3, "with --against: timed steps per burst")
			dev := addDeviceFlags(fs)
			return func(args []string) error {
				if *batch < 1 || *steps < 1 || *pairs < 1 || *burst < 1 || *warm < 0 || *size < 0 || *threads < 0 {
					return cli.Usagef("--batch, --steps, --pairs and --burst must be positive, --warmup, --image-size and --threads not negative")
				}
				if err := cli.Needs(cli.Given(fs), "against", "pairs", "burst"); *against == "" && err != nil {
					return err
				}
				if *threads > 0 {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(*threads))
				}
				a, err := loadArch(args[0])
				if err != nil {
					return err
				}
				bench := recipe.Bench{Arch: a, Batch: *batch, Warmup: *warm, Steps: *steps, Layers: *layers,
					Interleave: trainer.Interleave{Pairs: *pairs, Burst: *burst}}
				if *against != "" {
					base, err := loadArch(*against)
					if err != nil {
						return err
					}
					bench.Against = &base
				}
				for _, x := range []*searchspace.Arch{&bench.Arch, bench.Against} {
					if x != nil && (*size > 0 || *channels > 0 || *classes > 0) {
						*x = x.WithInput(*size, *channels, *classes, false)
					}
				}
				s, release, err := dev.settings(trainer.Settings{})
				if err != nil {
					return err
				}
				defer release()
				bench.Device = s.Device
				ctx, stop := cli.Interruptible()
				defer stop()
				r, err := bench.Run(ctx)
				if err != nil {
					return err
				}
				return printAs(*asJSON, r, r.WriteText)
			}
		},
	})
}

// commas formats a count with thousands separators.
func commas(n int64) string { return measure.Commas(n) }
