package cuda

import (
	"fmt"
	"unsafe"
)

// cuDNN constants (cudnn_graph.h / cudnn_cnn.h, cuDNN 9).
const (
	cudnnTensorNCHW = 0
	cudnnTensorNHWC = 1
	cudnnDataFloat  = 0

	cudnnCrossCorrelation = 1

	cudnnDefaultMath  = 0 // permits TF32 tensor cores on Ampere and later
	cudnnTensorOpMath = 1
	cudnnFMAMath      = 3 // FMA kernels only: full FP32

	cudnnDeterministic = 1

	cudnnBatchNormSpatial = 1
)

// convAlgoPerf is cudnnConvolutionFwdAlgoPerf_t (and the identical
// backward-data and backward-filter structs): 48 bytes on 64-bit targets,
// the Go layout matches C's (memory is 8-aligned at offset 16).
type convAlgoPerf struct {
	Algo        int32
	Status      int32
	Time        float32
	Memory      uint64
	Determinism int32
	MathType    int32
	Reserved    [3]int32
}

// cudnnAPI is the part of cuDNN 9's legacy API the trainer uses:
// descriptors, grouped convolutions (forward, backward data, backward
// filter) with algorithm choice and workspace sizes, and (optionally)
// batch-norm training.
type cudnnAPI struct {
	cudnnGetVersion                                func() uintptr
	cudnnGetErrorString                            func(s int32) string
	cudnnCreate                                    func(h *uintptr) int32
	cudnnDestroy                                   func(h uintptr) int32
	cudnnSetStream                                 func(h, s uintptr) int32
	cudnnCreateTensorDescriptor                    func(d *uintptr) int32
	cudnnSetTensor4dDescriptor                     func(d uintptr, format, dtype, n, c, h, w int32) int32
	cudnnDestroyTensorDescriptor                   func(d uintptr) int32
	cudnnCreateFilterDescriptor                    func(d *uintptr) int32
	cudnnSetFilter4dDescriptor                     func(d uintptr, dtype, format, k, c, h, w int32) int32
	cudnnDestroyFilterDescriptor                   func(d uintptr) int32
	cudnnCreateConvolutionDescriptor               func(d *uintptr) int32
	cudnnSetConvolution2dDescriptor                func(d uintptr, padH, padW, u, v, dilH, dilW, mode, computeType int32) int32
	cudnnSetConvolutionGroupCount                  func(d uintptr, groups int32) int32
	cudnnSetConvolutionMathType                    func(d uintptr, mathType int32) int32
	cudnnDestroyConvolutionDescriptor              func(d uintptr) int32
	cudnnGetConvolution2dForwardOutputDim          func(conv, x, w uintptr, n, c, h, wo *int32) int32
	cudnnGetConvolutionForwardAlgorithm_v7         func(h, x, w, conv, y uintptr, requested int32, returned *int32, perf unsafe.Pointer) int32
	cudnnGetConvolutionBackwardDataAlgorithm_v7    func(h, w, dy, conv, dx uintptr, requested int32, returned *int32, perf unsafe.Pointer) int32
	cudnnGetConvolutionBackwardFilterAlgorithm_v7  func(h, x, dy, conv, dw uintptr, requested int32, returned *int32, perf unsafe.Pointer) int32
	cudnnGetConvolutionForwardWorkspaceSize        func(h, x, w, conv, y uintptr, algo int32, size *uintptr) int32
	cudnnGetConvolutionBackwardDataWorkspaceSize   func(h, w, dy, conv, dx uintptr, algo int32, size *uintptr) int32
	cudnnGetConvolutionBackwardFilterWorkspaceSize func(h, x, dy, conv, dw uintptr, algo int32, size *uintptr) int32
	cudnnConvolutionForward                        func(h uintptr, alpha unsafe.Pointer, xd uintptr, x uint64, wd uintptr, w uint64, cd uintptr, algo int32, ws uint64, wsSize uintptr, beta unsafe.Pointer, yd uintptr, y uint64) int32
	cudnnConvolutionBackwardData                   func(h uintptr, alpha unsafe.Pointer, wd uintptr, w uint64, dyd uintptr, dy uint64, cd uintptr, algo int32, ws uint64, wsSize uintptr, beta unsafe.Pointer, dxd uintptr, dx uint64) int32
	cudnnConvolutionBackwardFilter                 func(h uintptr, alpha unsafe.Pointer, xd uintptr, x uint64, dyd uintptr, dy uint64, cd uintptr, algo int32, ws uint64, wsSize uintptr, beta unsafe.Pointer, dwd uintptr, dw uint64) int32
	// optional: BatchNorm with cuDNN (the trainer fuses its own)
	cudnnDeriveBNTensorDescriptor          func(d, x uintptr, mode int32) int32
	cudnnBatchNormalizationForwardTraining func(h uintptr, mode int32, alpha, beta unsafe.Pointer, xd uintptr, x uint64, yd uintptr, y uint64, bnd uintptr, scale, bias uint64, factor float64, runMean, runVar uint64, eps float64, saveMean, saveInvVar uint64) int32
}

func (d *cudnnAPI) symbols() []symbol {
	return []symbol{
		{"cudnnGetVersion", &d.cudnnGetVersion, false},
		{"cudnnGetErrorString", &d.cudnnGetErrorString, false},
		{"cudnnCreate", &d.cudnnCreate, false},
		{"cudnnDestroy", &d.cudnnDestroy, false},
		{"cudnnSetStream", &d.cudnnSetStream, false},
		{"cudnnCreateTensorDescriptor", &d.cudnnCreateTensorDescriptor, false},
		{"cudnnSetTensor4dDescriptor", &d.cudnnSetTensor4dDescriptor, false},
		{"cudnnDestroyTensorDescriptor", &d.cudnnDestroyTensorDescriptor, false},
		{"cudnnCreateFilterDescriptor", &d.cudnnCreateFilterDescriptor, false},
		{"cudnnSetFilter4dDescriptor", &d.cudnnSetFilter4dDescriptor, false},
		{"cudnnDestroyFilterDescriptor", &d.cudnnDestroyFilterDescriptor, false},
		{"cudnnCreateConvolutionDescriptor", &d.cudnnCreateConvolutionDescriptor, false},
		{"cudnnSetConvolution2dDescriptor", &d.cudnnSetConvolution2dDescriptor, false},
		{"cudnnSetConvolutionGroupCount", &d.cudnnSetConvolutionGroupCount, false},
		{"cudnnSetConvolutionMathType", &d.cudnnSetConvolutionMathType, false},
		{"cudnnDestroyConvolutionDescriptor", &d.cudnnDestroyConvolutionDescriptor, false},
		{"cudnnGetConvolution2dForwardOutputDim", &d.cudnnGetConvolution2dForwardOutputDim, false},
		{"cudnnGetConvolutionForwardAlgorithm_v7", &d.cudnnGetConvolutionForwardAlgorithm_v7, false},
		{"cudnnGetConvolutionBackwardDataAlgorithm_v7", &d.cudnnGetConvolutionBackwardDataAlgorithm_v7, false},
		{"cudnnGetConvolutionBackwardFilterAlgorithm_v7", &d.cudnnGetConvolutionBackwardFilterAlgorithm_v7, false},
		{"cudnnGetConvolutionForwardWorkspaceSize", &d.cudnnGetConvolutionForwardWorkspaceSize, false},
		{"cudnnGetConvolutionBackwardDataWorkspaceSize", &d.cudnnGetConvolutionBackwardDataWorkspaceSize, false},
		{"cudnnGetConvolutionBackwardFilterWorkspaceSize", &d.cudnnGetConvolutionBackwardFilterWorkspaceSize, false},
		{"cudnnConvolutionForward", &d.cudnnConvolutionForward, false},
		{"cudnnConvolutionBackwardData", &d.cudnnConvolutionBackwardData, false},
		{"cudnnConvolutionBackwardFilter", &d.cudnnConvolutionBackwardFilter, false},
		{"cudnnDeriveBNTensorDescriptor", &d.cudnnDeriveBNTensorDescriptor, true},
		{"cudnnBatchNormalizationForwardTraining", &d.cudnnBatchNormalizationForwardTraining, true},
	}
}

func (d *cudnnAPI) check(call string, r int32) error {
	if r == 0 {
		return nil
	}
	return &Error{Lib: "cudnn", Call: call, Code: int(r), Msg: d.cudnnGetErrorString(r)}
}

// version returns cuDNN's version ("9.x.y"): cuDNN 9 encodes
// major*10000 + minor*100 + patch.
func (d *cudnnAPI) version() string {
	v := int(d.cudnnGetVersion())
	if v >= 10000 {
		return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100)
	}
	return fmt.Sprintf("%d.%d.%d", v/1000, v/100%10, v%100)
}

// ConvSpec is a 2-D cross-correlation on NHWC float32 tensors with cuDNN:
// x (N,H,W,C), y (N,OH,OW,K), weights in cuDNN's NHWC filter layout
// (K,R,S,C/Groups), symmetric padding PadH/PadW, strides StrideH/StrideW.
// Groups = C = K is a depthwise convolution. (The trainer's HWIO weights
// and TF "same" padding are mapped onto this by package cudaops.)
type ConvSpec struct {
	N, H, W, C       int
	K, R, S          int
	PadH, PadW       int
	StrideH, StrideW int
	Groups           int // 0 means 1
}

// OutHW returns the output height and width cuDNN computes for s.
func (s ConvSpec) OutHW() (int, int) {
	return (s.H+2*s.PadH-s.R)/s.StrideH + 1, (s.W+2*s.PadW-s.S)/s.StrideW + 1
}

func (s ConvSpec) groups() int { return max(1, s.Groups) }

func (s ConvSpec) validate() error {
	g := s.groups()
	switch {
	case s.N < 1 || s.H < 1 || s.W < 1 || s.C < 1 || s.K < 1 || s.R < 1 || s.S < 1:
		return fmt.Errorf("cuda: convolution sizes must be positive: %+v", s)
	case s.StrideH < 1 || s.StrideW < 1 || s.PadH < 0 || s.PadW < 0:
		return fmt.Errorf("cuda: convolution strides must be positive and padding not negative: %+v", s)
	case s.C%g != 0 || s.K%g != 0:
		return fmt.Errorf("cuda: convolution: %d groups do not divide C=%d and K=%d", g, s.C, s.K)
	}
	if oh, ow := s.OutHW(); oh < 1 || ow < 1 {
		return fmt.Errorf("cuda: convolution %+v has an empty output", s)
	}
	return nil
}

// maxWorkspace bounds the workspace of the algorithms Conv accepts.
const maxWorkspace = 1 << 30

// Conv is a cuDNN convolution with its descriptors, the chosen algorithms
// (deterministic ones where cuDNN offers them; FMA-only math unless TF32
// is on) and the workspace each needs. Create with Ctx.NewConv, release with Ctx.FreeConv.
type Conv struct {
	Spec                 ConvSpec
	xd, yd               uintptr
	wd                   uintptr
	cd                   uintptr
	fwd, bwdData, bwdFlt int32
	// Deterministic is false when cuDNN offered a non-deterministic
	// algorithm only (atomics: results vary in the last bits run to run).
	Deterministic bool
	// Workspace bytes needed by the forward, backward-data and
	// backward-filter calls.
	WSForward, WSBackwardData, WSBackwardFilter int
}

// Workspace is the largest of the three workspaces.
func (c *Conv) Workspace() int { return max(c.WSForward, c.WSBackwardData, c.WSBackwardFilter) }

// dnnHandle is a cuDNN handle bound to the device's stream.
type dnnHandle struct {
	api  *cudnnAPI
	h    uintptr
	tf32 bool
}

func newDNNHandle(api *cudnnAPI, stream uintptr, tf32 bool) (*dnnHandle, error) {
	d := &dnnHandle{api: api, tf32: tf32}
	if err := api.check("cudnnCreate", api.cudnnCreate(&d.h)); err != nil {
		return nil, err
	}
	if err := api.check("cudnnSetStream", api.cudnnSetStream(d.h, stream)); err != nil {
		api.cudnnDestroy(d.h)
		return nil, err
	}
	return d, nil
}

// newConv creates the descriptors of s and picks its algorithms.
func (d *dnnHandle) newConv(s ConvSpec) (cv *Conv, err error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	a := d.api
	cv = &Conv{Spec: s}
	made := cv // the returns below set cv to nil
	defer func() {
		if err != nil {
			d.freeConv(made)
			cv = nil
		}
	}()
	oh, ow := s.OutHW()
	for _, t := range []struct {
		d          *uintptr
		n, c, h, w int
	}{{&cv.xd, s.N, s.C, s.H, s.W}, {&cv.yd, s.N, s.K, oh, ow}} {
		if err := a.check("cudnnCreateTensorDescriptor", a.cudnnCreateTensorDescriptor(t.d)); err != nil {
			return nil, err
		}
		if err := a.check("cudnnSetTensor4dDescriptor", a.cudnnSetTensor4dDescriptor(*t.d, cudnnTensorNHWC, cudnnDataFloat,
			int32(t.n), int32(t.c), int32(t.h), int32(t.w))); err != nil {
			return nil, err
		}
	}
	if err := a.check("cudnnCreateFilterDescriptor", a.cudnnCreateFilterDescriptor(&cv.wd)); err != nil {
		return nil, err
	}
	if err := a.check("cudnnSetFilter4dDescriptor", a.cudnnSetFilter4dDescriptor(cv.wd, cudnnDataFloat, cudnnTensorNHWC,
		int32(s.K), int32(s.C/s.groups()), int32(s.R), int32(s.S))); err != nil {
		return nil, err
	}
	if err := a.check("cudnnCreateConvolutionDescriptor", a.cudnnCreateConvolutionDescriptor(&cv.cd)); err != nil {
		return nil, err
	}
	if err := a.check("cudnnSetConvolution2dDescriptor", a.cudnnSetConvolution2dDescriptor(cv.cd, int32(s.PadH), int32(s.PadW),
		int32(s.StrideH), int32(s.StrideW), 1, 1, cudnnCrossCorrelation, cudnnDataFloat)); err != nil {
		return nil, err
	}
	if err := a.check("cudnnSetConvolutionGroupCount", a.cudnnSetConvolutionGroupCount(cv.cd, int32(s.groups()))); err != nil {
		return nil, err
	}
	if err := a.check("cudnnSetConvolutionMathType", a.cudnnSetConvolutionMathType(cv.cd, d.mathType())); err != nil {
		return nil, err
	}
	var n, c, h, w int32
	if err := a.check("cudnnGetConvolution2dForwardOutputDim", a.cudnnGetConvolution2dForwardOutputDim(cv.cd, cv.xd, cv.wd, &n, &c, &h, &w)); err != nil {
		return nil, err
	}
	if int(n) != s.N || int(c) != s.K || int(h) != oh || int(w) != ow {
		return nil, fmt.Errorf("cuda: cuDNN computes output (%d,%d,%d,%d) for %+v, want (%d,%d,%d,%d)", n, h, w, c, s, s.N, oh, ow, s.K)
	}
	const req = 16
	var perf [req]convAlgoPerf
	var got int32
	cv.Deterministic = true
	// pick returns the first algorithm (cuDNN lists them fastest first by
	// its heuristics) that works, uses the wanted math and at most
	// maxWorkspace bytes, preferring deterministic ones.
	pick := func(call string, r int32) (int32, error) {
		if err := a.check(call, r); err != nil {
			return 0, err
		}
		// In FP32 mode the descriptor stays on FMA math, which is what
		// runs; entries may report FMA or the default math, never tensor
		// ops.
		ok := func(p convAlgoPerf) bool {
			return p.Status == 0 && p.Memory <= maxWorkspace && (d.tf32 || p.MathType == cudnnFMAMath || p.MathType == cudnnDefaultMath)
		}
		for _, p := range perf[:got] {
			if ok(p) && p.Determinism == cudnnDeterministic {
				return p.Algo, nil
			}
		}
		for _, p := range perf[:got] {
			if ok(p) {
				cv.Deterministic = false
				return p.Algo, nil
			}
		}
		return 0, fmt.Errorf("cuda: %s offers no %s algorithm with at most %d MiB of workspace for %+v", call, d.mathName(), maxWorkspace>>20, s)
	}
	if cv.fwd, err = pick("cudnnGetConvolutionForwardAlgorithm_v7",
		a.cudnnGetConvolutionForwardAlgorithm_v7(d.h, cv.xd, cv.wd, cv.cd, cv.yd, req, &got, unsafe.Pointer(&perf[0]))); err != nil {
		return nil, err
	}
	if cv.bwdData, err = pick("cudnnGetConvolutionBackwardDataAlgorithm_v7",
		a.cudnnGetConvolutionBackwardDataAlgorithm_v7(d.h, cv.wd, cv.yd, cv.cd, cv.xd, req, &got, unsafe.Pointer(&perf[0]))); err != nil {
		return nil, err
	}
	if cv.bwdFlt, err = pick("cudnnGetConvolutionBackwardFilterAlgorithm_v7",
		a.cudnnGetConvolutionBackwardFilterAlgorithm_v7(d.h, cv.xd, cv.yd, cv.cd, cv.wd, req, &got, unsafe.Pointer(&perf[0]))); err != nil {
		return nil, err
	}
	var sz uintptr
	if err := a.check("cudnnGetConvolutionForwardWorkspaceSize", a.cudnnGetConvolutionForwardWorkspaceSize(d.h, cv.xd, cv.wd, cv.cd, cv.yd, cv.fwd, &sz)); err != nil {
		return nil, err
	}
	cv.WSForward = int(sz)
	if err := a.check("cudnnGetConvolutionBackwardDataWorkspaceSize", a.cudnnGetConvolutionBackwardDataWorkspaceSize(d.h, cv.wd, cv.yd, cv.cd, cv.xd, cv.bwdData, &sz)); err != nil {
		return nil, err
	}
	cv.WSBackwardData = int(sz)
	if err := a.check("cudnnGetConvolutionBackwardFilterWorkspaceSize", a.cudnnGetConvolutionBackwardFilterWorkspaceSize(d.h, cv.xd, cv.yd, cv.cd, cv.wd, cv.bwdFlt, &sz)); err != nil {
		return nil, err
	}
	cv.WSBackwardFilter = int(sz)
	return cv, nil
}

func (d *dnnHandle) mathType() int32 {
	if d.tf32 {
		return cudnnDefaultMath
	}
	return cudnnFMAMath
}

func (d *dnnHandle) mathName() string {
	if d.tf32 {
		return "TF32"
	}
	return "FP32 (FMA)"
}

func (d *dnnHandle) freeConv(cv *Conv) {
	a := d.api
	if cv.xd != 0 {
		a.cudnnDestroyTensorDescriptor(cv.xd)
	}
	if cv.yd != 0 {
		a.cudnnDestroyTensorDescriptor(cv.yd)
	}
	if cv.wd != 0 {
		a.cudnnDestroyFilterDescriptor(cv.wd)
	}
	if cv.cd != 0 {
		a.cudnnDestroyConvolutionDescriptor(cv.cd)
	}
	*cv = Conv{Spec: cv.Spec}
}
