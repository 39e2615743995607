package kernels

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// microKernel computes one mr x nr tile of C (mr fixed by the function, nr by
// its family) over k steps:
//
//	tile = sum_p A(i,p) * B[p][j],  A(i,p) at a + i*rs + p*cs (bytes),
//	B packed as [k][nr] floats,     C(i,j) at c + i*ldc + 4*j (bytes).
//
// Masked kernels write column j of the tile only when bit j of mask is set;
// the others write all nr columns and ignore mask. acc != 0 adds the tile to
// C; acc == 0 overwrites C without reading it.
type microKernel func(k int, a unsafe.Pointer, rs, cs uintptr, b, c unsafe.Pointer, ldc uintptr, mask uint64, acc int)

// tile describes the micro-kernels a call uses: kern[r] handles r <= mr rows.
// Unless masked, a panel narrower than nr goes through a scratch tile.
type tile struct {
	mr, nr int
	kern   []microKernel
	masked bool
}

// maxTile is the largest mr*nr of an unmasked family (scratch tile size).
const maxTile = 128

// pickTile chooses the tile width lanes*nv that wastes the least of the
// last panel, weighted by eff[nv], the measured efficiency of that width.
func pickTile(n, lanes int, eff []float64, maxMR []int, masked bool, kerns func(nv int) []microKernel) tile {
	best, bestScore := 1, -1.0
	for nv := 1; nv < len(eff); nv++ {
		nr := lanes * nv
		panels := (n + nr - 1) / nr
		s := eff[nv] * float64(n) / float64(panels*nr)
		if s > bestScore+1e-9 {
			best, bestScore = nv, s
		}
	}
	mr := maxMR[best]
	return tile{mr: mr, nr: lanes * best, kern: kerns(best)[:mr+1], masked: masked}
}

// testIdleCaller makes the calling goroutine leave every chunk to the
// helpers (tests: the path where goroutine 0 claims nothing).
var testIdleCaller bool

// chunksDone counts the chunks of threaded calls computed by the calling
// goroutine [0] and by helpers [1]: BenchmarkGemm reports the helpers'
// share, which shows where a second core is lost (a helper that wakes late
// or is descheduled gets fewer chunks).
var chunksDone [2]atomic.Int64

// testGoTile, when set, replaces the go backend's tile choice (benchmarks
// of the earlier kernel).
var testGoTile *tile

// kcBlock is the k block: a packed B panel of kcBlock x nr stays in L1.
var kcBlock = 256

const (
	mcTiles    = 16      // rows per L2 block of A, in micro-tiles
	parMinWork = 1 << 20 // m*n*k below which a call stays on one goroutine
	maxThreads = 32
	// Split-K: k of at least splitKMinK is cut into at most splitKChunks
	// fixed ranges when C is short (k >= 4m) or has few row tiles.
	splitKMinK   = 1024
	splitKChunks = 8
	kOuterMaxC   = 1 << 17 // C elements up to which long-k calls use the k-outer order
)

// sgemm is the float32 entry point behind Gemm.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	checkOperand("A", transA, m, k, a, lda)
	checkOperand("B", transB, k, n, b, ldb)
	checkOperand("C", false, m, n, c, ldc)
	be := activeBackend.Load()
	if be == backendRef {
		gemmRef(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			scaleRow(c[i*ldc:i*ldc+n], beta)
		}
		return
	}
	var t tile
	switch {
	case be != backendGo:
		t = archTile(be, m, n, k, transA)
	case testGoTile != nil:
		t = *testGoTile
	default:
		t = pickGoTile(n)
	}
	runGemm(t, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// checkOperand panics unless x holds a rows x cols matrix (cols x rows when
// trans) with row stride ld; the kernels read through raw pointers.
func checkOperand(name string, trans bool, rows, cols int, x []float32, ld int) {
	if trans {
		rows, cols = cols, rows
	}
	if rows == 0 || cols == 0 {
		return
	}
	if ld < 0 || rows < 0 || cols < 0 || (rows-1)*ld+cols > len(x) {
		panic(fmt.Sprintf("kernels: Gemm: %s is %dx%d with stride %d but has only %d elements", name, rows, cols, ld, len(x)))
	}
}

func scaleRow(x []float32, beta float32) {
	if beta == 0 {
		clear(x)
	} else if beta != 1 {
		for j := range x {
			x[j] *= beta
		}
	}
}

// gemmJob is one float32 GEMM call split into parts for goroutines. Jobs and
// their buffers are recycled, so steady-state calls do not allocate.
type gemmJob struct {
	t              tile
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int

	panels  int
	bDirect bool      // B is read in place (one full panel, ldb == nr, alpha == 1)
	splitK  bool      // chunks split k; else they split rows
	kOuter  bool      // k blocks outermost, B packed per block and goroutine
	pack    []float32 // packed B: [panel][k][nr], or per-part [panel][kc][nr] blocks
	packPer int       // floats of pack per part when kOuter
	nt      int
	// Work is cut into chunks that the goroutines claim one at a time, so a
	// goroutine that the OS descheduled (the host is shared) does not hold
	// up the call: row blocks of chunkTiles micro-tiles, or k ranges of
	// kChunk for split-K.
	next       atomic.Int64
	nchunks    int
	chunkTiles int // M-split: micro-tiles per chunk, over ntl balanced tiles
	ntl        int
	kChunk     int
	scratch    []float32 // split-K partial sums of chunks 1.., (nchunks-1) x m x n
	buf        []float32
	// tileBuf[p] is part p's scratch tile for column tails of unmasked
	// kernels (an array here: a local would escape through the kernel call).
	tileBuf [maxThreads][maxTile]float32

	wg sync.WaitGroup
}

var (
	jobMu   sync.Mutex
	jobFree []*gemmJob

	workerMu sync.Mutex
	workers  int
	taskCh   = make(chan gemmTask, maxThreads)
)

type gemmTask struct {
	j    *gemmJob
	part int
}

func getJob() *gemmJob {
	jobMu.Lock()
	defer jobMu.Unlock()
	if n := len(jobFree); n > 0 {
		j := jobFree[n-1]
		jobFree = jobFree[:n-1]
		return j
	}
	return new(gemmJob)
}

func putJob(j *gemmJob) {
	j.reset(j.buf[:0])
	jobMu.Lock()
	jobFree = append(jobFree, j)
	jobMu.Unlock()
}

// ensureWorkers starts helper goroutines until n are running. They live for
// the whole process and wait on taskCh.
func ensureWorkers(n int) {
	workerMu.Lock()
	for workers < n {
		workers++
		go func() {
			for t := range taskCh {
				t.j.run(t.part)
				t.j.wg.Done()
			}
		}()
	}
	workerMu.Unlock()
}

// floatsAligned returns a 64-byte aligned slice of n floats from j.buf,
// growing it when needed.
func (j *gemmJob) floatsAligned(n int) []float32 {
	if cap(j.buf) < n+16 {
		j.buf = make([]float32, n+16+n/4)
	}
	buf := j.buf[:cap(j.buf)]
	off := int(uintptr(unsafe.Pointer(&buf[0]))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	return buf[off : off+n]
}

func runGemm(t tile, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	j := getJob()
	j.reset(j.buf)
	j.t, j.transA, j.transB, j.m, j.n, j.k = t, transA, transB, m, n, k
	j.alpha, j.beta, j.a, j.b, j.c, j.lda, j.ldb, j.ldc = alpha, beta, a, b, c, lda, ldb, ldc
	j.panels = (n + t.nr - 1) / t.nr
	j.bDirect = !transB && alpha == 1 && n == t.nr && ldb == t.nr

	// Threads and how to split. Whether and how k is split depends on the
	// problem shape only, never on GOMAXPROCS or timing, so every element of
	// C is summed in the same order on any machine: split-K chunks are fixed
	// k ranges, each computed into its own buffer (chunk 0 into C) and added
	// into C in chunk order.
	nt := runtime.GOMAXPROCS(0)
	if nt > maxThreads {
		nt = maxThreads
	}
	tilesM := (m + t.mr - 1) / t.mr
	big := m*n*k >= parMinWork
	j.splitK = big && k >= splitKMinK && (k >= 4*m || tilesM < 4)
	if !big || nt < 2 {
		nt = 1
	}
	j.ntl = tilesM
	if j.splitK {
		j.kChunk = max(2*kcBlock, ((k+splitKChunks-1)/splitKChunks+15)&^15)
		j.nchunks = (k + j.kChunk - 1) / j.kChunk
	} else {
		j.chunkTiles = mcTiles
		if nt == 1 {
			j.chunkTiles = tilesM
		}
		j.nchunks = (tilesM + j.chunkTiles - 1) / j.chunkTiles
	}
	if nt > j.nchunks {
		nt = j.nchunks
	}
	j.nt = nt
	// Long reductions with a small C (weight gradients) loop over k blocks
	// outermost, packing one block of B at a time into a per-goroutine
	// buffer that stays in L2 while C stays in cache. Tall problems pack
	// all of B once and sweep blocks of rows.
	j.kOuter = j.splitK || (m*n <= kOuterMaxC && k > kcBlock)

	// Buffers: packed B, then split-K partial sums.
	packLen := 0
	if !j.bDirect {
		if j.kOuter {
			j.packPer = (min(kcBlock, k)*j.panels*t.nr + 15) &^ 15
			packLen = nt * j.packPer
		} else {
			packLen = j.panels * k * t.nr
		}
	}
	packLen = (packLen + 15) &^ 15
	scratchLen := 0
	if j.splitK {
		scratchLen = (j.nchunks - 1) * m * n
	}
	buf := j.floatsAligned(packLen + scratchLen)
	j.pack = buf[:packLen]
	j.scratch = buf[packLen:]
	if !j.bDirect && !j.kOuter {
		j.packB(j.pack, k, 0, k)
	}

	if nt > 1 {
		ensureWorkers(nt - 1)
		j.wg.Add(nt - 1)
		for p := 1; p < nt; p++ {
			taskCh <- gemmTask{j, p}
		}
	}
	if nt == 1 || !testIdleCaller {
		j.run(0)
	}
	if nt > 1 {
		j.wg.Wait()
	}
	if j.splitK {
		j.reduce()
	}
	putJob(j)
}

// reset clears every field but the scratch tiles (never read before written).
func (j *gemmJob) reset(buf []float32) {
	j.t, j.a, j.b, j.c, j.pack, j.scratch, j.buf = tile{}, nil, nil, nil, nil, nil, buf
	j.transA, j.transB, j.bDirect, j.splitK, j.kOuter = false, false, false, false, false
	j.m, j.n, j.k, j.lda, j.ldb, j.ldc, j.alpha, j.beta = 0, 0, 0, 0, 0, 0, 0, 0
	j.panels, j.packPer, j.nt, j.nchunks, j.chunkTiles, j.ntl, j.kChunk = 0, 0, 0, 0, 0, 0, 0
	j.next.Store(0)
}

// reduce adds the split-K partial sums of chunks 1.. into C, which holds
// chunk 0's, in chunk order.
func (j *gemmJob) reduce() {
	m, n := j.m, j.n
	for x := 1; x < j.nchunks; x++ {
		s := j.scratch[(x-1)*m*n : x*m*n]
		for i := 0; i < m; i++ {
			crow := j.c[i*j.ldc : i*j.ldc+n]
			srow := s[i*n : i*n+n]
			for q := range crow {
				crow[q] += srow[q]
			}
		}
	}
}

// tileRow is the first row of balanced micro-tile x of ntl over [0, m).
func (j *gemmJob) tileRow(x int) int { return j.m * x / j.ntl }

// run claims and computes chunks on behalf of goroutine p until none are left.
func (j *gemmJob) run(p int) {
	c := unsafe.Pointer(unsafe.SliceData(j.c))
	for {
		x := int(j.next.Add(1) - 1)
		if x >= j.nchunks {
			return
		}
		if j.nt > 1 {
			chunksDone[min(p, 1)].Add(1)
		}
		if !j.splitK {
			i0 := j.tileRow(x * j.chunkTiles)
			i1 := j.tileRow(min(j.ntl, (x+1)*j.chunkTiles))
			j.compute(p, i0, i1, 0, j.k, c, j.ldc, j.beta)
			continue
		}
		k0, k1 := x*j.kChunk, min(j.k, (x+1)*j.kChunk)
		if x == 0 {
			j.compute(p, 0, j.m, k0, k1, c, j.ldc, j.beta)
		} else {
			j.compute(p, 0, j.m, k0, k1, unsafe.Pointer(&j.scratch[(x-1)*j.m*j.n]), j.n, 0)
		}
	}
}

// packB packs rows [k0, k1) of alpha*op(B) into dst laid out as
// [panel][panelK][nr], row p at (p-k0) within each panel (plus k0 when the
// panel holds all of k: panelK == k). The last panel's columns are
// zero-padded.
func (j *gemmJob) packB(dst []float32, panelK, k0, k1 int) {
	nr, n, ldb, alpha := j.t.nr, j.n, j.ldb, j.alpha
	base := k0
	if panelK == j.k {
		base = 0
	}
	for jp := 0; jp < j.panels; jp++ {
		c0 := jp * nr
		w := min(nr, n-c0)
		panel := dst[jp*panelK*nr : (jp+1)*panelK*nr]
		if !j.transB {
			for p := k0; p < k1; p++ {
				d := panel[(p-base)*nr : (p-base)*nr+nr]
				s := j.b[p*ldb+c0 : p*ldb+c0+w]
				if alpha == 1 {
					copy(d, s)
				} else {
					for x, v := range s {
						d[x] = alpha * v
					}
				}
				clear(d[w:])
			}
			continue
		}
		// op(B)[p][c0+x] = b[(c0+x)*ldb+p]
		if w < nr {
			for p := k0; p < k1; p++ {
				clear(panel[(p-base)*nr+w : (p-base)*nr+nr])
			}
		}
		for x := 0; x < w; x++ {
			s := j.b[(c0+x)*ldb+k0 : (c0+x)*ldb+k1]
			d := panel[(k0-base)*nr+x:]
			for q, v := range s {
				d[q*nr] = alpha * v
			}
		}
	}
}

// compute is part p's share: rows [i0, i1) over k range [k0, k1) into out
// (row stride ldo floats): out = op(A)*B' + beta*out, with B' = alpha*op(B).
func (j *gemmJob) compute(p, i0, i1, k0, k1 int, out unsafe.Pointer, ldo int, beta float32) {
	if i0 >= i1 {
		return
	}
	t := j.t
	n, nr, mr := j.n, t.nr, t.mr
	if beta != 0 && beta != 1 || k0 == k1 {
		for i := i0; i < i1; i++ {
			scaleRow(unsafe.Slice((*float32)(unsafe.Add(out, 4*i*ldo)), n), beta)
		}
		if k0 == k1 {
			return
		}
	}
	a := unsafe.Pointer(unsafe.SliceData(j.a))
	var rs, cs uintptr
	if j.transA {
		rs, cs = 4, uintptr(4*j.lda)
	} else {
		rs, cs = uintptr(4*j.lda), 4
	}
	ldoB := uintptr(4 * ldo)
	accInit := 0
	if beta != 0 {
		accInit = 1
	}
	// Row tiles of balanced height (at most mr) over [i0, i1).
	rows := i1 - i0
	ntl := (rows + mr - 1) / mr
	tileRow := func(x int) int { return i0 + rows*x/ntl }

	// block runs row tiles [t0, t1) against k block [pc, pc+kl) whose
	// panel jp starts at panel(jp).
	tb := unsafe.Pointer(&j.tileBuf[p])
	block := func(t0, t1, pc, kl, acc int, panel func(jp int) unsafe.Pointer) {
		for jp := 0; jp < j.panels; jp++ {
			bp := panel(jp)
			w := min(nr, n-jp*nr)
			mask := uint64(1)<<uint(w) - 1
			if w == 64 {
				mask = ^uint64(0)
			}
			for x := t0; x < t1; x++ {
				r0, r1 := tileRow(x), tileRow(x+1)
				ap := unsafe.Add(a, uintptr(r0)*rs+uintptr(pc)*cs)
				cp := unsafe.Add(out, 4*(r0*ldo+jp*nr))
				if w == nr || t.masked {
					t.kern[r1-r0](kl, ap, rs, cs, bp, cp, ldoB, mask, acc)
					continue
				}
				// Column tail: a whole tile into scratch, then w columns into C.
				t.kern[r1-r0](kl, ap, rs, cs, bp, tb, uintptr(4*nr), mask, 0)
				for i := 0; i < r1-r0; i++ {
					crow := unsafe.Slice((*float32)(unsafe.Add(cp, i*4*ldo)), w)
					srow := unsafe.Slice((*float32)(unsafe.Add(tb, 4*i*nr)), w)
					if acc == 0 {
						copy(crow, srow)
						continue
					}
					for q, v := range srow {
						crow[q] += v
					}
				}
			}
		}
	}

	if j.kOuter {
		var pack []float32
		if !j.bDirect {
			pack = j.pack[p*j.packPer : (p+1)*j.packPer]
		}
		for pc := k0; pc < k1; pc += kcBlock {
			kl := min(kcBlock, k1-pc)
			acc := accInit
			if pc > k0 {
				acc = 1
			}
			if j.bDirect {
				bp := unsafe.Add(unsafe.Pointer(unsafe.SliceData(j.b)), 4*pc*nr)
				block(0, ntl, pc, kl, acc, func(int) unsafe.Pointer { return bp })
				continue
			}
			j.packB(pack, kl, pc, pc+kl)
			bp := unsafe.Pointer(unsafe.SliceData(pack))
			block(0, ntl, pc, kl, acc, func(jp int) unsafe.Pointer { return unsafe.Add(bp, 4*jp*kl*nr) })
		}
		return
	}
	for tb := 0; tb < ntl; tb += mcTiles {
		te := min(tb+mcTiles, ntl)
		for pc := k0; pc < k1; pc += kcBlock {
			kl := min(kcBlock, k1-pc)
			acc := accInit
			if pc > k0 {
				acc = 1
			}
			if j.bDirect {
				bp := unsafe.Add(unsafe.Pointer(unsafe.SliceData(j.b)), 4*pc*nr)
				block(tb, te, pc, kl, acc, func(int) unsafe.Pointer { return bp })
				continue
			}
			bp := unsafe.Pointer(unsafe.SliceData(j.pack))
			block(tb, te, pc, kl, acc, func(jp int) unsafe.Pointer { return unsafe.Add(bp, 4*(jp*j.k+pc)*nr) })
		}
	}
}
