package scaling

import (
	"fmt"
	"math"
)

// Grid-search defaults (EfficientNet V1 §3.3: phi = 1, a small grid search
// of alpha, beta, gamma under alpha*beta^2*gamma^2 ~ 2).
const (
	DefaultGridStep = 0.05
	DefaultGridMax  = 2.0
)

// GridOptions describes the candidate grid. Zero values mean the defaults.
type GridOptions struct {
	// Step of the grid, from 1 upwards (0: 0.05).
	Step float64
	// Max is the largest value of each base (0: 2).
	Max float64
	// Tolerance on |alpha*beta^2*gamma^2 - 2| (0: 0.1).
	Tolerance float64
}

func (g GridOptions) withDefaults() GridOptions {
	if g.Step == 0 {
		g.Step = DefaultGridStep
	}
	if g.Max == 0 {
		g.Max = DefaultGridMax
	}
	if g.Tolerance == 0 {
		g.Tolerance = DefaultTolerance
	}
	return g
}

// Validate checks the options; errors are *fielderr.Error
// wrapping ErrBadOption.
func (g GridOptions) Validate() error {
	g = g.withDefaults()
	return firstErr(
		checkFloat("step", g.Step, 0.001, 1, " (0 = 0.05)"),
		checkFloat("max", g.Max, 1, 4, " (0 = 2)"),
		checkFloat("tolerance", g.Tolerance, 0, 2, " (0 = 0.1)"),
	)
}

// Candidates enumerates the triples alpha, beta, gamma in {1, 1+step, ...,
// max} with |alpha*beta^2*gamma^2 - 2| <= tolerance, in order of alpha, then
// beta, then gamma. Grid values are 1 + k*step rounded to 1e-9, so 1.15 is
// the nearest float64 to 1.15.
func Candidates(g GridOptions) ([]Compound, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	g = g.withDefaults()
	var vals []float64
	for k := 0; ; k++ {
		v := math.Round((1+float64(k)*g.Step)*1e9) / 1e9
		if v > g.Max+1e-9 {
			break
		}
		vals = append(vals, v)
	}
	var out []Compound
	for _, a := range vals {
		for _, b := range vals {
			for _, c := range vals {
				cc := Compound{a, b, c}
				if math.Abs(cc.FLOPsFactor()-FLOPsTarget) <= g.Tolerance {
					out = append(out, cc)
				}
			}
		}
	}
	return out, nil
}

// EvalFunc scores one triple (typically: train the base scaled at phi = 1
// and return its validation accuracy); higher is better.
type EvalFunc func(alpha, beta, gamma float64) (score float64, err error)

// Trial is one evaluated triple.
type Trial struct {
	Compound
	Score float64
}

// GridResult is the outcome of GridSearch.
type GridResult struct {
	// Best is the highest-scoring trial (the first one on ties).
	Best Trial
	// Trials are all evaluated triples, in Candidates order.
	Trials []Trial
}

// GridSearch evaluates every candidate with eval and returns the best. It
// stops at the first evaluation error (or NaN score) and returns it, naming
// the triple, with the trials done so far.
func GridSearch(g GridOptions, eval EvalFunc) (GridResult, error) {
	var res GridResult
	if eval == nil {
		return res, badOption("eval", "nil", "want an evaluation function")
	}
	cands, err := Candidates(g)
	if err != nil {
		return res, err
	}
	if len(cands) == 0 {
		return res, fmt.Errorf("scaling: no grid candidates: %w", badOption("tolerance", g.withDefaults().Tolerance, "no triple on the grid is this close to 2; widen it"))
	}
	for _, c := range cands {
		s, err := eval(c.Alpha, c.Beta, c.Gamma)
		if err == nil && math.IsNaN(s) {
			err = fmt.Errorf("score is NaN")
		}
		if err != nil {
			return res, fmt.Errorf("scaling: evaluating alpha %g, beta %g, gamma %g: %w", c.Alpha, c.Beta, c.Gamma, err)
		}
		t := Trial{c, s}
		if len(res.Trials) == 0 || s > res.Best.Score {
			res.Best = t
		}
		res.Trials = append(res.Trials, t)
	}
	return res, nil
}
