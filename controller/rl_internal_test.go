package controller

import (
	"math"
	"testing"
)

func smallRL(t *testing.T, cards []int, o Options) *rlController {
	t.Helper()
	c, err := New(NameRL, cards, 7, o)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*rlController)
}

// The training graph and the sampling graphs compute the same log-probabilities:
// with old log-probs from sampling, ratio = 1 and loss = -mean(adv).
func TestRLTrainGraphMatchesSampling(t *testing.T) {
	for _, bs := range []int{1, 4} {
		for _, cards := range [][]int{{2, 3, 1, 4, 2}, {1, 3, 2, 1}} {
			checkTrainMatchesSampling(t, cards, bs)
		}
	}
}

func checkTrainMatchesSampling(t *testing.T, cards []int, bs int) {
	c := smallRL(t, cards, Options{HiddenSize: 6, EmbeddingSize: 5, MinibatchSize: bs, NoEntropyBonus: true, InitScale: 0.5})
	var batch []rlTrial
	for i := range bs {
		d, err := c.Propose()
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, rlTrial{decisions: d, logp: c.pending[i].logp, adv: 1})
	}
	if err := c.net.loadBatch(batch); err != nil {
		t.Fatal(err)
	}
	loss, err := c.net.runTrain()
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(loss+1) > 1e-12 {
		t.Fatalf("cards %v, batch %d: loss = %.15g, want -1", cards, bs, loss)
	}
}

// Gradients of the PPO loss agree with central finite differences.
func TestRLGradientCheck(t *testing.T) {
	cards := []int{2, 3, 1, 2}
	c := smallRL(t, cards, Options{HiddenSize: 5, EmbeddingSize: 4, MinibatchSize: 4, EntropyWeight: 0.3, InitScale: 0.8})
	p := c.net
	var batch []rlTrial
	offsets := []float64{-0.3, 0.3, 0.05, -0.4}
	advs := []float64{0.7, -0.5, -1.2, -0.8}
	for i := range 4 {
		d, err := c.Propose()
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, rlTrial{decisions: d, logp: c.pending[i].logp + offsets[i], adv: advs[i]})
	}
	if err := p.loadBatch(batch); err != nil {
		t.Fatal(err)
	}
	if _, err := p.runTrain(); err != nil {
		t.Fatal(err)
	}
	grads := make([][]float64, len(p.params))
	for i := range p.params {
		g, err := p.train.nodes[i].Grad()
		if err != nil {
			t.Fatal(err)
		}
		grads[i] = append([]float64(nil), g.Data().([]float64)...)
		clear(g.Data().([]float64))
	}
	loss := func() float64 {
		l, err := p.runTrain()
		if err != nil {
			t.Fatal(err)
		}
		for i := range p.params {
			g, _ := p.train.nodes[i].Grad()
			clear(g.Data().([]float64))
		}
		return l
	}
	const h = 1e-6
	worst := 0.0
	nonzero := 0
	for i, pr := range p.params {
		for j := range pr.data {
			old := pr.data[j]
			pr.data[j] = old + h
			lp := loss()
			pr.data[j] = old - h
			lm := loss()
			pr.data[j] = old
			num := (lp - lm) / (2 * h)
			err := math.Abs(num-grads[i][j]) / math.Max(1e-4, math.Abs(num)+math.Abs(grads[i][j]))
			if math.Abs(num) > 1e-6 {
				nonzero++
			}
			if err > worst {
				worst = err
			}
			if err > 1e-5 {
				t.Errorf("%s[%d]: analytic %.9g, numeric %.9g", pr.name, j, grads[i][j], num)
			}
		}
	}
	if nonzero < 50 {
		t.Errorf("only %d non-zero gradient entries", nonzero)
	}
	t.Logf("worst relative error %.3g, %d non-zero entries", worst, nonzero)
}
