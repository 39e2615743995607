package cudaops

// The parity cases of the optimizer updates, against plain-loop references
// of the CPU solvers' formulas.

import (
	"fmt"
	"math"
)

// rmspropRef is the update of trainer/solver.go (TF form: epsilon inside
// the square root) or, with Torch, PyTorch's (outside), in float32.
func rmspropRef(p RMSProp, w, g, ms, mom []float32) {
	for j, gj := range g {
		if p.WeightDecay != 0 {
			gj += p.WeightDecay * w[j]
		}
		ms[j] = p.Decay*ms[j] + (1-p.Decay)*gj*gj
		var d float32
		if p.Torch {
			d = float32(math.Sqrt(float64(ms[j]))) + p.Eps
		} else {
			d = float32(math.Sqrt(float64(ms[j] + p.Eps)))
		}
		mom[j] = p.Momentum*mom[j] + p.LR*gj/d
		w[j] -= mom[j]
	}
}

func checkRMSProp(ch *checker) error {
	for _, torch := range []bool{false, true} {
		n := 1000
		p := RMSProp{LR: 0.016, Decay: 0.9, Momentum: 0.9, Eps: 1e-3, WeightDecay: 1e-5, Torch: torch}
		w := ch.rand(n, -1, 1)
		ms, mom := make([]float32, n), make([]float32, n)
		wb, msb, momb := ch.up(w), ch.up(ms), ch.up(mom)
		for step := 0; step < 3; step++ {
			g := ch.rand(n, -0.1, 0.1)
			rmspropRef(p, w, g, ms, mom)
			must(ch.k.RMSPropStep(ch.c, wb, ch.up(g), msb, momb, n, p))
		}
		op := "RMSProp TF form (eps inside sqrt)"
		if torch {
			op = "RMSProp PyTorch form (eps outside)"
		}
		op += fmt.Sprintf(" n=%d, 3 steps", n)
		ch.add(op, "w", ch.down(wb, n), w, TolElementwise)
		ch.add(op, "ms", ch.down(msb, n), ms, TolElementwise)
		ch.add(op, "mom", ch.down(momb, n), mom, TolElementwise)
	}
	return nil
}

// adamRef and sgdRef are the updates of trainer/solver.go, in float32 as
// the CPU trainer computes them.
func adamRef(p Adam, w, g, m1, m2 []float32) {
	for j, gj := range g {
		if p.WeightDecay != 0 {
			gj += p.WeightDecay * w[j]
		}
		m1[j] = p.Beta1*m1[j] + (1-p.Beta1)*gj
		m2[j] = p.Beta2*m2[j] + (1-p.Beta2)*gj*gj
		w[j] -= p.Step * m1[j] / (float32(math.Sqrt(float64(m2[j]))) + p.Eps)
	}
}

func sgdRef(p SGD, w, g, mom []float32) {
	for j, gj := range g {
		if p.WeightDecay != 0 {
			gj += p.WeightDecay * w[j]
		}
		mom[j] = p.Momentum*mom[j] + gj
		w[j] -= p.LR * mom[j]
	}
}

func checkAdam(ch *checker) error {
	n := 1000
	w := ch.rand(n, -1, 1)
	m1, m2 := make([]float32, n), make([]float32, n)
	wb, m1b, m2b := ch.up(w), ch.up(m1), ch.up(m2)
	for t := 1; t <= 3; t++ {
		lr := 1e-3
		p := Adam{Step: float32(lr * math.Sqrt(1-math.Pow(0.999, float64(t))) / (1 - math.Pow(0.9, float64(t)))),
			Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-5}
		g := ch.rand(n, -0.1, 0.1)
		adamRef(p, w, g, m1, m2)
		must(ch.k.AdamStep(ch.c, wb, ch.up(g), m1b, m2b, n, p))
	}
	op := fmt.Sprintf("Adam n=%d, 3 steps", n)
	ch.add(op, "w", ch.down(wb, n), w, TolElementwise)
	ch.add(op, "m1", ch.down(m1b, n), m1, TolElementwise)
	ch.add(op, "m2", ch.down(m2b, n), m2, TolElementwise)
	return nil
}

func checkSGD(ch *checker) error {
	n := 1000
	p := SGD{LR: 0.05, Momentum: 0.9, WeightDecay: 1e-5}
	w := ch.rand(n, -1, 1)
	mom := make([]float32, n)
	wb, momb := ch.up(w), ch.up(mom)
	for step := 0; step < 3; step++ {
		g := ch.rand(n, -0.1, 0.1)
		sgdRef(p, w, g, mom)
		must(ch.k.SGDStep(ch.c, wb, ch.up(g), momb, n, p))
	}
	op := fmt.Sprintf("SGD momentum n=%d, 3 steps", n)
	ch.add(op, "w", ch.down(wb, n), w, TolElementwise)
	ch.add(op, "mom", ch.down(momb, n), mom, TolElementwise)
	return nil
}
