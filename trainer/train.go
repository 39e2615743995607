package trainer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"time"

	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer/data"
	"github.com/effnas/effnas/trainer/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Problem is what to train: an architecture and the data.
type Problem struct {
	Arch searchspace.Arch
	// Data is the training split; Train and Val index into it. The
	// validation samples are held out of the training set: a search never
	// looks at the test set.
	Data       *data.Dataset
	Train, Val []int
	// Test, when set, is evaluated once at the end (nas train).
	Test *data.Dataset
	// Norm is the input normalisation; nil computes the per-channel mean
	// and standard deviation of the training samples.
	Norm *data.Norm
}

// Settings is how to train. The zero value of each field means the default
// written next to it (the recipe of the project's PyTorch anchor, with the
// official RMSProp constants).
type Settings struct {
	Optimizer string  // rmsprop (default), adam or sgd
	LR        float64 // 1e-3
	Momentum  float64 // 0.9 (RMSProp and SGD)
	RMSDecay  float64 // 0.9
	Epsilon   float64 // 1e-3 (RMSProp), 1e-8 (Adam)
	// WeightDecay is L2 on convolution and dense kernels, sparing BatchNorm
	// and biases (1e-5; negative disables).
	WeightDecay float64
	// Schedule is "constant" (default), "cosine" or "exponential".
	Schedule     string
	WarmupEpochs float64
	// LabelSmoothing (0; the official ImageNet recipe uses 0.1).
	LabelSmoothing float64
	// Augment is the training augmentation (none by default).
	Augment data.Augment
	// Dropout overrides the architecture's classifier dropout when in
	// [0, 1) (progressive learning), in Train and in TrainNet (which
	// restores the network's Arch.Dropout afterwards); nil, negative or NaN
	// keeps it.
	Dropout *float64
	// State, when set, carries the optimizer state and the mask generator
	// from one TrainNet call to the next (see TrainState); nil starts
	// afresh.
	State *TrainState
	// Seed fixes initialisation, data order, augmentation and masks.
	Seed uint64
	// Progress, when set, is called after every training step and at each
	// phase change.
	Progress func(Progress)
	// Gate, when set, is held shared around each training step and
	// exclusively while step time is measured (see search.Gate).
	Gate Gate
}

// Gate is the machine gate of parallel searches; *search.Gate implements it.
type Gate interface {
	Lock()
	Unlock()
	RLock()
	RUnlock()
}

func (s Settings) withDefaults() Settings {
	if s.Optimizer == "" {
		s.Optimizer = RMSProp
	}
	if s.LR == 0 {
		s.LR = 1e-3
	}
	if s.Momentum == 0 {
		s.Momentum = 0.9
	}
	if s.RMSDecay == 0 {
		s.RMSDecay = 0.9
	}
	if s.Epsilon == 0 {
		s.Epsilon = 1e-3
		if s.Optimizer == Adam {
			s.Epsilon = 1e-8
		}
	}
	if s.WeightDecay == 0 {
		s.WeightDecay = 1e-5
	} else if s.WeightDecay < 0 {
		s.WeightDecay = 0
	}
	if s.Schedule == "" {
		s.Schedule = "constant"
	}
	return s
}

func (s Settings) validate() error {
	switch {
	case !(s.LR > 0) || math.IsInf(s.LR, 0):
		return fmt.Errorf("trainer: learning rate = %v: want a positive number", s.LR)
	case s.Momentum < 0 || s.Momentum >= 1:
		return fmt.Errorf("trainer: momentum = %v: want [0, 1)", s.Momentum)
	case s.RMSDecay <= 0 || s.RMSDecay >= 1:
		return fmt.Errorf("trainer: rmsprop decay = %v: want (0, 1)", s.RMSDecay)
	case s.Schedule != "constant" && s.Schedule != "cosine" && s.Schedule != "exponential":
		return fmt.Errorf("trainer: schedule = %q: want constant, cosine or exponential", s.Schedule)
	case s.WarmupEpochs < 0:
		return fmt.Errorf("trainer: warm-up epochs = %v: want >= 0", s.WarmupEpochs)
	case s.LabelSmoothing < 0 || s.LabelSmoothing >= 1:
		return fmt.Errorf("trainer: label smoothing = %v: want [0, 1)", s.LabelSmoothing)
	}
	return nil
}

// Budget is how much to train and measure.
type Budget struct {
	// Epochs over Problem.Train (1); Steps, when > 0, overrides it.
	Epochs float64
	Steps  int
	// StepOffset and TotalSteps place this call's steps in a longer run
	// (progressive learning): the call trains the run's steps StepOffset ..
	// StepOffset+Steps-1, the learning-rate schedule and warm-up run over
	// TotalSteps (0: StepOffset plus this call's steps), and the data order
	// continues at the run's step (epoch StepOffset/batches-per-epoch, same
	// shuffle). With Settings.State carried too, consecutive calls train
	// exactly as one call of the total steps (without augmentation).
	StepOffset, TotalSteps int
	// Batch is the training batch size (64).
	Batch int
	// ImageSize is the training and evaluation image size (the
	// architecture's training size).
	ImageSize int
	// EvalBatch is the evaluation batch size (256).
	EvalBatch int
	// RecalBatches training batches re-estimate the BatchNorm statistics
	// before scoring (20; negative disables). Without it a short run's
	// accuracy swings by several points with the last steps' statistics.
	RecalBatches int
	// TimingWarmup untimed and TimingSteps timed training steps measure
	// the step time (3 and 20; TimingSteps < 0 disables timing).
	TimingWarmup, TimingSteps int
}

// WithDefaults fills the zero fields of b with the documented defaults for
// architecture a.
func (b Budget) WithDefaults(a searchspace.Arch) Budget { return b.withDefaults(a) }

func (b Budget) withDefaults(a searchspace.Arch) Budget {
	if b.Epochs == 0 && b.Steps == 0 {
		b.Epochs = 1
	}
	if b.Batch == 0 {
		b.Batch = 64
	}
	if b.ImageSize == 0 {
		b.ImageSize = a.TrainSize()
	}
	if b.EvalBatch == 0 {
		b.EvalBatch = 256
	}
	if b.RecalBatches == 0 {
		b.RecalBatches = 20
	}
	if b.TimingWarmup == 0 {
		b.TimingWarmup = 3
	}
	if b.TimingSteps == 0 {
		b.TimingSteps = 20
	}
	return b
}

// Progress reports training as it goes.
type Progress struct {
	Phase       string // "train", "recalibrate", "evaluate", "time"
	Step, Steps int
	Epoch       float64
	Loss        float64 // moving average of the training loss
	StepLoss    float64 // this step's training loss
	LR          float64
}

// Stats summarises timed steps, in seconds.
type Stats struct {
	Median, P10, P90, Mean float64
	Count                  int
	// Allocs and Bytes are the heap allocations and bytes allocated per
	// step over the timed steps (MeasureStep's training steps only).
	Allocs float64 `json:",omitempty"`
	Bytes  float64 `json:",omitempty"`
}

// StatsOf computes the summary of a sample of durations.
func StatsOf(d []time.Duration) Stats {
	if len(d) == 0 {
		return Stats{}
	}
	s := make([]float64, len(d))
	sum := 0.0
	for i, v := range d {
		s[i] = v.Seconds()
		sum += s[i]
	}
	sort.Float64s(s)
	q := func(p float64) float64 {
		x := p * float64(len(s)-1)
		i := int(x)
		if i+1 >= len(s) {
			return s[len(s)-1]
		}
		return s[i] + (x-float64(i))*(s[i+1]-s[i])
	}
	return Stats{Median: q(0.5), P10: q(0.1), P90: q(0.9), Mean: sum / float64(len(s)), Count: len(s)}
}

// Result is what a training run measured.
type Result struct {
	Accuracy     float64 // on the validation samples
	Loss         float64 // validation cross-entropy
	TrainLoss    float64 // mean training loss over the last tenth of the steps
	TestAccuracy float64 // on Problem.Test, when given
	TestLoss     float64
	StepTime     Stats // forward, backward and update at Batch and ImageSize
	ForwardTime  Stats // forward only, same batch and size
	Params       int64
	ParamsTotal  int64
	MACs         int64 // per image at ImageSize
	Steps        int
	Epochs       float64
	Batch        int
	ImageSize    int
	WallTime     time.Duration // the whole call
	TrainTime    time.Duration // the training steps only
	Host         Host
	// Norm is the input normalisation the network was trained with
	// (checkpoints keep it).
	Norm data.Norm
}

// ErrDiverged is returned (wrapped) when the loss becomes NaN or infinite.
var ErrDiverged = errors.New("training diverged")

// Train trains p.Arch and measures it. It returns the trained network too
// (checkpoints, further evaluation).
func Train(ctx context.Context, p Problem, s Settings, b Budget) (Result, *Net, error) {
	start := time.Now()
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return Result{}, nil, err
	}
	b = b.withDefaults(p.Arch)
	arch := p.Arch.Clone()
	if s.Dropout != nil && *s.Dropout >= 0 && *s.Dropout < 1 {
		arch.Dropout = *s.Dropout
	}
	if p.Data == nil || len(p.Train) < b.Batch {
		n := 0
		if p.Data != nil {
			n = len(p.Train)
		}
		return Result{}, nil, fmt.Errorf("trainer: %d training samples, fewer than one batch of %d", n, b.Batch)
	}
	if p.Data.C != arch.InputChannels || p.Data.NumClasses != arch.NumClasses {
		return Result{}, nil, fmt.Errorf("trainer: the data has %d channels and %d classes, the architecture %d and %d (adapt it, e.g. with --classes)",
			p.Data.C, p.Data.NumClasses, arch.InputChannels, arch.NumClasses)
	}
	net, err := NewNet(arch, tensor.Float32, s.Seed)
	if err != nil {
		return Result{}, nil, err
	}
	r, err := TrainNet(ctx, net, p, s, b)
	r.WallTime = time.Since(start)
	return r, net, err
}

// TrainNet trains an existing network (progressive learning continues one
// network through its stages), then scores and times it.
func TrainNet(ctx context.Context, net *Net, p Problem, s Settings, b Budget) (Result, error) {
	start := time.Now()
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return Result{}, err
	}
	b = b.withDefaults(net.Arch)
	if b.StepOffset < 0 || b.TotalSteps < 0 {
		return Result{}, fmt.Errorf("trainer: step offset %d and total steps %d: want >= 0", b.StepOffset, b.TotalSteps)
	}
	if s.Dropout != nil && *s.Dropout >= 0 && *s.Dropout < 1 {
		orig := net.Arch.Dropout
		net.Arch.Dropout = *s.Dropout
		defer func() { net.Arch.Dropout = orig }()
	}
	acc, err := net.Arch.Count(b.ImageSize, 0)
	if err != nil {
		return Result{}, err
	}
	res := Result{Params: acc.Total.Params, ParamsTotal: acc.Total.ParamsTotal, MACs: acc.Total.MACs,
		Batch: b.Batch, ImageSize: b.ImageSize, Host: HostInfo()}
	if res.Params != net.NumParams() {
		return res, fmt.Errorf("trainer: built network has %d parameters, accounting says %d", net.NumParams(), res.Params)
	}
	var norm data.Norm
	if p.Norm != nil {
		norm = *p.Norm
	} else {
		norm = p.Data.ChannelNorm(p.Train)
	}
	res.Norm = norm
	if err := trainLoop(ctx, net, p, s, b, &norm, &res); err != nil {
		res.WallTime = time.Since(start)
		return res, err
	}
	if b.RecalBatches > 0 {
		report(s, Progress{Phase: "recalibrate"})
		if err := Recalibrate(ctx, net, p.Data, p.Train, b.EvalBatch, b.RecalBatches, b.ImageSize, &norm, s.Seed); err != nil {
			return res, err
		}
	}
	report(s, Progress{Phase: "evaluate"})
	if len(p.Val) > 0 {
		res.Accuracy, res.Loss, err = EvaluateNet(ctx, net, p.Data, p.Val, b.EvalBatch, b.ImageSize, &norm)
		if err != nil {
			return res, err
		}
	}
	if p.Test != nil {
		res.TestAccuracy, res.TestLoss, err = EvaluateNet(ctx, net, p.Test, p.Test.All(), b.EvalBatch, b.ImageSize, &norm)
		if err != nil {
			return res, err
		}
	}
	if b.TimingSteps > 0 {
		report(s, Progress{Phase: "time"})
		res.StepTime, res.ForwardTime, err = MeasureStep(ctx, net, b.Batch, b.ImageSize, b.TimingWarmup, b.TimingSteps, s)
		if err != nil {
			return res, err
		}
	}
	res.WallTime = time.Since(start)
	return res, nil
}

func report(s Settings, p Progress) {
	if s.Progress != nil {
		s.Progress(p)
	}
}

// stepper runs training steps of one graph.
type stepper struct {
	net    *Net
	gr     *Graph
	vm     G.VM
	solver *solver
	x, y   []float32
	xt, yt *tensor.Dense
	drop   *tensor.Dense
	depth  []*tensor.Dense
	grads  [][]float32
	rng    *rand.Rand
}

// newStepper builds a training graph; with state it continues (and
// updates) the state's solver and mask generator, else it starts afresh.
func newStepper(net *Net, batch, size int, s Settings, seed uint64, state *TrainState) (*stepper, error) {
	if state == nil {
		state = &TrainState{}
	}
	sol, rng, err := state.attach(s, net.Params, seed)
	if err != nil {
		return nil, err
	}
	gr, err := net.Build(batch, size, true)
	if err != nil {
		return nil, err
	}
	a := net.Arch
	st := &stepper{net: net, gr: gr, solver: sol, rng: rng,
		x: make([]float32, batch*size*size*a.InputChannels), y: make([]float32, batch*a.NumClasses)}
	st.xt = tensor.New(tensor.WithShape(batch, size, size, a.InputChannels), tensor.WithBacking(st.x))
	st.yt = tensor.New(tensor.WithShape(batch, a.NumClasses), tensor.WithBacking(st.y))
	if gr.DropMask != nil {
		st.drop = tensor.New(tensor.WithShape(batch, a.HeadChannels), tensor.Of(tensor.Float32))
	}
	for range gr.DepthMasks {
		st.depth = append(st.depth, tensor.New(tensor.WithShape(batch), tensor.Of(tensor.Float32)))
	}
	st.vm = G.NewTapeMachine(gr.G, G.BindDualValues(gr.Params...))
	st.grads = make([][]float32, len(net.Params))
	return st, nil
}

func (st *stepper) close() { st.vm.Close() }

// step runs forward, backward and the update on the batch in st.x, st.y.
func (st *stepper) step(lr float64) (float64, error) {
	gr := st.gr
	if err := G.Let(gr.X, st.xt); err != nil {
		return 0, err
	}
	if err := G.Let(gr.Y, st.yt); err != nil {
		return 0, err
	}
	if st.drop != nil {
		keep := 1 - st.net.Arch.Dropout
		fillMask(st.drop.Data().([]float32), keep, st.rng)
		if err := G.Let(gr.DropMask, st.drop); err != nil {
			return 0, err
		}
	}
	for i, dm := range gr.DepthMasks {
		fillMask(st.depth[i].Data().([]float32), dm.Survival, st.rng)
		if err := G.Let(dm.Node, st.depth[i]); err != nil {
			return 0, err
		}
	}
	if err := st.vm.RunAll(); err != nil {
		st.vm.Reset()
		return 0, err
	}
	loss := scalar(gr.lossV)
	for i, n := range gr.Params {
		g, err := n.Grad()
		if err != nil {
			st.vm.Reset()
			return 0, fmt.Errorf("gradient of %s: %w", n.Name(), err)
		}
		st.grads[i] = g.Data().([]float32)
	}
	if !math.IsNaN(loss) && !math.IsInf(loss, 0) {
		st.solver.step(lr, st.grads)
	} else {
		for _, g := range st.grads {
			clear(g)
		}
	}
	st.vm.Reset()
	return loss, nil
}

// fillMask draws 0 or 1/keep per entry (inverted dropout).
func fillMask(m []float32, keep float64, r *rand.Rand) {
	v := float32(1 / keep)
	for i := range m {
		if r.Float64() < keep {
			m[i] = v
		} else {
			m[i] = 0
		}
	}
}

func scalar(v G.Value) float64 {
	switch t := v.(type) {
	case *G.F32:
		return float64(*t)
	case *G.F64:
		return float64(*t)
	case tensor.Tensor:
		switch d := t.Data().(type) {
		case float32:
			return float64(d)
		case float64:
			return d
		case []float32:
			return float64(d[0])
		case []float64:
			return d[0]
		}
	}
	return math.NaN()
}

func trainLoop(ctx context.Context, net *Net, p Problem, s Settings, b Budget, norm *data.Norm, res *Result) error {
	batcher, err := data.NewBatcher(p.Data, data.BatchConfig{Size: b.ImageSize, Norm: norm, Aug: withSmoothing(s), Precompute: true})
	if err != nil {
		return err
	}
	sampler, err := data.NewSampler(p.Train, b.Batch, true)
	if err != nil {
		return err
	}
	perEpoch := sampler.Batches()
	total := b.Steps
	if total <= 0 {
		total = max(1, int(math.Round(b.Epochs*float64(perEpoch))))
	}
	off := b.StepOffset
	runTotal := max(b.TotalSteps, off+total)
	st, err := newStepper(net, b.Batch, b.ImageSize, s, s.Seed, s.State)
	if err != nil {
		return err
	}
	defer st.close()
	net.SetBNMode(true, false)
	defer net.SetBNMode(false, false)
	t0 := time.Now()
	avg, lastLosses := 0.0, make([]float64, 0, total)
	epoch := off / perEpoch
	var augRng *rand.Rand
	for step := 0; step < total; step++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		idx, ok := sampler.Next()
		if !ok || step == 0 {
			if step > 0 {
				epoch++
			}
			sampler.Reset()
			sampler.Shuffle(data.EpochRand(s.Seed, epoch))
			augRng = data.NewRand(s.Seed, uint64(1000+epoch))
			if step == 0 {
				// continue the run's epoch where StepOffset left it
				for range off % perEpoch {
					sampler.Next()
				}
			}
			idx, _ = sampler.Next()
		}
		if _, err := batcher.Fill(st.x, st.y, idx, augRng); err != nil {
			return err
		}
		lr := schedule(s, off+step, runTotal, perEpoch)
		var loss float64
		if s.Gate != nil {
			s.Gate.RLock()
		}
		loss, err = st.step(lr)
		if s.Gate != nil {
			s.Gate.RUnlock()
		}
		if err != nil {
			return fmt.Errorf("trainer: step %d: %w", step+1, err)
		}
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
		report(s, Progress{Phase: "train", Step: step + 1, Steps: total, Epoch: float64(off+step+1) / float64(perEpoch), Loss: avg, StepLoss: loss, LR: lr})
	}
	res.TrainTime = time.Since(t0)
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

// inference runs a forward-only graph.
type inference struct {
	gr *Graph
	vm G.VM
	x  []float32
	xt *tensor.Dense
}

func newInference(net *Net, batch, size int) (*inference, error) {
	gr, err := net.Build(batch, size, false)
	if err != nil {
		return nil, err
	}
	inf := &inference{gr: gr, vm: G.NewTapeMachine(gr.G), x: make([]float32, batch*size*size*net.Arch.InputChannels)}
	inf.xt = tensor.New(tensor.WithShape(batch, size, size, net.Arch.InputChannels), tensor.WithBacking(inf.x))
	return inf, nil
}

func (inf *inference) run() ([]float32, error) {
	defer inf.vm.Reset()
	if err := G.Let(inf.gr.X, inf.xt); err != nil {
		return nil, err
	}
	if err := inf.vm.RunAll(); err != nil {
		return nil, err
	}
	t, ok := inf.gr.logitsV.(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("trainer: logits not computed")
	}
	return append([]float32(nil), t.Data().([]float32)...), nil
}

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

// MeasureStep times training steps (forward, backward, update) and forward
// passes of the network at a batch and image size, on random inputs, apart
// from training: warmup untimed steps, then steps timed ones. Parameters and
// BatchNorm statistics are restored afterwards, so measuring does not change
// the network. With s.Gate set, it holds the gate exclusively throughout.
func MeasureStep(ctx context.Context, net *Net, batch, size, warmup, steps int, s Settings) (train, forward Stats, err error) {
	s = s.withDefaults()
	saved := snapshot(net)
	defer saved.restore(net)
	if s.Gate != nil {
		s.Gate.Lock()
		defer s.Gate.Unlock()
	}
	st, err := newStepper(net, batch, size, s, s.Seed^0x71e, nil)
	if err != nil {
		return
	}
	defer st.close()
	r := rand.New(rand.NewPCG(s.Seed, 0x7173))
	for i := range st.x {
		st.x[i] = float32(r.NormFloat64())
	}
	k := net.Arch.NumClasses
	for i := 0; i < batch; i++ {
		st.y[i*k+r.IntN(k)] = 1
	}
	net.SetBNMode(true, false)
	d := make([]time.Duration, 0, steps)
	var m0, m1 runtime.MemStats
	for i := 0; i < warmup+steps; i++ {
		if err = ctx.Err(); err != nil {
			return
		}
		if i == warmup {
			runtime.ReadMemStats(&m0)
		}
		t := time.Now()
		if _, err = st.step(s.LR * 1e-3); err != nil {
			return
		}
		if i >= warmup {
			d = append(d, time.Since(t))
		}
	}
	runtime.ReadMemStats(&m1)
	train = StatsOf(d)
	if steps > 0 {
		train.Allocs = float64(m1.Mallocs-m0.Mallocs) / float64(steps)
		train.Bytes = float64(m1.TotalAlloc-m0.TotalAlloc) / float64(steps)
	}
	net.SetBNMode(false, false)
	inf, err := newInference(net, batch, size)
	if err != nil {
		return
	}
	defer inf.vm.Close()
	copy(inf.x, st.x)
	d = d[:0]
	for i := 0; i < warmup+steps; i++ {
		t := time.Now()
		if _, err = inf.run(); err != nil {
			return
		}
		if i >= warmup {
			d = append(d, time.Since(t))
		}
	}
	forward = StatsOf(d)
	return
}

// OpProfile is where a training step's time goes (ProfileStep).
type OpProfile struct {
	// Step is the mean wall time of a profiled step, Ops the mean time per
	// step in each op type and output shape of package ops (largest first);
	// Other is the rest (gorgonia's own ops, the update, scheduling).
	Step, Other time.Duration
	Ops         []ops.OpTime
	Steps       int
}

// ProfileStep runs warmup untimed and steps profiled training steps on
// random inputs, like MeasureStep, with per-op timing on (ops.SetTiming),
// and returns the mean time per step of each op. The timers add a little
// overhead, so Step is slightly above MeasureStep's figure. Parameters and
// BatchNorm statistics are restored afterwards.
func ProfileStep(ctx context.Context, net *Net, batch, size, warmup, steps int, s Settings) (OpProfile, error) {
	s = s.withDefaults()
	saved := snapshot(net)
	defer saved.restore(net)
	defer net.SetBNMode(false, false)
	st, err := newStepper(net, batch, size, s, s.Seed^0x71e, nil)
	if err != nil {
		return OpProfile{}, err
	}
	defer st.close()
	r := rand.New(rand.NewPCG(s.Seed, 0x7173))
	for i := range st.x {
		st.x[i] = float32(r.NormFloat64())
	}
	k := net.Arch.NumClasses
	for i := 0; i < batch; i++ {
		st.y[i*k+r.IntN(k)] = 1
	}
	net.SetBNMode(true, false)
	steps = max(1, steps)
	var total time.Duration
	for i := 0; i < warmup+steps; i++ {
		if err := ctx.Err(); err != nil {
			return OpProfile{}, err
		}
		if i == warmup {
			ops.ResetTimings()
			ops.SetTiming(true)
		}
		t := time.Now()
		_, err := st.step(s.LR * 1e-3)
		if i >= warmup {
			total += time.Since(t)
		}
		if err != nil {
			ops.SetTiming(false)
			return OpProfile{}, err
		}
	}
	ops.SetTiming(false)
	p := OpProfile{Step: total / time.Duration(steps), Steps: steps, Ops: ops.Timings()}
	var sum time.Duration
	for i := range p.Ops {
		p.Ops[i].Total /= time.Duration(steps)
		p.Ops[i].Calls /= steps
		p.Ops[i].MACs /= int64(steps)
		sum += p.Ops[i].Total
	}
	p.Other = max(0, p.Step-sum)
	return p, nil
}

type netSnapshot struct {
	params     [][]float32
	mean, vari [][]float64
}

func snapshot(n *Net) netSnapshot {
	var s netSnapshot
	for _, p := range n.Params {
		s.params = append(s.params, append([]float32(nil), p.Value.Data().([]float32)...))
	}
	for _, bn := range n.BNs {
		m, v := bn.Stats()
		s.mean, s.vari = append(s.mean, m), append(s.vari, v)
	}
	return s
}

func (s netSnapshot) restore(n *Net) {
	for i, p := range n.Params {
		copy(p.Value.Data().([]float32), s.params[i])
	}
	for i, bn := range n.BNs {
		_ = bn.SetStats(s.mean[i], s.vari[i])
	}
}
