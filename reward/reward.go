package reward

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/measure"
)

// Kind names a reward preset. It selects the default exponents of the terms
// whose exponents are left unset (nil).
type Kind string

const (
	// KindEffNetV2 is the EfficientNetV2 reward A·(S/S0)^w·(P/P0)^v with
	// w = DefaultTimeExponent and v = DefaultParamsExponent. The empty Kind
	// means KindEffNetV2.
	KindEffNetV2 Kind = "effnetv2"
	// KindMnasNetSoft is the MnasNet soft constraint: α = β = SoftExponent
	// for both step time and params, each against its target.
	KindMnasNetSoft Kind = "mnasnet-soft"
	// KindMnasNetHard is the MnasNet hard constraint: α = 0 and
	// β = HardExponent for both step time and params.
	KindMnasNetHard Kind = "mnasnet-hard"
)

// Default exponents (EfficientNetV2 §3.3; MnasNet Eq. 2-3).
const (
	DefaultTimeExponent   = -0.07 // w: training step time, EfficientNetV2
	DefaultParamsExponent = -0.05 // v: parameters, EfficientNetV2
	SoftExponent          = -0.07 // MnasNet soft constraint, α = β
	HardExponent          = -1.0  // MnasNet hard constraint β (α = 0)
)

// Term is one cost objective of the reward: the factor (x/Ref)^e with
// e = Alpha when x <= Ref and e = Beta when x > Ref.
//
// A nil exponent takes the default of the settings' Kind; an explicit zero
// means no penalty on that side. Exponents must be finite and <= 0 (a
// positive exponent would reward a slower or larger model).
type Term struct {
	// Ref is the reference or target, in the unit of the measurement: the
	// backbone's step time S0 or parameter count P0 for EfficientNetV2, the
	// target T for MnasNet. It must be positive and finite; it has no
	// default because it is measured per search and per host.
	Ref float64 `json:"ref"`
	// Alpha is the exponent used when x <= Ref.
	Alpha *float64 `json:"alpha,omitempty"`
	// Beta is the exponent used when x > Ref.
	Beta *float64 `json:"beta,omitempty"`
	// Base is the baseline's value in Ref's unit, which a measurement
	// relative to the baseline multiplies: a step time measured relative
	// to the search's baseline (measure.Metrics.RelativeStepTime) is
	// S = RelativeStepTime·Base. 0 means Ref, the EfficientNetV2 reward's
	// case, whose reference is the baseline's step time S0: S/S0 is then
	// the relative time itself. Only the time term uses it.
	Base float64 `json:"base,omitempty"`
}

// Settings configures the reward. The zero value selects KindEffNetV2 with its
// default exponents; the two references must still be set (see Term.Ref).
type Settings struct {
	// Kind selects the default exponents; "" means KindEffNetV2.
	Kind Kind `json:"kind,omitempty"`
	// Time is the training-step-time term.
	Time Term `json:"time"`
	// Params is the trainable-parameter term.
	Params Term `json:"params"`
}

// Exponent returns a pointer to e, for setting Term.Alpha and Term.Beta.
func Exponent(e float64) *float64 { return &e }

// EfficientNetV2 returns resolved EfficientNetV2 settings with the backbone's
// step time s0 and parameter count p0 as references.
func EfficientNetV2(s0, p0 float64) Settings {
	return Settings{
		Kind:   KindEffNetV2,
		Time:   Term{Ref: s0, Alpha: Exponent(DefaultTimeExponent), Beta: Exponent(DefaultTimeExponent)},
		Params: Term{Ref: p0, Alpha: Exponent(DefaultParamsExponent), Beta: Exponent(DefaultParamsExponent)},
	}
}

// MnasNetSoft returns resolved MnasNet soft-constraint settings (α = β = -0.07)
// with step-time target tTime and parameter target tParams.
func MnasNetSoft(tTime, tParams float64) Settings {
	return Settings{
		Kind:   KindMnasNetSoft,
		Time:   Term{Ref: tTime, Alpha: Exponent(SoftExponent), Beta: Exponent(SoftExponent)},
		Params: Term{Ref: tParams, Alpha: Exponent(SoftExponent), Beta: Exponent(SoftExponent)},
	}
}

// MnasNetHard returns resolved MnasNet hard-constraint settings (α = 0,
// β = -1) with step-time target tTime and parameter target tParams.
func MnasNetHard(tTime, tParams float64) Settings {
	return Settings{
		Kind:   KindMnasNetHard,
		Time:   Term{Ref: tTime, Alpha: Exponent(0), Beta: Exponent(HardExponent)},
		Params: Term{Ref: tParams, Alpha: Exponent(0), Beta: Exponent(HardExponent)},
	}
}

// defaults returns the default (alpha, beta) of the time and params terms of
// kind k, or ok == false for an unknown kind.
func (k Kind) defaults() (time, params [2]float64, ok bool) {
	switch k {
	case "", KindEffNetV2:
		return [2]float64{DefaultTimeExponent, DefaultTimeExponent},
			[2]float64{DefaultParamsExponent, DefaultParamsExponent}, true
	case KindMnasNetSoft:
		return [2]float64{SoftExponent, SoftExponent}, [2]float64{SoftExponent, SoftExponent}, true
	case KindMnasNetHard:
		return [2]float64{0, HardExponent}, [2]float64{0, HardExponent}, true
	}
	return time, params, false
}

// badField reports an invalid settings or measurement field as a
// *fielderr.Error scoped "reward"; field is the JSON path of the field, e.g.
// "time.ref" or "accuracy".
func badField(field string, v any, allowed string) error {
	return &fielderr.Error{Scope: "reward", Field: field, Value: v, Allowed: allowed}
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func checkRef(field string, x float64, what string) error {
	if !finite(x) || x <= 0 {
		return badField(field, x, "must be a positive finite number ("+what+")")
	}
	return nil
}

func checkExponent(field string, e *float64) error {
	if e != nil && (!finite(*e) || *e > 0) {
		return badField(field, *e, "must be a finite exponent <= 0, or unset for the kind's default")
	}
	return nil
}

// Validate reports every invalid field of s, joined (see errors.Join); each is
// a *fielderr.Error.
func (s Settings) Validate() error {
	var errs []error
	if _, _, ok := s.Kind.defaults(); !ok {
		errs = append(errs, badField("kind", fmt.Sprintf("%q", string(s.Kind)),
			fmt.Sprintf("must be %q (default, also \"\"), %q or %q", KindEffNetV2, KindMnasNetSoft, KindMnasNetHard)))
	}
	what := "the backbone's step time S0, or the step-time target T"
	errs = append(errs, checkRef("time.ref", s.Time.Ref, what))
	errs = append(errs, checkExponent("time.alpha", s.Time.Alpha), checkExponent("time.beta", s.Time.Beta))
	if b := s.Time.Base; !finite(b) || b < 0 {
		errs = append(errs, badField("time.base", b, "must be a finite number >= 0 (0 = time.ref)"))
	}
	what = "the backbone's parameter count P0, or the parameter target T"
	errs = append(errs, checkRef("params.ref", s.Params.Ref, what))
	errs = append(errs, checkExponent("params.alpha", s.Params.Alpha), checkExponent("params.beta", s.Params.Beta))
	return errors.Join(errs...)
}

// Resolve validates s and returns a copy with Kind set explicitly and every
// unset exponent replaced by the kind's default, so that a stored record does
// not depend on future defaults. The returned pointers are not shared with s.
func (s Settings) Resolve() (Settings, error) {
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	td, pd, _ := s.Kind.defaults()
	if s.Kind == "" {
		s.Kind = KindEffNetV2
	}
	resolve := func(e *float64, def float64) *float64 {
		if e == nil {
			return Exponent(def)
		}
		return Exponent(*e)
	}
	s.Time.Alpha, s.Time.Beta = resolve(s.Time.Alpha, td[0]), resolve(s.Time.Beta, td[1])
	s.Params.Alpha, s.Params.Beta = resolve(s.Params.Alpha, pd[0]), resolve(s.Params.Beta, pd[1])
	return s, nil
}

// The reward reads three figures of a measurement: the validation
// accuracy A, the median training step time S (in the unit of
// Settings.Time.Ref, seconds in a search) and the trainable parameters P;
// and, when it was measured, the step time relative to the baseline, which
// then takes S's place in the time term (see Settings.Score). Every
// function of this package that takes a measure.Metrics reads these and
// nothing else.
func objectives(m measure.Metrics) (acc, step, params float64) {
	return m.Accuracy, m.StepTime.Median, float64(m.Params)
}

// CheckMetrics reports every figure of m the reward cannot use, joined; each
// is a *fielderr.Error naming the JSON field (accuracy, step_time.median,
// relative_step_time, params).
func CheckMetrics(m measure.Metrics) error {
	acc, step, params := objectives(m)
	var errs []error
	if !(acc >= 0 && acc <= 1) {
		errs = append(errs, badField("accuracy", acc, "must be in [0, 1]"))
	}
	if !finite(step) || step <= 0 {
		errs = append(errs, badField("step_time.median", step, "must be a positive finite number"))
	}
	if r := m.RelativeStepTime; !finite(r) || r < 0 {
		errs = append(errs, badField("relative_step_time", r, "must be a positive finite number, or 0 for none"))
	}
	if !finite(params) || params <= 0 {
		errs = append(errs, badField("params", m.Params, "must be a positive number"))
	}
	return errors.Join(errs...)
}

// SearchPoint returns m as a Pareto point with objectives (accuracy, step
// time, params), to be compared with SearchDirections.
func SearchPoint(id string, m measure.Metrics) Point {
	acc, step, params := objectives(m)
	return Point{ID: id, Objectives: []float64{acc, step, params}}
}

// DecodeSettings reads a settings document as Settings' JSON methods write
// it (a search record keeps one); empty data gives the zero Settings.
func DecodeSettings(data []byte) (Settings, error) {
	var s Settings
	if len(data) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return Settings{}, fmt.Errorf("reward settings: %w", err)
	}
	return s, nil
}

// Breakdown is a reward together with its factors:
// Reward = Accuracy · TimeFactor · ParamsFactor.
type Breakdown struct {
	Reward       float64 `json:"reward"`
	Accuracy     float64 `json:"accuracy"`
	TimeFactor   float64 `json:"time_factor"`
	ParamsFactor float64 `json:"params_factor"`
}

// Factor returns (x/ref)^alpha if x <= ref and (x/ref)^beta otherwise. It does
// not check its arguments.
func Factor(x, ref, alpha, beta float64) float64 { return ratioFactor(x/ref, alpha, beta) }

// ratioFactor returns r^alpha if r <= 1 and r^beta otherwise.
func ratioFactor(r, alpha, beta float64) float64 {
	e := beta
	if r <= 1 {
		e = alpha
	}
	return math.Pow(r, e)
}

// timeRatio is S/T of the time term: with a step time measured relative to
// the baseline, RelativeStepTime·Base/Ref (the relative time itself when
// Base is Ref or 0); else the median step time over Ref.
func (t Term) timeRatio(m measure.Metrics) float64 {
	r := m.RelativeStepTime
	switch {
	case r == 0:
		return m.StepTime.Median / t.Ref
	case t.Base == 0 || t.Base == t.Ref:
		return r
	}
	return r * t.Base / t.Ref
}

// Evaluate validates s and m (see CheckMetrics) and returns the reward of
// m with its factors.
func (s Settings) Evaluate(m measure.Metrics) (Breakdown, error) {
	r, err := s.Resolve()
	if err != nil {
		return Breakdown{}, err
	}
	if err := CheckMetrics(m); err != nil {
		return Breakdown{}, err
	}
	acc, _, params := objectives(m)
	b := Breakdown{
		Accuracy:     acc,
		TimeFactor:   ratioFactor(r.Time.timeRatio(m), *r.Time.Alpha, *r.Time.Beta),
		ParamsFactor: Factor(params, r.Params.Ref, *r.Params.Alpha, *r.Params.Beta),
	}
	b.Reward = b.Accuracy * b.TimeFactor * b.ParamsFactor
	return b, nil
}

// Score returns R = A · Π_i (x_i/T_i)^(x_i <= T_i ? α_i : β_i) over the step
// time and params terms of s, for the accuracy, step time and trainable
// parameters of m. The step time's S/T is m's step time relative to the
// baseline when it was measured (times Time.Base/Time.Ref, 1 for the
// EfficientNetV2 reward), else its median step time over Time.Ref.
func (s Settings) Score(m measure.Metrics) (float64, error) {
	b, err := s.Evaluate(m)
	return b.Reward, err
}
