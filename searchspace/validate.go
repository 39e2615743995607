package searchspace

import (
	"errors"
	"fmt"
	"math"

	"github.com/effnas/effnas/fielderr"
)

// ErrInvalid marks an architecture or space that fails validation.
var ErrInvalid = errors.New("invalid architecture")

// Limits on sizes: generous, but small enough that no count overflows and no
// typo (a stride of 22, 10^9 channels) passes silently.
const (
	MaxChannels = 1 << 16
	MaxRepeats  = 1000
	MaxKernel   = 15
	MaxExpand   = 16
	MaxImage    = 8192
	MaxClasses  = 1 << 20
)

// fieldError reports an invalid field of stage (1-based; 0 for the
// network) as a *fielderr.Error wrapping ErrInvalid, scoped "stage N".
func fieldError(stage int, field string, v any, allowed string) error {
	e := &fielderr.Error{Field: field, Value: v, Allowed: allowed, Err: ErrInvalid}
	if stage > 0 {
		e.Scope = fmt.Sprintf("stage %d", stage)
	}
	return e
}

// Validate checks an architecture and returns the first problem found, as a
// *fielderr.Error wrapping ErrInvalid.
func (a Arch) Validate() error {
	bad := fieldError
	intIn := func(stage int, field string, v, lo, hi int) error {
		if v < lo || v > hi {
			return bad(stage, field, v, fmt.Sprintf("want an integer in [%d, %d]", lo, hi))
		}
		return nil
	}
	checks := []error{
		intIn(0, "input_channels", a.InputChannels, 1, 64),
		intIn(0, "image_size", a.ImageSize, 1, MaxImage),
		intIn(0, "num_classes", a.NumClasses, 1, MaxClasses),
		intIn(0, "stem.channels", a.Stem.Channels, 1, MaxChannels),
		intIn(0, "head_channels", a.HeadChannels, 1, MaxChannels),
	}
	if a.TrainImageSize != 0 {
		checks = append(checks, intIn(0, "train_image_size", a.TrainImageSize, 1, MaxImage))
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if a.Stem.Kernel < 1 || a.Stem.Kernel > MaxKernel || a.Stem.Kernel%2 == 0 {
		return bad(0, "stem.kernel", a.Stem.Kernel, fmt.Sprintf("want an odd kernel size in [1, %d]", MaxKernel))
	}
	if a.Stem.Stride != 1 && a.Stem.Stride != 2 {
		return bad(0, "stem.stride", a.Stem.Stride, "want 1 or 2")
	}
	if math.IsNaN(a.Dropout) || a.Dropout < 0 || a.Dropout >= 1 {
		return bad(0, "dropout", a.Dropout, "want a rate in [0, 1)")
	}
	if math.IsNaN(a.SurvivalProb) || a.SurvivalProb <= 0 || a.SurvivalProb > 1 {
		return bad(0, "survival_prob", a.SurvivalProb, "want a probability in (0, 1] (1 disables stochastic depth)")
	}
	if len(a.Stages) == 0 {
		return bad(0, "stages", "[]", "want at least one stage")
	}
	prev := a.Stem.Channels
	for i, s := range a.Stages {
		n := i + 1
		if s.Block != MBConv && s.Block != FusedMBConv {
			return bad(n, "block", int(s.Block), "want mbconv (c0) or fused_mbconv (c1)")
		}
		if err := intIn(n, "repeats", s.Repeats, 1, MaxRepeats); err != nil {
			return err
		}
		if s.Kernel < 1 || s.Kernel > MaxKernel || s.Kernel%2 == 0 {
			return bad(n, "kernel", s.Kernel, fmt.Sprintf("want an odd kernel size in [1, %d]", MaxKernel))
		}
		if s.Stride != 1 && s.Stride != 2 {
			return bad(n, "stride", s.Stride, "want 1 or 2")
		}
		if err := intIn(n, "expand", s.Expand, 1, MaxExpand); err != nil {
			return err
		}
		if err := intIn(n, "in", s.In, 1, MaxChannels); err != nil {
			return err
		}
		if err := intIn(n, "out", s.Out, 1, MaxChannels); err != nil {
			return err
		}
		if math.IsNaN(s.SE) || s.SE < 0 || s.SE > 1 {
			return bad(n, "se", s.SE, "want a ratio in [0, 1] (0 = no squeeze-excite)")
		}
		if s.In != prev {
			what := "the stem's channels"
			if i > 0 {
				what = fmt.Sprintf("stage %d's output", i)
			}
			return bad(n, "in", s.In, fmt.Sprintf("channels do not chain: want %d, %s", prev, what))
		}
		prev = s.Out
	}
	return nil
}
