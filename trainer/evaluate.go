package trainer

import (
	"context"
	"fmt"
	"math"

	"github.com/effnas/effnas/trainer/data"
)

// Recalibrate re-estimates the network's BatchNorm statistics as the
// cumulative average of the batch statistics of up to batches un-augmented
// batches of samples idx of ds (batch size min(batch, len(idx)), shuffled
// by seed) at image size, with the current weights. TrainNet does this
// before scoring; EvaluateAtSize does it at another size.
func Recalibrate(ctx context.Context, net *Net, ds *data.Dataset, idx []int, batch, batches, size int, norm *data.Norm, seed uint64) error {
	if len(idx) == 0 || batch < 1 {
		return fmt.Errorf("trainer: recalibrate: %d samples, batch %d", len(idx), batch)
	}
	batch = min(batch, len(idx))
	inf, err := newInference(net, batch, size)
	if err != nil {
		return err
	}
	defer inf.vm.Close()
	batcher, err := data.NewBatcher(ds, data.BatchConfig{Size: size, Norm: norm, Precompute: true})
	if err != nil {
		return err
	}
	sampler, err := data.NewSampler(idx, batch, true)
	if err != nil {
		return err
	}
	sampler.Shuffle(data.NewRand(seed, 0xbeef))
	for _, bn := range net.BNs {
		bn.ResetStats()
	}
	net.SetBNMode(false, true)
	defer net.SetBNMode(false, false)
	for i := 0; i < batches; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		ix, ok := sampler.Next()
		if !ok {
			break
		}
		if _, err := batcher.Fill(inf.x, nil, ix, nil); err != nil {
			return err
		}
		if _, err := inf.run(); err != nil {
			return err
		}
	}
	return nil
}

// EvaluateNet returns the accuracy and mean cross-entropy of the network on
// samples idx of ds, with BatchNorm running statistics.
func EvaluateNet(ctx context.Context, net *Net, ds *data.Dataset, idx []int, batch, size int, norm *data.Norm) (acc, loss float64, err error) {
	if len(idx) == 0 {
		return 0, 0, fmt.Errorf("trainer: nothing to evaluate")
	}
	batch = min(batch, len(idx))
	inf, err := newInference(net, batch, size)
	if err != nil {
		return 0, 0, err
	}
	defer inf.vm.Close()
	batcher, err := data.NewBatcher(ds, data.BatchConfig{Size: size, Norm: norm, Precompute: true})
	if err != nil {
		return 0, 0, err
	}
	sampler, err := data.NewSampler(idx, batch, false)
	if err != nil {
		return 0, 0, err
	}
	net.SetBNMode(false, false)
	k := net.Arch.NumClasses
	correct, total, sum := 0, 0, 0.0
	for {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		ix, ok := sampler.Next()
		if !ok {
			break
		}
		n, err := batcher.Fill(inf.x, nil, ix, nil)
		if err != nil {
			return 0, 0, err
		}
		logits, err := inf.run()
		if err != nil {
			return 0, 0, err
		}
		for j := 0; j < n; j++ {
			row := logits[j*k : (j+1)*k]
			label := ds.Labels[ix[j]]
			best, mx := 0, row[0]
			for c, v := range row {
				if v > mx {
					best, mx = c, v
				}
			}
			if best == label {
				correct++
			}
			lse := 0.0
			for _, v := range row {
				lse += math.Exp(float64(v - mx))
			}
			sum += math.Log(lse) - float64(row[label]-mx)
			total++
		}
	}
	return float64(correct) / float64(total), sum / float64(total), nil
}

// EvaluateAtSize re-estimates the network's BatchNorm statistics at image
// size on b.RecalBatches training batches of p (none when negative; 0 means
// 20), then measures p.Val and p.Test at that size. Only Accuracy, Loss,
// TestAccuracy, TestLoss and ImageSize of the result are set. It evaluates a
// network trained at one size at another (the paper trains about 20%
// smaller than it evaluates); the statistics stay re-estimated afterwards.
func EvaluateAtSize(ctx context.Context, net *Net, p Problem, norm *data.Norm, size int, b Budget, seed uint64) (Result, error) {
	b = b.withDefaults(net.Arch)
	res := Result{ImageSize: size}
	if p.Data == nil {
		return res, fmt.Errorf("trainer: no data")
	}
	if norm == nil {
		n := p.Data.ChannelNorm(p.Train)
		norm = &n
	}
	if b.RecalBatches > 0 && len(p.Train) > 0 {
		if err := Recalibrate(ctx, net, p.Data, p.Train, b.EvalBatch, b.RecalBatches, size, norm, seed); err != nil {
			return res, err
		}
	}
	var err error
	if len(p.Val) > 0 {
		if res.Accuracy, res.Loss, err = EvaluateNet(ctx, net, p.Data, p.Val, b.EvalBatch, size, norm); err != nil {
			return res, err
		}
	}
	if p.Test != nil {
		if res.TestAccuracy, res.TestLoss, err = EvaluateNet(ctx, net, p.Test, p.Test.All(), b.EvalBatch, size, norm); err != nil {
			return res, err
		}
	}
	return res, nil
}
