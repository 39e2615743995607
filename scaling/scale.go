package scaling

import (
	"fmt"
	"strconv"

	"github.com/effnas/effnas/searchspace"
)

// Limits on the coefficients: generous, but small enough that no channel or
// repeat count overflows before the result is validated.
const (
	MaxWidth = 100
	MaxDepth = 100
)

// Options scales one architecture. Zero values mean "unchanged" (for Width
// and Depth, as in the official code: a zero multiplier skips rounding; a
// multiplier of 1 still rounds channels to multiples of Divisor, which
// leaves every reference network unchanged).
type Options struct {
	// Name of the result; empty keeps the base name, with the coefficients
	// appended when they change anything.
	Name string
	// Width multiplies every channel count (then RoundFilters).
	Width float64
	// Depth multiplies every stage's repeats (then RoundRepeats).
	Depth float64
	// LateStages distributes the extra repeats of Depth > 1 with more weight
	// on the later stages (see the package doc); the block total is the
	// uniform rule's.
	LateStages bool
	// ImageSize and TrainImageSize set the evaluation and training sizes.
	ImageSize, TrainImageSize int
	// Dropout sets the classifier dropout rate (0 keeps the base's).
	Dropout float64
	// Divisor and MinDepth of the rounding (0: the official 8 and Divisor).
	Divisor, MinDepth int
	// Rounding selects RoundV2 (official V2, default) or RoundGuarded.
	Rounding Rounding
}

// Validate checks the options; errors are *fielderr.Error
// wrapping ErrBadOption.
func (o Options) Validate() error {
	return firstErr(
		checkFloat("width", o.Width, 0, MaxWidth, " (0 = unchanged)"),
		checkFloat("depth", o.Depth, 0, MaxDepth, " (0 = unchanged)"),
		checkInt("image_size", o.ImageSize, 0, searchspace.MaxImage, " (0 = unchanged)"),
		checkInt("train_image_size", o.TrainImageSize, 0, searchspace.MaxImage, " (0 = unchanged)"),
		func() error {
			if err := checkFloat("dropout", o.Dropout, 0, 1, " (0 = unchanged)"); err != nil || o.Dropout < 1 {
				return err
			}
			return badOption("dropout", o.Dropout, "want a rate in [0, 1) (0 = unchanged)")
		}(),
		checkInt("divisor", o.Divisor, 0, 1024, " (0 = 8)"),
		checkInt("min_depth", o.MinDepth, 0, searchspace.MaxChannels, " (0 = divisor)"),
		func() error {
			if o.Rounding != RoundV2 && o.Rounding != RoundGuarded {
				return badOption("rounding", int(o.Rounding), "want 0 (v2) or 1 (guarded)")
			}
			return nil
		}(),
	)
}

// Scale returns the architecture scaled by o, validated. The base is not
// modified.
func Scale(a searchspace.Arch, o Options) (searchspace.Arch, error) {
	if err := o.Validate(); err != nil {
		return searchspace.Arch{}, err
	}
	if err := a.Validate(); err != nil {
		return searchspace.Arch{}, fmt.Errorf("scaling: base architecture %q: %w", a.Name, err)
	}
	rf := func(c int) int { return o.Rounding.round(c, o.Width, o.Divisor, o.MinDepth) }
	b := a.Clone()
	b.Stem.Channels = rf(a.Stages[0].In)
	repeats := StageRepeats(a, o.Depth, o.LateStages)
	for i := range b.Stages {
		b.Stages[i].In = rf(a.Stages[i].In)
		b.Stages[i].Out = rf(a.Stages[i].Out)
		b.Stages[i].Repeats = repeats[i]
	}
	b.HeadChannels = rf(a.HeadChannels)
	if o.ImageSize > 0 {
		b.ImageSize = o.ImageSize
	}
	if o.TrainImageSize > 0 {
		b.TrainImageSize = o.TrainImageSize
	}
	if o.Dropout > 0 {
		b.Dropout = o.Dropout
	}
	switch {
	case o.Name != "":
		b.Name = o.Name
	case (o.Width != 0 && o.Width != 1) || (o.Depth != 0 && o.Depth != 1):
		b.Name = a.Name + "-w" + fmtCoef(o.Width) + "-d" + fmtCoef(o.Depth)
		if o.LateStages {
			b.Name += "-late"
		}
	}
	if err := b.Validate(); err != nil {
		return searchspace.Arch{}, fmt.Errorf("scaling: %q scaled by width %g, depth %g: %w", a.Name, o.Width, o.Depth, err)
	}
	return b, nil
}

func fmtCoef(v float64) string {
	if v == 0 {
		v = 1
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// StageRepeats is the per-stage repeats of a scaled by depth: the uniform
// rule ceil(depth*r_i) or, with late set and depth > 1, the same total
// apportioned with weights i*r_i (see the package doc). depth 0 leaves the
// repeats unchanged. The depth is not validated here.
func StageRepeats(a searchspace.Arch, depth float64, late bool) []int {
	base := make([]int, len(a.Stages))
	uni := make([]int, len(a.Stages))
	extra := 0
	for i, s := range a.Stages {
		base[i] = s.Repeats
		uni[i] = RoundRepeats(s.Repeats, depth)
		extra += uni[i] - s.Repeats
	}
	if !late || depth <= 1 || extra <= 0 {
		return uni
	}
	return apportion(base, extra)
}

// apportion adds extra blocks to base with weights i*base[i-1] (1-based i)
// by the largest-remainder method, ties to the later stage.
func apportion(base []int, extra int) []int {
	w := make([]int64, len(base))
	var total int64
	for i, r := range base {
		w[i] = int64(i+1) * int64(r)
		total += w[i]
	}
	out := append([]int(nil), base...)
	rem := make([]int64, len(base))
	given := 0
	for i := range base {
		q := int64(extra) * w[i]
		out[i] += int(q / total)
		given += int(q / total)
		rem[i] = q % total
	}
	for ; given < extra; given++ {
		best := -1
		for i := len(base) - 1; i >= 0; i-- {
			if best < 0 || rem[i] > rem[best] {
				best = i
			}
		}
		out[best]++
		rem[best] = -1
	}
	return out
}
