package kernels

import (
	"math"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestParallelRunsEveryTask checks that every task runs exactly once, on a
// worker index below Threads(), for several GOMAXPROCS and task counts.
func TestParallelRunsEveryTask(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 3, 4} {
		runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, 2, 3, 7, 100, 1000} {
			counts := make([]atomic.Int32, n)
			var bad atomic.Bool
			Parallel(n, func(w, i int) {
				if w < 0 || w >= Threads() {
					bad.Store(true)
				}
				counts[i].Add(1)
			})
			if bad.Load() {
				t.Fatalf("GOMAXPROCS %d, %d tasks: worker index out of range", procs, n)
			}
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Fatalf("GOMAXPROCS %d, %d tasks: task %d ran %d times", procs, n, i, c)
				}
			}
		}
	}
}

// TestParallelUsesHelpers checks that with two workers both take part: a
// task that waits until another worker has started one can only finish
// when a helper joins.
func TestParallelUsesHelpers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for rep := 0; rep < 3; rep++ {
		var seen [2]atomic.Bool
		deadline := time.Now().Add(10 * time.Second)
		Parallel(2, func(w, i int) {
			seen[w].Store(true)
			for !seen[1-w].Load() && time.Now().Before(deadline) {
				runtime.Gosched()
			}
		})
		if !seen[0].Load() || !seen[1].Load() {
			t.Fatalf("rep %d: workers that ran tasks: %v %v", rep, seen[0].Load(), seen[1].Load())
		}
		time.Sleep(time.Duration(rep) * 2 * spinFor) // the helper parks, then is woken
	}
}

// TestParallelNestedAndConcurrent runs calls from inside tasks and from
// several goroutines at once: each runs all of its tasks (the inner and
// concurrent ones on their calling goroutine).
func TestParallelNestedAndConcurrent(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	var wg sync.WaitGroup
	var total atomic.Int64
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 50; rep++ {
				Parallel(8, func(_, _ int) {
					Parallel(5, func(_, _ int) { total.Add(1) })
				})
			}
		}()
	}
	wg.Wait()
	if got := total.Load(); got != 4*50*8*5 {
		t.Fatalf("ran %d inner tasks, want %d", got, 4*50*8*5)
	}
}

// TestGemmPacked checks GemmPacked against the reference on every backend,
// and that its results equal Gemm's for the same operands where Gemm does
// not split k (here: k < 1024).
func TestGemmPacked(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	var cases []gemmCase
	for i, s := range [][3]int{{1, 1, 1}, {17, 33, 31}, {100, 16, 64}, {3, 257, 15}, {300, 128, 288}, {29, 70, 257}, {64, 64, 0}, {500, 48, 432}} {
		for tr := 0; tr < 4; tr++ {
			beta := []float32{0, 1, 0.5}[(i+tr)%3]
			cases = append(cases, newCase(tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], (i+tr)%2*3, []float32{1, -1.5}[tr%2], beta))
		}
	}
	var data []gemmData
	for _, g := range cases {
		data = append(data, prepare(g, rng))
	}
	var p PackedB
	forBackends(t, func(t *testing.T) {
		for x, g := range cases {
			d := data[x]
			c := append([]float32(nil), d.c0...)
			if g.beta == 0 {
				for i := range c {
					c[i] = float32(math.NaN())
				}
			}
			p.Pack(g.transB, g.k, g.n, g.alpha, d.b, g.ldb)
			GemmPacked(g.transA, g.m, d.a, g.lda, &p, g.beta, c, g.ldc)
			want := append([]float32(nil), d.c0...)
			Gemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, d.a, g.lda, d.b, g.ldb, g.beta, want, g.ldc)
			for i := 0; i < g.m; i++ {
				for j := 0; j < g.n; j++ {
					x := i*g.ldc + j
					if diff := math.Abs(float64(c[x]) - d.want[x]); !(diff <= d.tol[x]) {
						t.Fatalf("%s [%s]: C[%d,%d] = %g, want %g (tol %g)", Backend(), g, i, j, c[x], d.want[x], d.tol[x])
					}
					if c[x] != want[x] {
						t.Fatalf("%s [%s]: C[%d,%d] = %g, Gemm gives %g", Backend(), g, i, j, c[x], want[x])
					}
				}
			}
		}
	})
}
