package ops

import (
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/effnas/effnas/trainer/kernels"
)

// SamePadding returns TensorFlow's "same" geometry along one spatial axis:
// out = ceil(in/stride), padTotal = max((out-1)*stride+k-in, 0), padBefore =
// padTotal/2 and padAfter = padTotal-padBefore (the extra row or column goes
// after, so stride-2 padding is asymmetric).
func SamePadding(in, k, stride int) (out, padBefore, padAfter int) {
	if in <= 0 || k <= 0 || stride <= 0 {
		return 0, 0, 0
	}
	out = (in + stride - 1) / stride
	total := (out-1)*stride + k - in
	if total < 0 {
		total = 0
	}
	return out, total / 2, total - total/2
}

// convGeom is the geometry of a same-padded NHWC convolution.
type convGeom struct {
	n, h, w, cin  int // input
	kh, kw, cout  int // kernel (cout = cin for depthwise)
	stride        int
	oh, ow        int // output
	padT, padL    int // padding before, rows and columns
	padB, padR    int // padding after (informational)
	rowsPerSample int // oh*ow
}

func newConvGeom(n, h, w, cin, kh, kw, cout, stride int) convGeom {
	g := convGeom{n: n, h: h, w: w, cin: cin, kh: kh, kw: kw, cout: cout, stride: stride}
	g.oh, g.padT, g.padB = SamePadding(h, kh, stride)
	g.ow, g.padL, g.padR = SamePadding(w, kw, stride)
	g.rowsPerSample = g.oh * g.ow
	return g
}

// pointwise reports whether the convolution is a plain matrix product
// (1x1 kernel, stride 1, hence no padding).
func (g convGeom) pointwise() bool { return g.kh == 1 && g.kw == 1 && g.stride == 1 }

// kkc is the im2col row length kh*kw*cin, ordered (ky, kx, ci) like HWIO.
func (g convGeom) kkc() int { return g.kh * g.kw * g.cin }

// outShape is the output shape (N,OH,OW,Cout).
func (g convGeom) outShape() tensor.Shape { return tensor.Shape{g.n, g.oh, g.ow, g.cout} }

// Conv2D returns the same-padded convolution of x (N,H,W,Cin) with w
// (KH,KW,Cin,Cout) at the given stride (both axes): shape (N,OH,OW,Cout) with
// OH = ceil(H/stride), OW = ceil(W/stride). No bias; see BiasAdd.
func Conv2D(x, w *G.Node, stride int) (*G.Node, error) {
	return applyConv(fullConv, x, w, stride, false)
}

// Conv2DInput is Conv2D for a layer whose input x needs no gradient (the
// network's input image): its backward pass computes the weight gradient
// only, and gorgonia.Grad with respect to x fails.
func Conv2DInput(x, w *G.Node, stride int) (*G.Node, error) {
	return applyConv(fullConv, x, w, stride, true)
}

// ---- kernels ----

// colBudget bounds the im2col block of one task, in elements: the block
// and the packed weights stay in a core's L2 cache while its GEMM runs.
var colBudget = 1 << 16

// The k×k convolutions run as tasks on the kernels' team, each an im2col
// block and its GEMM (or GEMM and col2im) on one worker: no barrier
// between the copy and the product, and the block never leaves the core's
// cache. The split depends on the geometry only (convPlan), and every sum
// runs in a fixed order, so results do not depend on GOMAXPROCS.

// A weight gradient's chunks hold max(wChunkRows, rows/maxWChunks) rows,
// down to wChunkRows/2 at the end: each chunk past the first costs a
// kkc x cout partial sum to add, and fewer, larger ones leave a worker
// waiting longer for the last (in-process timing of bench-fused's layers).
const (
	wChunkRows = 768
	maxWChunks = 8
)

// tailDiv shapes the tasks at the end of a call: once less than tailDiv
// full tasks of work are left, each takes 1/tailDiv of what is left (at
// least 1/8 of a full one), so that the last task a worker finishes is
// short and the others wait little for it.
const tailDiv = 4

// guided returns task boundaries over [0, total): tasks of at most
// maxSize, shrinking at the end (tailDiv) down to minSize.
func guided(total, maxSize, minSize int) []int {
	maxSize = max(1, maxSize)
	minSize = max(1, min(minSize, maxSize))
	b := []int{0}
	for at := 0; at < total; {
		size := min(maxSize, max(minSize, (total-at+tailDiv-1)/tailDiv))
		at = min(total, at+size)
		b = append(b, at)
	}
	return b
}

// convPlan is how a k×k convolution splits into tasks. The split depends
// on the geometry only.
type convPlan struct {
	rows      int // output pixels N*OH*OW
	blockRows int // im2col rows per block at most
	// Forward: task t computes rows [fwd[t], fwd[t+1]), one block.
	fwd []int
	// Input gradient: task t takes samples [xt[t], xt[t+1]) (their col2im
	// writes are disjoint), in GEMM + col2im steps of at most xRows rows.
	xt    []int
	xRows int
	// Weight gradient: chunk t sums rows [wt[t], wt[t+1]) in blocks of at
	// most blockRows into its own partial gradient (the first into dw);
	// the partials are added in order.
	wt []int
}

func (g convGeom) plan() convPlan {
	kkc, ohw := g.kkc(), g.rowsPerSample
	p := convPlan{rows: g.n * ohw, blockRows: max(1, colBudget/kkc)}
	p.fwd = guided(p.rows, p.blockRows, p.blockRows/8)
	taskSamples := max(1, colBudget/(ohw*kkc))
	p.xt = guided(g.n, taskSamples, 1)
	p.xRows = min(taskSamples*ohw, p.blockRows)
	chunk := max(wChunkRows, (p.rows+maxWChunks-1)/maxWChunks)
	p.wt = guided(p.rows, chunk, wChunkRows/2)
	return p
}

// im2col writes the patches of output rows [r0,r1) into col, one row of
// kh*kw*cin values (ordered ky, kx, ci) per output pixel; padding is zero.
// Pixels whose window lies inside the input columns are copied a whole
// output row at a time per ky (one strided copy); border pixels one by one.
func im2col[T Float](g convGeom, x, col []T, r0, r1 int) {
	kkc, kwc, cin := g.kkc(), g.kw*g.cin, g.cin
	oxLo, oxHi := g.interiorCols()
	n, p := r0/g.rowsPerSample, r0%g.rowsPerSample
	oy, ox := p/g.ow, p%g.ow
	for r := r0; r < r1; {
		if ox == g.ow {
			ox, oy = 0, oy+1
			if oy == g.oh {
				oy, n = 0, n+1
			}
		}
		seg := min(r1-r, g.ow-ox)
		xb := x[n*g.h*g.w*cin : (n+1)*g.h*g.w*cin]
		dst := col[(r-r0)*kkc : (r-r0+seg)*kkc]
		a, b := max(ox, min(oxLo, ox+seg)), max(max(ox, min(oxLo, ox+seg)), min(ox+seg, oxHi))
		for q := ox; q < a; q++ {
			im2colPixel(g, xb, dst[(q-ox)*kkc:(q-ox+1)*kkc], oy, q)
		}
		if a < b {
			for ky := 0; ky < g.kh; ky++ {
				iy := oy*g.stride - g.padT + ky
				if iy < 0 || iy >= g.h {
					for q := a; q < b; q++ {
						clear(dst[(q-ox)*kkc+ky*kwc : (q-ox)*kkc+(ky+1)*kwc])
					}
					continue
				}
				copy2DT(dst[(a-ox)*kkc+ky*kwc:], kkc, xb[(iy*g.w+a*g.stride-g.padL)*cin:], g.stride*cin, kwc, b-a)
			}
		}
		for q := b; q < ox+seg; q++ {
			im2colPixel(g, xb, dst[(q-ox)*kkc:(q-ox+1)*kkc], oy, q)
		}
		r += seg
		ox += seg
	}
}

// interiorCols returns the output columns [lo,hi) whose windows lie inside
// the input columns (no padding).
func (g convGeom) interiorCols() (lo, hi int) {
	lo = (g.padL + g.stride - 1) / g.stride
	hi = 0
	if g.w-g.kw+g.padL >= 0 {
		hi = (g.w-g.kw+g.padL)/g.stride + 1
	}
	hi = min(hi, g.ow)
	return lo, max(lo, hi)
}

// im2colPixel writes the patch of output pixel (oy, ox) of sample xb.
func im2colPixel[T Float](g convGeom, xb, dst []T, oy, ox int) {
	kwc, cin := g.kw*g.cin, g.cin
	iy0, ix0 := oy*g.stride-g.padT, ox*g.stride-g.padL
	for ky := 0; ky < g.kh; ky++ {
		d := dst[ky*kwc : (ky+1)*kwc]
		iy := iy0 + ky
		if iy < 0 || iy >= g.h {
			clear(d)
			continue
		}
		if ix0 >= 0 && ix0+g.kw <= g.w {
			copyT(d, xb[(iy*g.w+ix0)*cin:(iy*g.w+ix0)*cin+kwc])
			continue
		}
		for kx := 0; kx < g.kw; kx++ {
			seg := d[kx*cin : (kx+1)*cin]
			ix := ix0 + kx
			if ix < 0 || ix >= g.w {
				clear(seg)
			} else {
				copyT(seg, xb[(iy*g.w+ix)*cin:(iy*g.w+ix+1)*cin])
			}
		}
	}
}

// col2im adds the patch gradients of output rows [r0,r1) back into dx. Each
// element of dx receives its contributions in pixel order, whatever the
// chunking, as in a pixel-by-pixel loop: within one output row a dx element
// is reached by one ky only, so the interior pixels go ky by ky as one
// strided add per ky, between the left and right border pixels.
func col2im[T Float](g convGeom, col, dx []T, r0, r1 int) {
	kkc, kwc, cin := g.kkc(), g.kw*g.cin, g.cin
	oxLo, oxHi := g.interiorCols()
	n, p := r0/g.rowsPerSample, r0%g.rowsPerSample
	oy, ox := p/g.ow, p%g.ow
	for r := r0; r < r1; {
		if ox == g.ow {
			ox, oy = 0, oy+1
			if oy == g.oh {
				oy, n = 0, n+1
			}
		}
		seg := min(r1-r, g.ow-ox)
		xb := dx[n*g.h*g.w*cin : (n+1)*g.h*g.w*cin]
		src := col[(r-r0)*kkc : (r-r0+seg)*kkc]
		a, b := max(ox, min(oxLo, ox+seg)), max(max(ox, min(oxLo, ox+seg)), min(ox+seg, oxHi))
		for q := ox; q < a; q++ {
			col2imPixel(g, src[(q-ox)*kkc:(q-ox+1)*kkc], xb, oy, q)
		}
		if a < b {
			for ky := 0; ky < g.kh; ky++ {
				iy := oy*g.stride - g.padT + ky
				if iy < 0 || iy >= g.h {
					continue
				}
				add2DT(xb[(iy*g.w+a*g.stride-g.padL)*cin:], g.stride*cin, src[(a-ox)*kkc+ky*kwc:], kkc, kwc, b-a)
			}
		}
		for q := b; q < ox+seg; q++ {
			col2imPixel(g, src[(q-ox)*kkc:(q-ox+1)*kkc], xb, oy, q)
		}
		r += seg
		ox += seg
	}
}

// col2imPixel adds the patch gradient of output pixel (oy, ox) into xb.
func col2imPixel[T Float](g convGeom, src, xb []T, oy, ox int) {
	kwc, cin := g.kw*g.cin, g.cin
	iy0, ix0 := oy*g.stride-g.padT, ox*g.stride-g.padL
	for ky := 0; ky < g.kh; ky++ {
		iy := iy0 + ky
		if iy < 0 || iy >= g.h {
			continue
		}
		s := src[ky*kwc : (ky+1)*kwc]
		if ix0 >= 0 && ix0+g.kw <= g.w {
			addT(xb[(iy*g.w+ix0)*cin:(iy*g.w+ix0)*cin+kwc], s)
			continue
		}
		for kx := 0; kx < g.kw; kx++ {
			ix := ix0 + kx
			if ix < 0 || ix >= g.w {
				continue
			}
			addT(xb[(iy*g.w+ix)*cin:(iy*g.w+ix+1)*cin], s[kx*cin:(kx+1)*cin])
		}
	}
}

// convB is op(B) of the products of one convolution call: for float32
// packed once (kernels.PackedB) for every task's GEMM, for float64 (the
// reference loops) kept as it is.
type convB[T Float] struct {
	p      *kernels.PackedB
	transB bool
	k, n   int
	b      []T
	ldb    int
}

var packedPool sync.Pool

func newConvB[T Float](transB bool, k, n int, b []T, ldb int) convB[T] {
	cb := convB[T]{transB: transB, k: k, n: n, b: b, ldb: ldb}
	if isF32T[T]() {
		cb.p, _ = packedPool.Get().(*kernels.PackedB)
		if cb.p == nil {
			cb.p = new(kernels.PackedB)
		}
		cb.p.Pack(transB, k, n, 1, as32(b), ldb)
	}
	return cb
}

// mul sets c (m x n, row stride ldc) = a (m x k, row stride lda) * op(B).
func (cb convB[T]) mul(m int, a []T, lda int, c []T, ldc int) {
	if cb.p != nil {
		kernels.GemmPacked(false, m, as32(a), lda, cb.p, 0, as32(c), ldc)
		return
	}
	kernels.Gemm(false, cb.transB, m, cb.n, cb.k, 1, a, lda, cb.b, cb.ldb, 0, c, ldc)
}

func (cb convB[T]) release() {
	if cb.p != nil {
		packedPool.Put(cb.p)
	}
}

// colPool recycles im2col buffers between calls.
var colPool sync.Pool

func getCol[T Float](n int) ([]T, *[]T) {
	if p, ok := colPool.Get().(*[]T); ok && cap(*p) >= n {
		return (*p)[:n], p
	}
	b := make([]T, n)
	return b, &b
}

// convForward computes y (N,OH,OW,Cout) = conv(x, w): per block, im2col
// and the GEMM against the packed weights.
func convForward[T Float](g convGeom, x, w, y []T) {
	if isF32T[T]() && g.winograd() {
		winoForward(g, as32(x), as32(w), as32(y))
		return
	}
	if g.pointwise() {
		kernels.Gemm(false, false, g.n*g.h*g.w, g.cout, g.cin, 1, x, g.cin, w, g.cout, 0, y, g.cout)
		return
	}
	p := g.plan()
	kkc := g.kkc()
	wb := newConvB(false, kkc, g.cout, w, g.cout)
	defer wb.release()
	per := p.blockRows * kkc
	colAll, keep := getCol[T](kernels.Threads() * per)
	defer colPool.Put(keep)
	kernels.Parallel(len(p.fwd)-1, func(wk, b int) {
		r0, r1 := p.fwd[b], p.fwd[b+1]
		col := colAll[wk*per : wk*per+(r1-r0)*kkc]
		im2col(g, x, col, r0, r1)
		wb.mul(r1-r0, col, kkc, y[r0*g.cout:], g.cout)
	})
}

// convGradX computes dx (N,H,W,Cin) from w and gy (N,OH,OW,Cout): per
// task of whole samples, the patch gradients gy*w^T and their col2im.
func convGradX[T Float](g convGeom, w, gy, dx []T) {
	if isF32T[T]() && g.winograd() {
		winoGradX(g, as32(w), as32(gy), as32(dx))
		return
	}
	if g.pointwise() {
		kernels.Gemm(false, true, g.n*g.h*g.w, g.cin, g.cout, 1, gy, g.cout, w, g.cout, 0, dx, g.cin)
		return
	}
	p := g.plan()
	kkc, ohw, hwc := g.kkc(), g.rowsPerSample, g.h*g.w*g.cin
	wb := newConvB(true, g.cout, kkc, w, g.cout)
	defer wb.release()
	per := p.xRows * kkc
	colAll, keep := getCol[T](kernels.Threads() * per)
	defer colPool.Put(keep)
	kernels.Parallel(len(p.xt)-1, func(wk, t int) {
		s0, s1 := p.xt[t], p.xt[t+1]
		clear(dx[s0*hwc : s1*hwc])
		for r0 := s0 * ohw; r0 < s1*ohw; r0 += p.xRows {
			r1 := min(s1*ohw, r0+p.xRows)
			col := colAll[wk*per : wk*per+(r1-r0)*kkc]
			wb.mul(r1-r0, gy[r0*g.cout:], g.cout, col, kkc)
			col2im(g, col, dx, r0, r1)
		}
	})
}

// convGradW computes dw (KH,KW,Cin,Cout) from x and gy: each chunk of
// blocks sums im2col^T*gy over its blocks in order into its own partial
// gradient (the first chunk into dw), and the partials are added into dw
// in chunk order.
func convGradW[T Float](g convGeom, x, gy, dw []T) {
	if isF32T[T]() && g.winograd() {
		winoGradW(g, as32(x), as32(gy), as32(dw))
		return
	}
	kkc := g.kkc()
	if g.pointwise() {
		kernels.Gemm(true, false, g.cin, g.cout, g.n*g.h*g.w, 1, x, g.cin, gy, g.cout, 0, dw, g.cout)
		return
	}
	p := g.plan()
	wlen := kkc * g.cout
	per := p.blockRows * kkc
	nw := kernels.Threads()
	chunks := len(p.wt) - 1
	colAll, keep := getCol[T](nw*per + (chunks-1)*wlen)
	defer colPool.Put(keep)
	partial := colAll[nw*per:]
	kernels.Parallel(chunks, func(wk, ch int) {
		out := dw
		if ch > 0 {
			out = partial[(ch-1)*wlen : ch*wlen]
		}
		for r0 := p.wt[ch]; r0 < p.wt[ch+1]; r0 += p.blockRows {
			r1 := min(p.wt[ch+1], r0+p.blockRows)
			col := colAll[wk*per : wk*per+(r1-r0)*kkc]
			im2col(g, x, col, r0, r1)
			beta := T(1)
			if r0 == p.wt[ch] {
				beta = 0
			}
			kernels.Gemm(true, false, kkc, g.cout, r1-r0, 1, col, kkc, gy[r0*g.cout:], g.cout, beta, out, g.cout)
		}
	})
	if chunks > 1 {
		parallelRange(wlen, elemGrain, func(_, lo, hi int) {
			for ch := 1; ch < chunks; ch++ {
				addT(dw[lo:hi], partial[(ch-1)*wlen+lo:(ch-1)*wlen+hi])
			}
		})
	}
}

// sumInto adds every slice of parts into dst, in order.
func sumInto[T Float](dst []T, parts [][]T) {
	for _, p := range parts {
		if p == nil {
			continue
		}
		for i, v := range p {
			dst[i] += v
		}
	}
}
