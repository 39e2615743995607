package trainer_test

import (
	"context"
	"fmt"

	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/data"
)

// Train a small network on synthetic 12x12 images, then score it at 16x16
// after re-estimating the BatchNorm statistics there.
func ExampleTrain() {
	stages, _ := searchspace.ParseBlockStrings([]string{"r1_k3_s1_e1_i8_o8_c1", "r1_k3_s2_e4_i8_o16_se0.25"})
	arch := searchspace.Arch{Name: "tiny", InputChannels: 1, ImageSize: 12, NumClasses: 4,
		Stem: searchspace.Stem{Channels: 8, Kernel: 3, Stride: 1}, Stages: stages, HeadChannels: 16, SurvivalProb: 1}
	ds, _ := data.Synthetic(data.SyntheticConfig{Size: 12, Channels: 1, Classes: 4, Count: 256, Seed: 3}, "train")
	train, val, _ := ds.ValidationSplit(64, 1)
	p := trainer.Problem{Arch: arch, Data: ds, Train: train, Val: val}

	res, net, err := trainer.Train(context.Background(), p, trainer.Settings{Seed: 1}, trainer.Budget{Epochs: 2, Batch: 32})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d steps at %dx%d, step time measured over %d steps\n", res.Steps, res.ImageSize, res.ImageSize, res.StepTime.Count)

	at16, err := net.Evaluate(context.Background(), p, trainer.Eval{ImageSize: 16, Norm: &res.Norm, RecalBatches: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("scored at %dx%d\n", at16.ImageSize, at16.ImageSize)
	// Output:
	// 12 steps at 12x12, step time measured over 20 steps
	// scored at 16x16
}
