package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/internal/console"
	"github.com/effnas/effnas/report"
	"github.com/effnas/effnas/scaling"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/recipe"
)

func init() {
	register(&command{
		name: "scale",
		flags: func(fs *flag.FlagSet) func([]string) error {
			src := addArchSourceFlags(fs)
			width := fs.Float64("width", 0, "width (channel) multiplier (0 = unchanged)")
			depth := fs.Float64("depth", 0, "depth (repeats) multiplier (0 = unchanged)")
			size := fs.Int("image-size", 0, "evaluation image size (0 = unchanged)")
			trainSize := fs.Int("train-image-size", 0, "training image size (0 = see above)")
			dropout := fs.Float64("dropout", 0, "classifier dropout rate (0 = unchanged)")
			late := fs.Bool("late-stages", false, "add the extra depth preferentially to later stages")
			newName := fs.String("as", "", "name of the scaled architecture (default: ARCH-wW-dD)")
			out := fs.String("o", "", "write the architecture JSON to this file (default: standard output)")
			return func(args []string) error {
				a, err := src.load(args)
				if err != nil {
					return err
				}
				b, err := scaling.ScaleToSize(a, scaling.Options{Name: *newName, Width: *width, Depth: *depth, LateStages: *late,
					ImageSize: *size, TrainImageSize: *trainSize, Dropout: *dropout})
				if err != nil {
					return cli.FlagError(fs, err)
				}
				acc, err := b.Count(0, 0)
				if err != nil {
					return err
				}
				data, err := searchspace.EncodeArch(b)
				if err != nil {
					return err
				}
				if err := writeOutput(*out, data); err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "%s: %d blocks, %s params (%s with BatchNorm statistics), %s multiply-adds at %dx%d (trains at %d)\n",
					b.Name, b.NumBlocks(), commas(acc.Total.Params), commas(acc.Total.ParamsTotal), commas(acc.Total.MACs),
					b.ImageSize, b.ImageSize, b.TrainSize())
				return nil
			}
		},
	})
	register(&command{
		name: "family",
		flags: func(fs *flag.FlagSet) func([]string) error {
			src := addArchSourceFlags(fs)
			members := fs.Int("members", 3, fmt.Sprintf("number of members, phi = 0 .. N-1 (1 to %d)", scaling.MaxMembers))
			alpha := fs.Float64("alpha", scaling.DefaultAlpha, "depth base (depth = alpha^phi)")
			beta := fs.Float64("beta", scaling.DefaultBeta, "width base (width = beta^phi)")
			gamma := fs.Float64("gamma", scaling.DefaultGamma, "resolution base (size = base x gamma^phi)")
			tol := fs.Float64("tolerance", 0, "accepted |alpha*beta^2*gamma^2 - 2| (0 = 0.1)")
			maxSize := fs.Int("max-image-size", 0, "cap on the evaluation size (default: 480, or twice the native size for small-image architectures; 0 = no cap)")
			trainRatio := fs.Float64("train-ratio", 0, "training size / evaluation size (default 0.8, 1 for small-image architectures)")
			late := fs.Bool("late-stages", false, "add the extra depth preferentially to later stages")
			prefix := fs.String("prefix", "", "member name prefix (default: the architecture's name)")
			asJSON := fs.Bool("json", false, "print the family as JSON")
			out := fs.String("o", "", "write the family (or, with --train, the results) as JSON to this file")
			train := fs.Bool("train", false, "train every member on the dataset and compare")
			ckpts := fs.String("checkpoints", "", "with --train: save each member's checkpoint to DIR/NAME.safetensors")
			tf := cli.AddTrainFlags(fs)
			pf := cli.AddProgressiveFlags(fs, recipe.AutoProfile, false)
			return func(args []string) error {
				set := cli.Given(fs)
				base, err := src.load(args)
				if err != nil {
					return err
				}
				if err := cli.Needs(set, "train", append(cli.TrainFlagNames, "progressive", "checkpoints")...); !*train && err != nil {
					return err
				}
				if err := pf.Check(); err != nil {
					return err
				}
				f := recipe.Family{CheckpointDir: *ckpts}
				if *train {
					if f.Settings, f.Budget, err = tf.Values(fs); err != nil {
						return err
					}
					p, err := trainProblem(tf, base, 0)
					if err != nil {
						return err
					}
					base, f.Data, f.Test = p.Arch, p.Data, p.Test
				}
				o := scaling.FamilyOptions{Members: *members, Alpha: *alpha, Beta: *beta, Gamma: *gamma, Tolerance: *tol,
					LateStages: *late, Name: *prefix, TrainRatio: *trainRatio}
				d := scaling.FamilyDefaultsFor(base)
				o.MaxImageSize, o.TrainMultiple = d.MaxImageSize, d.TrainMultiple
				if set["max-image-size"] {
					o.MaxImageSize = *maxSize
				}
				if !set["train-ratio"] {
					o.TrainRatio = d.TrainRatio
				} else if *trainRatio == 0 {
					return cli.Usagef("--train-ratio = 0: want a finite number in [0.1, 1]")
				}
				if f.Members, err = scaling.Family(base, o); err != nil {
					return cli.FlagError(fs, err)
				}
				if *train {
					how := "fixed size"
					if pf.On {
						f.Schedule = recipe.MemberSchedule(pf.Profile, pf.Override)
						how = fmt.Sprintf("progressive (%d stages, %s rule, profile %s)", pf.Given.Stages, pf.Given.Rule, pf.Profile)
					}
					return trainFamily(f, *out, fmt.Sprintf("family trained on %s: %g epochs, batch %d, %s", tf.Dataset, tf.Budget.Epochs, tf.Budget.Batch, how))
				}
				if *out != "" {
					if err := writeJSONFile(*out, f.Members); err != nil {
						return err
					}
				}
				if *asJSON {
					return writeJSON(f.Members)
				}
				if err := report.WriteFamily(stdout, base, o, f.Members); err != nil || *out == "" {
					return err
				}
				_, err = fmt.Fprintf(stdout, "\nfamily written to %s\n", *out)
				return err
			}
		},
	})
}

// trainFamily trains the family with a progress bar per member and prints
// (and writes, after every member) the comparison.
func trainFamily(f recipe.Family, out, title string) error {
	ctx, stop := cli.Interruptible()
	defer stop()
	var bar *console.Training
	member := ""
	rows, err := f.Train(ctx, func(name string, p trainer.Progress) {
		if name != member {
			member = name
			bar = console.NewTraining(os.Stderr, name)
		}
		bar.Report(p)
	}, func(rows []recipe.Trained, run recipe.Run) error {
		bar.Finish()
		rows[len(rows)-1].WriteLine(os.Stderr, run)
		if out != "" {
			return writeJSONFile(out, rows)
		}
		return nil
	})
	bar.Finish()
	if err != nil {
		return err
	}
	return recipe.FamilyReport{Title: title, Rows: rows, Results: out, CheckpointDir: f.CheckpointDir}.WriteText(stdout)
}
