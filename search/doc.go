// Package search runs a training-aware architecture search: the loop
//
//	controller.Propose -> space.Decode -> store (running + controller state) ->
//	executor -> evaluator.Evaluate -> reward.Score -> store (done) ->
//	controller.Observe -> store (controller state)
//
// The store is the single source of truth: every proposal is saved, with the
// controller's state, before it runs; every result is saved, then
// observed, and the controller's state after the observation is saved too. Killing the
// process at any moment and running the same search again resumes it:
// finished trials are never run again, trials that were running are run
// again, and the controller continues exactly where it was. An evaluation
// cut off by the end of the process or by a stop (a cancelled context) is
// not an attempt: only evaluations that failed (an error, a NaN) count
// towards Settings.MaxAttempts, so a search killed any number of times ends
// as one never interrupted.
//
// Determinism. Trials may finish in any order and on any worker, but the
// controller observes them strictly in trial-id order, and trial t is
// proposed once trials 1..Window.Need(t) are observed and before the next
// one is (controller.Window). The window is a property of the search,
// fixed when it is created (by default the controller's: rl proposes in
// rounds of its PPO minibatch, random without limit, evolution 8 trials
// ahead), not of the number of workers. Every controller call therefore
// happens at a point fixed by the seed and the results alone, so the same
// seed gives the same sequence of trials whatever the number of workers,
// whatever order they finish in, and however often the search was stopped
// and resumed with which number of workers (with a deterministic evaluator
// such as the synthetic one). More workers than the window allows stay idle
// (Hooks.Start reports how many).
//
// Executors. Trials run through the Executor seam: a pool of goroutines in
// this process (LocalExecutor), or workers on other hosts (a Durable
// executor, package remote), which build the search's evaluator from its
// EvaluatorSpec. Nothing in the loop assumes that a trial runs in this
// process or finishes in order. Results that arrive together are recorded
// in one commit, with the controller calls they allow and the proposals
// those make; tasks leave the loop and results are acknowledged only after
// that commit, so a crash at any moment loses nothing that a restart
// cannot get again.
//
// Hosts. Step times are comparable only between machines of one kind
// (measure.Host.Fingerprint). A local search records its machine and
// refuses to resume on another; a search on workers takes the host of the
// worker that measured its baseline, and its trials go only to workers of
// that kind (Task.HostKind) unless Settings.AllowHostChange, when each
// other kind is noted. Every trial's measurement records the host and the
// worker that made it.
//
// Evaluators. An Evaluator turns an architecture into a measurement
// (measure.Metrics): the baseline (the space's backbone, timed once at the
// start, for the record) and every trial. The search stores it as it is,
// with the code version that made it in its host (measure.Host.Code: the
// evaluator's, or this program's when the evaluator leaves it empty), and
// scores it with reward.Settings.Score. TrainEvaluator times every trial
// against the backbone again, in alternating bursts with a copy of it kept
// built, so that the reward's S/S0 is a relative step time that load coming
// and going on the machine does not change (trainer.Baseline); with several
// trials at once, the Gate keeps each timing alone. While it works an
// evaluator may report progress (Task.Progress: phase and training step),
// which reaches Hooks.Progress. NewProxy builds the proxy task of a search
// from options: an evaluator chosen by name ("train": TrainEvaluator, real
// training; "synthetic": Synthetic, a formula) and the space it searches
// (ProxySpace: the EfficientNetV2 space fitted to the dataset and scaled
// down, unless a space file is given; SpaceOf gives it alone).
package search
