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

// colBudget bounds the im2col buffer of one goroutine, in elements.
var colBudget = 1 << 19

// gemmGrain is the smallest matrix-product size (m*n*k) worth a goroutine.
var gemmGrain = 1 << 16

// rowRange is a range [r0,r1) of output pixels, flattened over (N,OH,OW).
type rowRange struct{ r0, r1 int }

// convPlan splits the output rows into im2col chunks of at most maxRows rows.
// Chunks never straddle a sample unless they hold whole samples; groups lists
// the chunks by sample group so that col2im of different groups never writes
// to the same input sample (the input-gradient pass runs groups in parallel).
type convPlan struct {
	units   []rowRange
	groups  [][]int
	maxRows int
}

func (g convGeom) plan() convPlan {
	ohw := g.rowsPerSample
	maxRows := colBudget / g.kkc()
	if maxRows < 1 {
		maxRows = 1
	}
	var p convPlan
	if ohw <= maxRows {
		ipu := maxRows / ohw
		if ipu < 1 {
			ipu = 1
		}
		for i := 0; i < g.n; i += ipu {
			j := min(i+ipu, g.n)
			p.groups = append(p.groups, []int{len(p.units)})
			p.units = append(p.units, rowRange{i * ohw, j * ohw})
		}
		p.maxRows = ipu * ohw
		return p
	}
	for i := 0; i < g.n; i++ {
		var grp []int
		for r := 0; r < ohw; r += maxRows {
			grp = append(grp, len(p.units))
			p.units = append(p.units, rowRange{i*ohw + r, i*ohw + min(r+maxRows, ohw)})
		}
		p.groups = append(p.groups, grp)
	}
	p.maxRows = maxRows
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

func rowsGrain(inner int) int {
	if inner < 1 {
		inner = 1
	}
	return max(1, gemmGrain/inner)
}

// The k×k convolutions run their im2col units one after the other, so
// that the GEMM of a unit gets all cores (kernels.Gemm is threaded itself and
// the op adds no goroutines of its own around it); im2col and col2im of a
// unit are split across cores by rows or samples, whose outputs are disjoint.
// Every sum runs in a fixed order (units in order, rows in order within a
// sample), so results do not depend on GOMAXPROCS.

// colPool recycles im2col buffers between calls.
var colPool sync.Pool

func getCol[T Float](n int) ([]T, *[]T) {
	if p, ok := colPool.Get().(*[]T); ok && cap(*p) >= n {
		return (*p)[:n], p
	}
	b := make([]T, n)
	return b, &b
}

// im2colPar is im2col of rows [r0,r1) split across cores.
func im2colPar[T Float](g convGeom, x, col []T, r0, r1 int) {
	kkc := g.kkc()
	parallelRange(r1-r0, max(1, elemGrain/kkc), func(_, lo, hi int) {
		im2col(g, x, col[lo*kkc:hi*kkc], r0+lo, r0+hi)
	})
}

// col2imPar is col2im of rows [r0,r1): split by whole samples when the
// unit holds whole samples (their input gradients are disjoint), else serial.
func col2imPar[T Float](g convGeom, col, dx []T, r0, r1 int) {
	ohw, kkc := g.rowsPerSample, g.kkc()
	if r0%ohw != 0 || r1%ohw != 0 {
		col2im(g, col, dx, r0, r1)
		return
	}
	s0, s1 := r0/ohw, r1/ohw
	parallelRange(s1-s0, max(1, elemGrain/(ohw*kkc)), func(_, lo, hi int) {
		a, b := (s0+lo)*ohw, (s0+hi)*ohw
		col2im(g, col[(a-r0)*kkc:(b-r0)*kkc], dx, a, b)
	})
}

// convForward computes y (N,OH,OW,Cout) = conv(x, w).
func convForward[T Float](g convGeom, x, w, y []T) {
	if g.pointwise() {
		kernels.Gemm(false, false, g.n*g.h*g.w, g.cout, g.cin, 1, x, g.cin, w, g.cout, 0, y, g.cout)
		return
	}
	p := g.plan()
	kkc := g.kkc()
	colAll, keep := getCol[T](p.maxRows * kkc)
	defer colPool.Put(keep)
	for _, u := range p.units {
		rows := u.r1 - u.r0
		col := colAll[:rows*kkc]
		im2colPar(g, x, col, u.r0, u.r1)
		kernels.Gemm(false, false, rows, g.cout, kkc, 1, col, kkc, w, g.cout, 0, y[u.r0*g.cout:], g.cout)
	}
}

// convGradX computes dx (N,H,W,Cin) from w and gy (N,OH,OW,Cout).
func convGradX[T Float](g convGeom, w, gy, dx []T) {
	if g.pointwise() {
		kernels.Gemm(false, true, g.n*g.h*g.w, g.cin, g.cout, 1, gy, g.cout, w, g.cout, 0, dx, g.cin)
		return
	}
	clear(dx)
	p := g.plan()
	kkc := g.kkc()
	colAll, keep := getCol[T](p.maxRows * kkc)
	defer colPool.Put(keep)
	for _, u := range p.units {
		rows := u.r1 - u.r0
		col := colAll[:rows*kkc]
		kernels.Gemm(false, true, rows, kkc, g.cout, 1, gy[u.r0*g.cout:], g.cout, w, g.cout, 0, col, kkc)
		col2imPar(g, col, dx, u.r0, u.r1)
	}
}

// convGradW computes dw (KH,KW,Cin,Cout) from x and gy, accumulating the
// im2col units in order.
func convGradW[T Float](g convGeom, x, gy, dw []T) {
	kkc := g.kkc()
	if g.pointwise() {
		kernels.Gemm(true, false, g.cin, g.cout, g.n*g.h*g.w, 1, x, g.cin, gy, g.cout, 0, dw, g.cout)
		return
	}
	p := g.plan()
	colAll, keep := getCol[T](p.maxRows * kkc)
	defer colPool.Put(keep)
	for t, u := range p.units {
		rows := u.r1 - u.r0
		col := colAll[:rows*kkc]
		im2colPar(g, x, col, u.r0, u.r1)
		beta := T(1)
		if t == 0 {
			beta = 0
		}
		kernels.Gemm(true, false, kkc, g.cout, rows, 1, col, kkc, gy[u.r0*g.cout:], g.cout, beta, dw, g.cout)
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
