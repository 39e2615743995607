package reward

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func mustHV(t *testing.T, d Directions, pts []Point, ref []float64) float64 {
	t.Helper()
	v, err := d.Hypervolume(pts, ref)
	if err != nil {
		t.Fatalf("Hypervolume: %v", err)
	}
	return v
}

// inside reports whether p is strictly better than ref in every objective.
func inside(d Directions, p Point, ref []float64) bool {
	for j, x := range p.Objectives {
		if d[j] == Maximize && !(x > ref[j]) || d[j] == Minimize && !(x < ref[j]) {
			return false
		}
	}
	return true
}

// inclusionExclusion computes the volume of the union of the boxes between
// each point and ref: Σ over non-empty subsets (-1)^(|S|+1) vol(∩ boxes).
func inclusionExclusion(d Directions, pts []Point, ref []float64) float64 {
	var in []Point
	for _, p := range pts {
		if inside(d, p, ref) {
			in = append(in, p)
		}
	}
	total := 0.0
	for mask := 1; mask < 1<<len(in); mask++ {
		vol := 1.0
		bits := 0
		for j := range d {
			// The intersection's corner is the worst coordinate of the subset.
			worst := math.NaN()
			for i, p := range in {
				if mask&(1<<i) == 0 {
					continue
				}
				x := p.Objectives[j]
				if math.IsNaN(worst) || d[j] == Maximize && x < worst || d[j] == Minimize && x > worst {
					worst = x
				}
			}
			vol *= math.Abs(ref[j] - worst)
		}
		for b := mask; b > 0; b >>= 1 {
			bits += b & 1
		}
		if bits%2 == 1 {
			total += vol
		} else {
			total -= vol
		}
	}
	return total
}

// gridCount counts the unit cells of the integer grid between the points and
// ref that some point dominates (integer coordinates only).
func gridCount(d Directions, pts []Point, ref []float64) float64 {
	m := len(d)
	// Cell c (its corner nearest ref, in each objective) spans one unit
	// towards the points; it is covered when some point is at least as good
	// as its far corner.
	lo := make([]int, m)
	hi := make([]int, m) // cells indexed by their coordinate nearest the points
	for j := range d {
		lo[j], hi[j] = math.MaxInt, math.MinInt
		for _, p := range pts {
			lo[j] = min(lo[j], int(p.Objectives[j]))
			hi[j] = max(hi[j], int(p.Objectives[j]))
		}
		lo[j] = min(lo[j], int(ref[j]))
		hi[j] = max(hi[j], int(ref[j]))
	}
	count := 0
	c := make([]int, m)
	var walk func(j int)
	walk = func(j int) {
		if j == m {
			// Cell [c, c+1) in every objective.
			for j := range d {
				if d[j] == Minimize && c[j]+1 > int(ref[j]) || d[j] == Maximize && c[j] < int(ref[j]) {
					return
				}
			}
			for _, p := range pts {
				if !inside(d, p, ref) {
					continue
				}
				ok := true
				for j, x := range p.Objectives {
					if d[j] == Minimize && int(x) > c[j] || d[j] == Maximize && int(x) < c[j]+1 {
						ok = false
						break
					}
				}
				if ok {
					count++
					return
				}
			}
			return
		}
		for c[j] = lo[j]; c[j] < hi[j]; c[j]++ {
			walk(j + 1)
		}
	}
	walk(0)
	return float64(count)
}

func TestHypervolumeSinglePoint(t *testing.T) {
	cases := []struct {
		d    Directions
		p    []float64
		ref  []float64
		want float64
	}{
		{Directions{Minimize}, []float64{2}, []float64{5}, 3},
		{Directions{Maximize}, []float64{0.75}, []float64{0}, 0.75},
		{Directions{Minimize, Minimize}, []float64{1, 2}, []float64{4, 6}, 12},
		{Directions{Maximize, Minimize}, []float64{0.5, 2}, []float64{0, 6}, 2},
		{Directions{Minimize, Minimize, Minimize}, []float64{1, 2, 3}, []float64{2, 4, 7}, 8},
		{SearchDirections(), []float64{0.75, 0.5, 3}, []float64{0, 1, 5}, 0.75 * 0.5 * 2},
		// Not strictly better than ref in some objective: ignored.
		{Directions{Minimize, Minimize}, []float64{1, 6}, []float64{4, 6}, 0},
		{Directions{Minimize, Minimize, Minimize}, []float64{1, 2, 8}, []float64{2, 4, 7}, 0},
		{SearchDirections(), []float64{0, 0.5, 3}, []float64{0, 1, 5}, 0},
		{SearchDirections(), []float64{math.NaN(), 0.5, 3}, []float64{0, 1, 5}, 0},
		{SearchDirections(), []float64{0.5, math.Inf(-1), 3}, []float64{0, 1, 5}, 0},
	}
	for _, c := range cases {
		got := mustHV(t, c.d, []Point{{"p", c.p}}, c.ref)
		if got != c.want {
			t.Errorf("%v point %v ref %v: %v, want %v", c.d, c.p, c.ref, got, c.want)
		}
	}
	if got := mustHV(t, SearchDirections(), nil, []float64{0, 1, 1}); got != 0 {
		t.Errorf("empty set: %v", got)
	}
}

func TestHypervolumeExactSmallSets(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 400; trial++ {
		m := 2 + trial%2
		d := randomDirections(r, m)
		n := 1 + r.IntN(10)
		pts := randomSet(r, n, m, 7)
		ref := make([]float64, m)
		for j := range ref {
			// Mostly outside the value range, sometimes cutting through it.
			ref[j] = 7
			if d[j] == Maximize {
				ref[j] = -1
			}
			if r.IntN(4) == 0 {
				ref[j] = float64(r.IntN(7))
			}
		}
		got := mustHV(t, d, pts, ref)
		ie := inclusionExclusion(d, pts, ref)
		grid := gridCount(d, pts, ref)
		if got != ie || got != grid {
			t.Fatalf("trial %d %v ref %v points %v: hypervolume %v, inclusion-exclusion %v, grid %v",
				trial, d, ref, pts, got, ie, grid)
		}
	}
}

func TestHypervolumeFloatSets(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for trial := 0; trial < 100; trial++ {
		m := 2 + trial%2
		d := randomDirections(r, m)
		pts := randomSet(r, 1+r.IntN(12), m, 0)
		ref := make([]float64, m)
		for j := range ref {
			ref[j] = 1
			if d[j] == Maximize {
				ref[j] = 0
			}
		}
		got, want := mustHV(t, d, pts, ref), inclusionExclusion(d, pts, ref)
		if math.Abs(got-want) > 1e-12 {
			t.Fatalf("trial %d: hypervolume %v, inclusion-exclusion %v", trial, got, want)
		}
	}
}

// dyadicSet has coordinates that are multiples of 1/1024 in [0, 1), so that
// the 2-D and 3-D hypervolumes are computed without rounding.
func dyadicSet(r *rand.Rand, n, m int) []Point {
	pts := randomSet(r, n, m, 1024)
	for _, p := range pts {
		for j := range p.Objectives {
			p.Objectives[j] /= 1024
		}
	}
	return pts
}

func TestHypervolumeDominatedAndMonotone(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for trial := 0; trial < 40; trial++ {
		m := 2 + trial%2
		d := randomDirections(r, m)
		pts := dyadicSet(r, 300, m)
		ref := make([]float64, m)
		for j := range ref {
			ref[j] = 1
			if d[j] == Maximize {
				ref[j] = 0
			}
		}
		// Monotone: adding points never decreases the volume.
		prev := 0.0
		for k := 1; k <= len(pts); k += 1 + k/8 {
			v := mustHV(t, d, pts[:k], ref)
			if v < prev {
				t.Fatalf("trial %d: volume decreased from %v to %v at %d points", trial, prev, v, k)
			}
			prev = v
		}
		full := mustHV(t, d, pts, ref)
		// Adding dominated points and duplicates leaves it unchanged.
		more := append([]Point(nil), pts...)
		for _, p := range d.NonDominated(pts) {
			more = append(more, Point{ID: p.ID + "dup", Objectives: p.Objectives})
			q := Point{ID: p.ID + "worse", Objectives: append([]float64(nil), p.Objectives...)}
			j := r.IntN(m)
			step := float64(1+r.IntN(8)) / 1024
			if d[j] == Maximize {
				q.Objectives[j] -= step
			} else {
				q.Objectives[j] += step
			}
			more = append(more, q)
		}
		r.Shuffle(len(more), func(i, j int) { more[i], more[j] = more[j], more[i] })
		if got := mustHV(t, d, more, ref); got != full {
			t.Fatalf("trial %d: dominated points changed the volume %v -> %v", trial, full, got)
		}
		// The front alone has the same volume.
		if got := mustHV(t, d, d.NonDominated(pts), ref); got != full {
			t.Fatalf("trial %d: front volume %v, all points %v", trial, got, full)
		}
	}
}

func TestHypervolume3DFlat(t *testing.T) {
	// With a constant third objective the 3-D volume is the 2-D area times
	// the distance to the reference in that objective.
	r := rand.New(rand.NewPCG(11, 12))
	for trial := 0; trial < 20; trial++ {
		pts2 := dyadicSet(r, 100, 2)
		pts3 := make([]Point, len(pts2))
		for i, p := range pts2 {
			pts3[i] = Point{ID: strconv.Itoa(i), Objectives: append(append([]float64(nil), p.Objectives...), 0.25)}
		}
		a := mustHV(t, Directions{Minimize, Minimize}, pts2, []float64{1, 1})
		v := mustHV(t, Directions{Minimize, Minimize, Minimize}, pts3, []float64{1, 1, 0.75})
		if v != a*0.5 {
			t.Fatalf("trial %d: 3-D %v, 2-D area %v × 0.5", trial, v, a)
		}
	}
}

func TestHypervolumeErrors(t *testing.T) {
	d := SearchDirections()
	pts := []Point{{"p", []float64{0.5, 1, 1}}}
	for _, c := range []struct {
		d   Directions
		pts []Point
		ref []float64
	}{
		{d, pts, []float64{0, 2}},
		{d, pts, []float64{0, 2, math.NaN()}},
		{d, pts, []float64{0, math.Inf(1), 2}},
		{Directions{Minimize, Minimize, Minimize, Minimize}, []Point{{"p", []float64{1, 1, 1, 1}}}, []float64{2, 2, 2, 2}},
		{d, []Point{{"p", []float64{0.5, 1}}}, []float64{0, 2, 2}},
		{Directions{Maximize, 0}, nil, []float64{0, 0}},
	} {
		if _, err := c.d.Hypervolume(c.pts, c.ref); err == nil {
			t.Errorf("%v %v ref %v: no error", c.d, c.pts, c.ref)
		}
	}
}
