package scaling

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/effnas/effnas/fielderr"
)

func TestCandidates(t *testing.T) {
	cands, err := Candidates(GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) == 0 {
		t.Fatal("no candidates")
	}
	seen := map[Compound]bool{}
	onGrid := func(v float64) bool {
		k := (v - 1) / 0.05
		return v >= 1 && v <= 2 && math.Abs(k-math.Round(k)) < 1e-6
	}
	foundV1 := false
	for _, c := range cands {
		if p := c.FLOPsFactor(); math.Abs(p-2) > 0.1 {
			t.Errorf("%+v: product %g", c, p)
		}
		if !onGrid(c.Alpha) || !onGrid(c.Beta) || !onGrid(c.Gamma) {
			t.Errorf("%+v not on the grid", c)
		}
		if seen[c] {
			t.Errorf("%+v twice", c)
		}
		seen[c] = true
		if c == DefaultCompound() {
			foundV1 = true
		}
	}
	if !foundV1 {
		t.Error("EfficientNet's (1.2, 1.1, 1.15) is not a candidate")
	}
	tight, _ := Candidates(GridOptions{Tolerance: 0.01})
	if len(tight) == 0 || len(tight) >= len(cands) {
		t.Errorf("tolerance 0.01: %d candidates, 0.1: %d", len(tight), len(cands))
	}
	for _, c := range tight {
		if math.Abs(c.FLOPsFactor()-2) > 0.01 {
			t.Errorf("%+v outside 0.01", c)
		}
	}
	t.Logf("%d candidates at tolerance 0.1, %d at 0.01", len(cands), len(tight))
	for _, g := range []GridOptions{{Step: -0.05}, {Step: math.NaN()}, {Max: 0.5}, {Tolerance: -1}} {
		var oe *fielderr.Error
		if _, err := Candidates(g); !errors.As(err, &oe) {
			t.Errorf("%+v: %v", g, err)
		}
	}
}

func TestGridSearch(t *testing.T) {
	// A synthetic score peaked at (1.2, 1.1, 1.15).
	calls := 0
	score := func(a, b, g float64) (float64, error) {
		calls++
		return -((a-1.2)*(a-1.2) + (b-1.1)*(b-1.1) + (g-1.15)*(g-1.15)), nil
	}
	res, err := GridSearch(GridOptions{}, score)
	if err != nil {
		t.Fatal(err)
	}
	if res.Best.Compound != DefaultCompound() || res.Best.Score != 0 {
		t.Errorf("best %+v", res.Best)
	}
	cands, _ := Candidates(GridOptions{})
	if calls != len(cands) || len(res.Trials) != len(cands) {
		t.Errorf("%d calls, %d trials, %d candidates", calls, len(res.Trials), len(cands))
	}
	boom := errors.New("trainer failed")
	n := 0
	res, err = GridSearch(GridOptions{}, func(a, b, g float64) (float64, error) {
		n++
		if n == 3 {
			return 0, boom
		}
		return 1, nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "alpha") || len(res.Trials) != 2 {
		t.Errorf("error: %v, %d trials", err, len(res.Trials))
	}
	if _, err := GridSearch(GridOptions{}, func(a, b, g float64) (float64, error) { return math.NaN(), nil }); err == nil {
		t.Error("NaN score accepted")
	}
	if _, err := GridSearch(GridOptions{}, nil); err == nil {
		t.Error("nil eval accepted")
	}
}
