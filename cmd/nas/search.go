package main

import (
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
	"github.com/effnas/effnas/report"
	"github.com/effnas/effnas/search"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
	"github.com/schollz/progressbar/v3"
)

const defaultDB = "effnas.db"

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
				p, err := search.NewProxy(search.ProxyOptions{Evaluator: *evaluator, SpaceFile: *spacePath,
					Dataset: *df.dataset, DataDir: *df.dir, ImageSize: *size, Width: *width, Depth: *depth, SearchSE: *searchSE,
					TrainSubset: *subset, ValSize: *val, Epochs: *epochs, Batch: *batch, LR: *lr})
				if errors.Is(err, search.ErrUnknownEvaluator) {
					return usagef("--evaluator: %v", err)
				}
				if err != nil {
					return err
				}
				s := search.Settings{Name: *name, Controller: *ctrl, Trials: *trials, Parallel: *parallel, Seed: *seed,
					AllowHostChange: *allowHost, Evaluator: p.Record,
					ControllerOptions: controller.Options{Budget: *trials, LearningRate: *rlLR, MinibatchSize: *rlBatch}}
				st, err := store.Open(*db, nil)
				if err != nil {
					return err
				}
				defer st.Close()
				return runSearch(st, p.Space, s, p.Evaluator, *quiet)
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

// loadTrials reads a search of a database and its trials for the
// read-only commands: the named one, or the only one when name is "".
func loadTrials(db, name string) (store.Search, []store.Trial, error) {
	r, err := store.ReadSearch(db, name)
	return r.Search, r.Trials, readHint(db, err)
}

// readHint adds to an error of the store's read helpers what the user can
// do about it.
func readHint(db string, err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: no such database (run \"nas search --db %s\" first)", db, db)
	case errors.Is(err, store.ErrAmbiguous):
		return fmt.Errorf("%w with --name", err)
	}
	return err
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

func init() {
	register(&command{
		name:    "trials",
		args:    "[--db effnas.db] [--name NAME] [--json|--csv]",
		summary: "list the trials of a search (also while it runs)",
		help:    "CSV columns:\n" + report.TrialColumnsDoc(),
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
					return report.WriteTrialsCSV(stdout, trials)
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
