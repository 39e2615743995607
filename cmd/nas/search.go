package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/effnas/effnas/controller"
	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/scaling"
	"github.com/effnas/effnas/search"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
	"github.com/schollz/progressbar/v3"
)

const defaultDB = "effnas.db"

// proxySpace is the default search space fitted to a dataset: the
// EfficientNetV2 space over efficientnetv2-b0, with the backbone adapted to
// the dataset's images and classes (stem stride 1 for small images) and
// scaled down by width and depth, so that each trial trains in seconds.
func proxySpace(ds *data.Dataset, size int, width, depth float64, searchSE bool) (searchspace.Space, error) {
	b, err := searchspace.Reference("efficientnetv2-b0")
	if err != nil {
		return searchspace.Space{}, err
	}
	if size == 0 {
		size = ds.H
	}
	b = b.WithInput(size, ds.C, ds.NumClasses, size <= 64)
	b, err = scaling.Scale(b, scaling.Options{Width: width, Depth: depth})
	if err != nil {
		return searchspace.Space{}, err
	}
	b.Name = fmt.Sprintf("efficientnetv2-b0 (width %g, depth %g, %dx%dx%d, %d classes)", width, depth, size, size, ds.C, ds.NumClasses)
	sp := searchspace.NewSpace(b, searchSE)
	return sp, sp.Validate()
}

func init() {
	register(&command{
		name:    "search",
		args:    "[--db effnas.db] [--name NAME] [--controller rl|random|evolution] [--trials N] [--parallel K] [--evaluator train|synthetic] [flags]",
		summary: "run (or resume) a training-aware architecture search",
		help: `Samples architectures from the search space, trains each on the proxy task,
scores it with the reward A * (S/S0)^-0.07 * (P/P0)^-0.05 (accuracy, training
step time, parameters; S0 and P0 are the backbone's, measured here at the
start), teaches the controller, and saves every trial in the database.

Running the same command again resumes the search: finished trials are never
trained again, trials that were running are run again, and the total comes
out at --trials. Ctrl-C stops cleanly; everything finished is saved.

The default space is the EfficientNetV2 space over efficientnetv2-b0, fitted
to the dataset and scaled by --width and --depth (the proxy); with --space a
space file is used as it is. "nas trials", "nas show" and "nas best" read the
database, also while a search runs.`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			db := fs.String("db", defaultDB, "search database file")
			name := fs.String("name", "default", "search name within the database")
			spacePath := fs.String("space", "", "search space file (default: the EfficientNetV2 space fitted to the dataset)")
			ctrl := fs.String("controller", "rl", "search strategy: "+strings.Join(controller.Names(), ", "))
			trials := fs.Int("trials", 20, "total number of trials")
			parallel := fs.Int("parallel", 1, "trials trained at once (step times are still measured one at a time)")
			evaluator := fs.String("evaluator", "train", "train (real training) or synthetic (a cheap formula, for trying strategies)")
			df := addDataFlags(fs)
			epochs := fs.Float64("epochs", 1, "proxy training epochs per trial")
			subset := fs.Int("train-subset", 8000, "training images per trial (drawn from the training split; 0 = all)")
			val := fs.Int("val", 2000, "validation images held out of the training split")
			size := fs.Int("image-size", 0, "proxy image size (default: the dataset's)")
			width := fs.Float64("width", 0.5, "proxy width multiplier of the backbone")
			depth := fs.Float64("depth", 0.5, "proxy depth multiplier of the backbone")
			batch := fs.Int("batch", 64, "proxy batch size")
			lr := fs.Float64("lr", 1e-3, "proxy learning rate (RMSProp)")
			seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same trials")
			searchSE := fs.Bool("search-se", false, "also search the squeeze-excite ratio {0, 0.25}")
			rlLR := fs.Float64("rl-lr", 0.003, "rl controller learning rate (NASNet used 0.00035 for 20,000 trials)")
			rlBatch := fs.Int("rl-minibatch", 10, "rl controller PPO minibatch (trials per update)")
			allowHost := fs.Bool("allow-host-change", false, "resume on a machine other than the one the search started on")
			quiet := fs.Bool("quiet", false, "no progress bar")
			return func(args []string) error {
				if len(args) != 0 {
					return usagef("unexpected argument %q", args[0])
				}
				s := search.Settings{Name: *name, Controller: *ctrl, Trials: *trials, Parallel: *parallel, Seed: *seed,
					AllowHostChange:   *allowHost,
					ControllerOptions: controller.Options{Budget: *trials, LearningRate: *rlLR, MinibatchSize: *rlBatch}}
				var ev search.Evaluator
				var sp searchspace.Space
				var err error
				switch *evaluator {
				case "synthetic":
					ev = search.Synthetic{}
					s.Evaluator = map[string]any{"name": "synthetic"}
					sp, err = loadSpace(*spacePath)
				case "train":
					te := &search.TrainEvaluator{Dataset: *df.dataset, Data: data.Options{Dir: *df.dir}, TrainSubset: *subset, ValSize: *val,
						Settings: trainer.Settings{LR: *lr}, Budget: trainer.Budget{Epochs: *epochs, Batch: *batch, ImageSize: *size}}
					ds, lerr := te.Load(0x5e1ec7)
					if lerr != nil {
						return lerr
					}
					if *spacePath != "" {
						sp, err = searchspace.LoadSpace(*spacePath)
					} else {
						sp, err = proxySpace(ds, *size, *width, *depth, *searchSE)
					}
					if te.Budget.ImageSize == 0 {
						te.Budget.ImageSize = sp.Backbone.TrainSize()
					}
					ev = te
					s.Evaluator = te.Describe()
				default:
					return usagef("--evaluator %q: want train or synthetic", *evaluator)
				}
				if err != nil {
					return err
				}
				st, err := store.Open(*db, nil)
				if err != nil {
					return err
				}
				defer st.Close()
				return runSearch(st, sp, s, ev, *quiet)
			}
		},
	})
}

func runSearch(st *store.Store, sp searchspace.Space, s search.Settings, ev search.Evaluator, quiet bool) error {
	ctx, stop := interruptible()
	defer stop()
	start := time.Now()
	var bar *progressbar.ProgressBar
	if !quiet {
		bar = progressbar.NewOptions(s.Trials, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("measuring the baseline"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(25),
			progressbar.OptionFullWidth(), progressbar.OptionThrottle(100*time.Millisecond))
	}
	hooks := search.Hooks{
		Baseline: func(m measure.Metrics) {
			fmt.Fprintf(os.Stderr, "baseline (the space's backbone): step %.1f ms, %s params\n", m.StepTime.Median*1e3, commas(m.Params))
		},
		Trial: func(t store.Trial, done, total int, best *store.Trial) {
			if bar == nil {
				return
			}
			desc := fmt.Sprintf("trial %d %s", t.ID, t.Status)
			if best != nil && best.Metrics != nil {
				desc = fmt.Sprintf("best #%d reward %.4f acc %.2f%% %.1f ms", best.ID, best.Reward, 100*best.Metrics.Accuracy, best.Metrics.StepTime.Median*1e3)
			}
			bar.Describe(desc)
			bar.Set(done)
		},
	}
	sum, err := search.Run(ctx, st, sp, s, ev, nil, hooks)
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		return err
	}
	state := "finished"
	if sum.Interrupted {
		state = "interrupted (run the same command to resume)"
	}
	fmt.Fprintf(stdout, "search %q in %s: %d of %d trials done (%d failed), %s, %s this run\n", sum.Name, st.Path(), sum.Done, sum.Total,
		sum.Failed, state, time.Since(start).Round(time.Second))
	if sum.Best != nil {
		printTrial(*sum.Best)
	}
	return nil
}

// openForReading opens a database for the read-only commands.
func openForReading(path string) (*store.Store, error) {
	st, err := store.OpenReadOnly(path, nil)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no such database (run \"nas search --db %s\" first)", path, path)
	}
	return st, err
}

// pickSearch resolves --name: the given one, or the only search of the database.
func pickSearch(tx *store.Tx, name string) (store.Search, error) {
	if name != "" {
		return tx.Search(name)
	}
	all, err := tx.Searches()
	if err != nil {
		return store.Search{}, err
	}
	switch len(all) {
	case 0:
		return store.Search{}, fmt.Errorf("the database holds no search")
	case 1:
		return all[0], nil
	}
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.Name
	}
	return store.Search{}, fmt.Errorf("the database holds %d searches (%s): choose one with --name", len(all), strings.Join(names, ", "))
}

func loadTrials(db, name string) (store.Search, []store.Trial, error) {
	st, err := openForReading(db)
	if err != nil {
		return store.Search{}, nil, err
	}
	var rec store.Search
	var trials []store.Trial
	err = st.View(func(tx *store.Tx) error {
		if rec, err = pickSearch(tx, name); err != nil {
			return err
		}
		trials, err = tx.Trials(rec.Name)
		return err
	})
	return rec, trials, err
}

func printTrial(t store.Trial) {
	fmt.Fprintf(stdout, "trial %d (%s, %d attempts): reward %.4f\n", t.ID, t.Status, t.Attempts, t.Reward)
	if m := t.Metrics; m != nil {
		fmt.Fprintf(stdout, "  validation accuracy %.2f%%, training step %.1f ms (p10 %.1f, p90 %.1f), %s params, %s multiply-adds\n",
			100*m.Accuracy, m.StepTime.Median*1e3, m.StepTime.P10*1e3, m.StepTime.P90*1e3, commas(m.Params), commas(m.MACs))
		if m.Steps > 0 {
			fmt.Fprintf(stdout, "  trained %d steps at batch %d, %dx%d, in %.1f s on %s\n", m.Steps, m.Batch, m.ImageSize, m.ImageSize, m.WallTime, m.Host.CPU)
		}
	}
	if t.Error != "" {
		fmt.Fprintf(stdout, "  error: %s\n", t.Error)
	}
	fmt.Fprintf(stdout, "  decisions %v\n", t.Decisions)
	for _, b := range t.Arch.BlockStrings() {
		fmt.Fprintf(stdout, "  %s\n", b)
	}
}

// csvColumns documents "nas trials --csv".
var csvColumns = []string{"id", "status", "attempts", "reward", "accuracy", "step_ms_median", "step_ms_p10", "step_ms_p90",
	"params", "macs", "image_size", "batch", "steps", "wall_s", "blocks", "decisions", "error"}

func init() {
	register(&command{
		name:    "trials",
		args:    "[--db effnas.db] [--name NAME] [--json|--csv]",
		summary: "list the trials of a search (also while it runs)",
		help: `CSV columns: id, status (pending, running, done, failed), attempts, reward,
accuracy (validation, 0-1), step_ms_median, step_ms_p10, step_ms_p90
(training step time in milliseconds), params (trainable), macs (multiply-adds
per image), image_size, batch, steps (training steps), wall_s (seconds of the
whole evaluation), blocks (official block strings joined by spaces),
decisions (option indices joined by spaces), error.`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			db := fs.String("db", defaultDB, "search database file")
			name := fs.String("name", "", "search name (default: the only one)")
			asJSON := fs.Bool("json", false, "print JSON")
			asCSV := fs.Bool("csv", false, "print CSV (columns in nas help trials)")
			return func(args []string) error {
				if len(args) != 0 {
					return usagef("unexpected argument %q", args[0])
				}
				rec, trials, err := loadTrials(*db, *name)
				if err != nil {
					return err
				}
				switch {
				case *asJSON:
					if trials == nil {
						trials = []store.Trial{}
					}
					return writeJSON(trials)
				case *asCSV:
					w := csv.NewWriter(stdout)
					w.Write(csvColumns)
					for _, t := range trials {
						m := t.Metrics
						if m == nil {
							m = &measure.Metrics{}
						}
						dec := make([]string, len(t.Decisions))
						for i, d := range t.Decisions {
							dec[i] = strconv.Itoa(d)
						}
						f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
						w.Write([]string{strconv.Itoa(t.ID), string(t.Status), strconv.Itoa(t.Attempts), f(t.Reward), f(m.Accuracy),
							f(m.StepTime.Median * 1e3), f(m.StepTime.P10 * 1e3), f(m.StepTime.P90 * 1e3), strconv.FormatInt(m.Params, 10),
							strconv.FormatInt(m.MACs, 10), strconv.Itoa(m.ImageSize), strconv.Itoa(m.Batch), strconv.Itoa(m.Steps), f(m.WallTime),
							strings.Join(t.Arch.BlockStrings(), " "), strings.Join(dec, " "), t.Error})
					}
					w.Flush()
					return w.Error()
				}
				fmt.Fprintf(stdout, "search %q: controller %s, seed %d, %d trials of %d, %s\n\n", rec.Name, rec.Controller, rec.Seed, len(trials), rec.Trials, rec.Status)
				tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
				fmt.Fprintln(tw, "id\tstatus\treward\taccuracy\tstep ms\tparams\tmult-adds\tblocks")
				for _, t := range trials {
					acc, step := "-", "-"
					params, macs := "-", "-"
					if m := t.Metrics; m != nil {
						acc, step = fmt.Sprintf("%.2f%%", 100*m.Accuracy), fmt.Sprintf("%.1f", m.StepTime.Median*1e3)
						params, macs = commas(m.Params), commas(m.MACs)
					}
					fmt.Fprintf(tw, "%d\t%s\t%.4f\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Status, t.Reward, acc, step, params, macs, shortBlocks(t.Arch))
				}
				return tw.Flush()
			}
		},
	})
	register(&command{
		name:    "show",
		args:    "TRIAL [--db effnas.db] [--name NAME] [--json]",
		summary: "show one trial of a search",
		flags: func(fs *flag.FlagSet) func([]string) error {
			db := fs.String("db", defaultDB, "search database file")
			name := fs.String("name", "", "search name (default: the only one)")
			asJSON := fs.Bool("json", false, "print JSON")
			return func(args []string) error {
				if len(args) != 1 {
					return usagef("want exactly one TRIAL id")
				}
				id, err := strconv.Atoi(args[0])
				if err != nil || id < 1 {
					return usagef("TRIAL = %q: want a trial id (1, 2, ...)", args[0])
				}
				_, trials, err := loadTrials(*db, *name)
				if err != nil {
					return err
				}
				if id > len(trials) {
					return fmt.Errorf("trial %d: the search has %d trials", id, len(trials))
				}
				if *asJSON {
					return writeJSON(trials[id-1])
				}
				printTrial(trials[id-1])
				return nil
			}
		},
	})
	register(&command{
		name:    "best",
		args:    "[--db effnas.db] [--name NAME] [--json]",
		summary: "show the trial with the highest reward",
		flags: func(fs *flag.FlagSet) func([]string) error {
			db := fs.String("db", defaultDB, "search database file")
			name := fs.String("name", "", "search name (default: the only one)")
			asJSON := fs.Bool("json", false, "print JSON")
			return func(args []string) error {
				if len(args) != 0 {
					return usagef("unexpected argument %q", args[0])
				}
				_, trials, err := loadTrials(*db, *name)
				if err != nil {
					return err
				}
				best, ok := store.BestTrial(trials)
				if !ok {
					return fmt.Errorf("no finished trial yet")
				}
				if *asJSON {
					return writeJSON(best)
				}
				printTrial(best)
				return nil
			}
		},
	})
}

// shortBlocks abbreviates block strings for tables: per stage, op, kernel,
// expansion and repeats ("F3e4x2" = Fused-MBConv 3x3, expansion 4, 2 repeats).
func shortBlocks(a searchspace.Arch) string {
	parts := make([]string, len(a.Stages))
	for i, s := range a.Stages {
		op := "M"
		if s.Block == searchspace.FusedMBConv {
			op = "F"
		}
		se := ""
		if s.SE > 0 {
			se = "s"
		}
		parts[i] = fmt.Sprintf("%s%de%dx%d%s", op, s.Kernel, s.Expand, s.Repeats, se)
	}
	return strings.Join(parts, " ")
}
