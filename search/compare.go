package search

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/effnas/effnas/controller"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
)

// Comparison is one controller's outcome over several seeds.
type Comparison struct {
	Controller string
	// Best is the best reward of each seed's search; LastMean the mean
	// reward of each search's last Tail trials.
	Best, LastMean []float64
	Tail           int
}

// MeanStd returns the mean and sample standard deviation of xs.
func MeanStd(xs []float64) (mean, std float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	if len(xs) > 1 {
		for _, x := range xs {
			std += (x - mean) * (x - mean)
		}
		std = math.Sqrt(std / float64(len(xs)-1))
	}
	return mean, std
}

// CompareControllers runs one search per controller and seed with the
// evaluator (normally Synthetic) on the space, each under its own name in
// the database at dbPath (a temporary file when empty), and summarises them.
// Every search of a seed gets the same seed, so they differ only by strategy.
// A cancelled ctx stops it with an error wrapping ctx.Err().
func CompareControllers(ctx context.Context, dbPath string, sp searchspace.Space, ev Evaluator, controllers []string,
	seeds []uint64, trials int, opts controller.Options) ([]Comparison, error) {
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "effnas-compare-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "compare.db")
	}
	st, err := store.Open(dbPath, nil)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	tail := min(50, max(1, trials/4))
	var out []Comparison
	for _, c := range controllers {
		cmp := Comparison{Controller: c, Tail: tail}
		for _, seed := range seeds {
			name := fmt.Sprintf("compare-%s-seed%d-n%d", c, seed, trials)
			o := opts
			o.Budget = trials
			s := Settings{Name: name, Controller: c, Trials: trials, Seed: seed, ControllerOptions: o, Evaluator: Synthetic{}.Describe()}
			run, err := Run(ctx, st, sp, s, ev, nil, Hooks{})
			if err == nil && run.Interrupted {
				err = ctx.Err()
			}
			if err != nil {
				return nil, fmt.Errorf("%s, seed %d: %w", c, seed, err)
			}
			var trialsDone []store.Trial
			if err := st.View(func(tx *store.Tx) error {
				trialsDone, err = tx.Trials(name)
				return err
			}); err != nil {
				return nil, err
			}
			best, sum := 0.0, 0.0
			for i, t := range trialsDone {
				best = math.Max(best, t.Reward)
				if i >= len(trialsDone)-tail {
					sum += t.Reward
				}
			}
			cmp.Best = append(cmp.Best, best)
			cmp.LastMean = append(cmp.LastMean, sum/float64(tail))
		}
		out = append(out, cmp)
	}
	return out, nil
}
