package reward

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Direction says whether an objective is maximised or minimised. The zero
// value is invalid, so that a forgotten direction is caught rather than
// silently minimised. In JSON it is "maximize" or "minimize".
type Direction int8

const (
	Minimize Direction = -1
	Maximize Direction = 1
)

func (d Direction) String() string {
	switch d {
	case Minimize:
		return "minimize"
	case Maximize:
		return "maximize"
	}
	return fmt.Sprintf("Direction(%d)", int8(d))
}

// MarshalText implements encoding.TextMarshaler.
func (d Direction) MarshalText() ([]byte, error) {
	if d != Minimize && d != Maximize {
		return nil, fmt.Errorf("reward: invalid direction %d: must be Minimize (-1) or Maximize (1)", int8(d))
	}
	return []byte(d.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; it accepts "maximize",
// "max", "minimize" and "min".
func (d *Direction) UnmarshalText(b []byte) error {
	switch string(b) {
	case "maximize", "max":
		*d = Maximize
	case "minimize", "min":
		*d = Minimize
	default:
		return fmt.Errorf("reward: direction %q: must be \"maximize\" or \"minimize\"", b)
	}
	return nil
}

// Point is one candidate in objective space.
type Point struct {
	ID         string    `json:"id"`
	Objectives []float64 `json:"objectives"`
}

// Directions gives the direction of each objective; its length is the number
// of objectives every Point must have.
//
// Dominance: a dominates b when a is at least as good as b in every objective
// and strictly better in at least one. Equal points (duplicates) do not
// dominate each other, so both stay on a front. A point with a NaN objective
// neither dominates nor is dominated by any point.
//
// The methods panic when a direction is invalid or a point's length differs
// from len(d); Validate reports these as an error instead.
type Directions []Direction

// SearchDirections returns the directions of the search's objectives, in the
// order of SearchPoint: accuracy (maximise), step time (minimise),
// params (minimise).
func SearchDirections() Directions { return Directions{Maximize, Minimize, Minimize} }

// Validate checks the directions and that every point has len(d) objectives.
func (d Directions) Validate(points []Point) error {
	if len(d) == 0 {
		return fmt.Errorf("reward: no objective directions")
	}
	for i, x := range d {
		if x != Minimize && x != Maximize {
			return fmt.Errorf("reward: direction %d = %d: must be Minimize (-1) or Maximize (1)", i, int8(x))
		}
	}
	for i, p := range points {
		if len(p.Objectives) != len(d) {
			return fmt.Errorf("reward: point %d (id %q) has %d objectives: must have %d", i, p.ID, len(p.Objectives), len(d))
		}
	}
	return nil
}

func (d Directions) mustValidate(points ...Point) {
	if err := d.Validate(points); err != nil {
		panic(err)
	}
}

// norm returns the objectives of points as one flat slice, len(d) values per
// point, turned into minimisation (maximised objectives are negated).
func (d Directions) norm(points []Point) []float64 {
	d.mustValidate(points...)
	m := len(d)
	v := make([]float64, len(points)*m)
	for i, p := range points {
		for j, x := range p.Objectives {
			if d[j] == Maximize {
				x = -x
			}
			v[i*m+j] = x
		}
	}
	return v
}

// dominates reports whether minimisation vector a dominates b.
func dominates(a, b []float64) bool {
	better := false
	for i, x := range a {
		y := b[i]
		if !(x <= y) { // also false for NaN
			return false
		}
		if x < y {
			better = true
		}
	}
	return better
}

// Dominates reports whether a dominates b under d.
func (d Directions) Dominates(a, b Point) bool {
	v := d.norm([]Point{a, b})
	m := len(d)
	return dominates(v[:m], v[m:])
}

func hasNaN(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) {
			return true
		}
	}
	return false
}

// order returns the point indices sorted so that no point can be dominated by
// a later one: points with a NaN objective first, then lexicographically by
// the minimisation vectors, ties by index.
func order(v []float64, n, m int) (idx []int, nan []bool) {
	idx = make([]int, n)
	nan = make([]bool, n)
	for i := range idx {
		idx[i] = i
		nan[i] = hasNaN(v[i*m : i*m+m])
	}
	slices.SortFunc(idx, func(a, b int) int {
		if nan[a] != nan[b] {
			if nan[a] {
				return -1
			}
			return 1
		}
		if !nan[a] {
			if c := slices.Compare(v[a*m:a*m+m], v[b*m:b*m+m]); c != 0 {
				return c
			}
		}
		return cmp.Compare(a, b)
	})
	return idx, nan
}

// NonDominated returns the points that no other point dominates (the Pareto
// front), in input order. Duplicated front points are all returned.
//
// Points are visited in lexicographic order, in which no point is dominated by
// a later one, and each is checked only against the front found so far, so
// the cost is O(n log n + n·|front|·m).
func (d Directions) NonDominated(points []Point) []Point {
	m := len(d)
	v := d.norm(points)
	idx, nan := order(v, len(points), m)
	keep := make([]bool, len(points))
	var front []int // non-NaN front members, for comparisons
	for _, i := range idx {
		if nan[i] {
			keep[i] = true
			continue
		}
		p := v[i*m : i*m+m]
		dominated := false
		for k := len(front) - 1; k >= 0; k-- {
			f := front[k]
			if dominates(v[f*m:f*m+m], p) {
				dominated = true
				break
			}
		}
		if !dominated {
			keep[i] = true
			front = append(front, i)
		}
	}
	out := make([]Point, 0, len(front))
	for i, p := range points {
		if keep[i] {
			out = append(out, p)
		}
	}
	return out
}

// Ranks returns the non-domination rank of each point: 0 for the
// non-dominated front, and for any other point one more than the highest rank
// of the points that dominate it (the NSGA-II fronts).
//
// It uses efficient non-dominated sorting with sequential search (Zhang et
// al. 2015): in lexicographic order each point joins the first front none of
// whose members dominates it; O(n log n + n·F·|front|·m) at worst O(n²·m).
func (d Directions) Ranks(points []Point) []int {
	m := len(d)
	v := d.norm(points)
	idx, nan := order(v, len(points), m)
	rank := make([]int, len(points))
	var fronts [][]int // non-NaN members per front, for comparisons
	for _, i := range idx {
		if nan[i] {
			rank[i] = 0
			continue
		}
		p := v[i*m : i*m+m]
		k := 0
		for ; k < len(fronts); k++ {
			dominated := false
			f := fronts[k]
			for j := len(f) - 1; j >= 0; j-- {
				q := f[j]
				if dominates(v[q*m:q*m+m], p) {
					dominated = true
					break
				}
			}
			if !dominated {
				break
			}
		}
		if k == len(fronts) {
			fronts = append(fronts, nil)
		}
		fronts[k] = append(fronts[k], i)
		rank[i] = k
	}
	return rank
}

// NonDominatedSort partitions points into fronts 0..k as in NSGA-II: front 0
// is the non-dominated set, front r+1 the non-dominated set of what remains
// without fronts 0..r. Each point of front r+1 is dominated by some point of
// front r. Within a front, points keep their input order.
func (d Directions) NonDominatedSort(points []Point) [][]Point {
	rank := d.Ranks(points)
	var fronts [][]Point
	for i, r := range rank {
		for len(fronts) <= r {
			fronts = append(fronts, nil)
		}
		fronts[r] = append(fronts[r], points[i])
	}
	return fronts
}

// Front2D returns the non-dominated points of a 2-objective set sorted by the
// first objective in ascending value (ties in input order), ready to be drawn
// as a step line. It panics unless len(d) == 2.
func (d Directions) Front2D(points []Point) []Point {
	if len(d) != 2 {
		panic(fmt.Sprintf("reward: Front2D needs 2 objective directions, got %d", len(d)))
	}
	f := d.NonDominated(points)
	slices.SortStableFunc(f, func(a, b Point) int { return cmp.Compare(a.Objectives[0], b.Objectives[0]) })
	return f
}
