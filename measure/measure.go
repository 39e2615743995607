package measure

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/effnas/effnas/version"
)

// Metrics is what one evaluation of an architecture measured: its training
// and validation figures, its costs and where they were measured. The
// zero value of a field means it was not measured (the baseline, for
// instance, is timed but not trained: no accuracy).
type Metrics struct {
	// Accuracy is the validation accuracy, 0 to 1.
	Accuracy float64 `json:"accuracy"`
	// Loss is the validation cross-entropy.
	Loss float64 `json:"loss"`
	// StepTime is the time of one training step (forward, backward and
	// update) at Batch and ImageSize.
	StepTime StepStats `json:"step_time"`
	// ForwardTime is the time of one inference forward pass, same batch
	// and size.
	ForwardTime StepStats `json:"forward_time"`
	// Params counts the trainable parameters.
	Params int64 `json:"params"`
	// ParamsTotal also counts non-trainable state (batch-norm statistics).
	ParamsTotal int64 `json:"params_total"`
	// MACs counts the multiply-adds of one image at ImageSize.
	MACs int64 `json:"macs"`
	// WallTime is the whole evaluation, in seconds.
	WallTime float64 `json:"wall_time"`
	// TrainTime is the part of WallTime spent in training steps, seconds.
	TrainTime float64 `json:"train_time"`
	// Epochs and Steps are how long it trained.
	Epochs float64 `json:"epochs"`
	Steps  int     `json:"steps"`
	// ImageSize and Batch are the training image size and batch size.
	ImageSize int `json:"image_size"`
	Batch     int `json:"batch"`
	// RelativeStepTime is StepTime relative to a baseline network's,
	// measured interleaved with it (Interleaved): in a search the
	// baseline is the space's backbone, whose own relative time is 1. 0
	// when not measured.
	RelativeStepTime float64 `json:"relative_step_time,omitempty"`
	// Interleaved is how RelativeStepTime was measured; nil when it was
	// not. StepTime then comes from the network's bursts.
	Interleaved *Interleaved `json:"interleaved,omitempty"`
	// Host is the machine the timings were measured on.
	Host Host `json:"host"`
	// Extra holds further named measurements (e.g. "train_loss"); optional.
	Extra map[string]float64 `json:"extra,omitempty"`
}

// StepStats summarises repeated timings of one step, in seconds.
type StepStats struct {
	Median float64 `json:"median"`
	P10    float64 `json:"p10"`
	P90    float64 `json:"p90"`
	Mean   float64 `json:"mean"`
	Count  int     `json:"count"` // number of timed steps
	// Allocs and Bytes are the heap allocations and bytes allocated per
	// step, where measured; optional.
	Allocs float64 `json:"allocs,omitempty"`
	Bytes  float64 `json:"bytes,omitempty"`
}

// Interleaved is how a step time relative to a baseline network was
// measured: after warm-up, Pairs pairs of bursts of Burst timed training
// steps, the network's then the baseline's (ABAB...), so that load that
// comes and goes on the machine falls on both alike. Each pair gives a
// ratio, the median step of the network's burst over the median step of
// the baseline's; the relative step time is the median of the ratios.
type Interleaved struct {
	// Against names the baseline network.
	Against string `json:"against,omitempty"`
	// Baseline is the baseline's step time over its bursts, in seconds
	// (the network's is Metrics.StepTime).
	Baseline StepStats `json:"baseline"`
	Pairs    int       `json:"pairs"`
	Burst    int       `json:"burst"`
	// Ratios are the pairs' ratios.
	Ratios []float64 `json:"ratios"`
	// Noise is the spread of Ratios: their median absolute deviation
	// over their median. Timings whose noise was above MaxNoise were
	// repeated, at most a few times (Retimed); the figures are the least
	// noisy timing's.
	Noise    float64 `json:"noise"`
	MaxNoise float64 `json:"max_noise"`
	Retimed  int     `json:"retimed,omitempty"`
}

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
	// Code is the code version that measured (commit, modified tree);
	// optional, and not part of the fingerprint: a search resumed after a
	// code change keeps its host, each trial records its own code.
	Code version.Code `json:"code,omitzero"`
	// GPU is the accelerator the step times were measured on (nil: the
	// CPU); optional.
	GPU *GPU `json:"gpu,omitempty"`
}

// BackendSynthetic is the Backend of measurements that were computed by a
// formula (the search's synthetic evaluator) instead of training and timing.
const BackendSynthetic = "synthetic"

// Synthetic reports whether h's measurements are synthetic (a formula).
func (h Host) Synthetic() bool { return h.Backend == BackendSynthetic }

// Device names what trained and timed: the GPU's name when there is one,
// else the CPU's.
func (h Host) Device() string {
	if h.GPU != nil && h.GPU.Name != "" {
		return h.GPU.Name
	}
	return h.CPU
}

// Summary is the host in a few words for messages: "AMD EPYC, 2 cores,
// cpu/avx512", with ", GPU NAME" when it measures on a GPU.
func (h Host) Summary() string {
	s := fmt.Sprintf("%s, %d cores, %s", h.CPU, h.Cores, h.Backend)
	if h.GPU != nil {
		s += ", GPU " + h.GPU.Name
	}
	return s
}

// Fingerprint is a stable short hash (12 hex digits) of everything that
// affects a timing: OS, Arch, CPU, Cores, GOMAXPROCS, GoVersion, Backend
// and, when set, GPU.
// Hostname is left out, so identical machines share a fingerprint and the
// same machine renamed keeps its own. Step times measured under different
// fingerprints are not comparable; callers use it to refuse mixing them
// silently (for instance a resumed search on another host).
//
// The hashed text is fixed: changing it would make every stored search
// look as if it had moved host. A field added to Host is appended to the
// text only when it is set.
func (h Host) Fingerprint() string {
	s := fmt.Sprintf("effnas-host-1\nos=%s\narch=%s\ncpu=%s\ncores=%d\ngomaxprocs=%d\ngo=%s\nbackend=%s\n",
		h.OS, h.Arch, h.CPU, h.Cores, h.GOMAXPROCS, h.GoVersion, h.Backend) + h.GPU.fingerprintText()
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}
