package trainer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/trainer/data"
	"gorgonia.org/tensor"
)

// Train creates p.Arch's network (initialised from s.Seed), trains it, then
// scores and times it (see the package doc). It returns the trained network
// too, for checkpoints and further evaluation. With s.Progressive set the
// training runs in stages.
func Train(ctx context.Context, p Problem, s Settings, b Budget) (Result, *Net, error) {
	start := time.Now()
	if err := s.check(); err != nil {
		return Result{}, nil, err
	}
	bb := b.withDefaults(p.Arch)
	arch := p.Arch.Clone()
	if s.Progressive == nil && s.Dropout != nil && *s.Dropout >= 0 && *s.Dropout < 1 {
		arch.Dropout = *s.Dropout
	}
	if err := p.check(bb.Batch); err != nil {
		return Result{}, nil, err
	}
	if p.Data.C != arch.InputChannels || p.Data.NumClasses != arch.NumClasses {
		return Result{}, nil, fmt.Errorf("trainer: the data has %d channels and %d classes, the architecture %d and %d (adapt it, e.g. with --classes)",
			p.Data.C, p.Data.NumClasses, arch.InputChannels, arch.NumClasses)
	}
	var net *Net
	err := shared(s.Gate, func() (err error) {
		net, err = NewNet(arch, tensor.Float32, s.Seed)
		return err
	})
	if err != nil {
		return Result{}, nil, err
	}
	r, err := net.Train(ctx, p, s, b)
	r.WallTime = time.Since(start).Seconds()
	return r, net, err
}

// Train continues training the network (its weights, BatchNorm statistics
// and, through s.State, optimizer state), then scores and times it. p.Arch
// is not used: the network has its architecture.
func (n *Net) Train(ctx context.Context, p Problem, s Settings, b Budget) (Result, error) {
	if err := s.check(); err != nil {
		return Result{}, err
	}
	if b.StartAt != 0 || b.StopAt != 0 {
		bb := b.withDefaults(n.Arch)
		if err := p.check(bb.Batch); err != nil {
			return Result{}, err
		}
		if _, _, err := bb.part(bb.RunSteps(len(p.Train))); err != nil {
			return Result{}, err
		}
	}
	if b.StartAt > 0 {
		if at := s.State.Steps(); at != b.StepOffset+b.StartAt {
			return Result{}, fmt.Errorf("trainer: starting at step %d needs Settings.State at step %d; it is at step %d",
				b.StartAt, b.StepOffset+b.StartAt, at)
		}
	}
	if s.Device != nil {
		return n.trainOn(ctx, p, s, b)
	}
	if s.Progressive != nil {
		return n.trainProgressive(ctx, p, s, b)
	}
	return n.trainFixed(ctx, p, s.withDefaults(), b)
}

// check validates the settings as given.
func (s Settings) check() error {
	if err := s.withDefaults().validate(); err != nil {
		return err
	}
	if s.Progressive != nil {
		return s.Progressive.Validate()
	}
	return nil
}

// check reports a problem without a batch of training samples.
func (p Problem) check(batch int) error {
	if p.Data == nil || len(p.Train) < batch {
		n := 0
		if p.Data != nil {
			n = len(p.Train)
		}
		return fmt.Errorf("trainer: %d training samples, fewer than one batch of %d", n, batch)
	}
	return nil
}

// norm is the input normalisation: p.Norm, else the statistics of p.Train
// (computed holding g shared).
func (p Problem) norm(g Gate) data.Norm {
	if p.Norm != nil {
		return *p.Norm
	}
	var n data.Norm
	_ = shared(g, func() error { n = p.Data.ChannelNorm(p.Train); return nil })
	return n
}

// trainFixed trains at one image size (one stage of a progressive run),
// then scores and times the network; s has its defaults.
func (n *Net) trainFixed(ctx context.Context, p Problem, s Settings, b Budget) (Result, error) {
	start := time.Now()
	b = b.withDefaults(n.Arch)
	if b.StepOffset < 0 || b.TotalSteps < 0 {
		return Result{}, fmt.Errorf("trainer: step offset %d and total steps %d: want >= 0", b.StepOffset, b.TotalSteps)
	}
	if s.Dropout != nil && *s.Dropout >= 0 && *s.Dropout < 1 {
		orig := n.Arch.Dropout
		n.Arch.Dropout = *s.Dropout
		defer func() { n.Arch.Dropout = orig }()
	}
	early := false
	if b.StartAt > 0 || b.StopAt > 0 {
		// a part of the run: its steps placed as StepOffset and
		// TotalSteps place them, progress counted over the run
		if err := p.check(b.Batch); err != nil {
			return Result{}, err
		}
		total := b.RunSteps(len(p.Train))
		from, to, err := b.part(total)
		if err != nil {
			return Result{}, err
		}
		early = to < total
		b.TotalSteps = max(b.TotalSteps, b.StepOffset+total)
		b.Steps, b.StepOffset, b.StartAt, b.StopAt = to-from, b.StepOffset+from, 0, 0
		if prog := s.Progress; prog != nil {
			s.Progress = func(pr Progress) {
				if pr.Phase == PhaseTrain {
					pr.Step, pr.Steps = pr.Step+from, total
				}
				prog(pr)
			}
		}
	}
	acc, err := n.Arch.Count(b.ImageSize, 0)
	if err != nil {
		return Result{}, err
	}
	res := Result{Metrics: measure.Metrics{Params: acc.Total.Params, ParamsTotal: acc.Total.ParamsTotal, MACs: acc.Total.MACs,
		Batch: b.Batch, ImageSize: b.ImageSize, Host: HostInfo()}}
	if res.Params != n.NumParams() {
		return res, fmt.Errorf("trainer: built network has %d parameters, accounting says %d", n.NumParams(), res.Params)
	}
	norm := p.norm(s.Gate)
	res.Norm = norm
	if err := trainLoop(ctx, n, p, s, b, &norm, &res); err != nil || early {
		res.WallTime = time.Since(start).Seconds()
		return res, err
	}
	if b.RecalBatches > 0 {
		report(s, Progress{Phase: PhaseRecalibrate})
		if err := n.recalibrate(ctx, s.Gate, p.Data, p.Train, b.EvalBatch, b.RecalBatches, b.ImageSize, &norm, s.Seed); err != nil {
			return res, err
		}
	}
	report(s, Progress{Phase: PhaseEvaluate})
	e, err := n.score(ctx, s.Gate, p, b.ImageSize, b.EvalBatch, &norm)
	if err != nil {
		return res, err
	}
	res.Accuracy, res.Loss, res.TestAccuracy, res.TestLoss = e.Accuracy, e.Loss, e.TestAccuracy, e.TestLoss
	if b.TimingSteps > 0 {
		report(s, Progress{Phase: PhaseTime})
		m, err := n.Measure(ctx, Timing{Batch: b.Batch, ImageSize: b.ImageSize, Warmup: b.TimingWarmup, Steps: b.TimingSteps}, s)
		if err != nil {
			return res, err
		}
		res.StepTime, res.ForwardTime, res.RelativeStepTime, res.Interleaved = m.StepTime, m.ForwardTime, m.RelativeStepTime, m.Interleaved
	}
	res.WallTime = time.Since(start).Seconds()
	return res, nil
}

func report(s Settings, p Progress) {
	if s.Progress != nil {
		s.Progress(p)
	}
}

// trainLoop runs the training steps, each with the preparation of its
// batch as one slice of computation (see Gate).
func trainLoop(ctx context.Context, net *Net, p Problem, s Settings, b Budget, norm *data.Norm, res *Result) error {
	var batcher *data.Batcher
	var sampler *data.Sampler
	var st *stepper
	err := shared(s.Gate, func() (err error) {
		if batcher, err = data.NewBatcher(p.Data, data.BatchConfig{Size: b.ImageSize, Norm: norm, Aug: withSmoothing(s), Precompute: true}); err != nil {
			return err
		}
		if sampler, err = data.NewSampler(p.Train, b.Batch, true); err != nil {
			return err
		}
		st, err = newStepper(net, b.Batch, b.ImageSize, s, s.Seed, s.State)
		return err
	})
	if err != nil {
		return err
	}
	defer st.close()
	perEpoch := sampler.Batches()
	total := b.RunSteps(len(p.Train))
	off := b.StepOffset
	runTotal := max(b.TotalSteps, off+total)
	net.SetBNMode(true, false)
	defer net.SetBNMode(false, false)
	t0 := time.Now()
	avg, lastLosses := 0.0, make([]float64, 0, total)
	epoch := off / perEpoch
	var augRng *rand.Rand
	var augSrc *rand.PCG
	trained := 0
	// the next call of the run continues the augmentation generator where
	// this one stops, also when it stops early
	defer func() { s.State.keepAug(augSrc, off+trained) }()
	for step := 0; step < total; step++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		lr := schedule(s, off+step, runTotal, perEpoch)
		var loss float64
		err := shared(s.Gate, func() (err error) {
			idx, ok := sampler.Next()
			if !ok || step == 0 {
				if step > 0 {
					epoch++
				}
				sampler.Reset()
				sampler.Shuffle(data.EpochRand(s.Seed, epoch))
				augSrc = data.NewPCG(s.Seed, uint64(1000+epoch))
				if step == 0 && off%perEpoch != 0 {
					// continue the run's epoch where StepOffset left it,
					// and its augmentation where the run's previous call
					// left it (when the state has it)
					for range off % perEpoch {
						sampler.Next()
					}
					if src := s.State.augAt(off); src != nil {
						augSrc = src
					}
				}
				augRng = rand.New(augSrc)
				idx, _ = sampler.Next()
			}
			if _, err := batcher.Fill(st.x, st.y, idx, augRng); err != nil {
				return err
			}
			if loss, err = st.step(lr); err != nil {
				return fmt.Errorf("trainer: step %d: %w", step+1, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		trained++
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("%w: loss is %v at step %d of %d (epoch %.2f); lower the learning rate (now %g)",
				ErrDiverged, loss, step+1, total, float64(step)/float64(perEpoch), lr)
		}
		lastLosses = append(lastLosses, loss)
		if step == 0 {
			avg = loss
		} else {
			avg = 0.98*avg + 0.02*loss
		}
		report(s, Progress{Phase: PhaseTrain, Step: step + 1, Steps: total, Epoch: float64(off+step+1) / float64(perEpoch), Loss: avg, StepLoss: loss, LR: lr})
	}
	res.TrainTime = time.Since(t0).Seconds()
	res.Steps = total
	res.Epochs = float64(total) / float64(perEpoch)
	tail := lastLosses[len(lastLosses)-max(1, len(lastLosses)/10):]
	sum := 0.0
	for _, l := range tail {
		sum += l
	}
	res.TrainLoss = sum / float64(len(tail))
	return nil
}

func withSmoothing(s Settings) data.Augment {
	a := s.Augment
	if a.LabelSmoothing == 0 {
		a.LabelSmoothing = s.LabelSmoothing
	}
	return a
}
