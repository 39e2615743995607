package ops

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// workersFor returns how many goroutines to use for n independent tasks of
// about `work` elements each, so that each goroutine gets at least minWork
// elements.
func workersFor(n, work, minWork int) int {
	w := runtime.GOMAXPROCS(0)
	if w > n {
		w = n
	}
	if work > 0 && minWork > 0 {
		if byWork := n * work / minWork; byWork < w {
			w = byWork
		}
	}
	if w < 1 {
		w = 1
	}
	return w
}

// runTasks runs fn(worker, task) for task in [0,n) on `workers` goroutines
// with dynamic scheduling; worker is in [0,workers).
func runTasks(n, workers int, fn func(worker, task int)) {
	if workers <= 1 || n <= 1 {
		for t := 0; t < n; t++ {
			fn(0, t)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func(w int) {
			defer wg.Done()
			for {
				t := int(next.Add(1)) - 1
				if t >= n {
					return
				}
				fn(w, t)
			}
		}(w)
	}
	wg.Wait()
}

// parallelRange splits [0,n) into contiguous ranges (one per worker, each
// with at least minPer items) and runs fn on them concurrently. It returns
// the number of ranges; fn's first argument is the range index. Only for
// independent work: the split depends on GOMAXPROCS, so a reduction must use
// fixedParts/runParts instead.
func parallelRange(n, minPer int, fn func(part, lo, hi int)) int {
	if n <= 0 {
		return 0
	}
	w := runtime.GOMAXPROCS(0)
	if minPer < 1 {
		minPer = 1
	}
	if m := n / minPer; m < w {
		w = m
	}
	if w <= 1 {
		fn(0, 0, n)
		return 1
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for p := 1; p < w; p++ {
		lo, hi := p*n/w, (p+1)*n/w
		go func(p, lo, hi int) {
			defer wg.Done()
			fn(p, lo, hi)
		}(p, lo, hi)
	}
	fn(0, 0, n/w)
	wg.Wait()
	return w
}

// maxParts bounds the number of parts of a reduction. Reductions split their
// input into fixedParts(n, minPer) contiguous parts, a number that depends on
// the problem size only (never on GOMAXPROCS or timing); each part sums its
// range in order into its own accumulator and the accumulators are added in
// part order. So results are bit-identical from run to run and across
// machines with different core counts.
const maxParts = 8

// fixedParts returns the number of parts for a reduction over n items with at
// least minPer items per part (1 to maxParts).
func fixedParts(n, minPer int) int {
	if minPer < 1 {
		minPer = 1
	}
	p := n / minPer
	if p > maxParts {
		p = maxParts
	}
	if p < 1 {
		p = 1
	}
	return p
}

// partRange is part p of parts over [0,n).
func partRange(n, parts, p int) (lo, hi int) { return p * n / parts, (p + 1) * n / parts }

// runParts runs fn(part, lo, hi) for each of the parts of [0,n) (see
// fixedParts), scheduled dynamically on up to GOMAXPROCS goroutines.
func runParts(n, parts int, fn func(part, lo, hi int)) {
	runTasks(parts, workersFor(parts, 1, 1), func(_, p int) {
		lo, hi := partRange(n, parts, p)
		fn(p, lo, hi)
	})
}

// elemGrain is the smallest number of elements worth a goroutine in
// elementwise loops (a variable so tests can force the parallel paths).
var elemGrain = 1 << 14
