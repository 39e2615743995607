package search

import (
	"context"
	"sync"
	"testing"

	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer"
)

// Two real evaluations of tiny networks run at once on one gate, as two
// workers of a search do. Everything they compute (loading, training,
// BatchNorm re-estimation, validation, graphs, the kept baseline) holds the
// gate shared in slices, each trial's timing against the baseline holds it
// exclusively, and no shared hold overlaps an exclusive one.
func TestGateIsolatesTiming(t *testing.T) {
	stages, err := searchspace.ParseBlockStrings([]string{"r1_k3_s1_e1_i8_o8_c1", "r1_k3_s2_e4_i8_o16_se0.25"})
	if err != nil {
		t.Fatal(err)
	}
	base := searchspace.Arch{Name: "tiny", InputChannels: 1, ImageSize: 16, NumClasses: 10,
		Stem: searchspace.Stem{Channels: 8, Kernel: 3, Stride: 1}, Stages: stages, HeadChannels: 16, SurvivalProb: 1}
	wide := base.Clone()
	wide.Name, wide.HeadChannels = "tiny-wide", 64
	b := trainer.Budget{Steps: 5, Batch: 32, EvalBatch: 32, RecalBatches: 2, TimingWarmup: 1, TimingSteps: 2}
	ev := &TrainEvaluator{Dataset: "synthetic", TrainSubset: 256, ValSize: 64, Budget: b, Baseline: base,
		Interleave: trainer.Interleave{Pairs: 2, Burst: 1}}

	type event struct{ exclusive, taken bool }
	var mu sync.Mutex
	var log []event
	gate := &Gate{trace: func(exclusive, taken bool) {
		mu.Lock()
		log = append(log, event{exclusive, taken})
		mu.Unlock()
	}}
	var wg sync.WaitGroup
	for i, a := range []searchspace.Arch{base, wide} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := ev.Evaluate(context.Background(), Task{TrialID: i + 1, Attempt: 1, Arch: a, Seed: uint64(i + 1)}, gate)
			if err != nil {
				t.Error(err)
				return
			}
			if iv := m.Interleaved; !(m.RelativeStepTime > 0) || iv == nil || iv.Against != "tiny" || len(iv.Ratios) != 2 || !(m.Accuracy > 0) {
				t.Errorf("trial %d: %+v, interleaved %+v", i+1, m, iv)
			}
		}()
	}
	wg.Wait()

	// Replay the log: an exclusive hold is never taken while a shared one
	// is held, nor a shared one during an exclusive one.
	shared, exclusive, holding, excl := 0, 0, 0, false
	for _, e := range log {
		switch {
		case e.exclusive && e.taken:
			if holding > 0 || excl {
				t.Fatalf("exclusive hold taken with %d shared holds", holding)
			}
			excl = true
			exclusive++
		case e.exclusive:
			excl = false
		case e.taken:
			if excl {
				t.Fatal("shared hold taken during an exclusive one")
			}
			holding++
			shared++
		default:
			holding--
		}
	}
	// Per trial at least: the data (once), the network, the input
	// statistics, the batcher and stepper, every step, the re-estimation's
	// graph and batches, the scoring's graph and batches, the timing's
	// graphs before and after; the baseline's graph once.
	valBatches := 2
	if min := 2*(3+b.Steps+1+b.RecalBatches+1+valBatches+2) + 1; exclusive != 2 || shared < min || holding != 0 || excl {
		t.Fatalf("%d exclusive holds (want 2), %d shared (want at least %d), %d still held", exclusive, shared, min, holding)
	}
}
