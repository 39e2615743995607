// Package trainer trains, scores and times the networks of a search: it
// builds an architecture (package searchspace) as a gorgonia graph from the
// ops of package ops, trains it on a dataset of package data and measures
// what the search and the reward need. It reports in the vocabulary of
// package measure: a Result is a measure.Metrics (accuracy, loss, step
// time, size, host) plus the figures only a trainer's caller uses (test
// accuracy, training loss, input normalisation); Net.Measure returns the
// timing part of a measure.Metrics; HostInfo is this machine as a
// measure.Host.
//
// # Train
//
// Train builds p.Arch's network from a seed and trains it; Net.Train
// continues an existing network. Both then re-estimate the BatchNorm
// statistics, score Problem.Val and Problem.Test and time training steps:
//
//	p := trainer.Problem{Arch: arch, Data: ds, Train: train, Val: val}
//	res, net, err := trainer.Train(ctx, p, trainer.Settings{Seed: 1}, trainer.Budget{Epochs: 3})
//
// Settings is how to train (optimizer, learning-rate schedule, augmentation,
// seed, a progress callback); Budget is how much (epochs or steps, batch,
// image size, evaluation and timing). Zero fields mean the documented
// defaults. Progressive learning (EfficientNetV2 §4.2) is a schedule in
// the settings, not another call: with Settings.Progressive set, training
// runs in stages of growing image size and regularisation, and the
// progress callback sees each stage start (PhaseStage) and end
// (PhaseStageDone). The same seed gives bit-identical losses.
//
// # Evaluate and measure
//
// Net.Evaluate scores a network at an image size, optionally re-estimating
// the BatchNorm statistics there first (Eval). Net.Measure times training
// steps and forward passes on random inputs (Timing; the statistics are
// measure.StepStats); with Settings.Baseline it times them against a
// baseline network kept built, in alternating bursts, for a step time
// relative to the baseline that load coming and going on the machine does
// not change (Baseline, Interleave). Net.Profile
// breaks a step down by op (OpProfile, ByOp). Neither changes the network.
//
// # Checkpoints and resuming
//
// SaveModel writes a network as a safetensors checkpoint (Model: tensor
// names in Net.TensorNames) with its input normalisation, settings and,
// with Settings.State, the optimizer state and the mask and augmentation
// generators; LoadModel reads it back (and the older format of
// checkpoint.go). A run trained in parts, Budget.StartAt and StopAt, with
// the network and state saved and loaded in between, gives the same
// losses and weights, bit for bit, as the run in one call.
//
// # Parallel trainings
//
// Settings.Gate (Gate) keeps a timing alone on the machine while other
// trainings run: every computation holds it shared, in short slices, and
// a timing holds it exclusively.
//
// # On a GPU
//
// Settings.Device (and Eval.Device for Evaluate) runs training,
// evaluation, BatchNorm recalibration and the step-time measurement on a
// CUDA GPU (a Device: cuda.Open, then NewDevice). Gorgonia still builds
// the graph and its gradient; package cudaexec compiles it into a device
// program, and a training step is one Device.Do: the batch, targets and
// masks go up, the program runs, the optimizer updates every parameter
// in one launch per weight-decay group (RMSProp in the CPU solver's form,
// Adam, SGD), the loss comes down. Parameters, gradients, optimizer state
// and BatchNorm layers stay on the device for the whole run; the run
// starts from the Net (and Settings.State) and copies the trained network
// and optimizer state back when it ends, so checkpoints, progressive
// stages and CPU evaluation see it. Masks come from the same generator as
// on the CPU, so a seed gives the CPU's run to float32 rounding (the
// tests bound the differences); a step whose loss is not finite leaves
// the weights unchanged, as on the CPU. Step and forward times on the
// device are measured with events around each step, on a batch kept on
// the device (a baseline of relative timing runs there too); Profile
// times every instruction with events. The measurement's Host.GPU names
// the device, its arithmetic (FP32 or TF32) and the CUDA libraries.
//
// # Files
//
// settings.go (Problem, Settings, Budget, Progress), train.go (the entry
// points and the training loop), step.go (the training and inference
// graph runners), progressive.go (the schedule and the stages),
// evaluate.go, measure.go, relative.go (timing against a baseline),
// gate.go, snapshot.go (parameters saved around a measurement), solver.go
// (RMSProp, Adam, SGD), net.go (the network builder), model.go and
// tensornames.go (checkpoints), checkpoint.go (the older checkpoint
// format, read only), parity.go (one batch's figures for a comparison with
// another framework), result.go and host.go (what a run measured and
// where), device.go and device_step.go (the GPU: the network's copy on the
// device, the training step, inference, timing). Recipes built on these (a
// family's training, the benchmark) are in package recipe.
package trainer
