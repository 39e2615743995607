package cudaops

import (
	"fmt"

	"github.com/effnas/effnas/trainer/cuda"
	"github.com/effnas/effnas/trainer/ops"
)

// ConvShape is a same-padded NHWC convolution of x (N,H,W,Cin) with HWIO
// weights (KH,KW,Cin,Cout), as ops.Conv2D. Depthwise selects a depthwise
// convolution (Cout = Cin, weights (KH,KW,Cin)) run by cuDNN as a grouped
// one, to compare with the package's own depthwise kernels.
type ConvShape struct {
	N, H, W, Cin, KH, KW, Cout, Stride int
	Depthwise                          bool
}

// Conv is a prepared convolution. 1x1 stride-1 convolutions are one cuBLAS
// GEMM (N*H*W, Cin) x (Cin, Cout), as on the CPU; the others go to cuDNN:
// the HWIO weights are transposed to cuDNN's KRSC, and TF "same" padding,
// asymmetric when the total is odd (stride 2 on even sizes: one more row
// and column after), becomes cuDNN's symmetric padding on an input padded
// with a zero row and column at the end (the gradient is cropped back).
type Conv struct {
	Shape                  ConvShape
	OH, OW                 int
	padT, padL, padB, padR int
	gemm                   bool
	cv                     *cuda.Conv
	wT, xp, dxp, ws        cuda.Buffer
	hp, wp                 int // padded input size
}

func (s ConvShape) validate() error {
	if s.Depthwise {
		s.Cout = s.Cin
	}
	if s.N < 1 || s.H < 1 || s.W < 1 || s.Cin < 1 || s.KH < 1 || s.KW < 1 || s.Cout < 1 || s.Stride < 1 {
		return fmt.Errorf("cudaops.NewConv: sizes must be positive: %+v", s)
	}
	return nil
}

func (cv *Conv) weights() int {
	s := cv.Shape
	if s.Depthwise {
		return s.KH * s.KW * s.Cin
	}
	return s.KH * s.KW * s.Cin * s.Cout
}

// NewConv prepares a convolution (cuDNN descriptors, algorithms and
// workspace, or nothing for a GEMM).
func (k *Kernels) NewConv(c *cuda.Ctx, s ConvShape) (cv *Conv, err error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if s.Depthwise {
		s.Cout = s.Cin
	}
	cv = &Conv{Shape: s}
	cv.OH, cv.padT, cv.padB = ops.SamePadding(s.H, s.KH, s.Stride)
	cv.OW, cv.padL, cv.padR = ops.SamePadding(s.W, s.KW, s.Stride)
	if s.KH == 1 && s.KW == 1 && s.Stride == 1 && !s.Depthwise {
		cv.gemm = true
		return cv, nil
	}
	made := cv // the returns below set cv to nil
	defer func() {
		if err != nil {
			made.Free(c)
			cv = nil
		}
	}()
	// padB and padR are padT and padL or one more
	cv.hp, cv.wp = s.H+cv.padB-cv.padT, s.W+cv.padR-cv.padL
	groups := 1
	if s.Depthwise {
		groups = s.Cin
	}
	spec := cuda.ConvSpec{N: s.N, H: cv.hp, W: cv.wp, C: s.Cin, K: s.Cout, R: s.KH, S: s.KW,
		PadH: cv.padT, PadW: cv.padL, StrideH: s.Stride, StrideW: s.Stride, Groups: groups}
	if oh, ow := spec.OutHW(); oh != cv.OH || ow != cv.OW {
		return nil, fmt.Errorf("cudaops.NewConv: %+v: cuDNN output %dx%d, same padding %dx%d", s, oh, ow, cv.OH, cv.OW)
	}
	if cv.cv, err = c.NewConv(spec); err != nil {
		return nil, err
	}
	if cv.wT, err = c.Alloc(cv.weights()); err != nil {
		return nil, err
	}
	if cv.padded() {
		if cv.xp, err = c.Alloc(s.N * cv.hp * cv.wp * s.Cin); err != nil {
			return nil, err
		}
		if cv.dxp, err = c.Alloc(s.N * cv.hp * cv.wp * s.Cin); err != nil {
			return nil, err
		}
	}
	if n := cv.cv.Workspace(); n > 0 {
		if cv.ws, err = c.AllocBytes(n); err != nil {
			return nil, err
		}
	}
	return cv, nil
}

func (cv *Conv) padded() bool { return cv.hp != cv.Shape.H || cv.wp != cv.Shape.W }

// Free releases the convolution's memory and descriptors.
func (cv *Conv) Free(c *cuda.Ctx) {
	for _, b := range []cuda.Buffer{cv.wT, cv.xp, cv.dxp, cv.ws} {
		c.Free(b)
	}
	cv.wT, cv.xp, cv.dxp, cv.ws = cuda.Buffer{}, cuda.Buffer{}, cuda.Buffer{}, cuda.Buffer{}
	c.FreeConv(cv.cv)
	cv.cv = nil
}

func (cv *Conv) sizes() (nx, nw, ny int) {
	s := cv.Shape
	return s.N * s.H * s.W * s.Cin, cv.weights(), s.N * cv.OH * cv.OW * s.Cout
}

// kRows is the row count of the weights seen as a matrix (KH*KW*Cin, Cout)
// (HWIO), or (KH*KW, C) for depthwise.
func (cv *Conv) kRows() (rows, cols int) {
	s := cv.Shape
	if s.Depthwise {
		return s.KH * s.KW, s.Cin
	}
	return s.KH * s.KW * s.Cin, s.Cout
}

// input returns x as cuDNN sees it (padded at the end when needed).
func (k *Kernels) input(c *cuda.Ctx, cv *Conv, x cuda.Buffer) (cuda.Buffer, error) {
	if !cv.padded() {
		return x, nil
	}
	s := cv.Shape
	n := s.N * cv.hp * cv.wp * s.Cin
	return cv.xp, k.launchN(c, "pad_nhwc", n, cuda.BufArg(cv.xp), cuda.BufArg(x), cuda.IntArg(s.H), cuda.IntArg(s.W),
		cuda.IntArg(s.Cin), cuda.IntArg(cv.hp), cuda.IntArg(cv.wp))
}

// ConvForward: y (N,OH,OW,Cout) = conv(x, w).
func (k *Kernels) ConvForward(c *cuda.Ctx, cv *Conv, y, x, w cuda.Buffer) error {
	nx, nw, ny := cv.sizes()
	if err := need("ConvForward", "y", y, ny, "x", x, nx, "w", w, nw); err != nil {
		return err
	}
	s := cv.Shape
	if cv.gemm {
		return c.Gemm(cuda.GemmArgs{M: s.N * s.H * s.W, N: s.Cout, K: s.Cin, Alpha: 1, A: x, LDA: s.Cin, B: w, LDB: s.Cout, C: y, LDC: s.Cout})
	}
	rows, cols := cv.kRows()
	if err := k.Transpose(c, cv.wT, w, rows, cols); err != nil {
		return err
	}
	xin, err := k.input(c, cv, x)
	if err != nil {
		return err
	}
	return c.ConvForward(cv.cv, xin, cv.wT, y, cv.ws)
}

// ConvGradX: dx (N,H,W,Cin) from w and gy.
func (k *Kernels) ConvGradX(c *cuda.Ctx, cv *Conv, dx, w, gy cuda.Buffer) error {
	nx, nw, ny := cv.sizes()
	if err := need("ConvGradX", "dx", dx, nx, "w", w, nw, "gy", gy, ny); err != nil {
		return err
	}
	s := cv.Shape
	if cv.gemm {
		return c.Gemm(cuda.GemmArgs{TransB: true, M: s.N * s.H * s.W, N: s.Cin, K: s.Cout, Alpha: 1, A: gy, LDA: s.Cout, B: w, LDB: s.Cout, C: dx, LDC: s.Cin})
	}
	rows, cols := cv.kRows()
	if err := k.Transpose(c, cv.wT, w, rows, cols); err != nil {
		return err
	}
	if !cv.padded() {
		return c.ConvBackwardData(cv.cv, cv.wT, gy, dx, cv.ws)
	}
	if err := c.ConvBackwardData(cv.cv, cv.wT, gy, cv.dxp, cv.ws); err != nil {
		return err
	}
	return k.launchN(c, "crop_nhwc", nx, cuda.BufArg(dx), cuda.BufArg(cv.dxp), cuda.IntArg(s.H), cuda.IntArg(s.W),
		cuda.IntArg(s.Cin), cuda.IntArg(cv.hp), cuda.IntArg(cv.wp))
}

// ConvGradW: dw (HWIO, or HWC for depthwise) from x and gy.
func (k *Kernels) ConvGradW(c *cuda.Ctx, cv *Conv, dw, x, gy cuda.Buffer) error {
	nx, nw, ny := cv.sizes()
	if err := need("ConvGradW", "dw", dw, nw, "x", x, nx, "gy", gy, ny); err != nil {
		return err
	}
	s := cv.Shape
	if cv.gemm {
		return c.Gemm(cuda.GemmArgs{TransA: true, M: s.Cin, N: s.Cout, K: s.N * s.H * s.W, Alpha: 1, A: x, LDA: s.Cin, B: gy, LDB: s.Cout, C: dw, LDC: s.Cout})
	}
	xin, err := k.input(c, cv, x)
	if err != nil {
		return err
	}
	if err := c.ConvBackwardFilter(cv.cv, xin, gy, cv.wT, cv.ws); err != nil {
		return err
	}
	rows, cols := cv.kRows()
	return k.Transpose(c, dw, cv.wT, cols, rows)
}
