package ops

import (
	"runtime"

	"github.com/effnas/effnas/trainer/kernels"
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

// runTasks runs fn(worker, task) for task in [0,n): in order on the
// calling goroutine when workers <= 1 (the caller found the work too small
// to share), else on the kernels' team (kernels.Parallel), claimed
// dynamically, with worker in [0,kernels.Threads()).
func runTasks(n, workers int, fn func(worker, task int)) {
	if workers <= 1 || n <= 1 {
		for t := 0; t < n; t++ {
			fn(0, t)
		}
		return
	}
	kernels.Parallel(n, fn)
}

// maxRangeParts bounds the number of ranges of parallelRange: enough for
// the workers to balance their load, few enough that each is worth a claim.
const maxRangeParts = 64

// parallelRange splits [0,n) into contiguous ranges of at least minPer items
// and runs fn on them on the kernels' team (kernels.Parallel). fn's first
// argument is the range index. Only for independent work: reductions use
// fixedParts/runParts, whose few parts keep their partial sums cheap.
func parallelRange(n, minPer int, fn func(part, lo, hi int)) {
	if n <= 0 {
		return
	}
	if minPer < 1 {
		minPer = 1
	}
	parts := min(n/minPer, maxRangeParts)
	if parts <= 1 || kernels.Threads() < 2 {
		fn(0, 0, n)
		return
	}
	kernels.Parallel(parts, func(_, p int) {
		fn(p, p*n/parts, (p+1)*n/parts)
	})
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
// fixedParts) on the kernels' team.
func runParts(n, parts int, fn func(part, lo, hi int)) {
	runTasks(parts, parts, func(_, p int) {
		lo, hi := partRange(n, parts, p)
		fn(p, lo, hi)
	})
}

// elemGrain is the smallest number of elements worth a goroutine in
// elementwise loops (a variable so tests can force the parallel paths).
var elemGrain = 1 << 14
