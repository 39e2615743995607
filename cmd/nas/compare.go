package main

import (
	"context"
	"errors"
	"flag"

	"github.com/effnas/effnas/controller"
	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/search"
)

func init() {
	register(&command{
		name:   "compare",
		noArgs: true,
		flags: func(fs *flag.FlagSet) func([]string) error {
			ctrls := fs.String("controllers", "random,evolution,rl", "comma-separated strategies")
			seeds := fs.Int("seeds", 5, "number of seeds (1..N)")
			trials := fs.Int("trials", 200, "trials per search")
			db := fs.String("db", "", "keep the searches in this database (default: a temporary file)")
			spacePath := fs.String("space", "", "search space file (default: the EfficientNetV2 space)")
			rlLR := fs.Float64("rl-lr", 0.003, "rl controller learning rate")
			rlBatch := fs.Int("rl-minibatch", 10, "rl controller PPO minibatch")
			return func(args []string) error {
				if *seeds < 1 || *trials < 2 {
					return cli.Usagef("--seeds must be at least 1 and --trials at least 2")
				}
				if *rlLR <= 0 || *rlBatch < 1 {
					return cli.Usagef("--rl-lr must be positive and --rl-minibatch at least 1")
				}
				names, err := search.ControllerList(*ctrls)
				if err != nil {
					return cli.Usagef("--controllers: %v", err)
				}
				sp, err := loadSpace(*spacePath)
				if err != nil {
					return err
				}
				ctx, stop := cli.Interruptible()
				defer stop()
				res, err := search.CompareControllers(ctx, *db, sp, search.Synthetic{}, names, search.SeedRange(*seeds), *trials,
					controller.Options{LearningRate: *rlLR, MinibatchSize: *rlBatch})
				if errors.Is(err, context.Canceled) {
					return exitError{130, "stopped"}
				}
				if err != nil {
					return err
				}
				return search.WriteComparisons(stdout, res)
			}
		},
	})
}
