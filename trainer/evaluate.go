package trainer

import (
	"context"
	"fmt"
	"math"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/trainer/data"
)

// Eval says how to score a network (Net.Evaluate). The zero value scores at
// the architecture's evaluation size with the running BatchNorm statistics.
type Eval struct {
	// ImageSize is where to score (0: the architecture's ImageSize).
	ImageSize int
	// Batch is the evaluation batch size (256).
	Batch int
	// Norm is the input normalisation the network was trained with; nil
	// takes the per-channel statistics of Problem.Train, or none without it.
	Norm *data.Norm
	// RecalBatches > 0 first re-estimates the BatchNorm statistics at
	// ImageSize on that many un-augmented batches of Problem.Train, shuffled
	// by Seed; they stay re-estimated afterwards. This scores a network
	// trained at one size at another (the paper trains about 20% smaller
	// than it evaluates).
	RecalBatches int
	Seed         uint64
	// Gate, when set, is held shared around every batch (see Gate).
	Gate Gate
	// Device, when set, is the GPU that recalibrates and scores (see
	// Device); nil runs on the CPU.
	Device *Device
}

// Evaluate measures the accuracy and mean cross-entropy of the network on
// samples Problem.Val of Problem.Data (Result.Accuracy, Loss) and on the
// whole of Problem.Test (TestAccuracy, TestLoss), at e.ImageSize. Only
// those fields and ImageSize of the result are set.
func (n *Net) Evaluate(ctx context.Context, p Problem, e Eval) (Result, error) {
	if e.ImageSize == 0 {
		e.ImageSize = n.Arch.ImageSize
	}
	if e.Batch == 0 {
		e.Batch = 256
	}
	switch {
	case e.ImageSize < 1 || e.Batch < 1:
		return Result{}, fmt.Errorf("trainer: evaluate at image size %d, batch %d: want positive values", e.ImageSize, e.Batch)
	case len(p.Val) == 0 && p.Test == nil:
		return Result{}, fmt.Errorf("trainer: nothing to evaluate (no validation samples, no test set)")
	case len(p.Val) > 0 && p.Data == nil:
		return Result{}, fmt.Errorf("trainer: validation samples without data")
	}
	for _, ds := range []*data.Dataset{p.Data, p.Test} {
		if a := n.Arch; ds != nil && (ds.C != a.InputChannels || ds.NumClasses != a.NumClasses) {
			return Result{}, fmt.Errorf("trainer: the network takes %d channels and %d classes, %s has %d and %d",
				a.InputChannels, a.NumClasses, ds.Name, ds.C, ds.NumClasses)
		}
	}
	defer n.onDevice(e.Device)()
	return n.evaluate(ctx, p, e)
}

// evaluate is Evaluate after the checks; with nothing to score it only
// re-estimates the statistics.
func (n *Net) evaluate(ctx context.Context, p Problem, e Eval) (Result, error) {
	if e.Norm == nil && p.Data != nil && len(p.Train) > 0 {
		norm := Problem{Data: p.Data, Train: p.Train}.norm(e.Gate)
		e.Norm = &norm
	}
	if e.RecalBatches > 0 && p.Data != nil && len(p.Train) > 0 {
		if err := n.recalibrate(ctx, e.Gate, p.Data, p.Train, e.Batch, e.RecalBatches, e.ImageSize, e.Norm, e.Seed); err != nil {
			return Result{Metrics: measure.Metrics{ImageSize: e.ImageSize}}, err
		}
	}
	return n.score(ctx, e.Gate, p, e.ImageSize, e.Batch, e.Norm)
}

// score measures p.Val and p.Test (those given) at an image size with the
// running BatchNorm statistics.
func (n *Net) score(ctx context.Context, g Gate, p Problem, size, batch int, norm *data.Norm) (Result, error) {
	res := Result{Metrics: measure.Metrics{ImageSize: size}}
	var err error
	if len(p.Val) > 0 {
		if res.Accuracy, res.Loss, err = n.accuracy(ctx, g, p.Data, p.Val, batch, size, norm); err != nil {
			return res, err
		}
	}
	if p.Test != nil {
		if res.TestAccuracy, res.TestLoss, err = n.accuracy(ctx, g, p.Test, p.Test.All(), batch, size, norm); err != nil {
			return res, err
		}
	}
	return res, nil
}

// recalibrate re-estimates the network's BatchNorm statistics as the
// cumulative average of the batch statistics of up to batches un-augmented
// batches of samples idx of ds (batch size min(batch, len(idx)), shuffled
// by seed) at image size, with the current weights. Training does this
// before scoring; Evaluate does it on request at another size. Each batch
// is a slice of computation holding g shared.
func (n *Net) recalibrate(ctx context.Context, g Gate, ds *data.Dataset, idx []int, batch, batches, size int, norm *data.Norm, seed uint64) error {
	if len(idx) == 0 || batch < 1 {
		return fmt.Errorf("trainer: recalibrate: %d samples, batch %d", len(idx), batch)
	}
	batch = min(batch, len(idx))
	inf, batcher, sampler, err := n.scorer(g, ds, idx, batch, size, norm, true)
	if err != nil {
		return err
	}
	defer inf.vm.Close()
	sampler.Shuffle(data.NewRand(seed, 0xbeef))
	for _, bn := range n.BNs {
		bn.ResetStats()
	}
	n.SetBNMode(false, true)
	defer n.SetBNMode(false, false)
	for i := 0; i < batches; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		ix, ok := sampler.Next()
		if !ok {
			break
		}
		err := shared(g, func() error {
			if _, err := batcher.Fill(inf.x, nil, ix, nil); err != nil {
				return err
			}
			_, err := inf.run()
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// scorer builds, holding g shared, an inference graph and the batches of
// samples idx of ds.
func (n *Net) scorer(g Gate, ds *data.Dataset, idx []int, batch, size int, norm *data.Norm, dropLast bool) (inf *inference, b *data.Batcher, s *data.Sampler, err error) {
	err = shared(g, func() (err error) {
		if inf, err = newInference(n, batch, size); err != nil {
			return err
		}
		if b, err = data.NewBatcher(ds, data.BatchConfig{Size: size, Norm: norm, Precompute: true}); err == nil {
			s, err = data.NewSampler(idx, batch, dropLast)
		}
		if err != nil {
			inf.vm.Close()
		}
		return err
	})
	return inf, b, s, err
}

// accuracy returns the accuracy and mean cross-entropy of the network on
// samples idx of ds, with BatchNorm running statistics; each batch is a
// slice of computation holding g shared.
func (n *Net) accuracy(ctx context.Context, g Gate, ds *data.Dataset, idx []int, batch, size int, norm *data.Norm) (acc, loss float64, err error) {
	if len(idx) == 0 {
		return 0, 0, fmt.Errorf("trainer: nothing to evaluate")
	}
	batch = min(batch, len(idx))
	inf, batcher, sampler, err := n.scorer(g, ds, idx, batch, size, norm, false)
	if err != nil {
		return 0, 0, err
	}
	defer inf.vm.Close()
	n.SetBNMode(false, false)
	k := n.Arch.NumClasses
	correct, total, sum := 0, 0, 0.0
	for {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		ix, ok := sampler.Next()
		if !ok {
			break
		}
		err := shared(g, func() error {
			rows, err := batcher.Fill(inf.x, nil, ix, nil)
			if err != nil {
				return err
			}
			logits, err := inf.run()
			if err != nil {
				return err
			}
			for j := 0; j < rows; j++ {
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
			return nil
		})
		if err != nil {
			return 0, 0, err
		}
	}
	return float64(correct) / float64(total), sum / float64(total), nil
}
