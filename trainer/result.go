package trainer

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/trainer/data"
)

// StatsOf computes the summary of a sample of durations.
func StatsOf(d []time.Duration) measure.StepStats {
	if len(d) == 0 {
		return measure.StepStats{}
	}
	s := make([]float64, len(d))
	sum := 0.0
	for i, v := range d {
		s[i] = v.Seconds()
		sum += s[i]
	}
	sort.Float64s(s)
	return measure.StepStats{Median: quantile(s, 0.5), P10: quantile(s, 0.1), P90: quantile(s, 0.9), Mean: sum / float64(len(s)), Count: len(s)}
}

// quantile interpolates the p-quantile of sorted values.
func quantile(s []float64, p float64) float64 {
	x := p * float64(len(s)-1)
	i := int(x)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (x-float64(i))*(s[i+1]-s[i])
}

// Result is what a training run measured: the measurement a search keeps
// (measure.Metrics: validation accuracy and loss, step and forward time,
// size, host, ...) and what only the trainer's callers use.
type Result struct {
	measure.Metrics
	// TrainLoss is the mean training loss over the last tenth of the steps.
	TrainLoss float64
	// TestAccuracy and TestLoss are measured on Problem.Test, when given.
	TestAccuracy, TestLoss float64
	// Norm is the input normalisation the network was trained with
	// (checkpoints keep it); set also when training stopped on an error
	// (a cancelled context) after it started.
	Norm data.Norm
}

// resultJSON is what Result adds to the JSON of its measurement.
type resultJSON struct {
	TrainLoss    measure.Float `json:"train_loss"`
	TestAccuracy measure.Float `json:"test_accuracy"`
	TestLoss     measure.Float `json:"test_loss"`
	Norm         data.Norm     `json:"norm"`
}

// MarshalJSON writes the measurement's fields (measure's snake_case names)
// followed by train_loss, test_accuracy, test_loss and norm.
func (r Result) MarshalJSON() ([]byte, error) {
	m, err := json.Marshal(r.Metrics)
	if err != nil {
		return nil, err
	}
	x, err := json.Marshal(resultJSON{measure.Float(r.TrainLoss), measure.Float(r.TestAccuracy), measure.Float(r.TestLoss), r.Norm})
	if err != nil {
		return nil, err
	}
	return append(append(m[:len(m)-1], ','), x[1:]...), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Result) UnmarshalJSON(b []byte) error {
	var m measure.Metrics
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	var x resultJSON
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	*r = Result{Metrics: m, TrainLoss: float64(x.TrainLoss), TestAccuracy: float64(x.TestAccuracy), TestLoss: float64(x.TestLoss), Norm: x.Norm}
	return nil
}
