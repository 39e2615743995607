package reward

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/measure"
)

// 2^-0.07 and 2^0.07 to 30 digits (bc -l: e(∓0.07*l(2))).
const (
	pow2m007 = 0.952637998043937388928900594868
	pow2p007 = 1.049716683623067269049347321740
	pow2m005 = 0.965936328924845551065144312921 // 2^-0.05
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// meas is a measurement of accuracy acc, median step time step and params
// trainable parameters.
func meas(acc, step, params float64) measure.Metrics {
	return measure.Metrics{Accuracy: acc, StepTime: measure.StepStats{Median: step}, Params: int64(params)}
}

func mustScore(t *testing.T, s Settings, m measure.Metrics) float64 {
	t.Helper()
	r, err := s.Score(m)
	if err != nil {
		t.Fatalf("Score(%+v): %v", m, err)
	}
	return r
}

func TestEfficientNetV2Reward(t *testing.T) {
	const s0, p0 = 0.120, 21458488.0
	s := EfficientNetV2(s0, p0)
	cases := []struct {
		name string
		m    measure.Metrics
		want float64
	}{
		{"backbone", meas(0.9, s0, p0), 0.9},
		{"double step time", meas(0.9, 2*s0, p0), 0.9 * pow2m007},
		{"half step time", meas(0.9, s0/2, p0), 0.9 * pow2p007},
		{"double params", meas(0.9, s0, 2*p0), 0.9 * pow2m005},
		{"both doubled", meas(0.5, 2*s0, 2*p0), 0.5 * math.Pow(2, -0.12)},
		{"zero accuracy", meas(0, 3*s0, p0/3), 0},
	}
	for _, c := range cases {
		got := mustScore(t, s, c.m)
		if !near(got, c.want, 1e-12) {
			t.Errorf("%s: R = %.17g, want %.17g", c.name, got, c.want)
		}
	}
}

func TestZeroValueIsEfficientNetV2(t *testing.T) {
	z := Settings{Time: Term{Ref: 2}, Params: Term{Ref: 3}}
	p := EfficientNetV2(2, 3)
	for _, m := range []measure.Metrics{meas(0.7, 1, 1), meas(0.7, 2, 3), meas(0.3, 7, 100)} {
		if a, b := mustScore(t, z, m), mustScore(t, p, m); a != b {
			t.Errorf("%+v: zero-value settings %v, preset %v", m, a, b)
		}
	}
	r, err := z.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, p) {
		t.Errorf("Resolve() = %+v, want the preset %+v", r, p)
	}
	// The paper's raw form: with unit references the reward is A·S^w·P^v.
	u := Settings{Time: Term{Ref: 1}, Params: Term{Ref: 1}}
	got := mustScore(t, u, meas(0.8, 1.7, 5))
	want := 0.8 * math.Pow(1.7, -0.07) * math.Pow(5, -0.05)
	if !near(got, want, 1e-15) {
		t.Errorf("unit references: %v, want %v", got, want)
	}
}

func TestMnasNetSoft(t *testing.T) {
	// MnasNet Fig. 3: ACC = 0.5, T = 80 ms.
	s := MnasNetSoft(80, 1e6)
	for _, c := range []struct {
		lat, want float64
	}{
		{80, 0.5},
		{160, 0.5 * pow2m007},
		{40, 0.5 * pow2p007},
	} {
		if got := mustScore(t, s, meas(0.5, c.lat, 1e6)); !near(got, c.want, 1e-12) {
			t.Errorf("LAT %v: R = %.17g, want %.17g", c.lat, got, c.want)
		}
	}
	// Params use the same exponent against their own target.
	if got, want := mustScore(t, s, meas(0.5, 80, 2e6)), 0.5*pow2m007; !near(got, want, 1e-12) {
		t.Errorf("params doubled: %v, want %v", got, want)
	}
	// Kind only: same as the preset.
	k := Settings{Kind: KindMnasNetSoft, Time: Term{Ref: 80}, Params: Term{Ref: 1e6}}
	if a, b := mustScore(t, k, meas(0.5, 100, 3e6)), mustScore(t, s, meas(0.5, 100, 3e6)); a != b {
		t.Errorf("kind defaults %v, preset %v", a, b)
	}
}

func TestMnasNetHard(t *testing.T) {
	s := MnasNetHard(75, 4e6)
	for _, c := range []struct {
		lat, params, want float64
	}{
		{75, 4e6, 0.8},                // at target: no penalty
		{10, 1e6, 0.8},                // under target: no penalty
		{150, 4e6, 0.4},               // (150/75)^-1 = 1/2
		{75, 8e6, 0.4},                // params above target
		{112.5, 5e6, 0.8 / 1.5 * 0.8}, // both above target
	} {
		got := mustScore(t, s, meas(0.8, c.lat, c.params))
		if !near(got, c.want, 1e-15) {
			t.Errorf("LAT %v params %v: R = %.17g, want %.17g", c.lat, c.params, got, c.want)
		}
	}
}

func TestOneFormula(t *testing.T) {
	// Custom exponents on any kind; alpha applies at or below, beta above.
	s := Settings{Kind: KindMnasNetHard,
		Time:   Term{Ref: 10, Alpha: Exponent(-0.2), Beta: Exponent(-0.5)},
		Params: Term{Ref: 100, Alpha: Exponent(0)}, // beta: kind default -1
	}
	b, err := s.Evaluate(meas(0.6, 5, 400))
	if err != nil {
		t.Fatal(err)
	}
	want := Breakdown{Reward: 0.6 * math.Pow(0.5, -0.2) * 0.25, Accuracy: 0.6,
		TimeFactor: math.Pow(0.5, -0.2), ParamsFactor: 0.25}
	if !near(b.Reward, want.Reward, 1e-15) || b.TimeFactor != want.TimeFactor || b.ParamsFactor != want.ParamsFactor {
		t.Errorf("Evaluate = %+v, want %+v", b, want)
	}
	if got := Factor(20, 10, -0.2, -0.5); got != math.Pow(2, -0.5) {
		t.Errorf("Factor above target = %v", got)
	}
	if got := Factor(10, 10, -0.2, -0.5); got != 1 {
		t.Errorf("Factor at target = %v", got)
	}
}

func TestSettingsValidation(t *testing.T) {
	ok := EfficientNetV2(1, 1)
	cases := []struct {
		name   string
		mutate func(*Settings)
		field  string
		allow  string
	}{
		{"zero time ref", func(s *Settings) { s.Time.Ref = 0 }, "time.ref", "positive"},
		{"negative params ref", func(s *Settings) { s.Params.Ref = -5 }, "params.ref", "positive"},
		{"NaN ref", func(s *Settings) { s.Time.Ref = math.NaN() }, "time.ref", "finite"},
		{"inf ref", func(s *Settings) { s.Params.Ref = math.Inf(1) }, "params.ref", "finite"},
		{"NaN exponent", func(s *Settings) { s.Time.Alpha = Exponent(math.NaN()) }, "time.alpha", "<= 0"},
		{"positive exponent", func(s *Settings) { s.Params.Beta = Exponent(0.05) }, "params.beta", "<= 0"},
		{"unknown kind", func(s *Settings) { s.Kind = "mnas" }, "kind", "effnetv2"},
	}
	for _, c := range cases {
		s := ok
		s.Time.Alpha, s.Params.Beta = Exponent(*ok.Time.Alpha), Exponent(*ok.Params.Beta)
		c.mutate(&s)
		err := s.Validate()
		var fe *fielderr.Error
		if !errors.As(err, &fe) {
			t.Errorf("%s: Validate() = %v, want a *fielderr.Error", c.name, err)
			continue
		}
		if fe.Field != c.field || !strings.Contains(err.Error(), c.allow) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %q (field %q), want field %q mentioning %q", c.name, err, fe.Field, c.field, c.allow)
		}
		if _, err := s.Score(meas(0.5, 1, 1)); err == nil {
			t.Errorf("%s: Score accepted invalid settings", c.name)
		}
	}
	// The zero value lacks references: both are reported.
	err := Settings{}.Validate()
	if err == nil || !strings.Contains(err.Error(), "time.ref = 0") || !strings.Contains(err.Error(), "params.ref = 0") {
		t.Errorf("Settings{}.Validate() = %v, want both references reported", err)
	}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid settings: %v", err)
	}
}

func TestMetricsValidation(t *testing.T) {
	s := EfficientNetV2(1, 1)
	cases := []struct {
		m     measure.Metrics
		field string
	}{
		{meas(-0.1, 1, 1), "accuracy"},
		{meas(1.5, 1, 1), "accuracy"},
		{meas(math.NaN(), 1, 1), "accuracy"},
		{meas(0.5, 0, 1), "step_time.median"},
		{meas(0.5, -1, 1), "step_time.median"},
		{meas(0.5, math.NaN(), 1), "step_time.median"},
		{meas(0.5, 1, 0), "params"},
		{meas(0.5, 1, -1), "params"},
		{func() measure.Metrics { m := meas(0.5, 1, 1); m.RelativeStepTime = -1; return m }(), "relative_step_time"},
		{func() measure.Metrics { m := meas(0.5, 1, 1); m.RelativeStepTime = math.Inf(1); return m }(), "relative_step_time"},
	}
	for _, c := range cases {
		_, err := s.Score(c.m)
		var fe *fielderr.Error
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("Score(%+v) error = %v, want field %q", c.m, err, c.field)
		}
	}
	for _, a := range []float64{0, 1} {
		if _, err := s.Score(meas(a, 1, 1)); err != nil {
			t.Errorf("accuracy %v rejected: %v", a, err)
		}
	}
}

func TestResolveDoesNotAlias(t *testing.T) {
	s := MnasNetSoft(1, 1)
	r, err := s.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	*r.Time.Alpha = -0.5
	if *s.Time.Alpha != SoftExponent {
		t.Errorf("Resolve shares exponent pointers with its receiver")
	}
}

func TestSettingsJSON(t *testing.T) {
	for _, s := range []Settings{EfficientNetV2(0.12, 2e7), MnasNetSoft(75, 4e6), MnasNetHard(75, 4e6),
		{Time: Term{Ref: 1}, Params: Term{Ref: 2, Beta: Exponent(0)}}} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Settings
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Errorf("round trip %s: got %+v, want %+v", b, back, s)
		}
	}
	b, _ := json.Marshal(MnasNetHard(75, 4e6))
	want := `{"kind":"mnasnet-hard","time":{"ref":75,"alpha":0,"beta":-1},"params":{"ref":4000000,"alpha":0,"beta":-1}}`
	if string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	var s Settings
	if err := json.Unmarshal([]byte(`{"time":{"ref":2},"params":{"ref":3}}`), &s); err != nil {
		t.Fatal(err)
	}
	if got, want := mustScore(t, s, meas(0.9, 4, 3)), 0.9*pow2m007; !near(got, want, 1e-12) {
		t.Errorf("defaults from JSON: %v, want %v", got, want)
	}
}

// The reward reads the accuracy, the median step time and the trainable
// parameters of a measurement, and nothing else.
func TestScoreReadsMedianStepTimeAndTrainableParams(t *testing.T) {
	s := EfficientNetV2(0.1, 1000)
	m := measure.Metrics{Accuracy: 0.8, StepTime: measure.StepStats{Median: 0.2, P10: 0.01, P90: 9, Mean: 5, Count: 3},
		ForwardTime: measure.StepStats{Median: 7}, Params: 2000, ParamsTotal: 99999, MACs: 1, Loss: math.NaN(), WallTime: 3}
	if got, want := mustScore(t, s, m), 0.8*pow2m007*pow2m005; !near(got, want, 1e-12) {
		t.Errorf("R = %v, want %v", got, want)
	}
	if p := SearchPoint("x", m); !reflect.DeepEqual(p.Objectives, []float64{0.8, 0.2, 2000}) {
		t.Errorf("SearchPoint = %+v", p)
	}
}

func TestDecodeSettings(t *testing.T) {
	if s, err := DecodeSettings(nil); err != nil || !reflect.DeepEqual(s, Settings{}) {
		t.Errorf("empty: %+v %v", s, err)
	}
	b, _ := json.Marshal(MnasNetSoft(75, 4e6))
	if s, err := DecodeSettings(b); err != nil || !reflect.DeepEqual(s, MnasNetSoft(75, 4e6)) {
		t.Errorf("%s: %+v %v", b, s, err)
	}
	if _, err := DecodeSettings([]byte(`{"time":`)); err == nil || !strings.Contains(err.Error(), "reward settings") {
		t.Errorf("truncated: %v", err)
	}
}

// A step time measured relative to the baseline replaces S/S0: the
// absolute times (here of a loaded machine, 3 times the quiet ones) do not
// count. The baseline's own relative time is 1, so it scores its accuracy.
// With a target T other than the baseline's time S0 (Base = S0), S is the
// relative time times S0.
func TestRelativeStepTime(t *testing.T) {
	const s0, p0 = 0.1, 1000.0
	rel := func(acc, step, r float64) measure.Metrics { m := meas(acc, step, p0); m.RelativeStepTime = r; return m }
	s := EfficientNetV2(s0, p0)
	if got := mustScore(t, s, rel(0.8, 0.3, 2)); !near(got, 0.8*pow2m007, 1e-15) {
		t.Errorf("relative 2 (absolute 3x the baseline): %v, want 0.8*2^-0.07", got)
	}
	if got := mustScore(t, s, rel(0.8, 0.9, 1)); got != 0.8 {
		t.Errorf("the baseline (relative 1): %v, want exactly its accuracy", got)
	}
	if got, want := mustScore(t, s, meas(0.8, 0.2, p0)), 0.8*pow2m007; !near(got, want, 1e-15) {
		t.Errorf("no relative time: absolute S/S0 = 2 gives %v, want %v", got, want)
	}
	hard := MnasNetHard(0.15, p0)
	hard.Time.Base = s0
	if got := mustScore(t, hard, rel(0.8, 0.9, 1.4)); got != 0.8 {
		t.Errorf("hard target 0.15 s, relative 1.4 of 0.1 s (0.14 s): %v, want 0.8", got)
	}
	if got := mustScore(t, hard, rel(0.8, 0.01, 3)); !near(got, 0.8*0.15/0.3, 1e-15) {
		t.Errorf("hard target 0.15 s, relative 3 of 0.1 s (0.3 s): %v, want 0.8*0.5", got)
	}
	bad := s
	bad.Time.Base = -1
	var fe *fielderr.Error
	if _, err := bad.Score(rel(0.8, 0.1, 1)); !errors.As(err, &fe) || fe.Field != "time.base" {
		t.Errorf("negative base: %v", err)
	}
}
