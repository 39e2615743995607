package cudaops

// The parity cases of the ops: each runs the device kernels and the CPU op
// on the same random inputs and compares every output.

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/effnas/effnas/trainer/cuda"
	cpukernels "github.com/effnas/effnas/trainer/kernels"
	"github.com/effnas/effnas/trainer/ops"
)

func checkUnary(sigmoid bool) func(ch *checker) error {
	return func(ch *checker) error {
		shape := []int{3, 5, 7, 24}
		n := 3 * 5 * 7 * 24
		x := ch.rand(n, -8, 8)
		gy := ch.rand(n, -1, 1)
		name, f := "SiLU", ops.SiLU
		if sigmoid {
			name, f = "Sigmoid", ops.Sigmoid
		}
		out, grads, err := cpuRun([]cpuIn{{"x", shape, x, true}}, gy, func(in []*G.Node) (*G.Node, error) { return f(in[0]) })
		if err != nil {
			return err
		}
		xb, gb, yb, db := ch.up(x), ch.up(gy), ch.alloc(n), ch.alloc(n)
		if sigmoid {
			must(ch.k.Sigmoid(ch.c, yb, xb, n))
			must(ch.k.SigmoidGrad(ch.c, db, yb, gb, n))
		} else {
			must(ch.k.SiLU(ch.c, yb, xb, n))
			must(ch.k.SiLUGrad(ch.c, db, xb, gb, n))
		}
		op := name + " " + shapeStr(shape...)
		ch.add(op, "y", ch.down(yb, n), out, TolElementwise)
		ch.add(op, "dx", ch.down(db, n), grads[0], TolElementwise)
		return nil
	}
}

func checkAdd(ch *checker) error {
	return checkBinary(ch, "Add", []int{2, 6, 6, 16}, ops.Add, ch.k.Add)
}

func checkMul(ch *checker) error {
	return checkBinary(ch, "Mul (HadamardProd)", []int{6, 40}, G.HadamardProd, ch.k.Mul)
}

// checkBinary checks an elementwise op of two tensors of one shape: the
// CPU's node against the device kernel dev.
func checkBinary(ch *checker, name string, shape []int, cpu func(a, b *G.Node) (*G.Node, error),
	dev func(c *cuda.Ctx, y, a, b cuda.Buffer, n int) error) error {
	n := 1
	for _, d := range shape {
		n *= d
	}
	a, b := ch.rand(n, -2, 2), ch.rand(n, -2, 2)
	out, _, err := cpuRun([]cpuIn{{"a", shape, a, false}, {"b", shape, b, false}}, nil,
		func(in []*G.Node) (*G.Node, error) { return cpu(in[0], in[1]) })
	if err != nil {
		return err
	}
	yb := ch.alloc(n)
	must(dev(ch.c, yb, ch.up(a), ch.up(b), n))
	ch.add(name+" "+shapeStr(shape...), "y", ch.down(yb, n), out, TolElementwise)
	return nil
}

func checkBias(ch *checker) error {
	shape := []int{2, 4, 5, 40}
	rows, c := 2*4*5, 40
	x, b, gy := ch.rand(rows*c, -2, 2), ch.rand(c, -1, 1), ch.rand(rows*c, -1, 1)
	out, grads, err := cpuRun([]cpuIn{{"x", shape, x, false}, {"b", []int{c}, b, true}}, gy,
		func(in []*G.Node) (*G.Node, error) { return ops.BiasAdd(in[0], in[1]) })
	if err != nil {
		return err
	}
	yb, db := ch.alloc(rows*c), ch.alloc(c)
	must(ch.k.BiasAdd(ch.c, yb, ch.up(x), ch.up(b), rows, c))
	must(ch.k.ColumnSum(ch.c, db, ch.up(gy), rows, c))
	op := "BiasAdd " + shapeStr(shape...)
	ch.add(op, "y", ch.down(yb, rows*c), out, TolElementwise)
	ch.add(op, "db (ColumnSum)", ch.down(db, c), grads[0], TolReduction)
	return nil
}

func checkSampleScale(ch *checker) error {
	shape := []int{4, 3, 3, 8}
	n, per := 4*3*3*8, 3*3*8
	x, gy := ch.rand(n, -2, 2), ch.rand(n, -1, 1)
	m := []float32{0, 1.25, 1.25, 0}
	out, grads, err := cpuRun([]cpuIn{{"x", shape, x, true}, {"m", []int{4}, m, false}}, gy,
		func(in []*G.Node) (*G.Node, error) { return ops.SampleScale(in[0], in[1]) })
	if err != nil {
		return err
	}
	mb, yb, db := ch.up(m), ch.alloc(n), ch.alloc(n)
	must(ch.k.SampleScale(ch.c, yb, ch.up(x), mb, 4, per))
	must(ch.k.SampleScale(ch.c, db, ch.up(gy), mb, 4, per))
	op := "SampleScale " + shapeStr(shape...)
	ch.add(op, "y", ch.down(yb, n), out, TolElementwise)
	ch.add(op, "dx", ch.down(db, n), grads[0], TolElementwise)
	return nil
}

func checkChannelScale(ch *checker) error {
	nb, h, w, c := 3, 5, 5, 40
	shape := []int{nb, h, w, c}
	n := nb * h * w * c
	x, s, gy := ch.rand(n, -2, 2), ch.rand(nb*c, 0, 1), ch.rand(n, -1, 1)
	out, grads, err := cpuRun([]cpuIn{{"x", shape, x, true}, {"s", []int{nb, c}, s, true}}, gy,
		func(in []*G.Node) (*G.Node, error) { return ops.ChannelScale(in[0], in[1]) })
	if err != nil {
		return err
	}
	xb, sb, gb := ch.up(x), ch.up(s), ch.up(gy)
	yb, dxb, dsb := ch.alloc(n), ch.alloc(n), ch.alloc(nb*c)
	must(ch.k.ChannelScale(ch.c, yb, xb, sb, nb, h*w, c))
	must(ch.k.ChannelScale(ch.c, dxb, gb, sb, nb, h*w, c))
	must(ch.k.ChannelScaleGradS(ch.c, dsb, xb, gb, nb, h*w, c))
	op := "ChannelScale " + shapeStr(shape...)
	ch.add(op, "y", ch.down(yb, n), out, TolElementwise)
	ch.add(op, "dx", ch.down(dxb, n), grads[0], TolElementwise)
	ch.add(op, "ds", ch.down(dsb, nb*c), grads[1], TolReduction)
	return nil
}

func checkGAP(ch *checker) error {
	nb, h, w, c := 3, 6, 5, 40
	shape := []int{nb, h, w, c}
	n := nb * h * w * c
	x, gy := ch.rand(n, -2, 2), ch.rand(nb*c, -1, 1)
	out, grads, err := cpuRun([]cpuIn{{"x", shape, x, true}}, gy,
		func(in []*G.Node) (*G.Node, error) { return ops.GlobalAvgPool(in[0]) })
	if err != nil {
		return err
	}
	yb, db := ch.alloc(nb*c), ch.alloc(n)
	must(ch.k.GlobalAvgPool(ch.c, yb, ch.up(x), nb, h*w, c))
	must(ch.k.GlobalAvgPoolGrad(ch.c, db, ch.up(gy), nb, h*w, c))
	op := "GlobalAvgPool " + shapeStr(shape...)
	ch.add(op, "y", ch.down(yb, nb*c), out, TolReduction)
	ch.add(op, "dx", ch.down(db, n), grads[0], TolElementwise)
	return nil
}

func checkDepthwise(ch *checker) error {
	for _, g := range dwGeoms {
		oh, ow, _, _ := g.Out()
		nx, nw, ny := g.N*g.H*g.W*g.C, g.KH*g.KW*g.C, g.N*oh*ow*g.C
		x, w, gy := ch.rand(nx, -2, 2), ch.rand(nw, -1, 1), ch.rand(ny, -1, 1)
		out, grads, err := cpuRun([]cpuIn{{"x", []int{g.N, g.H, g.W, g.C}, x, true}, {"w", []int{g.KH, g.KW, g.C}, w, true}}, gy,
			func(in []*G.Node) (*G.Node, error) { return ops.DepthwiseConv2D(in[0], in[1], g.Stride) })
		if err != nil {
			return err
		}
		xb, wb, gb := ch.up(x), ch.up(w), ch.up(gy)
		yb, dxb, dwb := ch.alloc(ny), ch.alloc(nx), ch.alloc(nw)
		must(ch.k.DepthwiseForward(ch.c, yb, xb, wb, g))
		must(ch.k.DepthwiseGradX(ch.c, dxb, wb, gb, g))
		must(ch.k.DepthwiseGradW(ch.c, dwb, xb, gb, g))
		op := fmt.Sprintf("DepthwiseConv2D k%d s%d %s", g.KH, g.Stride, shapeStr(g.N, g.H, g.W, g.C))
		ch.add(op, "y", ch.down(yb, ny), out, TolReduction)
		ch.add(op, "dx", ch.down(dxb, nx), grads[0], TolReduction)
		ch.add(op, "dw", ch.down(dwb, nw), grads[1], TolReduction)
	}
	return nil
}

// dwGeoms are the depthwise convolutions of the check: k3 and k5, stride 1
// and 2, odd and even sizes (stride 2 on an even size pads asymmetrically).
var dwGeoms = []DWGeom{
	{N: 2, H: 9, W: 9, C: 40, KH: 3, KW: 3, Stride: 1},
	{N: 2, H: 8, W: 8, C: 24, KH: 3, KW: 3, Stride: 2},
	{N: 2, H: 7, W: 7, C: 16, KH: 5, KW: 5, Stride: 2},
	{N: 1, H: 12, W: 10, C: 33, KH: 5, KW: 5, Stride: 1},
}

// checkDepthwiseCuDNN runs the same convolutions as cuDNN grouped
// convolutions (the alternative to our kernels).
func checkDepthwiseCuDNN(ch *checker) error {
	for _, g := range dwGeoms {
		oh, ow, _, _ := g.Out()
		nx, nw, ny := g.N*g.H*g.W*g.C, g.KH*g.KW*g.C, g.N*oh*ow*g.C
		x, w, gy := ch.rand(nx, -2, 2), ch.rand(nw, -1, 1), ch.rand(ny, -1, 1)
		out, grads, err := cpuRun([]cpuIn{{"x", []int{g.N, g.H, g.W, g.C}, x, true}, {"w", []int{g.KH, g.KW, g.C}, w, true}}, gy,
			func(in []*G.Node) (*G.Node, error) { return ops.DepthwiseConv2D(in[0], in[1], g.Stride) })
		if err != nil {
			return err
		}
		cv, err := ch.k.NewConv(ch.c, ConvShape{N: g.N, H: g.H, W: g.W, Cin: g.C, KH: g.KH, KW: g.KW, Stride: g.Stride, Depthwise: true})
		if err != nil {
			return err
		}
		xb, wb, gb := ch.up(x), ch.up(w), ch.up(gy)
		yb, dxb, dwb := ch.alloc(ny), ch.alloc(nx), ch.alloc(nw)
		must(ch.k.ConvForward(ch.c, cv, yb, xb, wb))
		must(ch.k.ConvGradX(ch.c, cv, dxb, wb, gb))
		must(ch.k.ConvGradW(ch.c, cv, dwb, xb, gb))
		op := fmt.Sprintf("Depthwise cuDNN k%d s%d %s", g.KH, g.Stride, shapeStr(g.N, g.H, g.W, g.C))
		ch.add(op, "y", ch.down(yb, ny), out, ch.gemmTol())
		ch.add(op, "dx", ch.down(dxb, nx), grads[0], ch.gemmTol())
		ch.add(op, "dw", ch.down(dwb, nw), grads[1], ch.gemmTol())
		cv.Free(ch.c)
	}
	return nil
}

func checkBatchNorm(ch *checker) error {
	for _, tc := range []struct {
		shape []int
		silu  bool
	}{{[]int{4, 5, 5, 40}, true}, {[]int{4, 5, 5, 40}, false}, {[]int{16, 72}, true}, {[]int{2, 3, 3, 8}, true}} {
		c := tc.shape[len(tc.shape)-1]
		n := 1
		for _, v := range tc.shape {
			n *= v
		}
		rows := n / c
		x := ch.rand(n, -1.5, 2.5)
		gamma, beta, gy := ch.rand(c, 0.5, 1.5), ch.rand(c, -0.5, 0.5), ch.rand(n, -1, 1)
		bn, err := ops.NewBatchNorm(c, ops.DefaultBNMomentum, ops.DefaultBNEpsilon)
		if err != nil {
			return err
		}
		apply := bn.Apply
		name := "BatchNorm"
		if tc.silu {
			apply, name = bn.ApplySiLU, "BatchNorm+SiLU"
		}
		out, grads, err := cpuRun([]cpuIn{{"x", tc.shape, x, true}, {"gamma", []int{c}, gamma, true}, {"beta", []int{c}, beta, true}}, gy,
			func(in []*G.Node) (*G.Node, error) { return apply(in[0], in[1], in[2]) })
		if err != nil {
			return err
		}
		rm, rv := bn.Stats()
		dbn, err := ch.k.NewBatchNorm(ch.c, c, ops.DefaultBNMomentum, ops.DefaultBNEpsilon)
		if err != nil {
			return err
		}
		xb, gb, bb, gyb := ch.up(x), ch.up(gamma), ch.up(beta), ch.up(gy)
		yb, dxb, dgb, dbb, gz := ch.alloc(n), ch.alloc(n), ch.alloc(c), ch.alloc(c), ch.alloc(n)
		must(ch.k.BNForward(ch.c, dbn, BNTrain, tc.silu, yb, xb, gb, bb, rows))
		must(ch.k.BNBackward(ch.c, dbn, tc.silu, dxb, dgb, dbb, gyb, xb, gb, gz, rows))
		op := name + " train " + shapeStr(tc.shape...)
		ch.add(op, "y", ch.down(yb, n), out, TolReduction)
		ch.add(op, "dx", ch.down(dxb, n), grads[0], TolReduction)
		ch.add(op, "dgamma", ch.down(dgb, c), grads[1], TolReduction)
		ch.add(op, "dbeta", ch.down(dbb, c), grads[2], TolReduction)
		dm, dv, err := dbn.Stats(ch.c)
		must(err)
		ch.out = append(ch.out, compare64(op, "running mean", dm, rm, TolReduction), compare64(op, "running var", dv, rv, TolReduction))

		// evaluation with the running statistics, then recalibration over
		// two batches
		bn.Training = false
		out, _, err = cpuRun([]cpuIn{{"x", tc.shape, x, false}, {"gamma", []int{c}, gamma, false}, {"beta", []int{c}, beta, false}}, nil,
			func(in []*G.Node) (*G.Node, error) { return apply(in[0], in[1], in[2]) })
		if err != nil {
			return err
		}
		must(ch.k.BNForward(ch.c, dbn, BNEval, tc.silu, yb, xb, gb, bb, rows))
		ch.add(name+" eval "+shapeStr(tc.shape...), "y", ch.down(yb, n), out, TolReduction)
		bn.Recalibrate = true
		bn.ResetStats()
		must(dbn.ResetStats(ch.c))
		for b := 0; b < 2; b++ {
			xr := ch.rand(n, -1, 3)
			if _, _, err := cpuRun([]cpuIn{{"x", tc.shape, xr, false}, {"gamma", []int{c}, gamma, false}, {"beta", []int{c}, beta, false}}, nil,
				func(in []*G.Node) (*G.Node, error) { return apply(in[0], in[1], in[2]) }); err != nil {
				return err
			}
			must(ch.k.BNForward(ch.c, dbn, BNRecalibrate, tc.silu, yb, ch.up(xr), gb, bb, rows))
		}
		rm, rv = bn.Stats()
		dm, dv, err = dbn.Stats(ch.c)
		must(err)
		op = name + " recalibrate " + shapeStr(tc.shape...)
		ch.out = append(ch.out, compare64(op, "running mean", dm, rm, TolReduction), compare64(op, "running var", dv, rv, TolReduction))
		dbn.Free(ch.c)
	}
	return nil
}

// oneHot is trainer/data.OneHot.
func oneHot(row []float32, label int, eps float64) {
	off := float32(eps / float64(len(row)))
	for i := range row {
		row[i] = off
	}
	row[label] = float32(1-eps) + off
}

func checkCE(ch *checker) error {
	for _, tc := range []struct {
		n, k int
		eps  float64
	}{{16, 10, 0.1}, {5, 1000, 0.1}, {7, 3, 0}} {
		z := ch.rand(tc.n*tc.k, -6, 6)
		labels := make([]int32, tc.n)
		t := make([]float32, tc.n*tc.k)
		for i := range labels {
			labels[i] = int32(ch.rng.IntN(tc.k))
			oneHot(t[i*tc.k:(i+1)*tc.k], int(labels[i]), tc.eps)
		}
		shape := []int{tc.n, tc.k}
		out, grads, err := cpuRun([]cpuIn{{"z", shape, z, true}, {"t", shape, t, false}}, nil,
			func(in []*G.Node) (*G.Node, error) { return ops.SoftmaxCrossEntropy(in[0], in[1]) })
		if err != nil {
			return err
		}
		lb, err := ch.c.Alloc(tc.n)
		must(err)
		ch.bufs = append(ch.bufs, lb)
		must(cuda.Upload(ch.c, lb, labels))
		tb, zb, lossb, dzb, ab := ch.alloc(tc.n*tc.k), ch.up(z), ch.alloc(1), ch.alloc(tc.n*tc.k), ch.alloc(tc.n)
		must(ch.k.OneHot(ch.c, tb, lb, tc.n, tc.k, tc.eps))
		must(ch.k.SoftmaxCrossEntropy(ch.c, lossb, dzb, zb, tb, tc.n, tc.k, 1))
		must(ch.k.Argmax(ch.c, ab, zb, tc.n, tc.k))
		op := fmt.Sprintf("SoftmaxCrossEntropy eps=%g %s", tc.eps, shapeStr(shape...))
		ch.add(op, "targets (OneHot)", ch.down(tb, tc.n*tc.k), t, Tolerance{})
		ch.add(op, "loss", ch.down(lossb, 1), out, TolReduction)
		ch.add(op, "dlogits", ch.down(dzb, tc.n*tc.k), grads[0], TolReduction)
		am := make([]int32, tc.n)
		must(cuda.Download(ch.c, am, ab))
		want, err := ops.Argmax(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(z)))
		if err != nil {
			return err
		}
		got, ref := make([]float32, tc.n), make([]float32, tc.n)
		for i := range am {
			got[i], ref[i] = float32(am[i]), float32(want[i])
		}
		ch.add(op, "argmax", got, ref, Tolerance{})
	}
	return nil
}

func checkConv(ch *checker) error {
	for _, s := range []ConvShape{
		{N: 2, H: 5, W: 5, Cin: 24, KH: 1, KW: 1, Cout: 40, Stride: 1},   // pointwise: cuBLAS
		{N: 2, H: 9, W: 9, Cin: 3, KH: 3, KW: 3, Cout: 16, Stride: 1},    // stem
		{N: 2, H: 8, W: 8, Cin: 16, KH: 3, KW: 3, Cout: 24, Stride: 2},   // asymmetric padding
		{N: 1, H: 7, W: 9, Cin: 8, KH: 3, KW: 3, Cout: 12, Stride: 2},    // odd sizes: symmetric
		{N: 2, H: 6, W: 6, Cin: 32, KH: 1, KW: 1, Cout: 8, Stride: 2},    // strided 1x1: cuDNN
		{N: 2, H: 10, W: 10, Cin: 8, KH: 5, KW: 5, Cout: 8, Stride: 1},   // k5
		{N: 1, H: 12, W: 12, Cin: 16, KH: 3, KW: 3, Cout: 64, Stride: 1}, // fused-MBConv expansion
	} {
		cv, err := ch.k.NewConv(ch.c, s)
		if err != nil {
			return err
		}
		nx, nw, ny := cv.sizes()
		x, w, gy := ch.rand(nx, -1, 1), ch.rand(nw, -0.5, 0.5), ch.rand(ny, -1, 1)
		out, grads, err := cpuRun([]cpuIn{{"x", []int{s.N, s.H, s.W, s.Cin}, x, true}, {"w", []int{s.KH, s.KW, s.Cin, s.Cout}, w, true}}, gy,
			func(in []*G.Node) (*G.Node, error) { return ops.Conv2D(in[0], in[1], s.Stride) })
		if err != nil {
			return err
		}
		xb, wb, gb := ch.up(x), ch.up(w), ch.up(gy)
		yb, dxb, dwb := ch.alloc(ny), ch.alloc(nx), ch.alloc(nw)
		must(ch.k.ConvForward(ch.c, cv, yb, xb, wb))
		must(ch.k.ConvGradX(ch.c, cv, dxb, wb, gb))
		must(ch.k.ConvGradW(ch.c, cv, dwb, xb, gb))
		via := "cuDNN"
		if cv.gemm {
			via = "cuBLAS"
		}
		op := fmt.Sprintf("Conv2D k%d s%d %s->%d (%s)", s.KH, s.Stride, shapeStr(s.N, s.H, s.W, s.Cin), s.Cout, via)
		ch.add(op, "y", ch.down(yb, ny), out, ch.gemmTol())
		ch.add(op, "dx", ch.down(dxb, nx), grads[0], ch.gemmTol())
		ch.add(op, "dw", ch.down(dwb, nw), grads[1], ch.gemmTol())
		cv.Free(ch.c)
	}
	return nil
}

// checkGemm compares cuBLAS with trainer/kernels.Gemm in all transpose
// combinations (the dense layer and its gradients).
func checkGemm(ch *checker) error {
	m, n, kk := 33, 47, 29
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			lda, ldb, ldc := kk, n, n
			ra, rb := m, kk
			if ta {
				lda, ra = m, kk
			}
			if tb {
				ldb, rb = kk, n
			}
			a, b, c := ch.rand(ra*lda, -1, 1), ch.rand(rb*ldb, -1, 1), ch.rand(m*ldc, -1, 1)
			cb := ch.up(c)
			must(ch.c.Gemm(cuda.GemmArgs{TransA: ta, TransB: tb, M: m, N: n, K: kk, Alpha: 0.75, Beta: 0.5,
				A: ch.up(a), LDA: lda, B: ch.up(b), LDB: ldb, C: cb, LDC: ldc}))
			cpukernels.Gemm(ta, tb, m, n, kk, 0.75, a, lda, b, ldb, 0.5, c, ldc)
			ch.add(fmt.Sprintf("Gemm transA=%v transB=%v %dx%dx%d", ta, tb, m, n, kk), "C", ch.down(cb, m*ldc), c, ch.gemmTol())
		}
	}
	return nil
}
