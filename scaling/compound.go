package scaling

import (
	"fmt"
	"math"

	"github.com/effnas/effnas/searchspace"
)

// Compound-scaling defaults.
const (
	// DefaultAlpha, DefaultBeta and DefaultGamma are EfficientNet V1's depth,
	// width and resolution bases (alpha*beta^2*gamma^2 = 1.92027).
	DefaultAlpha = 1.2
	DefaultBeta  = 1.1
	DefaultGamma = 1.15
	// FLOPsTarget is the intended FLOPs factor per unit of phi.
	FLOPsTarget = 2.0
	// DefaultTolerance is the accepted |alpha*beta^2*gamma^2 - 2|.
	DefaultTolerance = 0.1
	// ImageNetMaxImageSize is EfficientNetV2's cap on the evaluation size.
	ImageNetMaxImageSize = 480
	// DefaultImageMultiple rounds evaluation sizes (all official ones are
	// multiples of 4).
	DefaultImageMultiple = 4
	// DefaultTrainRatio and DefaultTrainMultiple give the training size:
	// 0.8 x evaluation size, to the nearest multiple of 8.
	DefaultTrainRatio    = 0.8
	DefaultTrainMultiple = 8
	// MaxMembers bounds a family.
	MaxMembers = 32
)

// Compound is a triple of compound-scaling bases.
type Compound struct {
	Alpha, Beta, Gamma float64
}

// DefaultCompound is EfficientNet V1's (1.2, 1.1, 1.15).
func DefaultCompound() Compound { return Compound{DefaultAlpha, DefaultBeta, DefaultGamma} }

// FLOPsFactor is alpha*beta^2*gamma^2, the FLOPs growth per unit of phi
// (depth scales FLOPs linearly, width and resolution quadratically).
func (c Compound) FLOPsFactor() float64 { return c.Alpha * c.Beta * c.Beta * c.Gamma * c.Gamma }

// At returns depth alpha^phi, width beta^phi and resolution factor gamma^phi.
func (c Compound) At(phi float64) (depth, width, resolution float64) {
	return math.Pow(c.Alpha, phi), math.Pow(c.Beta, phi), math.Pow(c.Gamma, phi)
}

// Validate requires each base finite in [1, 4] and the FLOPs factor within
// tolerance of 2 (tolerance 0 means DefaultTolerance, +Inf disables it).
func (c Compound) Validate(tolerance float64) error {
	if err := firstErr(
		checkFloat("alpha", c.Alpha, 1, 4, " (depth base)"),
		checkFloat("beta", c.Beta, 1, 4, " (width base)"),
		checkFloat("gamma", c.Gamma, 1, 4, " (resolution base)"),
	); err != nil {
		return err
	}
	if math.IsNaN(tolerance) || tolerance < 0 {
		return badOption("tolerance", tolerance, "want a number >= 0 (0 = 0.1, +Inf = no check)")
	}
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	if p := c.FLOPsFactor(); math.Abs(p-FLOPsTarget) > tolerance {
		return badOption("alpha*beta^2*gamma^2", p,
			fmt.Sprintf("want within %g of %g (alpha %g, beta %g, gamma %g)", tolerance, FLOPsTarget, c.Alpha, c.Beta, c.Gamma))
	}
	return nil
}

// RoundToMultiple rounds x to the nearest multiple of m (halves up), at
// least m.
func RoundToMultiple(x float64, m int) int {
	if m < 1 {
		m = 1
	}
	return max(m, m*int(math.Floor(x/float64(m)+0.5)))
}

// ProposeMaxImageSize proposes an evaluation-size cap for a data set whose
// native images are native pixels wide: twice the native size (rounded up
// to a multiple of 4), since upsampling small images further adds cost but
// little information. On ImageNet use ImageNetMaxImageSize (480, the
// paper's cap, about 2.1 x 224).
func ProposeMaxImageSize(native int) int {
	if native < 1 {
		return 0
	}
	m := DefaultImageMultiple
	return (2*native + m - 1) / m * m
}

// TrainImageSizeFor is the training size of a member evaluated at eval:
// ratio*eval to the nearest multiple (0 means the defaults 0.8 and 8).
func TrainImageSizeFor(eval int, ratio float64, multiple int) int {
	if ratio == 0 {
		ratio = DefaultTrainRatio
	}
	if multiple == 0 {
		multiple = DefaultTrainMultiple
	}
	return RoundToMultiple(ratio*float64(eval), multiple)
}

// FamilyOptions describes a compound-scaled family.
type FamilyOptions struct {
	// Members is the number of members, phi = 0 .. Members-1.
	Members int
	// Alpha, Beta, Gamma are the compound bases (0: the V1 defaults).
	Alpha, Beta, Gamma float64
	// Tolerance on |alpha*beta^2*gamma^2 - 2| (0: 0.1; +Inf: no check).
	Tolerance float64
	// MaxImageSize caps the evaluation size (0: no cap;
	// ImageNetMaxImageSize on ImageNet; ProposeMaxImageSize for others).
	MaxImageSize int
	// LateStages puts the extra depth preferentially on later stages.
	LateStages bool
	// ImageMultiple rounds evaluation sizes (0: 4).
	ImageMultiple int
	// TrainRatio and TrainMultiple give training sizes (0: 0.8 and 8).
	TrainRatio    float64
	TrainMultiple int
	// Classes for the counts (0: the base's NumClasses).
	Classes int
	// Name prefix of the members (empty: the base's name).
	Name string
	// Rounding, Divisor and MinDepth are passed to Scale.
	Rounding          Rounding
	Divisor, MinDepth int
}

// Member is one network of a family. Its JSON form is what "nas family
// -o" writes: name, phi, width, depth, params, params_total, macs,
// image_size, train_image_size, capped and the architecture.
type Member struct {
	Name  string  `json:"name"`
	Phi   int     `json:"phi"`
	Width float64 `json:"width"`
	Depth float64 `json:"depth"`
	// Count is the tally at ImageSize and the family's classes.
	searchspace.Count
	ImageSize      int `json:"image_size"`
	TrainImageSize int `json:"train_image_size"`
	// Capped reports that MaxImageSize lowered the evaluation size.
	Capped bool             `json:"capped"`
	Arch   searchspace.Arch `json:"arch"`
}

func (o FamilyOptions) withDefaults() FamilyOptions {
	if o.Alpha == 0 {
		o.Alpha = DefaultAlpha
	}
	if o.Beta == 0 {
		o.Beta = DefaultBeta
	}
	if o.Gamma == 0 {
		o.Gamma = DefaultGamma
	}
	if o.ImageMultiple == 0 {
		o.ImageMultiple = DefaultImageMultiple
	}
	if o.TrainRatio == 0 {
		o.TrainRatio = DefaultTrainRatio
	}
	if o.TrainMultiple == 0 {
		o.TrainMultiple = DefaultTrainMultiple
	}
	return o
}

// Validate checks the options (after defaults); errors are *fielderr.Error
// wrapping ErrBadOption.
func (o FamilyOptions) Validate() error {
	o = o.withDefaults()
	return firstErr(
		checkInt("members", o.Members, 1, MaxMembers, ""),
		Compound{o.Alpha, o.Beta, o.Gamma}.Validate(o.Tolerance),
		checkInt("max_image_size", o.MaxImageSize, 0, searchspace.MaxImage, " (0 = no cap)"),
		checkInt("image_multiple", o.ImageMultiple, 1, 64, " (0 = 4)"),
		checkFloat("train_ratio", o.TrainRatio, 0.1, 1, " (0 = 0.8)"),
		checkInt("train_multiple", o.TrainMultiple, 1, 64, " (0 = 8)"),
		checkInt("classes", o.Classes, 0, searchspace.MaxClasses, " (0 = the base's)"),
		Options{Divisor: o.Divisor, MinDepth: o.MinDepth, Rounding: o.Rounding}.Validate(),
	)
}

// Family scales base by phi = 0 .. Members-1: depth alpha^phi, width
// beta^phi, evaluation size base*gamma^phi rounded to ImageMultiple and
// capped at MaxImageSize, training size TrainRatio x that rounded to
// TrainMultiple (member 0 keeps the base's sizes unless capped).
func Family(base searchspace.Arch, o FamilyOptions) ([]Member, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	if err := base.Validate(); err != nil {
		return nil, fmt.Errorf("scaling: base architecture %q: %w", base.Name, err)
	}
	c := Compound{o.Alpha, o.Beta, o.Gamma}
	prefix := o.Name
	if prefix == "" {
		prefix = base.Name
	}
	classes := o.Classes
	if classes == 0 {
		classes = base.NumClasses
	}
	out := make([]Member, 0, o.Members)
	for phi := 0; phi < o.Members; phi++ {
		depth, width, res := c.At(float64(phi))
		m := Member{Name: fmt.Sprintf("%s-phi%d", prefix, phi), Phi: phi, Width: width, Depth: depth}
		if phi == 0 {
			m.ImageSize, m.TrainImageSize = base.ImageSize, base.TrainSize()
		} else {
			m.ImageSize = RoundToMultiple(float64(base.ImageSize)*res, o.ImageMultiple)
		}
		if o.MaxImageSize > 0 && m.ImageSize > o.MaxImageSize {
			m.ImageSize, m.Capped = o.MaxImageSize, true
		}
		if phi > 0 || m.Capped {
			m.TrainImageSize = min(m.ImageSize, TrainImageSizeFor(m.ImageSize, o.TrainRatio, o.TrainMultiple))
		}
		a, err := Scale(base, Options{Name: m.Name, Width: width, Depth: depth, LateStages: o.LateStages,
			ImageSize: m.ImageSize, TrainImageSize: m.TrainImageSize,
			Divisor: o.Divisor, MinDepth: o.MinDepth, Rounding: o.Rounding})
		if err != nil {
			return nil, fmt.Errorf("scaling: member phi=%d: %w", phi, err)
		}
		if a.TrainImageSize == a.ImageSize {
			a.TrainImageSize = 0
		}
		a.NumClasses = classes
		acc, err := a.Count(m.ImageSize, classes)
		if err != nil {
			return nil, fmt.Errorf("scaling: member phi=%d: %w", phi, err)
		}
		m.Arch, m.Count = a, acc.Total
		out = append(out, m)
	}
	return out, nil
}
