package controller

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// rlController is the NASNet/MnasNet RNN controller trained with PPO.
//
// The policy network and its graphs live in policy (rl_graph.go); this file
// holds the bookkeeping: proposals waiting for their reward, finished trials
// waiting for a minibatch, the reward baseline, Adam and the state format.
type rlController struct {
	cards []int
	o     Options // effective options
	src   *rand.PCG
	rng   *rand.Rand
	net   *policy

	baseline    float64
	baselineSet bool
	queue       []rlTrial // sampled from the current policy, not yet proposed
	pending     []rlTrial // proposed, not yet observed; oldest first
	batch       []rlTrial // observed, waiting for the next PPO update
	observed    int
	updates     int // PPO updates done (minibatches consumed)

	// scratch
	probs []float64
}

// rlTrial is a proposal with the log-probability the policy gave it when it
// was sampled (the PPO "old" policy) and, once observed, its advantage.
type rlTrial struct {
	decisions []int
	logp      float64
	adv       float64
}

func newRL(cards []int, seed uint64, opts Options) (Controller, error) {
	o := opts.withDefaults()
	if slicesMax(cards) < 2 {
		return nil, badOption("cardinalities", cards, "want at least one decision with two or more options for rl")
	}
	src, rng := newRNG(seed)
	net, err := newPolicy(cards, o, rng)
	if err != nil {
		return nil, fmt.Errorf("controller: building the rl policy: %w", err)
	}
	return &rlController{cards: cards, o: o, src: src, rng: rng, net: net}, nil
}

func (c *rlController) Name() string { return NameRL }

// Propose returns the next decision list sampled from the policy and
// remembers its log-probability for the PPO ratio. Sampling runs the LSTM
// one decision at a time, feeding each choice back as the next input; it
// draws MinibatchSize lists at once (one batched pass) and hands them out
// one per call. The lists not handed out are dropped when the policy
// changes, so every proposal comes from the policy current at the call.
func (c *rlController) Propose() ([]int, error) {
	if len(c.queue) == 0 {
		ds := make([][]int, c.net.rows())
		for r := range ds {
			ds[r] = make([]int, len(c.cards))
		}
		logp, err := c.net.sample(ds, func(_ int, logits []float64) int {
			c.probs = softmax(c.probs[:0], logits)
			u := c.rng.Float64()
			k := len(c.probs) - 1
			for j, p := range c.probs {
				if u < p {
					k = j
					break
				}
				u -= p
			}
			return k
		})
		if err != nil {
			return nil, fmt.Errorf("controller: rl sampling: %w", err)
		}
		for r, d := range ds {
			c.queue = append(c.queue, rlTrial{decisions: d, logp: logp[r]})
		}
	}
	tr := c.queue[0]
	c.queue = c.queue[1:]
	c.pending = append(c.pending, tr)
	return append([]int(nil), tr.decisions...), nil
}

// Observe matches the trial with the oldest pending proposal of the same
// decision list (a decision list that was not proposed, or whose proposals
// were all observed already, gets its old log-probability from the current
// policy), computes its advantage against the moving-average baseline
// (initialised with the first reward), updates the baseline and, once
// MinibatchSize trials are collected, runs PPOEpochs PPO steps on them.
func (c *rlController) Observe(decisions []int, reward float64) error {
	if err := checkObservation(c.cards, decisions, reward); err != nil {
		return err
	}
	tr := rlTrial{decisions: append([]int(nil), decisions...)}
	found := false
	for i, p := range c.pending {
		if equalInts(p.decisions, decisions) {
			tr.logp = p.logp
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			found = true
			break
		}
	}
	if !found {
		lp, err := c.net.sample([][]int{tr.decisions}, nil)
		if err != nil {
			return fmt.Errorf("controller: rl log-probability: %w", err)
		}
		tr.logp = lp[0]
	}
	if !c.baselineSet {
		c.baseline, c.baselineSet = reward, true
	}
	tr.adv = reward - c.baseline
	c.baseline = c.o.BaselineDecay*c.baseline + (1-c.o.BaselineDecay)*reward
	c.batch = append(c.batch, tr)
	c.observed++
	if len(c.batch) == c.o.MinibatchSize {
		if err := c.net.update(c.batch); err != nil {
			return fmt.Errorf("controller: rl PPO update: %w", err)
		}
		c.batch = c.batch[:0]
		c.queue = nil
		c.updates++
	}
	return nil
}

func (c *rlController) config() []float64 {
	o := c.o
	return []float64{
		float64(o.HiddenSize), float64(o.EmbeddingSize), o.LearningRate, float64(o.MinibatchSize),
		float64(o.PPOEpochs), o.ClipEpsilon, o.EntropyWeight, o.BaselineDecay, o.InitScale,
	}
}

func (c *rlController) State() ([]byte, error) {
	var e encoder
	writeHeader(&e, NameRL, c.cards, c.config())
	if err := writeRNG(&e, c.src); err != nil {
		return nil, err
	}
	e.int(c.observed)
	e.int(c.updates)
	e.boolean(c.baselineSet)
	e.f64(c.baseline)
	writeTrials := func(ts []rlTrial) {
		e.length(len(ts))
		for _, t := range ts {
			e.ints(t.decisions)
			e.f64(t.logp)
			e.f64(t.adv)
		}
	}
	writeTrials(c.queue)
	writeTrials(c.pending)
	writeTrials(c.batch)
	c.net.writeState(&e)
	return e.b, nil
}

func (c *rlController) Restore(state []byte) error {
	d := decoder{b: state}
	readHeader(&d, NameRL, c.cards, c.config())
	src := readRNG(&d)
	observed, updates := d.int(), d.int()
	baselineSet := d.boolean()
	baseline := d.f64()
	if d.err == nil && (observed < 0 || updates < 0 || !finite(baseline)) {
		d.fail("bad counters or baseline (%d, %d, %v)", observed, updates, baseline)
	}
	readTrials := func() []rlTrial {
		n := d.length(8*len(c.cards) + 17)
		ts := make([]rlTrial, 0, n)
		for range n {
			t := rlTrial{decisions: readDecisions(&d, c.cards), logp: d.f64(), adv: d.f64()}
			if d.err == nil && (!finite(t.logp) || !finite(t.adv) || t.logp > 0) {
				d.fail("bad trial log-probability or advantage (%v, %v)", t.logp, t.adv)
			}
			ts = append(ts, t)
		}
		return ts
	}
	queue := readTrials()
	pending := readTrials()
	batch := readTrials()
	if d.err == nil && len(queue) > c.net.rows() {
		d.fail("%d queued proposals, at most %d", len(queue), c.net.rows())
	}
	if d.err == nil && len(batch) >= c.o.MinibatchSize {
		d.fail("%d trials waiting for a minibatch of %d", len(batch), c.o.MinibatchSize)
	}
	ns := c.net.readState(&d)
	if err := d.done(); err != nil {
		return err
	}
	*c.src = *src
	c.observed, c.updates = observed, updates
	c.baseline, c.baselineSet = baseline, baselineSet
	c.queue, c.pending, c.batch = queue, pending, batch
	c.net.install(ns)
	return nil
}

// softmax writes the softmax of logits into dst (resized) and returns it.
func softmax(dst, logits []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range logits {
		m = max(m, v)
	}
	var s float64
	for _, v := range logits {
		e := math.Exp(v - m)
		dst = append(dst, e)
		s += e
	}
	for i := range dst {
		dst[i] /= s
	}
	return dst
}

// logSoftmaxAt returns log softmax(logits)[k].
func logSoftmaxAt(logits []float64, k int) float64 {
	m := math.Inf(-1)
	for _, v := range logits {
		m = max(m, v)
	}
	var s float64
	for _, v := range logits {
		s += math.Exp(v - m)
	}
	return logits[k] - m - math.Log(s)
}

func slicesMax(v []int) int {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
