package controller

import "math/rand/v2"

// randomController samples every decision uniformly and independently.
type randomController struct {
	cards    []int
	src      *rand.PCG
	rng      *rand.Rand
	observed int // number of observations, kept for bookkeeping only
}

func newRandom(cards []int, seed uint64, _ Options) (Controller, error) {
	src, rng := newRNG(seed)
	return &randomController{cards: cards, src: src, rng: rng}, nil
}

func (c *randomController) Name() string { return NameRandom }

func (c *randomController) Propose() ([]int, error) {
	return uniformDecisions(c.rng, c.cards), nil
}

func (c *randomController) Observe(decisions []int, reward float64) error {
	if err := checkObservation(c.cards, decisions, reward); err != nil {
		return err
	}
	c.observed++
	return nil
}

func (c *randomController) State() ([]byte, error) {
	var e encoder
	writeHeader(&e, NameRandom, c.cards, nil)
	if err := writeRNG(&e, c.src); err != nil {
		return nil, err
	}
	e.int(c.observed)
	return e.b, nil
}

func (c *randomController) Restore(state []byte) error {
	d := decoder{b: state}
	readHeader(&d, NameRandom, c.cards, nil)
	src := readRNG(&d)
	observed := d.int()
	if d.err == nil && observed < 0 {
		d.fail("negative observation count %d", observed)
	}
	if err := d.done(); err != nil {
		return err
	}
	*c.src = *src
	c.observed = observed
	return nil
}
