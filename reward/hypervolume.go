package reward

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Hypervolume returns the exact volume of the region of objective space that
// the points dominate and that dominates the reference point ref: the union
// over the points p of the boxes between p and ref. For a maximised objective
// ref is a lower bound (e.g. accuracy 0), for a minimised one an upper bound.
//
// Only points strictly better than ref in every objective count; the others
// (including points equal to ref in some objective, whose box is empty) are
// ignored, as are points with a NaN or infinite objective. Dominated and
// duplicated points do not change the result.
//
// It supports 1, 2 and 3 objectives: 2 by a sweep in O(n log n), 3 by slicing
// along the third objective while maintaining the 2-D front of the points
// below the slice, in O(n log n + n·|front|) at worst O(n²). With
// integer-valued (or small dyadic) coordinates the result is exact. It
// returns an error for other numbers of objectives, for a ref of the wrong
// length or not finite, and for the conditions of Directions.Validate.
func (d Directions) Hypervolume(points []Point, ref []float64) (float64, error) {
	if err := d.Validate(points); err != nil {
		return 0, err
	}
	m := len(d)
	if len(ref) != m {
		return 0, fmt.Errorf("reward: hypervolume reference point has %d objectives: must have %d", len(ref), m)
	}
	if m > 3 {
		return 0, fmt.Errorf("reward: hypervolume of %d objectives: only 1, 2 and 3 are supported", m)
	}
	r := make([]float64, m)
	for j, x := range ref {
		if !finite(x) {
			return 0, fmt.Errorf("reward: hypervolume reference point objective %d = %v: must be finite", j, x)
		}
		r[j] = x
		if d[j] == Maximize {
			r[j] = -x
		}
	}
	v := d.norm(points)
	// Keep the points strictly inside the reference box.
	pts := make([][]float64, 0, len(points))
	for i := range points {
		p := v[i*m : i*m+m]
		ok := true
		for j, x := range p {
			if !finite(x) || !(x < r[j]) {
				ok = false
				break
			}
		}
		if ok {
			pts = append(pts, p)
		}
	}
	switch m {
	case 1:
		best := r[0]
		for _, p := range pts {
			best = min(best, p[0])
		}
		return r[0] - best, nil
	case 2:
		return hv2(pts, r[0], r[1]), nil
	default:
		return hv3(pts, r), nil
	}
}

// hv2 is the 2-D hypervolume (minimisation) of points strictly inside
// (rx, ry): sweep in ascending x, adding the slab each improvement of y adds.
func hv2(pts [][]float64, rx, ry float64) float64 {
	slices.SortFunc(pts, func(a, b []float64) int { return slices.Compare(a[:2], b[:2]) })
	area := 0.0
	minY := ry
	for _, p := range pts {
		if p[1] < minY {
			area += (rx - p[0]) * (minY - p[1])
			minY = p[1]
		}
	}
	return area
}

// staircase is a 2-D minimisation front with strictly increasing x and
// strictly decreasing y, and the area it dominates within (rx, ry).
type staircase struct {
	x, y   []float64
	rx, ry float64
	area   float64
}

// insert adds (px, py), which lies strictly inside the reference box, and
// reports whether the front changed (false when a member weakly dominates it).
// The area is updated locally: over [px, next) the height becomes ry-py.
func (s *staircase) insert(px, py float64) bool {
	i, _ := slices.BinarySearch(s.x, px) // first index with x >= px
	if i > 0 && s.y[i-1] <= py {
		return false
	}
	if i < len(s.x) && s.x[i] == px && s.y[i] <= py {
		return false
	}
	prevY := s.ry
	if i > 0 {
		prevY = s.y[i-1]
	}
	// Members from i on with y >= py are weakly dominated by the new point.
	l := i
	for l < len(s.x) && s.y[l] >= py {
		l++
	}
	right := func(k int) float64 { // right end of member k's segment
		if k+1 < len(s.x) {
			return s.x[k+1]
		}
		return s.rx
	}
	first := s.rx
	if i < len(s.x) {
		first = s.x[i]
	}
	delta := (prevY - py) * (first - px)
	for k := i; k < l; k++ {
		delta += (s.y[k] - py) * (right(k) - s.x[k])
	}
	s.area += delta
	// Replace members [i, l) by the new point.
	s.x = slices.Replace(s.x, i, l, px)
	s.y = slices.Replace(s.y, i, l, py)
	return true
}

// hv3 is the 3-D hypervolume (minimisation) of points strictly inside r:
// points are visited in ascending z; between consecutive z values at which the
// 2-D front of the points seen so far changes, the volume is its area times
// the slab thickness.
func hv3(pts [][]float64, r []float64) float64 {
	slices.SortFunc(pts, func(a, b []float64) int {
		if c := cmp.Compare(a[2], b[2]); c != 0 {
			return c
		}
		return slices.Compare(a[:2], b[:2])
	})
	s := staircase{rx: r[0], ry: r[1]}
	vol := 0.0
	lastZ := math.NaN()
	for _, p := range pts {
		before := s.area
		if s.insert(p[0], p[1]) {
			if before > 0 {
				vol += before * (p[2] - lastZ)
			}
			lastZ = p[2]
		}
	}
	if s.area > 0 {
		vol += s.area * (r[2] - lastZ)
	}
	return vol
}
