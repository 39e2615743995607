package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
	"github.com/effnas/effnas/trainer/recipe"
	"github.com/schollz/progressbar/v3"
)

// dataFlags are the flags that choose a dataset.
type dataFlags struct {
	dataset, dir *string
}

func addDataFlags(fs *flag.FlagSet) dataFlags {
	return dataFlags{
		dataset: fs.String("dataset", "fashion-mnist", "dataset: "+strings.Join(data.Names(), ", ")+" (folder:PATH for a folder of class sub-folders)"),
		dir:     fs.String("data", "", "directory holding the dataset files (default: $EFFNAS_DATA, then the system location)"),
	}
}

func (d dataFlags) load(split string) (*data.Dataset, error) {
	return data.Load(*d.dataset, split, data.Options{Dir: *d.dir})
}

// interruptible returns a context cancelled by Ctrl-C (SIGINT) or SIGTERM.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, sigterm)
}

// trainBar shows training progress on standard error.
func trainBar(steps int, what string) (*progressbar.ProgressBar, func(trainer.Progress)) {
	bar := progressbar.NewOptions(steps, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish())
	return bar, func(p trainer.Progress) {
		switch p.Phase {
		case trainer.PhaseStage, trainer.PhaseStageDone: // noted by the command
		case trainer.PhaseTrain:
			if bar.GetMax() != p.Steps {
				bar.ChangeMax(p.Steps)
			}
			bar.Describe(fmt.Sprintf("%s epoch %.2f loss %.4f", what, p.Epoch, p.Loss))
			bar.Set(p.Step)
		default:
			bar.Describe(fmt.Sprintf("%s %s", what, p.Phase))
		}
	}
}

func init() {
	register(&command{
		name:    "train",
		args:    "ARCH [--dataset fashion-mnist] [--epochs N] [--batch B] [--image-size S] [--seed N] [-o CKPT] [--progressive [--stages M] [--profile s|m|l] [--min-image-size S] [--max-image-size S] [--min-dropout P --max-dropout P --min-randaug M --max-randaug M --min-mixup A --max-mixup A]]",
		summary: "train an architecture on a dataset, report test accuracy, save a checkpoint",
		help: `ARCH is a built-in name or an architecture JSON file. It is adapted to the
dataset (input channels, classes; stem stride 1 for images up to 64 pixels).
Training uses the whole training split unless --val holds some of it out;
the test split is evaluated once at the end, after the BatchNorm statistics
are re-estimated on training batches. The default recipe is RMSProp (decay
0.9, momentum 0.9, epsilon 1e-3) at learning rate 1e-3, batch 64.

With --progressive, training is split into --stages M stages of equal steps
(EfficientNetV2 progressive learning with adaptive regularization): stage i
trains at an image size and with dropout, RandAugment magnitude and mixup
alpha interpolated linearly from the --min-* values (first stage) to the
--max-* values (last stage); weights and BatchNorm statistics carry over,
the optimizer state restarts at each stage. The defaults are the paper's
Table 6 for --profile s, m or l (RandAugment 5 -> 15/20/25, mixup 0 -> 0/0.2/
0.4, dropout 0.1 -> 0.3/0.4/0.5, image 128 -> 300/380 scaled to the dataset:
the last stage trains at --max-image-size, default --image-size or the
dataset's size, and the first at the same ratio, a multiple of 4 and at
least 16: 16 -> 28 for Fashion-MNIST). --rule official uses the official
code's variant (sizes min + (max-min)(i+1)/M, dropout not scheduled). The
test split is evaluated at the last stage's size after BatchNorm
re-estimation. --epochs is the total over all stages.`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			df := addDataFlags(fs)
			epochs := fs.Float64("epochs", 1, "epochs to train")
			batch := fs.Int("batch", 64, "batch size")
			size := fs.Int("image-size", 0, "image size (default: the dataset's)")
			seed := fs.Uint64("seed", 1, "random seed (initialisation, data order, augmentation)")
			out := fs.String("o", "", "write the trained network to this checkpoint file")
			val := fs.Int("val", 0, "hold out this many training images and report validation accuracy")
			opt := fs.String("optimizer", "rmsprop", "optimizer: rmsprop, adam or sgd")
			lr := fs.Float64("lr", 1e-3, "learning rate")
			sched := fs.String("schedule", "constant", "learning-rate schedule: constant, cosine or exponential")
			warm := fs.Float64("warmup", 0, "warm-up epochs")
			smooth := fs.Float64("label-smoothing", 0, "label smoothing")
			wd := fs.Float64("weight-decay", 1e-5, "L2 weight decay on kernels (not BatchNorm nor biases)")
			asJSON := fs.Bool("json", false, "print the result as JSON")
			pf := addProgressiveFlags(fs)
			return func(args []string) error {
				if len(args) != 1 {
					return usagef("want exactly one ARCH")
				}
				a, err := loadArch(args[0])
				if err != nil {
					return err
				}
				if *size, err = pf.resolveSize(*size); err != nil {
					return err
				}
				ds, err := df.load("train")
				if err != nil {
					return err
				}
				test, err := df.load("test")
				if err != nil {
					return err
				}
				a = fitArch(a, ds, *size)
				p := trainer.Problem{Arch: a, Data: ds, Train: ds.All(), Test: test}
				if *val > 0 {
					if p.Train, p.Val, err = ds.ValidationSplit(*val, *seed); err != nil {
						return err
					}
				}
				bar, progress := trainBar(1, "train")
				w := *wd
				if w == 0 {
					w = -1
				}
				s := trainer.Settings{Optimizer: *opt, LR: *lr, Schedule: *sched, WarmupEpochs: *warm, LabelSmoothing: *smooth,
					WeightDecay: w, Seed: *seed}
				if *pf.on {
					pg, err := pf.settings(a.ImageSize)
					if err != nil {
						return err
					}
					s.Progressive = &pg
				}
				ctx, stop := interruptible()
				defer stop()
				run, err := recipe.Train(ctx, recipe.Model{Problem: p, Settings: s,
					Budget: trainer.Budget{Epochs: *epochs, Batch: *batch, ImageSize: a.ImageSize}}, stageNotes(bar, "", progress))
				bar.Finish()
				if err != nil {
					return err
				}
				res := run.Result
				if *out != "" {
					meta := map[string]any{"dataset": *df.dataset, "epochs": res.Epochs, "seed": *seed, "test_accuracy": res.TestAccuracy,
						"image_size": run.EvalImageSize}
					if run.Schedule != nil {
						meta["progressive"] = run.Schedule
					}
					if err := trainer.SaveCheckpoint(*out, run.Net, &res.Norm, meta); err != nil {
						return err
					}
				}
				if run.Schedule != nil {
					return printProgressive(run, *df.dataset, *out, len(p.Val) > 0, test.N, *asJSON)
				}
				if *asJSON {
					return writeJSON(res)
				}
				fmt.Fprintf(stdout, "%s on %s: %d steps (%.2f epochs, batch %d, %dx%d) in %s\n", a.Name, *df.dataset, res.Steps,
					res.Epochs, res.Batch, res.ImageSize, res.ImageSize, time.Duration(res.TrainTime*float64(time.Second)).Round(time.Millisecond))
				if len(p.Val) > 0 {
					fmt.Fprintf(stdout, "validation accuracy %.2f%% (loss %.4f)\n", 100*res.Accuracy, res.Loss)
				}
				fmt.Fprintf(stdout, "test accuracy %.2f%% (loss %.4f) on %d images\n", 100*res.TestAccuracy, res.TestLoss, test.N)
				fmt.Fprintf(stdout, "training step %.1f ms median (p10 %.1f, p90 %.1f, %d steps); %s params, %s multiply-adds per image\n",
					res.StepTime.Median*1e3, res.StepTime.P10*1e3, res.StepTime.P90*1e3, res.StepTime.Count, commas(res.Params), commas(res.MACs))
				if *out != "" {
					fmt.Fprintf(stdout, "checkpoint written to %s\n", *out)
				}
				return nil
			}
		},
	})
	register(&command{
		name:    "eval",
		args:    "CKPT [--dataset fashion-mnist] [--split test] [--json]",
		summary: "evaluate a checkpoint on a dataset split",
		flags: func(fs *flag.FlagSet) func([]string) error {
			df := addDataFlags(fs)
			split := fs.String("split", "test", "dataset split: test or train")
			batch := fs.Int("batch", 256, "evaluation batch size")
			asJSON := fs.Bool("json", false, "print the result as JSON")
			return func(args []string) error {
				if len(args) != 1 {
					return usagef("want exactly one CKPT")
				}
				ck, err := trainer.LoadCheckpoint(args[0])
				if err != nil {
					return err
				}
				ds, err := df.load(*split)
				if err != nil {
					return err
				}
				a := ck.Net.Arch
				if ds.C != a.InputChannels || ds.NumClasses != a.NumClasses {
					return fmt.Errorf("checkpoint takes %d channels and %d classes, %s has %d and %d", a.InputChannels, a.NumClasses, ds.Name, ds.C, ds.NumClasses)
				}
				ctx, stop := interruptible()
				defer stop()
				r, err := ck.Net.Evaluate(ctx, trainer.Problem{Data: ds, Val: ds.All()}, trainer.Eval{Batch: *batch, ImageSize: a.ImageSize, Norm: ck.Norm})
				if err != nil {
					return err
				}
				acc, loss := r.Accuracy, r.Loss
				if *asJSON {
					return writeJSON(map[string]any{"accuracy": acc, "loss": loss, "images": ds.N, "split": *split, "arch": a})
				}
				fmt.Fprintf(stdout, "%s: %s accuracy %.2f%% (loss %.4f) on %d images\n", args[0], *split, 100*acc, loss, ds.N)
				return nil
			}
		},
	})
	register(&command{
		name:    "bench",
		args:    "ARCH [--batch 64] [--image-size 28] [--channels 1] [--classes 10] [--threads N] [--layers] [--json]",
		summary: "measure training-step and forward time of an architecture on this machine",
		help: `Times training steps (forward, backward, RMSProp update) and forward passes
on random inputs, after warm-up steps, and reports median, 10th and 90th
percentile, allocations and bytes allocated per training step and the peak
resident memory of the process. Without --image-size, --channels and
--classes the architecture's own input is used. --threads sets GOMAXPROCS
(the trainer's parallelism) for 1-core and multi-core figures. --layers adds
a breakdown of the training step by op type and output shape, from extra
profiled steps with timers around every op.`,
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
			return func(args []string) error {
				if len(args) != 1 {
					return usagef("want exactly one ARCH")
				}
				if *threads < 0 {
					return usagef("--threads must not be negative")
				}
				if *threads > 0 {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(*threads))
				}
				if *batch < 1 || *steps < 1 || *warm < 0 || *size < 0 {
					return usagef("--batch and --steps must be positive, --warmup and --image-size not negative")
				}
				a, err := loadArch(args[0])
				if err != nil {
					return err
				}
				if *size > 0 || *channels > 0 || *classes > 0 {
					a = a.WithInput(*size, *channels, *classes, false)
				}
				ctx, stop := interruptible()
				defer stop()
				r, err := recipe.Bench{Arch: a, Batch: *batch, Warmup: *warm, Steps: *steps, Layers: *layers}.Run(ctx)
				if err != nil {
					return err
				}
				if *asJSON {
					return writeJSON(r)
				}
				sz, tr, fw, host := r.ImageSize, r.Train, r.Forward, r.Host
				fmt.Fprintf(stdout, "%s, batch %d, %dx%dx%d, %s params, %s multiply-adds per image\n", a.Name, *batch, sz, sz, a.InputChannels,
					commas(r.Params), commas(r.MACs))
				fmt.Fprintf(stdout, "training step: median %.2f ms (p10 %.2f, p90 %.2f, %d steps), %.1f GFLOP/s at 6 FLOP per multiply-add\n",
					tr.Median*1e3, tr.P10*1e3, tr.P90*1e3, tr.Count, r.TrainGFLOPS)
				fmt.Fprintf(stdout, "forward:       median %.2f ms (p10 %.2f, p90 %.2f, %d runs), %.1f GFLOP/s\n",
					fw.Median*1e3, fw.P10*1e3, fw.P90*1e3, fw.Count, r.ForwardGFLOPS)
				fmt.Fprintf(stdout, "memory: %.0f allocations and %.2f MiB allocated per training step, peak resident %.1f MiB\n",
					tr.Allocs, tr.Bytes/(1<<20), float64(r.PeakRSS)/(1<<20))
				fmt.Fprintf(stdout, "host: %s, %d cores, GOMAXPROCS %d, %s, kernels %s\n", host.CPU, host.Cores, host.GOMAXPROCS, host.GoVersion, host.Backend)
				if r.Layers != nil {
					printOpProfile(*r.Layers)
				}
				return nil
			}
		},
	})
}

// printOpProfile prints a step's time by op type, then the largest entries
// by op type and output shape.
func printOpProfile(p trainer.OpProfile) {
	fmt.Fprintf(stdout, "\nprofiled step (timers on, %d steps): %.2f ms\n%-24s %9s %6s %6s\n", p.Steps, p.Step.Seconds()*1e3, "op", "ms/step", "share", "calls")
	for _, o := range p.ByOp() {
		fmt.Fprintf(stdout, "%-24s %9.2f %5.1f%% %6d\n", o.Op, o.Total.Seconds()*1e3, p.Share(o.Total), o.Calls)
	}
	fmt.Fprintf(stdout, "%-24s %9.2f %5.1f%%\n", "other (gorgonia, update)", p.Other.Seconds()*1e3, p.Share(p.Other))
	fmt.Fprintf(stdout, "\nlargest by op and output shape (GFLOP/s for convolutions, 2 FLOP per multiply-add):\n")
	for i, o := range p.Ops {
		if i == 15 {
			break
		}
		rate := ""
		if g := o.GFLOPS(); g > 0 {
			rate = fmt.Sprintf("%7.1f GFLOP/s", g)
		}
		fmt.Fprintf(stdout, "%-24s %-16s %9.2f %5.1f%% %s\n", o.Op, o.Shape, o.Total.Seconds()*1e3, p.Share(o.Total), rate)
	}
}

// stageNotes passes progress on and notes each progressive stage's plan
// on standard error, prefixed by name when given.
func stageNotes(bar *progressbar.ProgressBar, name string, progress func(trainer.Progress)) func(trainer.Progress) {
	return func(p trainer.Progress) {
		if p.Phase == trainer.PhaseStage {
			bar.Clear()
			fmt.Fprintln(os.Stderr, strings.TrimPrefix(name+" "+p.Stage.StagePlan.String(), " "))
		}
		progress(p)
	}
}

// printProgressive prints a progressive run of nas train.
func printProgressive(run recipe.Run, dataset, ckpt string, val bool, testN int, asJSON bool) error {
	if asJSON {
		return writeJSON(run)
	}
	r, st := run.Result, run.Schedule
	fmt.Fprintf(stdout, "%s on %s: progressive, %d stages (%s rule), %d steps (%.2f epochs, batch %d) in %s\n", run.Net.Arch.Name, dataset,
		st.Stages, st.Rule, r.Steps, r.Epochs, r.Batch, time.Duration(r.TrainTime*float64(time.Second)).Round(time.Millisecond))
	for _, sr := range run.Stages {
		fmt.Fprintf(stdout, "  %s: train loss %.4f (first step %.4f), %s\n", sr.StagePlan, sr.TrainLoss, sr.FirstLoss, sr.TrainTime.Round(time.Millisecond))
	}
	e := run.EvalImageSize
	if val {
		fmt.Fprintf(stdout, "validation accuracy %.2f%% (loss %.4f) at %dx%d\n", 100*r.Accuracy, r.Loss, e, e)
	}
	fmt.Fprintf(stdout, "test accuracy %.2f%% (loss %.4f) on %d images at %dx%d\n", 100*r.TestAccuracy, r.TestLoss, testN, e, e)
	fmt.Fprintf(stdout, "training step %.1f ms median at %dx%d (p10 %.1f, p90 %.1f, %d steps); %s params, %s multiply-adds per image\n",
		r.StepTime.Median*1e3, r.ImageSize, r.ImageSize, r.StepTime.P10*1e3, r.StepTime.P90*1e3, r.StepTime.Count, commas(r.Params), commas(r.MACs))
	if ckpt != "" {
		fmt.Fprintf(stdout, "checkpoint written to %s\n", ckpt)
	}
	return nil
}
