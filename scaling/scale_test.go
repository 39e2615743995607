package scaling

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/searchspace"
)

func ref(t *testing.T, name string) searchspace.Arch {
	t.Helper()
	a, err := searchspace.Reference(name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The exact Keras count_params() (trainable weights plus BatchNorm moving
// mean and variance) pinned in google/automl
// efficientnetv2/effnetv2_model_test.py, at 1000 classes.
var officialTotals = map[string]int64{
	"efficientnetv2-b0": 7200312,
	"efficientnetv2-b1": 8212124,
	"efficientnetv2-b2": 10178374,
	"efficientnetv2-b3": 14467622,
	"efficientnet-b0":   5330564,
	"efficientnet-b1":   7856232,
	"efficientnet-b2":   9177562,
	"efficientnet-b3":   12314268,
	"efficientnet-b4":   19466816,
	"efficientnet-b5":   30562520,
	"efficientnet-b6":   43265136,
}

func TestOfficialCounts(t *testing.T) {
	for name, want := range officialTotals {
		a, err := Official(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		acc, err := a.Count(0, 1000)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := acc.Total.ParamsTotal; got != want {
			t.Errorf("%s: count_params %d, want %d (effnetv2_model_test.py)", name, got, want)
		}
		t.Logf("%s: total %d, trainable %d, %.3f GMACs at %d", name, acc.Total.ParamsTotal, acc.Total.Params, float64(acc.Total.MACs)/1e9, a.ImageSize)
	}
}

func TestOfficialV2Members(t *testing.T) {
	cases := []struct {
		name        string
		head        int
		train, eval int
		dropout     float64
		blocks      []string
	}{
		{"efficientnetv2-b1", 1280, 192, 240, 0.2, []string{
			"r2_k3_s1_e1_i32_o16_c1", "r3_k3_s2_e4_i16_o32_c1", "r3_k3_s2_e4_i32_o48_c1",
			"r4_k3_s2_e4_i48_o96_se0.25", "r6_k3_s1_e6_i96_o112_se0.25", "r9_k3_s2_e6_i112_o192_se0.25"}},
		{"efficientnetv2-b2", 1408, 208, 260, 0.3, []string{
			"r2_k3_s1_e1_i32_o16_c1", "r3_k3_s2_e4_i16_o32_c1", "r3_k3_s2_e4_i32_o56_c1",
			"r4_k3_s2_e4_i56_o104_se0.25", "r6_k3_s1_e6_i104_o120_se0.25", "r10_k3_s2_e6_i120_o208_se0.25"}},
		{"efficientnetv2-b3", 1536, 240, 300, 0.3, []string{
			"r2_k3_s1_e1_i40_o16_c1", "r3_k3_s2_e4_i16_o40_c1", "r3_k3_s2_e4_i40_o56_c1",
			"r5_k3_s2_e4_i56_o112_se0.25", "r7_k3_s1_e6_i112_o136_se0.25", "r12_k3_s2_e6_i136_o232_se0.25"}},
	}
	for _, c := range cases {
		a, err := Official(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != c.name || a.HeadChannels != c.head || a.TrainImageSize != c.train || a.ImageSize != c.eval || a.Dropout != c.dropout {
			t.Errorf("%s: name %q head %d train %d eval %d dropout %g", c.name, a.Name, a.HeadChannels, a.TrainImageSize, a.ImageSize, a.Dropout)
		}
		if got := a.BlockStrings(); !reflect.DeepEqual(got, c.blocks) {
			t.Errorf("%s blocks\n got %v\nwant %v", c.name, got, c.blocks)
		}
		if a.Stem.Channels != a.Stages[0].In {
			t.Errorf("%s: stem %d, first stage in %d", c.name, a.Stem.Channels, a.Stages[0].In)
		}
	}
	if _, err := Official("efficientnetv2-b9"); err == nil || !strings.Contains(err.Error(), "efficientnetv2-b3") {
		t.Errorf("unknown member: %v", err)
	}
}

func TestRoundFilters(t *testing.T) {
	cases := []struct {
		filters  int
		width    float64
		div, min int
		v2, v1   int
	}{
		{32, 1.1, 8, 8, 32, 32},       // int(35.2+4)/8*8 = 32; 32 >= 0.9*35.2
		{16, 1.2, 8, 8, 16, 24},       // int(19.2+4) = 23 -> 16 < 0.9*19.2: the guard adds 8
		{16, 1.1, 8, 8, 16, 16},       // 17.6 -> 16
		{1280, 1.1, 8, 8, 1408, 1408}, // B2 head
		{1280, 1.2, 8, 8, 1536, 1536}, // B3 head
		{48, 1.1, 8, 8, 56, 56},       // 52.8 -> 56
		{112, 1.2, 8, 8, 136, 136},    // 134.4 -> 136
		{8, 0.25, 8, 8, 8, 8},         // minimum depth
		{32, 0.1, 8, 0, 8, 8},         // min depth 0 means the divisor
		{32, 0.1, 8, 16, 16, 16},      // explicit min depth
		{32, 0.1, 0, 0, 8, 8},         // divisor 0 means 8
		{20, 1, 8, 8, 24, 24},         // width 1 still rounds
		{12, 1, 8, 8, 16, 16},         // int(16) -> 16
		{11, 1, 8, 8, 8, 16},          // int(15) -> 8 < 9.9: guard
		{37, 0, 8, 8, 37, 37},         // width 0: unchanged
		{100, 1.3, 4, 4, 132, 132},    // divisor 4: int(130+2)/4*4
	}
	for _, c := range cases {
		if got := RoundFilters(c.filters, c.width, c.div, c.min); got != c.v2 {
			t.Errorf("RoundFilters(%d, %g, %d, %d) = %d, want %d", c.filters, c.width, c.div, c.min, got, c.v2)
		}
		if got := RoundFiltersGuarded(c.filters, c.width, c.div, c.min); got != c.v1 {
			t.Errorf("RoundFiltersGuarded(%d, %g, %d, %d) = %d, want %d", c.filters, c.width, c.div, c.min, got, c.v1)
		}
	}
}

func TestRoundRepeats(t *testing.T) {
	cases := []struct {
		r     int
		depth float64
		want  int
	}{
		{3, 1.1, 4}, {1, 1.0, 1}, {1, 1.1, 2}, {8, 1.1, 9}, {3, 1.2, 4}, {8, 1.4, 12},
		{5, 0, 5}, {4, 0.5, 2}, {3, 0.5, 2},
		// float64 as in the official Python: 2.2*25 = 55.00000000000001, ceil 56
		// (the exact product 55 would give 55).
		{25, 2.2, 56},
	}
	for _, c := range cases {
		if got := RoundRepeats(c.r, c.depth); got != c.want {
			t.Errorf("RoundRepeats(%d, %g) = %d, want %d", c.r, c.depth, got, c.want)
		}
	}
}

func TestScaleIdentity(t *testing.T) {
	for _, name := range searchspace.ReferenceNames() {
		a := ref(t, name)
		for _, o := range []Options{{}, {Width: 1, Depth: 1}, {Width: 1, Depth: 1, LateStages: true}, {Width: 1, Depth: 1, Rounding: RoundGuarded}} {
			b, err := Scale(a, o)
			if err != nil {
				t.Fatalf("%s %+v: %v", name, o, err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s %+v: not the identity\n got %+v\nwant %+v", name, o, b, a)
			}
		}
	}
}

func TestScaleKeepsBaseAndChains(t *testing.T) {
	a := ref(t, "efficientnetv2-s")
	before := a.Clone()
	for _, w := range []float64{0.3, 0.77, 1.13, 1.6, 2.5} {
		for _, d := range []float64{0.5, 1.3, 2.2} {
			for _, late := range []bool{false, true} {
				for _, r := range []Rounding{RoundV2, RoundGuarded} {
					b, err := Scale(a, Options{Width: w, Depth: d, LateStages: late, Rounding: r})
					if err != nil {
						t.Fatalf("w %g d %g: %v", w, d, err)
					}
					if err := b.Validate(); err != nil {
						t.Fatal(err)
					}
					for i, s := range b.Stages {
						if s.In%8 != 0 || s.Out%8 != 0 || s.In < 8 {
							t.Errorf("w %g stage %d: %d -> %d not multiples of 8", w, i+1, s.In, s.Out)
						}
					}
				}
			}
		}
	}
	if !reflect.DeepEqual(a, before) {
		t.Error("Scale modified its input")
	}
	b, _ := Scale(a, Options{Width: 1.1, Depth: 1.2, ImageSize: 416, TrainImageSize: 320, Dropout: 0.35})
	if b.ImageSize != 416 || b.TrainImageSize != 320 || b.Dropout != 0.35 || b.Name != "efficientnetv2-s-w1.1-d1.2" {
		t.Errorf("sizes/dropout/name not set: %q %d %d %g", b.Name, b.ImageSize, b.TrainImageSize, b.Dropout)
	}
	c, _ := Scale(a, Options{Width: 1.1})
	if c.ImageSize != a.ImageSize || c.TrainImageSize != a.TrainImageSize || c.Dropout != a.Dropout {
		t.Error("zero options changed sizes or dropout")
	}
}

func TestScaleErrors(t *testing.T) {
	a := ref(t, "efficientnetv2-b0")
	cases := []struct {
		o     Options
		field string
		value string
	}{
		{Options{Width: -1}, "width", "-1"},
		{Options{Width: math.NaN()}, "width", "NaN"},
		{Options{Depth: math.Inf(1)}, "depth", "+Inf"},
		{Options{Depth: -0.5}, "depth", "-0.5"},
		{Options{ImageSize: -3}, "image_size", "-3"},
		{Options{TrainImageSize: 100000}, "train_image_size", "100000"},
		{Options{Dropout: 1}, "dropout", "1"},
		{Options{Dropout: -0.1}, "dropout", "-0.1"},
		{Options{Divisor: -8}, "divisor", "-8"},
		{Options{Rounding: 7}, "rounding", "7"},
	}
	for _, c := range cases {
		_, err := Scale(a, c.o)
		var oe *fielderr.Error
		if !errors.As(err, &oe) || !errors.Is(err, ErrBadOption) {
			t.Errorf("%+v: error %v, want *fielderr.Error", c.o, err)
			continue
		}
		msg := err.Error()
		if oe.Field != c.field || !strings.Contains(msg, c.field+" = "+c.value+":") || !strings.Contains(msg, "want ") {
			t.Errorf("%+v: %q does not name %s = %s and the allowed range", c.o, msg, c.field, c.value)
		}
	}
	// A result that does not validate (too many channels) is an error.
	if _, err := Scale(a, Options{Width: 90}); err == nil || !errors.Is(err, searchspace.ErrInvalid) {
		t.Errorf("width 90: %v, want an invalid-architecture error", err)
	}
	if _, err := Scale(searchspace.Arch{Name: "empty"}, Options{}); err == nil {
		t.Error("invalid base accepted")
	}
}

func blocks(r []int) int {
	n := 0
	for _, v := range r {
		n += v
	}
	return n
}

func TestLateStages(t *testing.T) {
	a := ref(t, "efficientnetv2-b0")
	base := StageRepeats(a, 0, false)
	// depth 1.4 (B3): uniform 2,3,3,5,7,12; E = 11 by weights 1,4,6,12,25,48
	// (quotas .11 .46 .69 1.38 2.86 5.5): floors 0,0,0,1,2,5, then the
	// remainders .86, .69, .5 get one each.
	if got, want := StageRepeats(a, 1.4, true), []int{1, 2, 3, 4, 8, 14}; !reflect.DeepEqual(got, want) {
		t.Errorf("late depth 1.4 = %v, want %v", got, want)
	}
	for _, name := range []string{"efficientnetv2-b0", "efficientnetv2-s", "efficientnet-b0", "efficientnetv2-m"} {
		a := ref(t, name)
		base := StageRepeats(a, 0, false)
		for d := 0.5; d <= 4.0; d += 0.1 {
			uni := StageRepeats(a, d, false)
			late := StageRepeats(a, d, true)
			if blocks(uni) != blocks(late) {
				t.Errorf("%s depth %g: late total %d, uniform %d", name, d, blocks(late), blocks(uni))
			}
			if d <= 1 && !reflect.DeepEqual(uni, late) {
				t.Errorf("%s depth %g: late %v differs from uniform %v", name, d, late, uni)
			}
			tailLate, tailUni := 0, 0
			for i := len(base) - 1; i >= 0; i-- {
				if d > 1 && late[i] < base[i] {
					t.Errorf("%s depth %g stage %d: %d below base %d", name, d, i+1, late[i], base[i])
				}
				tailLate += late[i]
				tailUni += uni[i]
				if d > 1 && tailLate < tailUni {
					t.Errorf("%s depth %g: stages %d.. have %d blocks, fewer than uniform %d (%v vs %v)", name, d, i+1, tailLate, tailUni, late, uni)
				}
			}
			b, err := Scale(a, Options{Depth: d, LateStages: true})
			if err != nil {
				t.Fatal(err)
			}
			if b.NumBlocks() != blocks(uni) {
				t.Errorf("%s depth %g: Scale gives %d blocks, want %d", name, d, b.NumBlocks(), blocks(uni))
			}
		}
	}
	// For B0 (weights i*r_i increasing) the extra blocks never decrease with
	// the stage index.
	for d := 1.05; d <= 4; d += 0.05 {
		late := StageRepeats(a, d, true)
		for i := 1; i < len(late); i++ {
			if late[i]-base[i] < late[i-1]-base[i-1] {
				t.Errorf("depth %g: extras %v not non-decreasing", d, late)
				break
			}
		}
	}
}
