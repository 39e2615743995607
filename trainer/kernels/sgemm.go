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
	tailDiv    = 4       // the last chunks of an M-split take 1/tailDiv of what is left
	parMinWork = 1 << 20 // m*n*k below which a call stays on one goroutine
	maxThreads = 32
	// Split-K: k of at least splitKMinK is cut into at most maxSplitK
	// fixed ranges of whole k blocks when C is short (k >= 4m) or has few
	// row tiles.
	splitKMinK = 1024
	maxSplitK  = 32
	kOuterMaxC = 1 << 17 // C elements up to which long-k calls use the k-outer order
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
	runGemm(pickTileFor(be, n, transA), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// pickTileFor is the tile of a call n columns wide on backend be (not ref).
func pickTileFor(be int32, n int, transA bool) tile {
	switch {
	case be != backendGo:
		return archTile(be, 0, n, 0, transA)
	case testGoTile != nil:
		return *testGoTile
	default:
		return pickGoTile(n)
	}
}

// PackedB is alpha*op(B) packed once for the micro-kernels, for products
// with many A (GemmPacked): a convolution multiplies every block of its
// im2col rows by the same weights. A PackedB follows the backend active
// when it was packed; reuse one by packing again.
type PackedB struct {
	be      int32
	k, n    int
	tN, tT  tile      // the tiles for op(A) = A and A^T
	data    []float32 // [panel][k][nr], zero-padded, 64-byte aligned
	ref     []float32 // ref backend: op(B) as k x n rows, and alpha
	alpha   float32
	backing []float32
}

// Pack packs alpha*op(B), op(B) k x n with row stride ldb as stored.
func (p *PackedB) Pack(transB bool, k, n int, alpha float32, b []float32, ldb int) {
	checkOperand("B", transB, k, n, b, ldb)
	p.be, p.k, p.n, p.alpha = activeBackend.Load(), k, n, alpha
	if p.be == backendRef {
		p.ref = growFloats(&p.backing, k*n)
		for x := 0; x < k; x++ {
			for y := 0; y < n; y++ {
				if transB {
					p.ref[x*n+y] = b[y*ldb+x]
				} else {
					p.ref[x*n+y] = b[x*ldb+y]
				}
			}
		}
		return
	}
	p.tN, p.tT = pickTileFor(p.be, n, false), pickTileFor(p.be, n, true)
	nr := p.tN.nr
	panels := (n + nr - 1) / nr
	p.data = growFloats(&p.backing, panels*k*nr)
	if k == 0 {
		return
	}
	// rows of op(B) in ranges on the team (inside a task: on its worker)
	ranges := max(1, min(16, k*n/packGrain))
	data := p.data
	Parallel(ranges, func(_, r int) {
		packPanels(data, k, r*k/ranges, (r+1)*k/ranges, k, n, nr, transB, alpha, b, ldb)
	})
}

// packGrain is the number of elements of B worth a parallel task of Pack.
const packGrain = 1 << 14

// growFloats returns a 64-byte aligned slice of n floats from *buf,
// growing it when needed.
func growFloats(buf *[]float32, n int) []float32 {
	if cap(*buf) < n+16 {
		*buf = make([]float32, n+16+n/4)
	}
	b := (*buf)[:cap(*buf)]
	off := int(uintptr(unsafe.Pointer(&b[0]))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	return b[off : off+n]
}

// GemmPacked computes C = op(A)*B' + beta*C with B' packed by p.Pack: op(A)
// is m x p's k, C m x p's n. It never splits k: every element of C is
// summed over k blocks in order, as Gemm sums it when it does not split k
// (short reductions, or many rows), so results are the same as Gemm's then.
func GemmPacked(transA bool, m int, a []float32, lda int, p *PackedB, beta float32, c []float32, ldc int) {
	n, k := p.n, p.k
	if m <= 0 || n <= 0 {
		return
	}
	checkOperand("A", transA, m, k, a, lda)
	checkOperand("C", false, m, n, c, ldc)
	if p.be == backendRef {
		gemmRef(transA, false, m, n, k, p.alpha, a, lda, p.ref, n, beta, c, ldc)
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			scaleRow(c[i*ldc:i*ldc+n], beta)
		}
		return
	}
	t := p.tN
	if transA {
		t = p.tT
	}
	runGemm(t, transA, false, m, n, k, 1, a, lda, nil, 0, beta, c, ldc, p.data)
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

// gemmJob is one float32 GEMM call split into tasks for the team. Jobs and
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
	kOuter  bool      // k blocks outermost, B packed per block and worker
	pack    []float32 // packed B: [panel][k][nr], or per-worker [panel][kc][nr] blocks
	packPer int       // floats of pack per worker when kOuter
	nt      int
	// Work is cut into chunks that the workers claim one at a time (team.go),
	// so a worker that the OS descheduled (the host is shared) does not hold
	// up the call: row blocks of micro-tiles (tileBounds), or k ranges
	// for split-K (kBounds). When all of B is packed up front, task 0 packs it
	// (the helpers join while it runs) and the chunks are tasks 1.. that
	// wait for it; phase 1 of split-K adds the partial sums into C by row
	// blocks.
	prePack    bool
	packed     atomic.Bool
	phase      int
	nchunks    int
	tileBounds []int // M-split: chunk x has micro-tiles [tileBounds[x], tileBounds[x+1]) of ntl balanced tiles
	ntl        int
	kBounds    []int     // split-K: chunk x sums k in [kBounds[x], kBounds[x+1])
	scratch    []float32 // split-K partial sums of chunks 1.., (nchunks-1) x m x n
	buf        []float32
	// tileBuf[p] is worker p's scratch tile for column tails of unmasked
	// kernels (an array here: a local would escape through the kernel call).
	tileBuf [maxThreads][maxTile]float32
}

var (
	jobMu   sync.Mutex
	jobFree []*gemmJob
)

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

// floatsAligned returns a 64-byte aligned slice of n floats from j.buf,
// growing it when needed.
func (j *gemmJob) floatsAligned(n int) []float32 { return growFloats(&j.buf, n) }

// splitKBounds appends to b the k boundaries of the split-K chunks of a
// reduction of length k: whole k blocks, about maxSplitK chunks, shrinking
// at the end like the M-split's. They depend on k only.
func splitKBounds(b []int, k int) []int {
	blocks := (k + kcBlock - 1) / kcBlock
	per := (blocks + maxSplitK - 1) / maxSplitK
	b = append(b[:0], 0)
	for at := 0; at < blocks; {
		at = min(blocks, at+min(per, max(1, (blocks-at+tailDiv-1)/tailDiv)))
		b = append(b, min(k, at*kcBlock))
	}
	return b
}

// runGemm runs one call; packed, when set, is all of alpha*op(B) packed as
// [panel][k][nr] (GemmPacked).
func runGemm(t tile, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, packed []float32) {
	j := getJob()
	j.reset(j.buf)
	j.t, j.transA, j.transB, j.m, j.n, j.k = t, transA, transB, m, n, k
	j.alpha, j.beta, j.a, j.b, j.c, j.lda, j.ldb, j.ldc = alpha, beta, a, b, c, lda, ldb, ldc
	j.panels = (n + t.nr - 1) / t.nr
	j.bDirect = packed == nil && !transB && alpha == 1 && n == t.nr && ldb == t.nr

	// Threads and how to split. Whether and how k is split depends on the
	// problem shape only, never on GOMAXPROCS or timing, so every element of
	// C is summed in the same order on any machine: split-K chunks are fixed
	// k ranges, each computed into its own buffer (chunk 0 into C) and added
	// into C in chunk order.
	nt := Threads()
	tilesM := (m + t.mr - 1) / t.mr
	big := m*n*k >= parMinWork
	j.splitK = packed == nil && big && k >= splitKMinK && (k >= 4*m || tilesM < 4)
	if !big || nt < 2 {
		nt = 1
	}
	j.ntl = tilesM
	if j.splitK {
		j.kBounds = splitKBounds(j.kBounds, k)
		j.nchunks = len(j.kBounds) - 1
	} else {
		// chunks of mcTiles tiles, shrinking at the end (the last chunk
		// a goroutine finishes is short, so the others wait little)
		j.tileBounds = append(j.tileBounds[:0], 0)
		for at := 0; at < tilesM; {
			size := tilesM
			if nt > 1 {
				size = min(mcTiles, max(mcTiles/8, (tilesM-at+tailDiv-1)/tailDiv))
			}
			at = min(tilesM, at+size)
			j.tileBounds = append(j.tileBounds, at)
		}
		j.nchunks = len(j.tileBounds) - 1
	}
	if nt > j.nchunks {
		nt = j.nchunks
	}
	j.nt = nt
	// Long reductions with a small C (weight gradients) loop over k blocks
	// outermost, packing one block of B at a time into a per-worker buffer
	// that stays in L2 while C stays in cache. Tall problems pack all of B
	// once and sweep blocks of rows.
	j.kOuter = packed == nil && (j.splitK || (m*n <= kOuterMaxC && k > kcBlock))

	// Buffers: packed B, then split-K partial sums.
	packLen := 0
	if !j.bDirect && packed == nil {
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
	j.prePack = !j.bDirect && !j.kOuter && packed == nil
	if packed != nil {
		j.pack = packed
	}
	tasks := j.nchunks
	if j.prePack {
		tasks++
	}
	runTeam(tasks, nt, j)
	if j.splitK && j.nchunks > 1 {
		// Phase 1: C += the partial sums, by blocks of rows.
		j.phase = 1
		rows := max(1, reduceGrain/n)
		runTeam((m+rows-1)/rows, nt, j)
	}
	putJob(j)
}

// reduceGrain is the number of elements of C per task of the split-K
// reduction.
const reduceGrain = 1 << 13

// reset clears every field but the scratch tiles (never read before written).
func (j *gemmJob) reset(buf []float32) {
	j.t, j.a, j.b, j.c, j.pack, j.scratch, j.buf = tile{}, nil, nil, nil, nil, nil, buf
	j.transA, j.transB, j.bDirect, j.splitK, j.kOuter, j.prePack = false, false, false, false, false, false
	j.m, j.n, j.k, j.lda, j.ldb, j.ldc, j.alpha, j.beta = 0, 0, 0, 0, 0, 0, 0, 0
	j.panels, j.packPer, j.nt, j.nchunks, j.ntl, j.phase = 0, 0, 0, 0, 0, 0
	j.tileBounds, j.kBounds = j.tileBounds[:0], j.kBounds[:0]
	j.packed.Store(false)
}

// reduce adds the split-K partial sums of chunks 1.. into rows [i0, i1) of
// C, which hold chunk 0's, in chunk order.
func (j *gemmJob) reduce(i0, i1 int) {
	m, n := j.m, j.n
	for x := 1; x < j.nchunks; x++ {
		s := j.scratch[(x-1)*m*n : x*m*n]
		for i := i0; i < i1; i++ {
			Add(j.c[i*j.ldc:i*j.ldc+n], s[i*n:i*n+n])
		}
	}
}

// tileRow is the first row of balanced micro-tile x of ntl over [0, m).
func (j *gemmJob) tileRow(x int) int { return j.m * x / j.ntl }

// task runs task i of the current phase on worker p.
func (j *gemmJob) task(p, i int) {
	if j.phase == 1 {
		rows := max(1, reduceGrain/j.n)
		j.reduce(i*rows, min(j.m, (i+1)*rows))
		return
	}
	if j.prePack {
		if i == 0 {
			j.packB(j.pack, j.k, 0, j.k)
			j.packed.Store(true)
			return
		}
		i--
		for n := 1; !j.packed.Load(); n++ {
			if n%1024 == 0 {
				runtime.Gosched()
			}
		}
	}
	if j.nt > 1 {
		chunksDone[min(p, 1)].Add(1)
	}
	c := unsafe.Pointer(unsafe.SliceData(j.c))
	if !j.splitK {
		i0 := j.tileRow(j.tileBounds[i])
		i1 := j.tileRow(j.tileBounds[i+1])
		j.compute(p, i0, i1, 0, j.k, c, j.ldc, j.beta)
		return
	}
	k0, k1 := j.kBounds[i], j.kBounds[i+1]
	if i == 0 {
		j.compute(p, 0, j.m, k0, k1, c, j.ldc, j.beta)
	} else {
		j.compute(p, 0, j.m, k0, k1, unsafe.Pointer(&j.scratch[(i-1)*j.m*j.n]), j.n, 0)
	}
}

// packB packs rows [k0, k1) of alpha*op(B) into dst (see packPanels).
func (j *gemmJob) packB(dst []float32, panelK, k0, k1 int) {
	packPanels(dst, panelK, k0, k1, j.k, j.n, j.t.nr, j.transB, j.alpha, j.b, j.ldb)
}

// packPanels packs rows [k0, k1) of alpha*op(B) (op(B) k x n, row stride
// ldb as stored) into dst laid out as [panel][panelK][nr], row p at (p-k0)
// within each panel (plus k0 when the panel holds all of k: panelK == k).
// The last panel's columns are zero-padded.
func packPanels(dst []float32, panelK, k0, k1, k, n, nr int, transB bool, alpha float32, b []float32, ldb int) {
	panels := (n + nr - 1) / nr
	base := k0
	if panelK == k {
		base = 0
	}
	for jp := 0; jp < panels; jp++ {
		c0 := jp * nr
		w := min(nr, n-c0)
		panel := dst[jp*panelK*nr : (jp+1)*panelK*nr]
		if !transB {
			if alpha == 1 && k1 > k0 {
				// one strided copy per panel (rows of nr floats are short
				// for memmove), then the zero padding
				Copy2D(panel[(k0-base)*nr:], nr, b[k0*ldb+c0:], ldb, w, k1-k0)
				if w < nr {
					for p := k0; p < k1; p++ {
						clear(panel[(p-base)*nr+w : (p-base)*nr+nr])
					}
				}
				continue
			}
			for p := k0; p < k1; p++ {
				d := panel[(p-base)*nr : (p-base)*nr+nr]
				s := b[p*ldb+c0 : p*ldb+c0+w]
				for x, v := range s {
					d[x] = alpha * v
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
			s := b[(c0+x)*ldb+k0 : (c0+x)*ldb+k1]
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
