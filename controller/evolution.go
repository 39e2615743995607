package controller

import "math/rand/v2"

// evolutionController is regularized (aging) evolution, Real et al. 2019,
// Algorithm 1, for a search loop with concurrent trials.
type evolutionController struct {
	cards    []int
	p, s     int
	src      *rand.PCG
	rng      *rand.Rand
	pop      []member // oldest first
	mutable  []int    // indices of decisions with at least two options
	observed int
}

type member struct {
	decisions []int
	reward    float64
}

func newEvolution(cards []int, seed uint64, opts Options) (Controller, error) {
	o := opts.withDefaults()
	src, rng := newRNG(seed)
	c := &evolutionController{cards: cards, p: o.PopulationSize, s: o.TournamentSize, src: src, rng: rng}
	for i, k := range cards {
		if k >= 2 {
			c.mutable = append(c.mutable, i)
		}
	}
	return c, nil
}

func (c *evolutionController) Name() string { return NameEvolution }

// Propose returns a uniformly random architecture while fewer than P trials
// have been observed; afterwards it samples S members of the population
// uniformly with replacement (as in the reference implementation of Real
// et al.), takes the one with the highest reward (the earliest sampled on
// ties) as the parent and returns it with exactly one decision changed to a
// different option.
func (c *evolutionController) Propose() ([]int, error) {
	if len(c.pop) < c.p {
		return uniformDecisions(c.rng, c.cards), nil
	}
	best := -1
	for range c.s {
		i := c.rng.IntN(len(c.pop))
		if best < 0 || c.pop[i].reward > c.pop[best].reward {
			best = i
		}
	}
	child := append([]int(nil), c.pop[best].decisions...)
	if len(c.mutable) == 0 {
		return child, nil // nothing to mutate: the space has one point
	}
	i := c.mutable[c.rng.IntN(len(c.mutable))]
	v := c.rng.IntN(c.cards[i] - 1)
	if v >= child[i] {
		v++
	}
	child[i] = v
	return child, nil
}

// Observe appends the trial to the population and removes the oldest member
// when the population exceeds P (aging). Observations of architectures the
// controller did not propose join the population the same way.
func (c *evolutionController) Observe(decisions []int, reward float64) error {
	if err := checkObservation(c.cards, decisions, reward); err != nil {
		return err
	}
	c.pop = append(c.pop, member{append([]int(nil), decisions...), reward})
	if len(c.pop) > c.p {
		// Shift instead of reslicing so the backing array does not grow.
		copy(c.pop, c.pop[1:])
		c.pop = c.pop[:c.p]
	}
	c.observed++
	return nil
}

func (c *evolutionController) config() []float64 { return []float64{float64(c.p), float64(c.s)} }

func (c *evolutionController) State() ([]byte, error) {
	var e encoder
	writeHeader(&e, NameEvolution, c.cards, c.config())
	if err := writeRNG(&e, c.src); err != nil {
		return nil, err
	}
	e.int(c.observed)
	e.length(len(c.pop))
	for _, m := range c.pop {
		e.ints(m.decisions)
		e.f64(m.reward)
	}
	return e.b, nil
}

func (c *evolutionController) Restore(state []byte) error {
	d := decoder{b: state}
	readHeader(&d, NameEvolution, c.cards, c.config())
	src := readRNG(&d)
	observed := d.int()
	n := d.length(9)
	if d.err == nil && (n > c.p || observed < n) {
		d.fail("population of %d members (P=%d, %d observed)", n, c.p, observed)
	}
	pop := make([]member, 0, c.p)
	for range n {
		m := member{decisions: readDecisions(&d, c.cards), reward: d.f64()}
		if d.err == nil && !finite(m.reward) {
			d.fail("non-finite reward %v", m.reward)
		}
		pop = append(pop, m)
	}
	if err := d.done(); err != nil {
		return err
	}
	*c.src = *src
	c.observed = observed
	c.pop = pop
	return nil
}
