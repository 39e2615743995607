package scaling

import "math"

// Official global parameters (google/automl efficientnetv2/hparams.py).
const (
	// DefaultDivisor is the official depth_divisor.
	DefaultDivisor = 8
	// DefaultMinDepth is the official min_depth.
	DefaultMinDepth = 8
)

// Rounding selects the filter rounding rule.
type Rounding int

const (
	// RoundV2 is the official EfficientNetV2 round_filters (no guard).
	RoundV2 Rounding = iota
	// RoundGuarded is the EfficientNet V1 / MnasNet rule: like RoundV2, but
	// divisor is added when the result is below 90% of filters*width.
	RoundGuarded
)

func (r Rounding) String() string {
	switch r {
	case RoundV2:
		return "v2"
	case RoundGuarded:
		return "guarded"
	}
	return "Rounding(?)"
}

// roundDefaults applies the official defaults: divisor <= 0 means
// DefaultDivisor, minDepth <= 0 means divisor ("min_depth or divisor").
func roundDefaults(divisor, minDepth int) (int, int) {
	if divisor <= 0 {
		divisor = DefaultDivisor
	}
	if minDepth <= 0 {
		minDepth = divisor
	}
	return divisor, minDepth
}

// RoundFilters is the official EfficientNetV2 round_filters: with width 0
// filters is returned unchanged; otherwise
// max(minDepth, int(filters*width + divisor/2) / divisor * divisor).
// divisor <= 0 means DefaultDivisor and minDepth <= 0 means divisor. The
// width is not checked here (Scale validates it).
func RoundFilters(filters int, width float64, divisor, minDepth int) int {
	if width == 0 {
		return filters
	}
	divisor, minDepth = roundDefaults(divisor, minDepth)
	f := float64(filters) * width
	return max(minDepth, int(f+float64(divisor)/2)/divisor*divisor)
}

// RoundFiltersGuarded is the EfficientNet V1 / MnasNet round_filters:
// RoundFilters plus divisor when the result is below 0.9*filters*width
// ("make sure that round down does not go down by more than 10%").
func RoundFiltersGuarded(filters int, width float64, divisor, minDepth int) int {
	if width == 0 {
		return filters
	}
	divisor, _ = roundDefaults(divisor, minDepth)
	n := RoundFilters(filters, width, divisor, minDepth)
	if float64(n) < 0.9*(float64(filters)*width) {
		n += divisor
	}
	return n
}

// round applies the selected rule.
func (r Rounding) round(filters int, width float64, divisor, minDepth int) int {
	if r == RoundGuarded {
		return RoundFiltersGuarded(filters, width, divisor, minDepth)
	}
	return RoundFilters(filters, width, divisor, minDepth)
}

// RoundRepeats is the official round_repeats: ceil(depth*repeats), with
// depth 0 meaning unchanged.
func RoundRepeats(repeats int, depth float64) int {
	if depth == 0 {
		return repeats
	}
	return int(math.Ceil(depth * float64(repeats)))
}
