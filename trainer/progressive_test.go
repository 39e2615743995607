package trainer

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/effnas/effnas/trainer/data"
	"gorgonia.org/tensor"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestProgressivePlanPaper(t *testing.T) {
	pg, err := ProgressiveProfile("s")
	if err != nil {
		t.Fatal(err)
	}
	// ImageNet sizes: Table 6's S column exactly at the ends.
	pg.MinImageSize, pg.MaxImageSize = 128, 300
	plan, err := pg.Plan(350, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantSize := []int{128, 184, 244, 300} // 185.33 and 242.67 to multiples of 4
	wantSteps := []int{87, 88, 87, 88}    // floor((i+1)*350/4) - floor(i*350/4)
	for i, st := range plan {
		f := float64(i) / 3
		if st.Stage != i+1 || st.Stages != 4 || st.ImageSize != wantSize[i] || st.Steps != wantSteps[i] ||
			!near(st.Dropout, 0.1+0.2*f) || !near(st.RandAugM, 5+10*f) || st.Mixup != 0 || st.RandAugN != 2 {
			t.Errorf("stage %d: %+v", i+1, st)
		}
	}
	if plan[1].FirstStep != 87 || plan[3].FirstStep != 262 {
		t.Errorf("first steps %d %d", plan[1].FirstStep, plan[3].FirstStep)
	}
	// M = 1: the last stage's values.
	pg.Stages = 1
	plan, _ = pg.Plan(10, 0)
	if len(plan) != 1 || plan[0].ImageSize != 300 || plan[0].Dropout != 0.3 || plan[0].RandAugM != 15 || plan[0].Steps != 10 {
		t.Errorf("M=1: %+v", plan)
	}
	// M = 2: the two ends.
	pg.Stages = 2
	plan, _ = pg.Plan(11, 0)
	if plan[0].ImageSize != 128 || plan[1].ImageSize != 300 || plan[0].Steps != 5 || plan[1].Steps != 6 ||
		plan[0].Dropout != 0.1 || plan[1].Dropout != 0.3 {
		t.Errorf("M=2: %+v", plan)
	}
	// Fashion-MNIST: sizes derived from the 28-pixel training size.
	l, _ := ProgressiveProfile("l")
	plan, _ = l.Plan(100, 28)
	if got := [4]int{plan[0].ImageSize, plan[1].ImageSize, plan[2].ImageSize, plan[3].ImageSize}; got != [4]int{16, 20, 24, 28} {
		t.Errorf("derived sizes %v", got)
	}
	if !near(plan[1].Mixup, 0.4/3) || plan[3].Mixup != 0.4 || plan[3].RandAugM != 25 || plan[3].Dropout != 0.5 {
		t.Errorf("L profile: %+v", plan[3])
	}
	if DerivedMinImageSize(300, 300) != 128 || DerivedMinImageSize(192, 300) != 80 || DerivedMinImageSize(12, 300) != 12 {
		t.Error("DerivedMinImageSize")
	}
}

func TestProgressivePlanOfficial(t *testing.T) {
	// main_tf2.py: B0 trains 128 -> 192 as 144, 160, 176, 192; S 171, 214, 257, 300.
	pg := Progressive{Rule: RuleOfficial, MinImageSize: 128, MaxImageSize: 192, MinRandAug: 5, MaxRandAug: 15, MaxMixup: 0.3, MinDropout: 0.1, MaxDropout: 0.2}
	plan, err := pg.Plan(40, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{144, 160, 176, 192} {
		st := plan[i]
		f := float64(i) / 3
		if st.ImageSize != want || !near(st.RandAugM, 5+10*f) || !near(st.Mixup, 0.3*f) || st.Dropout != 0.2 || st.Steps != 10 {
			t.Errorf("stage %d: %+v", i+1, st)
		}
	}
	pg.MaxImageSize = 300
	plan, _ = pg.Plan(40, 0)
	for i, want := range []int{171, 214, 257, 300} {
		if plan[i].ImageSize != want {
			t.Errorf("S stage %d: %d, want %d", i+1, plan[i].ImageSize, want)
		}
	}
	pg.Stages = 1
	plan, _ = pg.Plan(40, 0)
	if plan[0].ImageSize != 300 || plan[0].RandAugM != 5 {
		t.Errorf("official M=1: %+v", plan[0])
	}
}

func TestProgressiveValidation(t *testing.T) {
	for _, c := range []struct {
		pg   Progressive
		want string
	}{
		{Progressive{Stages: -1}, "stages = -1: want an integer in [1, 64]"},
		{Progressive{Stages: 65}, "stages = 65"},
		{Progressive{Rule: "fast"}, `rule = "fast": want paper or official`},
		{Progressive{MinImageSize: 40, MaxImageSize: 32}, "min_image_size = 40: want at most max_image_size 32"},
		{Progressive{MaxDropout: 1}, "max_dropout = 1: want a rate in [0, 1)"},
		{Progressive{MinDropout: 0.3, MaxDropout: 0.2}, "min_dropout = 0.3: want at most max_dropout 0.2"},
		{Progressive{MaxRandAug: 31}, "max_randaug = 31: want a magnitude in [0, 30]"},
		{Progressive{MinMixup: math.NaN()}, "min_mixup = NaN"},
	} {
		err := c.pg.Validate()
		if !errors.Is(err, ErrBadProgressive) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.pg, err, c.want)
		}
	}
	if _, err := (Progressive{Stages: 5}).Plan(4, 12); err == nil || !strings.Contains(err.Error(), "stages = 5: want at most the 4 training steps") {
		t.Errorf("too few steps: %v", err)
	}
	if _, err := ProgressiveProfile("xl"); err == nil || !strings.Contains(err.Error(), "want s, m or l") {
		t.Errorf("profile: %v", err)
	}
}

// tinyProblem16 is tinyProblem at 16 pixels, so that stages can differ in size.
func tinyProblem16(t *testing.T) Problem {
	t.Helper()
	ds, err := data.Synthetic(data.SyntheticConfig{Size: 16, Channels: 1, Classes: 4, Count: 768, TestCount: 128, Seed: 3}, "train")
	if err != nil {
		t.Fatal(err)
	}
	test, err := data.Synthetic(data.SyntheticConfig{Size: 16, Channels: 1, Classes: 4, Count: 768, TestCount: 128, Seed: 3}, "test")
	if err != nil {
		t.Fatal(err)
	}
	train, val, err := ds.ValidationSplit(128, 5)
	if err != nil {
		t.Fatal(err)
	}
	a := tinyBackbone()
	a.ImageSize = 16
	return Problem{Arch: a, Data: ds, Train: train, Val: val, Test: test}
}

// trainStages trains p progressively with pg and returns the stages' plans
// (as they started) and results (as they ended), seen through s.Progress.
func trainStages(p Problem, s Settings, b Budget, pg Progressive) (Result, []StagePlan, []StageResult, *Net, error) {
	var plans []StagePlan
	var done []StageResult
	inner := s.Progress
	s.Progress = func(pr Progress) {
		switch pr.Phase {
		case PhaseStage:
			plans = append(plans, pr.Stage.StagePlan)
		case PhaseStageDone:
			done = append(done, *pr.Stage)
		}
		if inner != nil {
			inner(pr)
		}
	}
	s.Progressive = &pg
	r, net, err := Train(context.Background(), p, s, b)
	return r, plans, done, net, err
}

func TestProgressiveTrainsAndCarriesWeights(t *testing.T) {
	p := tinyProblem16(t)
	pg := Progressive{Stages: 3, MinImageSize: 10, MaxImageSize: 16, SizeMultiple: 1, MinDropout: 0, MaxDropout: 0.1,
		MinRandAug: 0, MaxRandAug: 2, MinMixup: 0, MaxMixup: 0.2}
	var steps []int
	var losses []float64
	s := Settings{Seed: 7, LR: 3e-3, Progress: func(pr Progress) {
		if pr.Phase == "train" {
			steps = append(steps, pr.Step)
			losses = append(losses, pr.Loss)
			if pr.Steps != 60 {
				t.Errorf("progress steps %d, want the run's 60", pr.Steps)
			}
		}
	}}
	final, stages, done, net, err := trainStages(p, s, Budget{Epochs: 3, Batch: 32, TimingSteps: 2, TimingWarmup: 1, RecalBatches: 5}, pg)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 3 || stages[0].ImageSize != 10 || stages[1].ImageSize != 13 || stages[2].ImageSize != 16 {
		t.Fatalf("stages %+v", stages)
	}
	if len(steps) != 60 || steps[0] != 1 || steps[59] != 60 || steps[20] != 21 {
		t.Fatalf("steps reported %v", steps)
	}
	if final.Steps != 60 || final.ImageSize != 16 || len(done) != 3 || final.StepTime.Count != 2 {
		t.Fatalf("result %+v, %d stages", final, len(done))
	}
	if net.Arch.Dropout != p.Arch.Dropout {
		t.Errorf("dropout not restored: %v", net.Arch.Dropout)
	}
	init := done[0].FirstLoss
	for i := 1; i < 3; i++ {
		// Weights carried over: far below the initial loss even though the
		// size and the regularisation changed.
		t.Logf("stage %d: first loss %.3f; stage %d ended at %.3f; initial loss %.3f", i+1, done[i].FirstLoss, i, done[i-1].TrainLoss, init)
		if !(done[i].FirstLoss < 0.75*init) {
			t.Errorf("stage %d starts at loss %.3f, initial %.3f", i+1, done[i].FirstLoss, init)
		}
	}
	if final.Accuracy < 0.5 || final.TestAccuracy < 0.5 {
		t.Fatalf("validation accuracy %.3f, test %.3f (chance 0.25)", final.Accuracy, final.TestAccuracy)
	}
	t.Logf("val %.3f test %.3f", final.Accuracy, final.TestAccuracy)

	// Evaluating at another size re-estimates BatchNorm there.
	e, err := net.Evaluate(context.Background(), p, Eval{ImageSize: 20, Norm: &final.Norm, RecalBatches: 3, Seed: 1})
	if err != nil || e.ImageSize != 20 || !(e.TestAccuracy > 0.25) {
		t.Fatalf("at 20: %+v %v", e, err)
	}
}

func TestProgressiveStagesContinue(t *testing.T) {
	// Same size and no regularisation in every stage: each stage starts
	// where the previous one ended.
	p := tinyProblem16(t)
	p.Test = nil
	pg := Progressive{Stages: 3, MinImageSize: 16, MaxImageSize: 16}
	_, _, done, _, err := trainStages(p, Settings{Seed: 5, LR: 3e-3}, Budget{Epochs: 3, Batch: 32, TimingSteps: -1, RecalBatches: 2}, pg)
	if err != nil {
		t.Fatal(err)
	}
	init := done[0].FirstLoss
	for i := 1; i < 3; i++ {
		prev, first := done[i-1].TrainLoss, done[i].FirstLoss
		t.Logf("stage %d: first loss %.3f; stage %d ended at %.3f; initial loss %.3f", i+1, first, i, prev, init)
		if !(math.Abs(first-prev) < 0.25*(init-prev)) {
			t.Errorf("stage %d starts at loss %.3f: previous stage ended at %.3f, initial %.3f", i+1, first, prev, init)
		}
	}
}

func TestProgressiveOneStageIsFixedTraining(t *testing.T) {
	p := tinyProblem16(t)
	p.Test = nil
	b := Budget{Steps: 12, Batch: 32, TimingSteps: -1, RecalBatches: 2}
	pg := Progressive{Stages: 1, MaxDropout: 0.2, MaxRandAug: 3, MaxMixup: 0.2}
	r1, _, done, _, err := trainStages(p, Settings{Seed: 4}, b, pg)
	if err != nil {
		t.Fatal(err)
	}
	d := 0.2
	s := Settings{Seed: 4, Dropout: &d, Augment: data.Augment{RandAugN: 2, RandAugM: 3, MixupAlpha: 0.2}}
	r2, _, err := Train(context.Background(), p, s, b)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Accuracy != r2.Accuracy || r1.Loss != r2.Loss || done[0].TrainLoss != r2.TrainLoss || r1.TrainLoss != r2.TrainLoss {
		t.Fatalf("one stage %v/%v/%v, fixed %v/%v/%v", r1.Accuracy, r1.Loss, done[0].TrainLoss, r2.Accuracy, r2.Loss, r2.TrainLoss)
	}
}

func TestProgressiveEqualsFixedRun(t *testing.T) {
	// Constant size, no regularisation: with the optimizer state, the
	// schedule (warm-up, cosine), the data order and the mask generator
	// carried over, two stages are exactly one run of the same steps. 30
	// steps of 20 per epoch: the second stage crosses an epoch boundary.
	p := tinyProblem16(t)
	p.Test = nil
	for _, opt := range []string{RMSProp, Adam} {
		var prog, fixed []float64
		s := Settings{Seed: 9, LR: 3e-3, Optimizer: opt, Schedule: "cosine", WarmupEpochs: 0.5}
		b := Budget{Steps: 30, Batch: 32, TimingSteps: -1, RecalBatches: 2}
		s.Progress = func(pr Progress) {
			if pr.Phase == "train" {
				prog = append(prog, pr.StepLoss)
			}
		}
		pg := Progressive{Stages: 2, MinImageSize: 16, MaxImageSize: 16}
		r1, _, _, _, err := trainStages(p, s, b, pg)
		if err != nil {
			t.Fatal(err)
		}
		zero := 0.0
		s.Dropout = &zero
		s.Progress = func(pr Progress) {
			if pr.Phase == "train" {
				fixed = append(fixed, pr.StepLoss)
			}
		}
		r2, _, err := Train(context.Background(), p, s, b)
		if err != nil {
			t.Fatal(err)
		}
		if len(prog) != 30 || len(fixed) != 30 {
			t.Fatalf("%s: %d and %d steps", opt, len(prog), len(fixed))
		}
		for i := range prog {
			if prog[i] != fixed[i] {
				t.Fatalf("%s: step %d: progressive loss %v, fixed %v", opt, i+1, prog[i], fixed[i])
			}
		}
		if r1.Accuracy != r2.Accuracy || r1.Loss != r2.Loss {
			t.Fatalf("%s: progressive %v/%v, fixed %v/%v", opt, r1.Accuracy, r1.Loss, r2.Accuracy, r2.Loss)
		}
	}
}

func TestTrainStateCarriesOver(t *testing.T) {
	// Two Net.Train calls with one TrainState and step offsets equal one call.
	p := tinyProblem16(t)
	p.Test, p.Val = nil, nil
	s := Settings{Seed: 2, LR: 2e-3, Schedule: "exponential"}
	b := Budget{Steps: 8, Batch: 32, TimingSteps: -1, RecalBatches: -1}
	n1, _ := NewNet(p.Arch, tensor.Float32, 1)
	r1, err := n1.Train(context.Background(), p, s, b)
	if err != nil {
		t.Fatal(err)
	}
	n2, _ := NewNet(p.Arch, tensor.Float32, 1)
	s.State = &TrainState{}
	for _, off := range []int{0, 5} {
		bb := b
		bb.Steps, bb.StepOffset, bb.TotalSteps = 5, off, 8
		if off > 0 {
			bb.Steps = 3
		}
		if _, err := n2.Train(context.Background(), p, s, bb); err != nil {
			t.Fatal(err)
		}
	}
	if s.State.Steps() != 8 || r1.Steps != 8 {
		t.Fatalf("steps %d", s.State.Steps())
	}
	for i := range n1.Params {
		a, c := n1.Params[i].Value.Data().([]float32), n2.Params[i].Value.Data().([]float32)
		for j := range a {
			if a[j] != c[j] {
				t.Fatalf("%s[%d]: %v vs %v", n1.Params[i].Name, j, a[j], c[j])
			}
		}
	}
	// A state is bound to its network's shapes and optimizer.
	s.Optimizer = Adam
	if _, err := n2.Train(context.Background(), p, s, b); err == nil || !strings.Contains(err.Error(), "optimizer") {
		t.Fatalf("optimizer mismatch: %v", err)
	}
}
