package measure

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Float is a float64 whose JSON form also carries NaN and ±Inf, as the
// strings "NaN", "+Inf" and "-Inf". Records holding floats that may be
// non-finite (a trial's reward) use it in their own JSON methods.
type Float float64

// MarshalJSON writes f, a non-finite value as a string.
func (f Float) MarshalJSON() ([]byte, error) {
	x := float64(f)
	switch {
	case math.IsNaN(x):
		return []byte(`"NaN"`), nil
	case math.IsInf(x, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(x, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(x)
}

// UnmarshalJSON reads what MarshalJSON writes; null leaves f as it is.
func (f *Float) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null":
		return nil
	case `"NaN"`:
		*f = Float(math.NaN())
		return nil
	case `"+Inf"`, `"Inf"`:
		*f = Float(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = Float(math.Inf(-1))
		return nil
	}
	// encoding/json has checked the syntax; a JSON number is a valid Go
	// float literal.
	x, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("invalid number %s", b)
	}
	*f = Float(x)
	return nil
}

// The aliases below have the fields but not the methods of their types; the
// wrappers shadow the float fields with Float ones (encoding/json takes the
// shallower of two fields with the same name).

type stepStatsAlias StepStats

type stepStatsJSON struct {
	*stepStatsAlias
	Median Float `json:"median"`
	P10    Float `json:"p10"`
	P90    Float `json:"p90"`
	Mean   Float `json:"mean"`
	Allocs Float `json:"allocs,omitempty"`
	Bytes  Float `json:"bytes,omitempty"`
}

// MarshalJSON writes the stats, non-finite values as strings.
func (s StepStats) MarshalJSON() ([]byte, error) {
	return json.Marshal(stepStatsJSON{(*stepStatsAlias)(&s),
		Float(s.Median), Float(s.P10), Float(s.P90), Float(s.Mean), Float(s.Allocs), Float(s.Bytes)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *StepStats) UnmarshalJSON(b []byte) error {
	var out StepStats
	j := stepStatsJSON{stepStatsAlias: (*stepStatsAlias)(&out)}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out.Median, out.P10, out.P90, out.Mean = float64(j.Median), float64(j.P10), float64(j.P90), float64(j.Mean)
	out.Allocs, out.Bytes = float64(j.Allocs), float64(j.Bytes)
	*s = out
	return nil
}

type interleavedAlias Interleaved

type interleavedJSON struct {
	*interleavedAlias
	Ratios   []Float `json:"ratios"`
	Noise    Float   `json:"noise"`
	MaxNoise Float   `json:"max_noise"`
}

// MarshalJSON writes the measurement, non-finite values as strings.
func (v Interleaved) MarshalJSON() ([]byte, error) {
	j := interleavedJSON{interleavedAlias: (*interleavedAlias)(&v), Ratios: make([]Float, len(v.Ratios)), Noise: Float(v.Noise),
		MaxNoise: Float(v.MaxNoise)}
	for i, r := range v.Ratios {
		j.Ratios[i] = Float(r)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (v *Interleaved) UnmarshalJSON(b []byte) error {
	var out Interleaved
	j := interleavedJSON{interleavedAlias: (*interleavedAlias)(&out)}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out.Noise, out.MaxNoise, out.Ratios = float64(j.Noise), float64(j.MaxNoise), nil
	for _, r := range j.Ratios {
		out.Ratios = append(out.Ratios, float64(r))
	}
	*v = out
	return nil
}

type metricsAlias Metrics

type metricsJSON struct {
	*metricsAlias
	Accuracy  Float            `json:"accuracy"`
	Loss      Float            `json:"loss"`
	WallTime  Float            `json:"wall_time"`
	TrainTime Float            `json:"train_time"`
	Epochs    Float            `json:"epochs"`
	Relative  Float            `json:"relative_step_time,omitempty"`
	Extra     map[string]Float `json:"extra,omitempty"`
}

// MarshalJSON writes the metrics, non-finite values as strings.
func (m Metrics) MarshalJSON() ([]byte, error) {
	j := metricsJSON{metricsAlias: (*metricsAlias)(&m), Accuracy: Float(m.Accuracy), Loss: Float(m.Loss),
		WallTime: Float(m.WallTime), TrainTime: Float(m.TrainTime), Epochs: Float(m.Epochs), Relative: Float(m.RelativeStepTime)}
	if len(m.Extra) > 0 {
		j.Extra = make(map[string]Float, len(m.Extra))
		for k, v := range m.Extra {
			j.Extra[k] = Float(v)
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (m *Metrics) UnmarshalJSON(b []byte) error {
	var out Metrics
	j := metricsJSON{metricsAlias: (*metricsAlias)(&out)}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out.Accuracy, out.Loss = float64(j.Accuracy), float64(j.Loss)
	out.WallTime, out.TrainTime, out.Epochs = float64(j.WallTime), float64(j.TrainTime), float64(j.Epochs)
	out.RelativeStepTime = float64(j.Relative)
	out.Extra = nil
	if len(j.Extra) > 0 {
		out.Extra = make(map[string]float64, len(j.Extra))
		for k, v := range j.Extra {
			out.Extra[k] = float64(v)
		}
	}
	*m = out
	return nil
}
