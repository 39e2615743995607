// Package controller holds the search strategies of the architecture
// search: the component that proposes the next architecture and learns
// from the rewards of finished trials.
//
// A search space reaches a controller only as its decision list: the number
// of options of each decision, in order (for example, per stage: op
// {MBConv, Fused} = 2, kernel {3, 5} = 2, expansion {1, 4, 6} = 3, repeats
// {base-1, base, base+1} = 3, SE = 2). An architecture is a []int of chosen
// option indices, one per decision.
//
// Every strategy implements Controller and is built through one registry:
//
//	c, err := controller.New("evolution", cardinalities, seed, controller.Options{Budget: 1000})
//	d, err := c.Propose()        // any number of times before observing
//	err = c.Observe(d, reward)   // failed trial: reward 0
//	state, err := c.State()      // persist with the trial
//	err = c.Restore(state)       // after a crash: continues bit for bit
//
// # Determinism and state
//
// Each controller draws all randomness from one math/rand/v2 PCG source
// seeded by New. The same seed and the same sequence of Propose/Observe
// calls give the same proposals. State serialises everything that affects
// future proposals (RNG state, population, network weights, Adam moments,
// baseline, pending proposals) in a small versioned binary format; a
// controller restored from it proposes exactly what the original would
// have. Restore checks the strategy, the cardinalities and the options that
// the state depends on, and rejects anything malformed with an error
// wrapping ErrBadState (it never panics and leaves the controller
// unchanged on error).
//
// # Proposing ahead of observations
//
// A search that runs several trials at once proposes trials before the
// earlier ones are observed. Window fixes how far ahead: trial t is
// proposed once trials 1..Window.Need(t) are observed. A search loop that
// keeps to one window (chosen when the search is created, not from the
// number of workers) calls the controller in one order whatever the number
// of workers, so a seed gives the same trials. DefaultWindow gives each
// strategy's: rl proposes in rounds of its PPO minibatch (which gives
// exactly the trials of a one-at-a-time search), random is unbounded, and
// evolution proposes DefaultEvolutionWindow trials ahead.
//
// # Failed trials
//
// A failed trial is reported with reward 0, the floor of the search reward
// ACC·S^w·P^v. All strategies treat it as an ordinary, very bad
// observation: it takes its place in the evolution population (and ages
// out), and the rl controller learns to avoid it. Every proposal should
// eventually be observed; the rl controller keeps unobserved proposals in
// its state.
//
// # random
//
// Uniform, independent sampling of every decision: the baseline that
// EfficientNetV2 (Tan & Le 2021, §3.3) names as an alternative to RL for
// its small space.
//
// # evolution
//
// Regularized (aging) evolution, Real et al., "Regularized Evolution for
// Image Classifier Architecture Search", AAAI 2019, Algorithm 1. While
// fewer than P trials have been observed, proposals are uniformly random
// (with several trials in flight, up to that many extra random proposals
// are made while the population fills). Afterwards a proposal samples S
// population members uniformly with replacement (as the authors' reference
// code does), takes the one with the highest reward as parent and changes
// exactly one decision, chosen uniformly among those with two or more
// options, to a different option chosen uniformly. Observe appends the
// trial to the population queue and removes the oldest member when the
// queue exceeds P: age, not fitness, decides who dies. Proposals need not
// be observed before the next Propose; observations of architectures the
// controller did not propose join the population likewise.
//
// Defaults: P = 20, or Budget/10 clamped to [20, 100] when Options.Budget
// is set (Real et al. use P = 100 for 20,000 trials; with a few hundred
// trials a smaller population leaves more room for selection); S =
// max(2, P/4), the paper's S/P = 25/100.
//
// # rl
//
// The RNN controller of NASNet (Zoph et al., "Learning Transferable
// Architectures for Scalable Image Recognition", CVPR 2018, App. A), reused
// by MnasNet (Tan et al., CVPR 2019, §4.2 and §5, "the same RNN controller
// as NASNet") and EfficientNetV2 (§3.3):
//
//   - a one-layer LSTM with 100 hidden units, unrolled over the decisions;
//     the input of step 0 is a learned start vector, the input of step t+1
//     the embedding of the option chosen at step t (one embedding table per
//     decision, width EmbeddingSize = HiddenSize by default);
//   - one softmax output layer per decision over that decision's options
//     (decisions with a single option have none and are always 0);
//   - weights initialised uniform(-0.1, 0.1) from the seeded RNG;
//   - trained with PPO (Schulman et al. 2017) with clipped ratio ε = 0.2 on
//     minibatches of 20 finished trials, PPOEpochs = 4 Adam steps per
//     minibatch, Adam learning rate 0.00035 (β = 0.9, 0.999, ε = 1e-8);
//   - advantage = reward − baseline, where the baseline is an exponential
//     moving average of past rewards with decay 0.95, started at the first
//     reward; each trial's advantage uses the baseline before its own
//     reward is added;
//   - entropy bonus with weight 1e-5 (NASNet's "entropy penalty"), added to
//     the PPO objective to keep exploring (NoEntropyBonus turns it off).
//
// The PPO "old" log-probability of a trial is the one the policy gave it
// when it was proposed; an observed architecture that was not proposed (or
// is observed more often than proposed) gets its log-probability from the
// current policy. Trials are matched to proposals by decision list, oldest
// first.
//
// The network is built with gorgonia (float64): per decision a one-step
// graph over a batch of MinibatchSize rows used for sampling (each step's
// input depends on the previous sample, so sampling runs the steps in
// turn), and one unrolled graph of the whole minibatch with the PPO loss
// and its symbolic gradient, run by a TapeMachine once per PPO epoch. All
// graphs share the parameter tensors. Adam is implemented here because
// gorgonia's solver keeps its moments unexported, which would make State
// inexact. Sampling draws MinibatchSize proposals per batched pass and
// hands them out one per Propose; the unused ones are dropped when the
// policy changes, so every proposal comes from the policy current at the
// call.
//
// Budget and learning rate: the NASNet values were tuned for searches of
// thousands of trials (NASNet 20,000, MnasNet about 8,000). With 300 trials
// (15 PPO updates) the default learning rate barely moves the policy: on
// the synthetic test problem of this package (30 decisions, reward =
// fraction matching a hidden target) the mean reward of the last 50 trials
// was 0.46–0.55 against 0.41–0.44 for random search, while LearningRate
// 0.003 reached 0.91–0.96 (100 hidden units) and 0.80–0.89 (32 units).
// For budgets of a few hundred to a thousand trials set LearningRate
// around 0.003.
//
// Cost on 2 CPU cores with the default sizes and 30 decisions: about 2 ms
// per proposal and 0.1 s per PPO epoch (0.4 s per minibatch update).
package controller
