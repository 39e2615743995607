package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/effnas/effnas/internal/cli"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/recipe"
)

// resumeFlags loads the checkpoint that "nas train --resume" continues and
// gives every training flag the user did not set the checkpoint's value
// (recipe.ResumeDefaults).
func resumeFlags(fs *flag.FlagSet, path string) (*trainer.Model, error) {
	set := cli.Given(fs)
	key := func(name string) string {
		if k := map[string]string{"warmup": "warmup_epochs", "val": "val_images"}[name]; k != "" {
			return k
		}
		return strings.ReplaceAll(name, "-", "_")
	}
	given := map[string]bool{}
	for name := range set {
		given[key(name)] = true
	}
	ck, values, err := recipe.ResumeDefaults(path, func(k string) bool { return given[k] })
	if err != nil {
		return nil, err
	}
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := values[key(f.Name)]; ok && err == nil {
			err = fs.Set(f.Name, v)
		}
	})
	return ck, err
}

// resumeError makes a run that conflicts with its checkpoint a usage
// error, naming the flag where the field is one ("--lr = 0.002: want the
// checkpoint's 0.001").
func resumeError(fs *flag.FlagSet, err error) error {
	if !errors.Is(err, trainer.ErrConflict) {
		return err
	}
	if err = cli.FlagError(fs, err); errors.As(err, new(usageError)) {
		return err
	}
	return cli.Usagef("%v", err)
}

// trainStopped turns a training's error into the command's: a run stopped
// by Ctrl-C or SIGTERM exits with status 130, saying where its steps are
// saved and how to resume.
func trainStopped(run recipe.Run, err error) error {
	if !errors.Is(err, context.Canceled) {
		return err
	}
	if run.Checkpoint == "" {
		return exitError{130, "stopped; nothing saved (the training steps were not under way, or no -o CKPT)"}
	}
	return exitError{130, fmt.Sprintf("stopped at step %d of %d, saved in %s; resume with: %s", run.Step, run.TotalSteps, run.Checkpoint,
		resumeCommand(run.Checkpoint))}
}

// resumeCommand is the command line that resumes the run saved in path.
func resumeCommand(path string) string {
	return progName + " train --resume " + cli.Quote(path)
}
