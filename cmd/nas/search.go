package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/effnas/effnas/controller"
	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/internal/console"
	"github.com/effnas/effnas/report"
	"github.com/effnas/effnas/search"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
	"github.com/effnas/effnas/trainer"
)

const defaultDB = "effnas.db"

func init() {
	register(&command{
		name:   "search",
		noArgs: true,
		flags: func(fs *flag.FlagSet) func([]string) error {
			db := fs.String("db", defaultDB, "search database file")
			name := fs.String("name", "default", "search name within the database")
			spacePath := fs.String("space", "", "search space file (default: the EfficientNetV2 space fitted to the dataset, as \"nas space\" prints it)")
			ctrl := fs.String("controller", "rl", "search strategy: "+strings.Join(controller.Names(), ", "))
			trials := fs.Int("trials", 20, "total number of trials")
			parallel := fs.Int("parallel", 1, fmt.Sprintf("trials trained at once, 1 to %d (step times are still measured one at a time)", search.MaxParallel))
			window := fs.Int("window", 0, fmt.Sprintf("evolution: trials proposed ahead of the observed ones (default %d; fixed when the search is created)", controller.DefaultEvolutionWindow))
			evaluator := fs.String("evaluator", "train", "train (real training) or synthetic (a cheap formula, for trying strategies)")
			df := cli.AddDataFlags(fs)
			epochs := fs.Float64("epochs", 1, "proxy training epochs per trial")
			subset := fs.Int("train-subset", 8000, "training images per trial (drawn from the training split; 0 = all)")
			val := fs.Int("val", 2000, "validation images held out of the training split")
			size := fs.Int("image-size", 0, "proxy image size (default: the dataset's)")
			width := fs.Float64("width", 0.5, "proxy width multiplier of the backbone")
			depth := fs.Float64("depth", 0.5, "proxy depth multiplier of the backbone")
			batch := fs.Int("batch", 64, "proxy batch size")
			lr := fs.Float64("lr", 1e-3, "proxy learning rate (RMSProp)")
			seed := fs.Uint64("seed", 1, "random seed, 1 or more: the same seed gives the same trials")
			searchSE := fs.Bool("search-se", false, "also search the squeeze-excite ratio {0, 0.25}")
			rlLR := fs.Float64("rl-lr", 0.003, "rl controller learning rate (NASNet used 0.00035 for 20,000 trials)")
			rlBatch := fs.Int("rl-minibatch", 10, "rl controller PPO minibatch (trials per update, and per round of proposals)")
			allowHost := fs.Bool("allow-host-change", false, "resume on a machine other than the one the search started on")
			quiet := fs.Bool("quiet", false, "no progress output")
			delay := fs.Duration("synthetic-delay", 0, "--evaluator synthetic: each evaluation takes this long (demos, simulations)")
			qf := cli.AddQueueFlags(fs)
			dev := addDeviceFlags(fs)
			return func(args []string) error {
				if err := qf.Check(fs); err != nil {
					return err
				}
				set := cli.Given(fs)
				if set["synthetic-delay"] && (*evaluator != "synthetic" || *delay < 0) {
					return cli.Usagef("--synthetic-delay = %v: for --evaluator synthetic, 0 or more", *delay)
				}
				s := search.Settings{Name: *name, Controller: *ctrl, Trials: *trials, Parallel: *parallel, Seed: *seed,
					AllowHostChange:   *allowHost,
					ControllerOptions: controller.Options{Budget: *trials, LearningRate: *rlLR, MinibatchSize: *rlBatch}}
				if set["window"] {
					s.Window = controller.Window{Size: *window}
				}
				po := search.ProxyOptions{Evaluator: *evaluator, SpaceFile: *spacePath, Dataset: df.Dataset, DataDir: df.Dir,
					ImageSize: *size, Width: *width, Depth: *depth, SearchSE: *searchSE, TrainSubset: *subset, ValSize: *val,
					Epochs: *epochs, Batch: *batch, LR: *lr, SyntheticDelay: *delay}
				if err := search.CheckExplicit(s, po); err != nil {
					return cli.SearchError(err, *db)
				}
				if set["window"] && (*ctrl != controller.NameEvolution || *window == 0) {
					return cli.Usagef("--window = %d: evolution only, 1 or more (rl proposes in rounds of --rl-minibatch trials, random without limit)", *window)
				}
				if qf.Queue != "" && (set["device"] || set["tf32"]) {
					return cli.Usagef("--device is where this process trains trials; with --queue the workers train them: give it to each nas worker")
				}
				ts, release, err := dev.settings(trainer.Settings{})
				if err != nil {
					return err
				}
				defer release()
				po.Device = ts.Device
				p, err := search.NewProxy(po)
				if errors.Is(err, search.ErrUnknownEvaluator) {
					return cli.Usagef("--evaluator: %v", err)
				}
				if err != nil {
					return err
				}
				s.Evaluator = p.Record
				// Everything is checked before the database is created.
				if err := s.Check(p.Space); err != nil {
					return cli.SearchError(err, *db)
				}
				pr := console.NewSearch(stderr, *quiet, s.Trials)
				var exec search.Executor
				if qf.Queue != "" {
					q, err := qf.Open(*db, pr.Printf)
					if err != nil {
						return err
					}
					defer q.Close()
					if exec, err = q.Executor(p.Spec); err != nil {
						return err
					}
					if url := q.WorkerURL(); url != "" && !*quiet {
						pr.Printf("queue: workers connect with: %s worker --queue %s\n", progName, url)
					}
				}
				st, err := store.Open(*db, nil)
				if err != nil {
					return err
				}
				defer st.Close()
				return runSearch(st, p.Space, s, p.Evaluator, exec, pr)
			}
		},
	})
}

func runSearch(st *store.Store, sp searchspace.Space, s search.Settings, ev search.Evaluator, exec search.Executor, pr *console.Search) error {
	ctx, stop := cli.Interruptible()
	defer stop()
	defer cli.AfterInterrupt(ctx, stop, stderr, "stopping: waiting for the running trials to notice (Ctrl-C again to quit at once)")()
	start := time.Now()
	sum, err := search.Run(ctx, st, sp, s, ev, exec, pr.Hooks(s))
	pr.Done()
	if err != nil {
		return cli.SearchError(err, st.Path())
	}
	console.WriteSearchSummary(stdout, sum, st.Path(), time.Since(start))
	if sum.Interrupted {
		return exitError{130, fmt.Sprintf("stopped with %d of %d trials done; resume with: %s", sum.Done, sum.Total, commandLine())}
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

func init() {
	register(&command{
		name:   "trials",
		noArgs: true,
		help:   "CSV columns:\n" + report.TrialColumnsDoc(),
		flags: func(fs *flag.FlagSet) func([]string) error {
			db := fs.String("db", defaultDB, "search database file")
			name := fs.String("name", "", "search name (default: the only one)")
			asJSON := fs.Bool("json", false, "print JSON")
			asCSV := fs.Bool("csv", false, "print CSV (columns in nas help trials)")
			return func(args []string) error {
				if *asJSON && *asCSV {
					return cli.Usagef("give --json or --csv, not both")
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
				return report.WriteTrialsTable(stdout, rec, trials)
			}
		},
	})
	register(&command{
		name: "show",
		one:  "TRIAL id",
		flags: func(fs *flag.FlagSet) func([]string) error {
			db := fs.String("db", defaultDB, "search database file")
			name := fs.String("name", "", "search name (default: the only one)")
			asJSON := fs.Bool("json", false, "print JSON")
			return func(args []string) error {
				id, err := strconv.Atoi(args[0])
				if err != nil || id < 1 {
					return cli.Usagef("TRIAL = %q: want a trial id (1, 2, ...)", args[0])
				}
				_, trials, err := loadTrials(*db, *name)
				if err != nil {
					return err
				}
				if id > len(trials) {
					return fmt.Errorf("trial %d: the search has %d trials", id, len(trials))
				}
				return printAs(*asJSON, trials[id-1], func(w io.Writer) error { return report.WriteTrial(w, trials[id-1]) })
			}
		},
	})
	register(&command{
		name:   "best",
		noArgs: true,
		flags: func(fs *flag.FlagSet) func([]string) error {
			db := fs.String("db", defaultDB, "search database file")
			name := fs.String("name", "", "search name (default: the only one)")
			asJSON := fs.Bool("json", false, "print JSON")
			return func(args []string) error {
				_, trials, err := loadTrials(*db, *name)
				if err != nil {
					return err
				}
				best, ok := store.BestTrial(trials)
				if !ok {
					return fmt.Errorf("no finished trial yet")
				}
				return printAs(*asJSON, best, func(w io.Writer) error { return report.WriteTrial(w, best) })
			}
		},
	})
}
