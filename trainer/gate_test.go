package trainer

import (
	"context"
	"sync"
	"testing"
)

// recGate is a gate (an RWMutex) that logs every hold on one logical
// clock: the tick after it is taken and the tick before it is released,
// with who held it and in which phase of its training.
type recGate struct {
	rw   sync.RWMutex
	mu   sync.Mutex
	tick int
	log  []hold
}

type hold struct {
	who, phase string
	exclusive  bool
	from, to   int // ticks; to is 0 while held
}

func (g *recGate) now() int { g.tick++; return g.tick }

// holder is one training's view of the gate: it tags the holds with the
// training and with the phase its progress callback last reported.
type holder struct {
	g     *recGate
	who   string
	phase string
	open  int // index of the hold being held
}

func (h *holder) take(exclusive bool) {
	h.g.mu.Lock()
	defer h.g.mu.Unlock()
	h.open = len(h.g.log)
	h.g.log = append(h.g.log, hold{who: h.who, phase: h.phase, exclusive: exclusive, from: h.g.now()})
}

func (h *holder) release() {
	h.g.mu.Lock()
	defer h.g.mu.Unlock()
	h.g.log[h.open].to = h.g.now()
}

func (h *holder) Lock()    { h.g.rw.Lock(); h.take(true) }
func (h *holder) Unlock()  { h.release(); h.g.rw.Unlock() }
func (h *holder) RLock()   { h.g.rw.RLock(); h.take(false) }
func (h *holder) RUnlock() { h.release(); h.g.rw.RUnlock() }

// Two trainings of tiny networks run at once on one gate, both timed (the
// second against a baseline): everything either computes holds the gate,
// shared in slices in every phase (setting up, training, re-estimating the
// BatchNorm statistics, scoring), exclusively while timing, and no shared
// hold of one overlaps an exclusive hold of the other.
func TestGateCoversEveryComputation(t *testing.T) {
	p := tinyProblem(t)
	g := &recGate{}
	base := NewBaseline(tinyBackbone(), Interleave{Pairs: 2, Burst: 1})
	b := Budget{Steps: 6, Batch: 32, EvalBatch: 64, RecalBatches: 3, TimingWarmup: 1, TimingSteps: 2}
	var wg sync.WaitGroup
	errs, res := make([]error, 2), make([]Result, 2)
	for i, who := range []string{"A", "B"} {
		h := &holder{g: g, who: who, phase: "setup"}
		s := Settings{Seed: uint64(i + 1), Gate: h, Progress: func(pr Progress) { h.phase = pr.Phase }}
		if who == "B" {
			s.Baseline = base
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], _, errs[i] = Train(context.Background(), p, s, b)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if res[0].Interleaved != nil || res[1].Interleaved == nil || !(res[1].RelativeStepTime > 0) || res[1].StepTime.Count != 2 {
		t.Fatalf("A alone %+v, B against the baseline %+v %+v", res[0].Metrics, res[1].Metrics, res[1].Interleaved)
	}
	valBatches := (len(p.Val) + b.EvalBatch - 1) / b.EvalBatch
	for _, who := range []string{"A", "B"} {
		shared, exclusive := map[string]int{}, map[string]int{}
		for _, x := range g.log {
			if x.who != who {
				continue
			}
			if x.to == 0 {
				t.Fatalf("%s: a hold never released: %+v", who, x)
			}
			if x.exclusive {
				exclusive[x.phase]++
			} else {
				shared[x.phase]++
			}
		}
		// setup: the network, the input statistics, the batcher and
		// stepper, the first step (reported after it); then one slice per
		// step; the re-estimation's and the scoring's graphs and batches;
		// the timing's graphs (and the baseline's) before and after it.
		if shared["setup"] < 4 || shared[PhaseTrain] != b.Steps-1 || shared[PhaseRecalibrate] != 1+b.RecalBatches ||
			shared[PhaseEvaluate] != 1+valBatches || shared[PhaseTime] < 2 || len(exclusive) != 1 || exclusive[PhaseTime] != 1 {
			t.Errorf("%s: shared holds by phase %v, exclusive %v", who, shared, exclusive)
		}
	}
	for _, x := range g.log {
		for _, y := range g.log {
			if x.exclusive && !y.exclusive && x.who != y.who && y.from < x.to && x.from < y.to {
				t.Errorf("%s's shared hold %+v overlaps %s's exclusive hold %+v", y.who, y, x.who, x)
			}
		}
	}
}
