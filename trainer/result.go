package trainer

import (
	"sort"
	"time"

	"github.com/effnas/effnas/trainer/data"
)

// Stats summarises timed steps, in seconds.
type Stats struct {
	Median, P10, P90, Mean float64
	Count                  int
	// Allocs and Bytes are the heap allocations and bytes allocated per
	// step over the timed steps (Net.Measure's training steps only).
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
