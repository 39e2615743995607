package main

// nas scale, nas family (with --train), and the progressive-learning flags
// of nas train.

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/scaling"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
	"github.com/effnas/effnas/trainer/recipe"
	"github.com/schollz/progressbar/v3"
)

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// flagError turns a field error (of the scaling or trainer package) into a
// usage error naming the flag ("--width = -1: want ..."), when the field is
// one of fs's flags.
func flagError(fs *flag.FlagSet, err error) error {
	var fe *fielderr.Error
	if !errors.As(err, &fe) {
		return err
	}
	field, value, allowed := fe.Field, fe.Value, fe.Allowed
	if field == "alpha*beta^2*gamma^2" {
		return usagef("--alpha, --beta, --gamma: %s = %v: %s (or widen --tolerance)", field, value, allowed)
	}
	name := strings.ReplaceAll(field, "_", "-")
	if fs.Lookup(name) == nil {
		return err
	}
	return usagef("--%s = %v: %s", name, value, allowed)
}

// familyMember is one row of "nas family" output.
type familyMember struct {
	Name           string           `json:"name"`
	Phi            int              `json:"phi"`
	Width          float64          `json:"width"`
	Depth          float64          `json:"depth"`
	Params         int64            `json:"params"`
	ParamsTotal    int64            `json:"params_total"`
	MACs           int64            `json:"macs"`
	ImageSize      int              `json:"image_size"`
	TrainImageSize int              `json:"train_image_size"`
	Capped         bool             `json:"capped"`
	Arch           searchspace.Arch `json:"arch"`
}

func init() {
	register(&command{
		name:    "scale",
		args:    "ARCH --width W --depth D [--image-size R] [--train-image-size R] [--late-stages] [-o FILE]",
		summary: "scale an architecture by width and depth and write it as JSON",
		help: `ARCH is a built-in name, an architecture JSON file (also an export with an
"arch" field), or a trial of a search database (--db FILE with --trial ID or
--best). Channels are multiplied by --width and rounded as the official
round_filters does, repeats by --depth and rounded up (round_repeats); 0
leaves either unchanged. "nas scale efficientnetv2-b0 --width 1.1 --depth 1.2
--image-size 260" is the official EfficientNetV2-B2. --late-stages puts the
extra blocks preferentially on the later stages (EfficientNetV2 §3.3; same
total). With --image-size and no --train-image-size, an architecture that
trains at its own smaller size gets 0.8 x R rounded to a multiple of 8 (the
official ratio); one that trains at its evaluation size keeps doing so.
The architecture is written to -o FILE (default: standard output) and a
summary to standard error.`,
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
				o := scaling.Options{Name: *newName, Width: *width, Depth: *depth, LateStages: *late, ImageSize: *size,
					TrainImageSize: *trainSize, Dropout: *dropout}
				if err := o.Validate(); err != nil {
					return flagError(fs, err)
				}
				b, err := scaling.ScaleToSize(a, o)
				if err != nil {
					return flagError(fs, err)
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
		name:    "family",
		args:    "ARCH [--members 3] [--alpha 1.2 --beta 1.1 --gamma 1.15] [--max-image-size S] [--late-stages] [--json] [-o FILE] [--train [--dataset D] [--epochs N] [--progressive]]",
		summary: "compound-scale an architecture into a family; with --train, train and compare the members",
		help: `Member phi = 0 .. N-1 has depth alpha^phi, width beta^phi and evaluation size
base x gamma^phi (to a multiple of 4, capped at --max-image-size); it trains
at --train-ratio x that size (to a multiple of 8, or of 4 for small images).
ARCH is a built-in name, a JSON file, or a search trial (--db FILE with
--trial ID or --best), typically the winner of a search.

The cap follows EfficientNetV2 §3.3: 480 (the ImageNet cap) by default; for
an architecture fitted to small images (stem stride 1, as "nas train" and the
search proxy make them for inputs up to 64 pixels) it is
scaling.ProposeMaxImageSize(native), twice the native size (56 for 28x28
Fashion-MNIST); --max-image-size 0 removes it. For small images the members
train at their evaluation size (--train-ratio 1) unless told otherwise:
without random-resized crops, training smaller than testing changes the
apparent object size.

Without --train the family is printed as a table (each member's name, phi,
width, depth, params, params with BatchNorm statistics, multiply-adds,
training and evaluation size); --json prints it as JSON instead, and -o FILE
writes the JSON (with every member's architecture) to FILE.

With --train the base is first fitted to the dataset (channels, classes, its
native size, stem stride 1 for small images), then every member is trained
for --epochs on the whole training split at its training size and its test
accuracy measured at its evaluation size after BatchNorm re-estimation. With
--progressive each member is trained progressively (see "nas help train"),
with Table 6's profile s for phi 0, m for phi 1 and l beyond (--profile to
choose one for all), up to its training size. The table shows params,
multiply-adds (at the evaluation size), training-step time (median, at the
training size and --batch) and test accuracy; -o FILE writes the list as JSON
({name, params, macs, step_time_ms, accuracy, image_size, train_image_size,
width, depth, phi}), rewritten after every member.`,
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
			df := addDataFlags(fs)
			epochs := fs.Float64("epochs", 1, "epochs to train each member (--train)")
			batch := fs.Int("batch", 64, "batch size (--train)")
			lr := fs.Float64("lr", 1e-3, "learning rate (--train)")
			seed := fs.Uint64("seed", 1, "random seed (--train)")
			prog := fs.Bool("progressive", false, "train each member progressively (--train)")
			stages := fs.Int("stages", trainer.DefaultStages, "progressive stages (--progressive)")
			profile := fs.String("profile", recipe.AutoProfile, "progressive Table 6 profile: s, m, l, or auto (s, m, l by phi)")
			rule := fs.String("rule", trainer.RulePaper, "progressive stage rule: paper or official")
			return func(args []string) error {
				set := setFlags(fs)
				base, err := src.load(args)
				if err != nil {
					return err
				}
				if !*train {
					for _, f := range []string{"dataset", "data", "epochs", "batch", "lr", "seed", "progressive", "stages", "profile", "rule"} {
						if set[f] {
							return usagef("--%s needs --train", f)
						}
					}
				}
				if !*prog {
					for _, f := range []string{"stages", "profile", "rule"} {
						if set[f] {
							return usagef("--%s needs --progressive", f)
						}
					}
				}
				var ds, test *data.Dataset
				if *train {
					if *epochs <= 0 || math.IsNaN(*epochs) || math.IsInf(*epochs, 0) {
						return usagef("--epochs = %v: want a positive number", *epochs)
					}
					if *batch < 1 {
						return usagef("--batch = %d: want a positive integer", *batch)
					}
					if ds, err = df.load("train"); err != nil {
						return err
					}
					if test, err = df.load("test"); err != nil {
						return err
					}
					base = fitArch(base, ds, 0)
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
				}
				if set["train-ratio"] && *trainRatio == 0 {
					return usagef("--train-ratio = 0: want a finite number in [0.1, 1]")
				}
				if err := o.Validate(); err != nil {
					return flagError(fs, err)
				}
				if *prog {
					if err := checkProgressiveFlags(fs, *stages, *profile, *rule); err != nil {
						return err
					}
				}
				ms, err := scaling.Family(base, o)
				if err != nil {
					return flagError(fs, err)
				}
				if *train {
					f := recipe.Family{Members: ms, Data: ds, Test: test, Settings: trainer.Settings{LR: *lr, Seed: *seed},
						Budget: trainer.Budget{Epochs: *epochs, Batch: *batch}}
					how := "fixed size"
					if *prog {
						f.Schedule = recipe.MemberSchedule(*profile, *stages, *rule)
						how = fmt.Sprintf("progressive (%d stages, %s rule, profile %s)", *stages, *rule, *profile)
					}
					return trainFamily(f, *out, fmt.Sprintf("family trained on %s: %g epochs, batch %d, %s", *df.dataset, *epochs, *batch, how))
				}
				rows := make([]familyMember, len(ms))
				for i, m := range ms {
					rows[i] = familyMember{Name: m.Name, Phi: m.Phi, Width: m.Width, Depth: m.Depth, Params: m.Count.Params,
						ParamsTotal: m.Count.ParamsTotal, MACs: m.Count.MACs, ImageSize: m.ImageSize, TrainImageSize: m.TrainImageSize,
						Capped: m.Capped, Arch: m.Arch}
				}
				if *out != "" {
					if err := writeJSONFile(*out, rows); err != nil {
						return err
					}
				}
				if *asJSON {
					return writeJSON(rows)
				}
				fmt.Fprintf(stdout, "family of %s: alpha %g, beta %g, gamma %g (alpha*beta^2*gamma^2 = %.4f), cap %s\n\n", base.Name, *alpha, *beta, *gamma,
					scaling.Compound{Alpha: *alpha, Beta: *beta, Gamma: *gamma}.FLOPsFactor(), capText(o.MaxImageSize))
				tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', tabwriter.AlignRight)
				fmt.Fprintln(tw, "member\tphi\twidth\tdepth\tblocks\ttrain\teval\tparams\twith BN stats\tmult-adds\t")
				for _, m := range rows {
					capped := ""
					if m.Capped {
						capped = "*"
					}
					fmt.Fprintf(tw, "%s\t%d\t%.4g\t%.4g\t%d\t%d\t%d%s\t%s\t%s\t%s\t\n", m.Name, m.Phi, m.Width, m.Depth, m.Arch.NumBlocks(),
						m.TrainImageSize, m.ImageSize, capped, commas(m.Params), commas(m.ParamsTotal), commas(m.MACs))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if *out != "" {
					fmt.Fprintf(stdout, "\nfamily written to %s\n", *out)
				}
				return nil
			}
		},
	})
}

// trainFamily trains the family with a progress bar per member and prints
// (and writes, after every member) the comparison.
func trainFamily(f recipe.Family, out, title string) error {
	ctx, stop := interruptible()
	defer stop()
	var bar *progressbar.ProgressBar
	var progress func(trainer.Progress)
	member := ""
	rows, err := f.Train(ctx, func(name string, p trainer.Progress) {
		if name != member {
			member = name
			bar, progress = trainBar(1, name)
			progress = stageNotes(bar, name, progress)
		}
		progress(p)
	}, func(rows []recipe.Trained, run recipe.Run) error {
		bar.Finish()
		r, m := run.Result, rows[len(rows)-1]
		fmt.Fprintf(os.Stderr, "%s: test accuracy %.2f%% at %dx%d (trained at %d, %d steps in %s), step %.1f ms\n", m.Name,
			100*r.TestAccuracy, m.ImageSize, m.ImageSize, m.TrainImageSize, r.Steps, time.Duration(r.TrainTime*float64(time.Second)).Round(time.Second), m.StepTimeMS)
		if out != "" {
			return writeJSONFile(out, rows)
		}
		return nil
	})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n\n", title)
	tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "member\tphi\twidth\tdepth\ttrain\teval\tparams\tmult-adds\tstep ms\ttest acc\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%.4g\t%.4g\t%d\t%d\t%s\t%s\t%.1f\t%.2f%%\t\n", r.Name, r.Phi, r.Width, r.Depth, r.TrainImageSize, r.ImageSize,
			commas(r.Params), commas(r.MACs), r.StepTimeMS, 100*r.Accuracy)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if out != "" {
		fmt.Fprintf(stdout, "\nresults written to %s\n", out)
	}
	return nil
}

func capText(c int) string {
	if c == 0 {
		return "none"
	}
	return fmt.Sprintf("%d", c)
}

// checkProgressiveFlags validates the progressive flags of nas family.
func checkProgressiveFlags(fs *flag.FlagSet, stages int, profile, rule string) error {
	if profile != recipe.AutoProfile {
		if _, err := trainer.ProgressiveProfile(profile); err != nil {
			return usagef("--profile = %q: want s, m, l or auto", profile)
		}
	}
	if stages < 1 {
		return usagef("--stages = %d: want an integer in [1, %d]", stages, trainer.MaxStages)
	}
	return flagError(fs, trainer.Progressive{Stages: stages, Rule: rule}.Validate())
}

// progFlags are the progressive-learning flags of nas train. Each names a
// field of trainer.Progressive (--min-dropout is min_dropout) and, when
// given, overrides the profile's value.
type progFlags struct {
	fs      *flag.FlagSet
	on      *bool
	profile *string
	given   trainer.Progressive
}

func addProgressiveFlags(fs *flag.FlagSet) *progFlags {
	f := &progFlags{fs: fs}
	g := &f.given
	f.on = fs.Bool("progressive", false, "progressive learning with adaptive regularization (EfficientNetV2 §4.2)")
	fs.IntVar(&g.Stages, "stages", trainer.DefaultStages, "progressive: number of stages M")
	f.profile = fs.String("profile", "s", "progressive: Table 6 profile for the defaults below: s, m or l")
	fs.StringVar(&g.Rule, "rule", trainer.RulePaper, "progressive: stage rule, paper (linear from min to max) or official (main_tf2.py)")
	fs.IntVar(&g.MinImageSize, "min-image-size", 0, "progressive: first-stage image size (default: the profile's 128/max ratio of the last, multiple of 4, >= 16)")
	fs.IntVar(&g.MaxImageSize, "max-image-size", 0, "progressive: last-stage (and evaluation) image size (default: --image-size, else the dataset's)")
	fs.Float64Var(&g.MinDropout, "min-dropout", 0, "progressive: first-stage dropout (default: the profile's, 0.1)")
	fs.Float64Var(&g.MaxDropout, "max-dropout", 0, "progressive: last-stage dropout (default: the profile's, 0.3/0.4/0.5)")
	fs.Float64Var(&g.MinRandAug, "min-randaug", 0, "progressive: first-stage RandAugment magnitude, 0-30 (default: the profile's, 5)")
	fs.Float64Var(&g.MaxRandAug, "max-randaug", 0, "progressive: last-stage RandAugment magnitude (default: the profile's, 15/20/25)")
	fs.Float64Var(&g.MinMixup, "min-mixup", 0, "progressive: first-stage mixup alpha (default: the profile's, 0)")
	fs.Float64Var(&g.MaxMixup, "max-mixup", 0, "progressive: last-stage mixup alpha (default: the profile's, 0/0.2/0.4)")
	fs.IntVar(&g.RandAugN, "randaug-n", 0, "progressive: RandAugment ops per image (default 2)")
	return f
}

var progressiveOnly = []string{"stages", "profile", "rule", "min-image-size", "max-image-size", "min-dropout", "max-dropout",
	"min-randaug", "max-randaug", "min-mixup", "max-mixup", "randaug-n"}

// resolveSize checks that the progressive flags come with --progressive and
// returns the image size to fit the architecture to: --max-image-size when
// given, else size.
func (f *progFlags) resolveSize(size int) (int, error) {
	set := setFlags(f.fs)
	if !*f.on {
		for _, n := range progressiveOnly {
			if set[n] {
				return 0, usagef("--%s needs --progressive", n)
			}
		}
		return size, nil
	}
	if !set["max-image-size"] {
		return size, nil
	}
	max := f.given.MaxImageSize
	if max < 1 || max > searchspace.MaxImage {
		return 0, usagef("--max-image-size = %d: want an integer in [1, %d]", max, searchspace.MaxImage)
	}
	if size > 0 && size != max {
		return 0, usagef("--image-size %d and --max-image-size %d differ: with --progressive give one (the last stage's size)", size, max)
	}
	return max, nil
}

// settings builds the progressive settings: the profile's, then the flags
// given; maxSize is the last stage's size.
func (f *progFlags) settings(maxSize int) (trainer.Progressive, error) {
	set := setFlags(f.fs)
	pg, err := trainer.ProgressiveProfile(*f.profile)
	if err != nil {
		return pg, usagef("--profile = %q: want s, m or l (Table 6)", *f.profile)
	}
	g := f.given
	for _, c := range []struct {
		name  string
		v, hi int
	}{{"stages", g.Stages, trainer.MaxStages}, {"min-image-size", g.MinImageSize, searchspace.MaxImage}, {"randaug-n", g.RandAugN, 16}} {
		if set[c.name] && (c.v < 1 || c.v > c.hi) {
			return pg, usagef("--%s = %d: want an integer in [1, %d]", c.name, c.v, c.hi)
		}
	}
	to, from := reflect.ValueOf(&pg).Elem(), reflect.ValueOf(g)
	for i := range from.NumField() {
		tag, _, _ := strings.Cut(from.Type().Field(i).Tag.Get("json"), ",")
		if set[strings.ReplaceAll(tag, "_", "-")] {
			to.Field(i).Set(from.Field(i))
		}
	}
	pg.MaxImageSize = maxSize
	if err := pg.Validate(); err != nil {
		return pg, flagError(f.fs, err)
	}
	return pg, nil
}
