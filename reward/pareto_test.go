package reward

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

// randomSet returns n points with m objectives: continuous values, or small
// integers (many ties and duplicates) when grid > 0.
func randomSet(r *rand.Rand, n, m, grid int) []Point {
	pts := make([]Point, n)
	for i := range pts {
		o := make([]float64, m)
		for j := range o {
			if grid > 0 {
				o[j] = float64(r.IntN(grid))
			} else {
				o[j] = r.Float64()
			}
		}
		pts[i] = Point{ID: strconv.Itoa(i), Objectives: o}
	}
	return pts
}

func randomDirections(r *rand.Rand, m int) Directions {
	d := make(Directions, m)
	for j := range d {
		d[j] = Minimize
		if r.IntN(2) == 0 {
			d[j] = Maximize
		}
	}
	return d
}

func index(t *testing.T, p Point) int {
	t.Helper()
	i, err := strconv.Atoi(p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// bruteDominates is the definition, written out separately from the package.
func bruteDominates(d Directions, a, b Point) bool {
	strictly := false
	for j := range d {
		x, y := a.Objectives[j], b.Objectives[j]
		if d[j] == Maximize {
			x, y = y, x // x is now the value to be small
		}
		if math.IsNaN(x) || math.IsNaN(y) || x > y {
			return false
		}
		if x < y {
			strictly = true
		}
	}
	return strictly
}

type propCase struct {
	d   Directions
	pts []Point
}

func propCases() []propCase {
	r := rand.New(rand.NewPCG(1, 2))
	var cs []propCase
	for trial := 0; trial < 60; trial++ {
		m := 2 + trial%3
		n := 1 + r.IntN(120)
		grid := 0
		if trial%2 == 0 {
			grid = 2 + r.IntN(6)
		}
		cs = append(cs, propCase{randomDirections(r, m), randomSet(r, n, m, grid)})
	}
	return cs
}

func TestDominates(t *testing.T) {
	d := SearchDirections()
	a := Point{"a", []float64{0.8, 1, 10}}
	for _, c := range []struct {
		b     []float64
		a, b2 bool // a dominates b; b dominates a
	}{
		{[]float64{0.8, 1, 10}, false, false}, // duplicate
		{[]float64{0.7, 1, 10}, true, false},  // lower accuracy
		{[]float64{0.8, 2, 10}, true, false},  // slower
		{[]float64{0.9, 1, 10}, false, true},  // more accurate
		{[]float64{0.9, 2, 10}, false, false}, // trade-off
		{[]float64{0.9, 0.5, 5}, false, true}, // better everywhere
		{[]float64{math.NaN(), 2, 20}, false, false},
	} {
		b := Point{"b", c.b}
		if got := d.Dominates(a, b); got != c.a {
			t.Errorf("Dominates(%v, %v) = %v", a.Objectives, c.b, got)
		}
		if got := d.Dominates(b, a); got != c.b2 {
			t.Errorf("Dominates(%v, %v) = %v", c.b, a.Objectives, got)
		}
	}
}

func TestNonDominatedProperties(t *testing.T) {
	for ci, c := range propCases() {
		front := c.d.NonDominated(c.pts)
		in := make([]bool, len(c.pts))
		last := -1
		for _, p := range front {
			i := index(t, p)
			if i <= last {
				t.Fatalf("case %d: front not in input order", ci)
			}
			last = i
			in[i] = true
			for _, q := range c.pts {
				if bruteDominates(c.d, q, p) {
					t.Fatalf("case %d: front point %v dominated by %v", ci, p, q)
				}
			}
		}
		for i, q := range c.pts {
			if in[i] {
				continue
			}
			if !slices.ContainsFunc(front, func(p Point) bool { return bruteDominates(c.d, p, q) }) {
				t.Fatalf("case %d: left-out point %v is not dominated by any front point", ci, q)
			}
		}
	}
}

func TestNonDominatedSortProperties(t *testing.T) {
	for ci, c := range propCases() {
		fronts := c.d.NonDominatedSort(c.pts)
		seen := make([]int, len(c.pts))
		for k, f := range fronts {
			if len(f) == 0 {
				t.Fatalf("case %d: front %d empty", ci, k)
			}
			last := -1
			for _, p := range f {
				i := index(t, p)
				if i <= last {
					t.Fatalf("case %d: front %d not in input order", ci, k)
				}
				last = i
				seen[i]++
				// Not dominated by anything in this front or later ones.
				for _, g := range fronts[k:] {
					for _, q := range g {
						if bruteDominates(c.d, q, p) {
							t.Fatalf("case %d: %v in front %d dominated by %v of a front >= %d", ci, p, k, q, k)
						}
					}
				}
				if k > 0 && !slices.ContainsFunc(fronts[k-1], func(q Point) bool { return bruteDominates(c.d, q, p) }) {
					t.Fatalf("case %d: %v in front %d not dominated by any point of front %d", ci, p, k, k-1)
				}
			}
		}
		for i, n := range seen {
			if n != 1 {
				t.Fatalf("case %d: point %d appears in %d fronts", ci, i, n)
			}
		}
		if !reflect.DeepEqual(fronts[0], c.d.NonDominated(c.pts)) {
			t.Fatalf("case %d: front 0 differs from NonDominated", ci)
		}
		// Ranks agree with peeling fronts off by brute force.
		rank := c.d.Ranks(c.pts)
		left := slices.Clone(c.pts)
		for k := 0; len(left) > 0; k++ {
			var rest []Point
			for _, p := range left {
				if slices.ContainsFunc(left, func(q Point) bool { return bruteDominates(c.d, q, p) }) {
					rest = append(rest, p)
				} else if rank[index(t, p)] != k {
					t.Fatalf("case %d: rank of %v = %d, brute force %d", ci, p, rank[index(t, p)], k)
				}
			}
			left = rest
		}
	}
}

func TestDuplicatesAndNaN(t *testing.T) {
	d := Directions{Minimize, Minimize}
	pts := []Point{
		{"a", []float64{1, 2}},
		{"b", []float64{1, 2}},
		{"c", []float64{2, 3}},
		{"d", []float64{2, 3}},
		{"nan", []float64{math.NaN(), 0}},
		{"e", []float64{2, 1}},
	}
	ids := func(ps []Point) []string {
		var s []string
		for _, p := range ps {
			s = append(s, p.ID)
		}
		return s
	}
	if got, want := ids(d.NonDominated(pts)), []string{"a", "b", "nan", "e"}; !slices.Equal(got, want) {
		t.Errorf("NonDominated = %v, want %v", got, want)
	}
	fronts := d.NonDominatedSort(pts)
	if len(fronts) != 2 || !slices.Equal(ids(fronts[1]), []string{"c", "d"}) {
		t.Errorf("NonDominatedSort fronts = %v", fronts)
	}
	if d.Dominates(pts[0], pts[1]) || d.Dominates(pts[1], pts[0]) {
		t.Error("duplicates dominate each other")
	}
	if got := d.NonDominated(nil); len(got) != 0 {
		t.Errorf("NonDominated(nil) = %v", got)
	}
	if got := d.NonDominatedSort(nil); len(got) != 0 {
		t.Errorf("NonDominatedSort(nil) = %v", got)
	}
}

func TestFront2D(t *testing.T) {
	// Step time (minimise) against accuracy (maximise).
	d := Directions{Minimize, Maximize}
	pts := []Point{
		{"slow-good", []float64{3, 0.9}},
		{"fast-bad", []float64{1, 0.6}},
		{"dominated", []float64{2.5, 0.7}},
		{"mid", []float64{2, 0.8}},
		{"mid-dup", []float64{2, 0.8}},
	}
	var got []string
	for _, p := range d.Front2D(pts) {
		got = append(got, p.ID)
	}
	if want := []string{"fast-bad", "mid", "mid-dup", "slow-good"}; !slices.Equal(got, want) {
		t.Errorf("Front2D = %v, want %v", got, want)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 20; trial++ {
		d := randomDirections(r, 2)
		pts := randomSet(r, 200, 2, 0)
		f := d.Front2D(pts)
		if !slices.IsSortedFunc(f, func(a, b Point) int { return compareFloat(a.Objectives[0], b.Objectives[0]) }) {
			t.Fatal("Front2D not sorted by the first objective")
		}
		if len(f) != len(d.NonDominated(pts)) {
			t.Fatal("Front2D is not the front")
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Front2D with 3 directions did not panic")
		}
	}()
	SearchDirections().Front2D(nil)
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestDirectionsValidate(t *testing.T) {
	d := SearchDirections()
	if err := d.Validate([]Point{{"x", []float64{1, 2}}}); err == nil {
		t.Error("short point accepted")
	}
	if err := (Directions{Maximize, 0}).Validate(nil); err == nil {
		t.Error("zero direction accepted")
	}
	if err := (Directions{}).Validate(nil); err == nil {
		t.Error("no directions accepted")
	}
	defer func() {
		if recover() == nil {
			t.Error("NonDominated with a short point did not panic")
		}
	}()
	d.NonDominated([]Point{{"x", []float64{1, 2}}})
}

func TestParetoJSON(t *testing.T) {
	d := SearchDirections()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `["maximize","minimize","minimize"]` {
		t.Errorf("Directions JSON = %s", b)
	}
	var back Directions
	if err := json.Unmarshal([]byte(`["max","minimize","min"]`), &back); err != nil || !slices.Equal(back, d) {
		t.Errorf("Unmarshal = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`["up"]`), &back); err == nil {
		t.Error("invalid direction accepted")
	}
	if _, err := json.Marshal(Directions{0}); err == nil {
		t.Error("zero direction marshalled")
	}
	p := SearchPoint("m1", meas(0.8, 0.1, 5e6))
	b, _ = json.Marshal(p)
	if string(b) != `{"id":"m1","objectives":[0.8,0.1,5000000]}` {
		t.Errorf("Point JSON = %s", b)
	}
	var q Point
	if err := json.Unmarshal(b, &q); err != nil || !reflect.DeepEqual(p, q) {
		t.Errorf("Point round trip = %+v, %v", q, err)
	}
}
