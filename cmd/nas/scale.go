package main

// nas scale, nas family (with --train), and the progressive-learning flags
// of nas train.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/effnas/effnas/scaling"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
	"github.com/schollz/progressbar/v3"
)

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// flagError turns an option error of the scaling or trainer package into a
// usage error naming the flag ("--width = -1: want ..."), when the field is
// one of fs's flags.
func flagError(fs *flag.FlagSet, err error) error {
	var field, allowed string
	var value any
	var se *scaling.OptionError
	var pe *trainer.ProgressiveError
	switch {
	case errors.As(err, &se):
		field, value, allowed = se.Field, se.Value, se.Allowed
	case errors.As(err, &pe):
		field, value, allowed = pe.Field, pe.Value, pe.Allowed
	default:
		return err
	}
	if field == "alpha*beta^2*gamma^2" {
		return usagef("--alpha, --beta, --gamma: %s = %v: %s (or widen --tolerance)", field, value, allowed)
	}
	name := strings.ReplaceAll(field, "_", "-")
	if fs.Lookup(name) == nil {
		return err
	}
	return usagef("--%s = %v: %s", name, value, allowed)
}

// archSource is ARCH or a trial of a search database.
type archSource struct {
	db, name *string
	trial    *int
	best     *bool
}

func addArchSourceFlags(fs *flag.FlagSet) archSource {
	return archSource{
		db:    fs.String("db", "", "search database to take the architecture from (with --trial or --best; default "+defaultDB+")"),
		name:  fs.String("name", "", "search name within the database (default: the only one)"),
		trial: fs.Int("trial", 0, "take the architecture of this trial of the search database"),
		best:  fs.Bool("best", false, "take the architecture of the search's best trial (highest reward)"),
	}
}

// load resolves the positional ARCH or the database trial.
func (s archSource) load(args []string) (searchspace.Arch, error) {
	if *s.trial < 0 {
		return searchspace.Arch{}, usagef("--trial = %d: want a trial id (1, 2, ...)", *s.trial)
	}
	if *s.trial == 0 && !*s.best {
		if *s.db != "" {
			return searchspace.Arch{}, usagef("--db needs --trial ID or --best")
		}
		if len(args) != 1 {
			return searchspace.Arch{}, usagef("want exactly one ARCH (or --db FILE with --trial ID or --best), got %d arguments", len(args))
		}
		return loadArch(args[0])
	}
	if len(args) != 0 {
		return searchspace.Arch{}, usagef("give either ARCH or --trial/--best, not both")
	}
	if *s.trial > 0 && *s.best {
		return searchspace.Arch{}, usagef("give either --trial or --best, not both")
	}
	db := *s.db
	if db == "" {
		db = defaultDB
	}
	_, trials, err := loadTrials(db, *s.name)
	if err != nil {
		return searchspace.Arch{}, err
	}
	var t store.Trial
	if *s.best {
		var ok bool
		if t, ok = store.BestTrial(trials); !ok {
			return searchspace.Arch{}, fmt.Errorf("%s: no finished trial yet", db)
		}
	} else {
		found := false
		for _, tr := range trials {
			if tr.ID == *s.trial {
				t, found = tr, true
			}
		}
		if !found {
			return searchspace.Arch{}, fmt.Errorf("%s: trial %d: the search has %d trials", db, *s.trial, len(trials))
		}
	}
	a := t.Arch.Clone()
	if a.Name == "" {
		a.Name = fmt.Sprintf("trial-%d", t.ID)
	}
	if err := a.Validate(); err != nil {
		return searchspace.Arch{}, fmt.Errorf("%s: trial %d: %w", db, t.ID, err)
	}
	return a, nil
}

// smallImage reports an architecture fitted to small images (stem stride 1,
// as adaptArch and the proxy space make them for inputs up to 64 pixels).
func smallImage(a searchspace.Arch) bool { return a.Stem.Stride == 1 }

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

// trainedMember is one row of "nas family --train -o" output.
type trainedMember struct {
	Name           string  `json:"name"`
	Params         int64   `json:"params"`
	MACs           int64   `json:"macs"`
	StepTimeMS     float64 `json:"step_time_ms"`
	Accuracy       float64 `json:"accuracy"`
	ImageSize      int     `json:"image_size"`
	TrainImageSize int     `json:"train_image_size"`
	Width          float64 `json:"width"`
	Depth          float64 `json:"depth"`
	Phi            int     `json:"phi"`
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeOutput(path, append(b, '\n'))
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
				if *size > 0 && *trainSize == 0 && a.TrainImageSize > 0 && a.TrainImageSize != a.ImageSize {
					o.TrainImageSize = min(*size, scaling.TrainImageSizeFor(*size, 0, 0))
				}
				if *size > 0 && *trainSize == 0 && o.TrainImageSize == 0 {
					a.TrainImageSize = 0
				}
				b, err := scaling.Scale(a, o)
				if err != nil {
					return flagError(fs, err)
				}
				if b.TrainImageSize == b.ImageSize {
					b.TrainImageSize = 0
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
			profile := fs.String("profile", "auto", "progressive Table 6 profile: s, m, l, or auto (s, m, l by phi)")
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
					base = adaptArch(base, ds, 0)
				}
				o := scaling.FamilyOptions{Members: *members, Alpha: *alpha, Beta: *beta, Gamma: *gamma, Tolerance: *tol,
					LateStages: *late, Name: *prefix, TrainRatio: *trainRatio}
				small := smallImage(base)
				if set["max-image-size"] {
					o.MaxImageSize = *maxSize
				} else if small {
					o.MaxImageSize = scaling.ProposeMaxImageSize(base.ImageSize)
				} else {
					o.MaxImageSize = scaling.ImageNetMaxImageSize
				}
				if small {
					o.TrainMultiple = 4
					if !set["train-ratio"] {
						o.TrainRatio = 1
					}
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
					return trainFamily(fs, ms, ds, test, *df.dataset, trainer.Settings{LR: *lr, Seed: *seed},
						*epochs, *batch, *prog, *stages, *profile, *rule, *out)
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

func capText(c int) string {
	if c == 0 {
		return "none"
	}
	return fmt.Sprintf("%d", c)
}

// checkProgressiveFlags validates the progressive flags of nas family.
func checkProgressiveFlags(fs *flag.FlagSet, stages int, profile, rule string) error {
	if profile != "auto" {
		if _, err := trainer.ProgressiveProfile(profile); err != nil {
			return usagef("--profile = %q: want s, m, l or auto", profile)
		}
	}
	if stages < 1 {
		return usagef("--stages = %d: want an integer in [1, %d]", stages, trainer.MaxStages)
	}
	return flagError(fs, trainer.Progressive{Stages: stages, Rule: rule}.Validate())
}

// memberProfile is the Table 6 profile of family member phi under "auto".
func memberProfile(profile string, phi int) string {
	if profile != "auto" {
		return profile
	}
	return trainer.ProfileNames()[min(phi, 2)]
}

// trainFamily trains every member and prints (and writes) the comparison.
func trainFamily(fs *flag.FlagSet, ms []scaling.Member, ds, test *data.Dataset, dataset string, s trainer.Settings,
	epochs float64, batch int, prog bool, stages int, profile, rule, out string) error {
	ctx, stop := interruptible()
	defer stop()
	var rows []trainedMember
	for _, m := range ms {
		p := trainer.Problem{Arch: m.Arch, Data: ds, Train: ds.All(), Test: test}
		b := trainer.Budget{Epochs: epochs, Batch: batch, ImageSize: m.TrainImageSize}
		bar, progress := trainBar(1, m.Name)
		ms := s
		ms.Progress = progress
		var res trainer.Result
		var err error
		if prog {
			pg, perr := trainer.ProgressiveProfile(memberProfile(profile, m.Phi))
			if perr != nil {
				return perr
			}
			pg.Stages, pg.Rule, pg.MaxImageSize, pg.EvalImageSize = stages, rule, m.TrainImageSize, m.ImageSize
			ms.Progress = func(pr trainer.Progress) {
				if pr.Phase == trainer.PhaseStage {
					bar.Clear()
					fmt.Fprintf(os.Stderr, "%s %s\n", m.Name, pr.Stage.StagePlan)
				}
				progress(pr)
			}
			ms.Progressive = &pg
			res, _, err = trainer.Train(ctx, p, ms, b)
		} else {
			var net *trainer.Net
			res, net, err = trainer.Train(ctx, p, ms, b)
			if err == nil && m.ImageSize != m.TrainImageSize {
				bar.Describe(m.Name + " re-estimate at " + fmt.Sprint(m.ImageSize))
				var e trainer.Result
				e, err = net.Evaluate(ctx, p, trainer.Eval{ImageSize: m.ImageSize, Batch: 256, Norm: &res.Norm, RecalBatches: 20, Seed: s.Seed})
				res.TestAccuracy, res.TestLoss = e.TestAccuracy, e.TestLoss
			}
		}
		bar.Finish()
		ds.DropResized()
		test.DropResized()
		if err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
		fmt.Fprintf(os.Stderr, "%s: test accuracy %.2f%% at %dx%d (trained at %d, %d steps in %s), step %.1f ms\n", m.Name,
			100*res.TestAccuracy, m.ImageSize, m.ImageSize, m.TrainImageSize, res.Steps, res.TrainTime.Round(time.Second), res.StepTime.Median*1e3)
		rows = append(rows, trainedMember{Name: m.Name, Params: m.Count.Params, MACs: m.Count.MACs, StepTimeMS: res.StepTime.Median * 1e3,
			Accuracy: res.TestAccuracy, ImageSize: m.ImageSize, TrainImageSize: m.TrainImageSize, Width: m.Width, Depth: m.Depth, Phi: m.Phi})
		if out != "" {
			if err := writeJSONFile(out, rows); err != nil {
				return err
			}
		}
	}
	how := "fixed size"
	if prog {
		how = fmt.Sprintf("progressive (%d stages, %s rule, profile %s)", stages, rule, profile)
	}
	fmt.Fprintf(stdout, "family trained on %s: %g epochs, batch %d, %s\n\n", dataset, epochs, batch, how)
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

// progFlags are the progressive-learning flags of nas train.
type progFlags struct {
	fs                             *flag.FlagSet
	on                             *bool
	stages, minSize, maxSize, raN  *int
	profile, rule                  *string
	minDrop, maxDrop, minRA, maxRA *float64
	minMix, maxMix                 *float64
}

func addProgressiveFlags(fs *flag.FlagSet) *progFlags {
	f := &progFlags{fs: fs}
	f.on = fs.Bool("progressive", false, "progressive learning with adaptive regularization (EfficientNetV2 §4.2)")
	f.stages = fs.Int("stages", trainer.DefaultStages, "progressive: number of stages M")
	f.profile = fs.String("profile", "s", "progressive: Table 6 profile for the defaults below: s, m or l")
	f.rule = fs.String("rule", trainer.RulePaper, "progressive: stage rule, paper (linear from min to max) or official (main_tf2.py)")
	f.minSize = fs.Int("min-image-size", 0, "progressive: first-stage image size (default: the profile's 128/max ratio of the last, multiple of 4, >= 16)")
	f.maxSize = fs.Int("max-image-size", 0, "progressive: last-stage (and evaluation) image size (default: --image-size, else the dataset's)")
	f.minDrop = fs.Float64("min-dropout", 0, "progressive: first-stage dropout (default: the profile's, 0.1)")
	f.maxDrop = fs.Float64("max-dropout", 0, "progressive: last-stage dropout (default: the profile's, 0.3/0.4/0.5)")
	f.minRA = fs.Float64("min-randaug", 0, "progressive: first-stage RandAugment magnitude, 0-30 (default: the profile's, 5)")
	f.maxRA = fs.Float64("max-randaug", 0, "progressive: last-stage RandAugment magnitude (default: the profile's, 15/20/25)")
	f.minMix = fs.Float64("min-mixup", 0, "progressive: first-stage mixup alpha (default: the profile's, 0)")
	f.maxMix = fs.Float64("max-mixup", 0, "progressive: last-stage mixup alpha (default: the profile's, 0/0.2/0.4)")
	f.raN = fs.Int("randaug-n", 0, "progressive: RandAugment ops per image (default 2)")
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
	if *f.maxSize < 1 || *f.maxSize > searchspace.MaxImage {
		return 0, usagef("--max-image-size = %d: want an integer in [1, %d]", *f.maxSize, searchspace.MaxImage)
	}
	if size > 0 && size != *f.maxSize {
		return 0, usagef("--image-size %d and --max-image-size %d differ: with --progressive give one (the last stage's size)", size, *f.maxSize)
	}
	return *f.maxSize, nil
}

// settings builds the progressive settings: the profile's, then the flags
// given; maxSize is the last stage's size.
func (f *progFlags) settings(maxSize int) (trainer.Progressive, error) {
	set := setFlags(f.fs)
	pg, err := trainer.ProgressiveProfile(*f.profile)
	if err != nil {
		return pg, usagef("--profile = %q: want s, m or l (Table 6)", *f.profile)
	}
	pg.MaxImageSize = maxSize
	for name, c := range map[string]struct {
		v  *int
		hi int
	}{"stages": {f.stages, trainer.MaxStages}, "min-image-size": {f.minSize, searchspace.MaxImage}, "randaug-n": {f.raN, 16}} {
		if set[name] && (*c.v < 1 || *c.v > c.hi) {
			return pg, usagef("--%s = %d: want an integer in [1, %d]", name, *c.v, c.hi)
		}
	}
	if set["stages"] {
		pg.Stages = *f.stages
	}
	if set["rule"] {
		pg.Rule = *f.rule
	}
	if set["min-image-size"] {
		pg.MinImageSize = *f.minSize
	}
	if set["randaug-n"] {
		pg.RandAugN = *f.raN
	}
	for name, pair := range map[string][2]*float64{
		"min-dropout": {f.minDrop, &pg.MinDropout}, "max-dropout": {f.maxDrop, &pg.MaxDropout},
		"min-randaug": {f.minRA, &pg.MinRandAug}, "max-randaug": {f.maxRA, &pg.MaxRandAug},
		"min-mixup": {f.minMix, &pg.MinMixup}, "max-mixup": {f.maxMix, &pg.MaxMixup},
	} {
		if set[name] {
			*pair[1] = *pair[0]
		}
	}
	if err := pg.Validate(); err != nil {
		return pg, flagError(f.fs, err)
	}
	return pg, nil
}

// trainProgressive is nas train --progressive.
func trainProgressive(ctx context.Context, f *progFlags, p trainer.Problem, s trainer.Settings, b trainer.Budget,
	bar *progressbar.ProgressBar, dataset, ckpt string, meta map[string]any, asJSON bool) error {
	pg, err := f.settings(b.ImageSize)
	if err != nil {
		return err
	}
	var stages []trainer.StageResult
	progress := s.Progress
	s.Progress = func(pr trainer.Progress) {
		switch pr.Phase {
		case trainer.PhaseStage:
			bar.Clear()
			fmt.Fprintln(os.Stderr, pr.Stage.StagePlan)
		case trainer.PhaseStageDone:
			stages = append(stages, *pr.Stage)
		}
		progress(pr)
	}
	s.Progressive = &pg
	final, net, err := trainer.Train(ctx, p, s, b)
	res := struct {
		Settings      trainer.Progressive   `json:"settings"`
		Stages        []trainer.StageResult `json:"stages"`
		Final         trainer.Result        `json:"final"`
		EvalImageSize int                   `json:"eval_image_size"`
	}{Settings: pg.WithDefaults(b.WithDefaults(p.Arch).ImageSize, s.Augment), Stages: stages, Final: final}
	res.EvalImageSize = res.Settings.EvalSize()
	bar.Finish()
	if err != nil {
		return err
	}
	r := res.Final
	if ckpt != "" {
		meta["epochs"], meta["test_accuracy"], meta["image_size"] = r.Epochs, r.TestAccuracy, res.EvalImageSize
		meta["progressive"] = res.Settings
		if err := trainer.SaveCheckpoint(ckpt, net, &r.Norm, meta); err != nil {
			return err
		}
	}
	if asJSON {
		return writeJSON(res)
	}
	st := res.Settings
	fmt.Fprintf(stdout, "%s on %s: progressive, %d stages (%s rule), %d steps (%.2f epochs, batch %d) in %s\n", p.Arch.Name, dataset,
		st.Stages, st.Rule, r.Steps, r.Epochs, r.Batch, r.TrainTime.Round(time.Millisecond))
	for _, sr := range res.Stages {
		fmt.Fprintf(stdout, "  %s: train loss %.4f (first step %.4f), %s\n", sr.StagePlan, sr.TrainLoss, sr.FirstLoss, sr.TrainTime.Round(time.Millisecond))
	}
	if len(p.Val) > 0 {
		fmt.Fprintf(stdout, "validation accuracy %.2f%% (loss %.4f) at %dx%d\n", 100*r.Accuracy, r.Loss, res.EvalImageSize, res.EvalImageSize)
	}
	fmt.Fprintf(stdout, "test accuracy %.2f%% (loss %.4f) on %d images at %dx%d\n", 100*r.TestAccuracy, r.TestLoss, p.Test.N, res.EvalImageSize, res.EvalImageSize)
	fmt.Fprintf(stdout, "training step %.1f ms median at %dx%d (p10 %.1f, p90 %.1f, %d steps); %s params, %s multiply-adds per image\n",
		r.StepTime.Median*1e3, r.ImageSize, r.ImageSize, r.StepTime.P10*1e3, r.StepTime.P90*1e3, r.StepTime.Count, commas(r.Params), commas(r.MACs))
	if ckpt != "" {
		fmt.Fprintf(stdout, "checkpoint written to %s\n", ckpt)
	}
	return nil
}
