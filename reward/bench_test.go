package reward

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// benchSets returns 5000 points with m objectives: uniform in the unit cube
// (small front), and on the unit sphere's positive orthant (every point
// non-dominated, the worst case).
func benchSets(m int) map[string][]Point {
	r := rand.New(rand.NewPCG(42, 43))
	const n = 5000
	uniform := randomSet(r, n, m, 0)
	sphere := make([]Point, n)
	for i := range sphere {
		o := make([]float64, m)
		norm := 0.0
		for j := range o {
			o[j] = math.Abs(r.NormFloat64()) + 1e-9
			norm += o[j] * o[j]
		}
		for j := range o {
			o[j] /= math.Sqrt(norm)
		}
		sphere[i] = Point{ID: strconv.Itoa(i), Objectives: o}
	}
	return map[string][]Point{"uniform": uniform, "front": sphere}
}

func minimize(m int) Directions {
	d := make(Directions, m)
	for j := range d {
		d[j] = Minimize
	}
	return d
}

func BenchmarkNonDominated(b *testing.B) {
	d := minimize(3)
	for _, name := range []string{"uniform", "front"} {
		pts := benchSets(3)[name]
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				d.NonDominated(pts)
			}
		})
	}
}

func BenchmarkNonDominatedSort(b *testing.B) {
	d := minimize(3)
	for _, name := range []string{"uniform", "front"} {
		pts := benchSets(3)[name]
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				d.NonDominatedSort(pts)
			}
		})
	}
}

func BenchmarkHypervolume(b *testing.B) {
	for _, m := range []int{2, 3} {
		d := minimize(m)
		ref := make([]float64, m)
		for j := range ref {
			ref[j] = 1.1
		}
		sets := benchSets(m)
		for _, name := range []string{"uniform", "front"} {
			pts := sets[name]
			b.Run(strconv.Itoa(m)+"d/"+name, func(b *testing.B) {
				for b.Loop() {
					if _, err := d.Hypervolume(pts, ref); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
