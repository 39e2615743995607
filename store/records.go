package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/effnas/effnas/reward"
	"github.com/effnas/effnas/searchspace"
)

// Status is the state of a trial.
type Status string

// Trial states.
const (
	StatusPending   Status = "pending"   // sampled, not started
	StatusRunning   Status = "running"   // being evaluated
	StatusDone      Status = "done"      // evaluated; Metrics and Reward are set
	StatusFailed    Status = "failed"    // the last attempt failed; may be retried
	StatusAbandoned Status = "abandoned" // given up after too many failed attempts
)

// Valid reports whether s is one of the trial states.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusRunning, StatusDone, StatusFailed, StatusAbandoned:
		return true
	}
	return false
}

// Usual values of Search.Status. The store does not interpret them.
const (
	SearchRunning     = "running"
	SearchFinished    = "finished"
	SearchInterrupted = "interrupted"
)

// Host describes the machine and software that measured a timing.
type Host struct {
	Hostname   string `json:"hostname"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPU        string `json:"cpu"` // CPU model name, "" if unknown
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	Backend    string `json:"backend"` // name of the kernel backend
}

// Fingerprint is a stable short hash (12 hex digits) of everything that
// affects a timing: OS, Arch, CPU, Cores, GOMAXPROCS, GoVersion and Backend.
// Hostname is left out, so identical machines share a fingerprint and the
// same machine renamed keeps its own. Step times measured under different
// fingerprints are not comparable; callers use it to refuse mixing them
// silently (for instance a resumed search on another host).
func (h Host) Fingerprint() string {
	s := fmt.Sprintf("effnas-host-1\nos=%s\narch=%s\ncpu=%s\ncores=%d\ngomaxprocs=%d\ngo=%s\nbackend=%s\n",
		h.OS, h.Arch, h.CPU, h.Cores, h.GOMAXPROCS, h.GoVersion, h.Backend)
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// Search is the record of one search: what it searches, how, and where.
//
// The store keeps every field as given: it stamps no times and validates
// nothing but the name.
type Search struct {
	Name       string            `json:"name"`
	Created    time.Time         `json:"created"`
	Updated    time.Time         `json:"updated"`
	Controller string            `json:"controller"` // controller name ("random", "reinforce", ...)
	Seed       uint64            `json:"seed"`
	Trials     int               `json:"trials"` // target number of trials
	Parallel   int               `json:"parallel"`
	Space      searchspace.Space `json:"space"`
	Reward     reward.Settings   `json:"reward"`
	// Config is the search loop's own settings (evaluator, budget...),
	// opaque to the store. It must be valid JSON; it is stored compacted.
	Config json.RawMessage `json:"config,omitempty"`
	// Host is the machine the search measures its step times on.
	Host Host `json:"host"`
	// Baseline is the backbone's measured reference (step time S0, params
	// P0, accuracy), nil until measured.
	Baseline *Metrics `json:"baseline,omitempty"`
	// Status is the search's state, e.g. SearchRunning, SearchFinished or
	// SearchInterrupted.
	Status string `json:"status"`
	Note   string `json:"note,omitempty"`
}

// StepStats summarises repeated timings, in seconds.
type StepStats struct {
	Median float64 `json:"median"`
	P10    float64 `json:"p10"`
	P90    float64 `json:"p90"`
	Mean   float64 `json:"mean"`
	Count  int     `json:"count"`
}

// Metrics is what an evaluation measured. Float fields may be NaN or ±Inf
// (a diverged training run): they are stored as the JSON strings "NaN",
// "+Inf" and "-Inf".
type Metrics struct {
	Accuracy    float64   `json:"accuracy"`
	Loss        float64   `json:"loss"`
	StepTime    StepStats `json:"step_time"`    // training step
	ForwardTime StepStats `json:"forward_time"` // inference forward pass
	Params      int64     `json:"params"`       // trainable parameters
	ParamsTotal int64     `json:"params_total"` // including non-trainable state
	MACs        int64     `json:"macs"`
	WallTime    float64   `json:"wall_time"`  // seconds, whole evaluation
	TrainTime   float64   `json:"train_time"` // seconds spent training
	Epochs      float64   `json:"epochs"`
	Steps       int       `json:"steps"`
	ImageSize   int       `json:"image_size"`
	Batch       int       `json:"batch"`
	Host        Host      `json:"host"`
	// Extra holds further named measurements; optional.
	Extra map[string]float64 `json:"extra,omitempty"`
}

// Trial is one sampled architecture and its evaluation.
type Trial struct {
	ID        int              `json:"id"` // 1, 2, ... within its search
	Decisions []int            `json:"decisions"`
	Arch      searchspace.Arch `json:"arch"`
	Status    Status           `json:"status"`
	Attempts  int              `json:"attempts"`
	Metrics   *Metrics         `json:"metrics,omitempty"`
	Reward    float64          `json:"reward"`          // may be NaN or ±Inf, stored as in Metrics
	Error     string           `json:"error,omitempty"` // last failure
	Created   time.Time        `json:"created"`
	Started   time.Time        `json:"started,omitzero"`
	Finished  time.Time        `json:"finished,omitzero"`
	Worker    string           `json:"worker,omitempty"`
}

// Done reports whether the trial was evaluated successfully.
func (t Trial) Done() bool { return t.Status == StatusDone }

// BestTrial returns the done trial with the highest reward, ties going to the
// lowest ID; NaN rewards never win. ok is false when no trial qualifies.
func BestTrial(trials []Trial) (best Trial, ok bool) {
	for _, t := range trials {
		if !t.Done() || math.IsNaN(t.Reward) {
			continue
		}
		if !ok || t.Reward > best.Reward || (t.Reward == best.Reward && t.ID < best.ID) {
			best, ok = t, true
		}
	}
	return best, ok
}

// jsonFloat is a float64 whose JSON form also carries NaN and ±Inf, as
// strings.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
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

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null":
		return nil
	case `"NaN"`:
		*f = jsonFloat(math.NaN())
		return nil
	case `"+Inf"`, `"Inf"`:
		*f = jsonFloat(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = jsonFloat(math.Inf(-1))
		return nil
	}
	// encoding/json has checked the syntax; a JSON number is a valid Go
	// float literal.
	x, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("invalid number %s", b)
	}
	*f = jsonFloat(x)
	return nil
}

// The aliases below have the fields but not the methods of their types; the
// wrappers shadow the float fields with jsonFloat ones (encoding/json takes
// the shallower of two fields with the same name).

type stepStatsAlias StepStats

type stepStatsJSON struct {
	*stepStatsAlias
	Median jsonFloat `json:"median"`
	P10    jsonFloat `json:"p10"`
	P90    jsonFloat `json:"p90"`
	Mean   jsonFloat `json:"mean"`
}

// MarshalJSON writes the stats, non-finite values as strings.
func (s StepStats) MarshalJSON() ([]byte, error) {
	return json.Marshal(stepStatsJSON{(*stepStatsAlias)(&s),
		jsonFloat(s.Median), jsonFloat(s.P10), jsonFloat(s.P90), jsonFloat(s.Mean)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *StepStats) UnmarshalJSON(b []byte) error {
	var out StepStats
	j := stepStatsJSON{stepStatsAlias: (*stepStatsAlias)(&out)}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out.Median, out.P10, out.P90, out.Mean = float64(j.Median), float64(j.P10), float64(j.P90), float64(j.Mean)
	*s = out
	return nil
}

type metricsAlias Metrics

type metricsJSON struct {
	*metricsAlias
	Accuracy  jsonFloat            `json:"accuracy"`
	Loss      jsonFloat            `json:"loss"`
	WallTime  jsonFloat            `json:"wall_time"`
	TrainTime jsonFloat            `json:"train_time"`
	Epochs    jsonFloat            `json:"epochs"`
	Extra     map[string]jsonFloat `json:"extra,omitempty"`
}

// MarshalJSON writes the metrics, non-finite values as strings.
func (m Metrics) MarshalJSON() ([]byte, error) {
	j := metricsJSON{metricsAlias: (*metricsAlias)(&m), Accuracy: jsonFloat(m.Accuracy), Loss: jsonFloat(m.Loss),
		WallTime: jsonFloat(m.WallTime), TrainTime: jsonFloat(m.TrainTime), Epochs: jsonFloat(m.Epochs)}
	if len(m.Extra) > 0 {
		j.Extra = make(map[string]jsonFloat, len(m.Extra))
		for k, v := range m.Extra {
			j.Extra[k] = jsonFloat(v)
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

type trialAlias Trial

type trialJSON struct {
	*trialAlias
	Reward jsonFloat `json:"reward"`
}

// MarshalJSON writes the trial, a non-finite reward as a string.
func (t Trial) MarshalJSON() ([]byte, error) {
	return json.Marshal(trialJSON{(*trialAlias)(&t), jsonFloat(t.Reward)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (t *Trial) UnmarshalJSON(b []byte) error {
	var out Trial
	j := trialJSON{trialAlias: (*trialAlias)(&out)}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out.Reward = float64(j.Reward)
	*t = out
	return nil
}
