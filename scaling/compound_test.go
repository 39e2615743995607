package scaling

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/effnas/effnas/fielderr"
)

func TestCompoundDefaults(t *testing.T) {
	c := DefaultCompound()
	if p := c.FLOPsFactor(); math.Abs(p-1.92027) > 1e-9 {
		t.Errorf("alpha*beta^2*gamma^2 = %.9f, want 1.92027", p)
	}
	if err := c.Validate(0); err != nil {
		t.Errorf("default triple rejected: %v", err)
	}
	if err := c.Validate(0.05); err == nil || !strings.Contains(err.Error(), "alpha*beta^2*gamma^2 = 1.92027") {
		t.Errorf("tight tolerance: %v", err)
	}
	if err := (Compound{2, 2, 2}).Validate(math.Inf(1)); err != nil {
		t.Errorf("+Inf tolerance should disable the check: %v", err)
	}
	d, w, r := c.At(2)
	if math.Abs(d-1.44) > 1e-12 || math.Abs(w-1.21) > 1e-12 || math.Abs(r-1.3225) > 1e-12 {
		t.Errorf("At(2) = %g %g %g", d, w, r)
	}
}

func TestImageSizeRules(t *testing.T) {
	for eval, want := range map[int]int{240: 192, 260: 208, 300: 240, 480: 384, 380: 304, 224: 176} {
		if got := TrainImageSizeFor(eval, 0, 0); got != want {
			t.Errorf("TrainImageSizeFor(%d) = %d, want %d", eval, got, want)
		}
	}
	for native, want := range map[int]int{28: 56, 32: 64, 33: 68, 224: 448, 0: 0} {
		if got := ProposeMaxImageSize(native); got != want {
			t.Errorf("ProposeMaxImageSize(%d) = %d, want %d", native, got, want)
		}
	}
	if got := RoundToMultiple(257.6, 4); got != 256 {
		t.Errorf("RoundToMultiple(257.6, 4) = %d", got)
	}
	if got := RoundToMultiple(258, 4); got != 260 {
		t.Errorf("RoundToMultiple(258, 4) = %d (halves round up)", got)
	}
	if got := RoundToMultiple(1, 8); got != 8 {
		t.Errorf("RoundToMultiple(1, 8) = %d", got)
	}
}

func TestFamily(t *testing.T) {
	base := ref(t, "efficientnetv2-b0")
	for _, late := range []bool{false, true} {
		fam, err := Family(base, FamilyOptions{Members: 8, LateStages: late})
		if err != nil {
			t.Fatal(err)
		}
		if len(fam) != 8 {
			t.Fatalf("%d members", len(fam))
		}
		m0 := fam[0]
		if m0.Arch.Name != "efficientnetv2-b0-phi0" || m0.ImageSize != 224 || m0.TrainImageSize != 192 || m0.Count.ParamsTotal != 7200312 {
			t.Errorf("phi 0: %+v", m0)
		}
		for i := 1; i < len(fam); i++ {
			p, m := fam[i-1], fam[i]
			if m.Count.Params <= p.Count.Params || m.Count.ParamsTotal <= p.Count.ParamsTotal || m.Count.MACs <= p.Count.MACs {
				t.Errorf("late %v phi %d: params/MACs not increasing: %+v then %+v", late, i, p.Count, m.Count)
			}
			if m.ImageSize < p.ImageSize || m.ImageSize%4 != 0 || m.TrainImageSize%8 != 0 || m.TrainImageSize >= m.ImageSize {
				t.Errorf("phi %d: sizes %d/%d after %d", i, m.TrainImageSize, m.ImageSize, p.ImageSize)
			}
			if m.Arch.NumBlocks() < p.Arch.NumBlocks() || m.Arch.HeadChannels < p.Arch.HeadChannels {
				t.Errorf("phi %d: smaller than phi %d", i, i-1)
			}
		}
		// phi 1: depth 1.2, width 1.1, 224*1.15 = 257.6 -> 256, train 204.8 -> 208.
		if m := fam[1]; m.ImageSize != 256 || m.TrainImageSize != 208 || m.Arch.HeadChannels != 1408 || m.Depth != 1.2 || m.Width != 1.1 {
			t.Errorf("phi 1: %d/%d head %d d %g w %g", m.TrainImageSize, m.ImageSize, m.Arch.HeadChannels, m.Depth, m.Width)
		}
		// phi 1 has B2's coefficients (width 1.1, depth 1.2): with the uniform
		// rule it is the official B2 (count_params 10178374) at another size.
		if !late && fam[1].Count.ParamsTotal != officialTotals["efficientnetv2-b2"] {
			t.Errorf("phi 1 count_params %d, want B2's %d", fam[1].Count.ParamsTotal, officialTotals["efficientnetv2-b2"])
		}
		t.Logf("late=%v", late)
		for _, m := range fam {
			t.Logf("  %s: w %.3f d %.3f %d/%d blocks %d params %d total %d %.2f GMACs", m.Name, m.Width, m.Depth,
				m.TrainImageSize, m.ImageSize, m.Arch.NumBlocks(), m.Count.Params, m.Count.ParamsTotal, float64(m.Count.MACs)/1e9)
		}
	}
}

func TestFamilyMaxImageSize(t *testing.T) {
	base := ref(t, "efficientnetv2-b0")
	fam, err := Family(base, FamilyOptions{Members: 10, MaxImageSize: ImageNetMaxImageSize})
	if err != nil {
		t.Fatal(err)
	}
	capped := 0
	for _, m := range fam {
		if m.ImageSize > ImageNetMaxImageSize || m.Arch.ImageSize > ImageNetMaxImageSize || m.Arch.TrainSize() > ImageNetMaxImageSize {
			t.Errorf("%s: %d/%d over the cap", m.Name, m.TrainImageSize, m.ImageSize)
		}
		if m.Capped {
			capped++
			if m.ImageSize != 480 || m.TrainImageSize != 384 {
				t.Errorf("%s capped at %d/%d, want 384/480", m.Name, m.TrainImageSize, m.ImageSize)
			}
		}
	}
	if capped == 0 {
		t.Error("no member reached the cap")
	}
	// A small data set: CIFAR-sized base, cap 2x native.
	small := ref(t, "bench-dw")
	fam, err = Family(small, FamilyOptions{Members: 8, MaxImageSize: ProposeMaxImageSize(small.ImageSize), Classes: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range fam {
		if m.ImageSize > 56 || m.Arch.NumClasses != 100 {
			t.Errorf("%s: size %d classes %d", m.Name, m.ImageSize, m.Arch.NumClasses)
		}
	}
	if !fam[len(fam)-1].Capped {
		t.Error("last small member not capped")
	}
}

func TestFamilyErrors(t *testing.T) {
	base := ref(t, "efficientnetv2-b0")
	cases := []struct {
		o     FamilyOptions
		field string
	}{
		{FamilyOptions{Members: 0}, "members"},
		{FamilyOptions{Members: 3, Alpha: math.NaN()}, "alpha"},
		{FamilyOptions{Members: 3, Beta: -1.1}, "beta"},
		{FamilyOptions{Members: 3, Gamma: 0.9}, "gamma"},
		{FamilyOptions{Members: 3, Alpha: 2, Beta: 1.5}, "alpha*beta^2*gamma^2"},
		{FamilyOptions{Members: 3, MaxImageSize: -480}, "max_image_size"},
		{FamilyOptions{Members: 3, TrainRatio: 1.5}, "train_ratio"},
		{FamilyOptions{Members: 3, Tolerance: -1}, "tolerance"},
		{FamilyOptions{Members: 3, Rounding: 9}, "rounding"},
	}
	for _, c := range cases {
		_, err := Family(base, c.o)
		var oe *fielderr.Error
		if !errors.As(err, &oe) || oe.Field != c.field || !strings.Contains(err.Error(), "want") {
			t.Errorf("%+v: %v, want an error naming %s", c.o, err, c.field)
		}
	}
}
