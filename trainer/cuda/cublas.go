package cuda

import (
	"fmt"
	"unsafe"
)

// cuBLAS constants.
const (
	cublasOpN = 0
	cublasOpT = 1

	cublasDefaultMath         = 0 // FP32 arithmetic for FP32 GEMMs
	cublasTF32TensorOpMath    = 3 // TF32 tensor cores for FP32 GEMMs
	cublasPedanticMath        = 2
	cublasDisallowReducedPrec = 16
)

// cublasAPI is the part of cuBLAS the trainer uses: handles, stream, math
// mode and single-precision GEMMs. alpha and beta are host pointers (the
// default pointer mode).
type cublasAPI struct {
	cublasCreate              func(h *uintptr) int32
	cublasDestroy             func(h uintptr) int32
	cublasGetVersion          func(h uintptr, v *int32) int32
	cublasSetStream           func(h, s uintptr) int32
	cublasSetMathMode         func(h uintptr, mode int32) int32
	cublasGetProperty         func(kind int32, v *int32) int32
	cublasGetStatusName       func(s int32) string
	cublasGetStatusString     func(s int32) string
	cublasSgemm               func(h uintptr, ta, tb, m, n, k int32, alpha unsafe.Pointer, a uint64, lda int32, b uint64, ldb int32, beta unsafe.Pointer, c uint64, ldc int32) int32
	cublasSgemmStridedBatched func(h uintptr, ta, tb, m, n, k int32, alpha unsafe.Pointer, a uint64, lda int32, strideA int64, b uint64, ldb int32, strideB int64, beta unsafe.Pointer, c uint64, ldc int32, strideC int64, batch int32) int32
}

func (b *cublasAPI) symbols() []symbol {
	return []symbol{
		{"cublasCreate_v2", &b.cublasCreate, false},
		{"cublasDestroy_v2", &b.cublasDestroy, false},
		{"cublasGetVersion_v2", &b.cublasGetVersion, false},
		{"cublasSetStream_v2", &b.cublasSetStream, false},
		{"cublasSetMathMode", &b.cublasSetMathMode, false},
		{"cublasGetProperty", &b.cublasGetProperty, true},
		{"cublasGetStatusName", &b.cublasGetStatusName, true},
		{"cublasGetStatusString", &b.cublasGetStatusString, true},
		{"cublasSgemm_v2", &b.cublasSgemm, false},
		{"cublasSgemmStridedBatched", &b.cublasSgemmStridedBatched, false},
	}
}

func (b *cublasAPI) check(call string, r int32) error {
	if r == 0 {
		return nil
	}
	e := &Error{Lib: "cublas", Call: call, Code: int(r), Msg: "cuBLAS error"}
	if b.cublasGetStatusName != nil {
		e.Name = b.cublasGetStatusName(r)
	}
	if b.cublasGetStatusString != nil {
		e.Msg = b.cublasGetStatusString(r)
	}
	return e
}

// blasHandle is a cuBLAS handle bound to the device's stream.
type blasHandle struct {
	api *cublasAPI
	h   uintptr
}

func newBlasHandle(api *cublasAPI, stream uintptr, tf32 bool) (*blasHandle, error) {
	b := &blasHandle{api: api}
	if err := api.check("cublasCreate_v2", api.cublasCreate(&b.h)); err != nil {
		return nil, err
	}
	mode := int32(cublasDefaultMath)
	if tf32 {
		mode = cublasTF32TensorOpMath
	}
	if err := api.check("cublasSetMathMode", api.cublasSetMathMode(b.h, mode)); err != nil {
		api.cublasDestroy(b.h)
		return nil, err
	}
	if err := api.check("cublasSetStream_v2", api.cublasSetStream(b.h, stream)); err != nil {
		api.cublasDestroy(b.h)
		return nil, err
	}
	return b, nil
}

func (b *blasHandle) version() string {
	var v int32
	if b.api.cublasGetVersion(b.h, &v) != 0 {
		return ""
	}
	// cuBLAS encodes major*10000 + minor*100 + patch (11.x on)
	return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100)
}

func op(trans bool) int32 {
	if trans {
		return cublasOpT
	}
	return cublasOpN
}

// GemmArgs describes C = alpha*op(A)*op(B) + beta*C for row-major
// matrices in device memory, as trainer/kernels.Gemm does on the host:
// op(A) is M x K, op(B) is K x N, C is M x N; LDA, LDB and LDC are the row
// strides as stored. The Stride fields are the element distances between
// consecutive matrices of a batch (GemmBatched).
type GemmArgs struct {
	TransA, TransB            bool
	M, N, K                   int
	Alpha, Beta               float32
	A, B, C                   Buffer
	LDA, LDB, LDC             int
	StrideA, StrideB, StrideC int
	Batch                     int
}

// checkGemm validates the sizes against the buffers.
func (g *GemmArgs) check(batched bool) error {
	if g.M < 1 || g.N < 1 || g.K < 1 {
		return fmt.Errorf("cuda: GEMM sizes must be positive, got M=%d N=%d K=%d", g.M, g.N, g.K)
	}
	rowsA, colsA := g.M, g.K
	if g.TransA {
		rowsA, colsA = g.K, g.M
	}
	rowsB, colsB := g.K, g.N
	if g.TransB {
		rowsB, colsB = g.N, g.K
	}
	batch := 1
	if batched {
		batch = g.Batch
		if batch < 1 {
			return fmt.Errorf("cuda: GEMM batch must be positive, got %d", batch)
		}
	}
	for _, m := range []struct {
		name           string
		rows, cols, ld int
		stride         int
		buf            Buffer
	}{{"A", rowsA, colsA, g.LDA, g.StrideA, g.A}, {"B", rowsB, colsB, g.LDB, g.StrideB, g.B}, {"C", g.M, g.N, g.LDC, g.StrideC, g.C}} {
		if m.ld < m.cols {
			return fmt.Errorf("cuda: GEMM: LD%s=%d is less than the %d columns of %s", m.name, m.ld, m.cols, m.name)
		}
		need := (m.rows-1)*m.ld + m.cols + (batch-1)*m.stride
		if need > m.buf.Len() {
			return fmt.Errorf("cuda: GEMM: %s needs %d floats, its buffer holds %d", m.name, need, m.buf.Len())
		}
	}
	return nil
}

// sgemm runs the row-major GEMM as cuBLAS's column-major one: a row-major
// X with row stride ld is the column-major X^T with leading dimension ld,
// so C^T = op(B)^T op(A)^T is cublasSgemm(opB, opA, N, M, K, B, A, C).
func (b *blasHandle) sgemm(g *GemmArgs) error {
	alpha, beta := g.Alpha, g.Beta
	r := b.api.cublasSgemm(b.h, op(g.TransB), op(g.TransA), int32(g.N), int32(g.M), int32(g.K),
		unsafe.Pointer(&alpha), g.B.ptr, int32(g.LDB), g.A.ptr, int32(g.LDA),
		unsafe.Pointer(&beta), g.C.ptr, int32(g.LDC))
	return b.api.check("cublasSgemm_v2", r)
}

func (b *blasHandle) sgemmBatched(g *GemmArgs) error {
	alpha, beta := g.Alpha, g.Beta
	r := b.api.cublasSgemmStridedBatched(b.h, op(g.TransB), op(g.TransA), int32(g.N), int32(g.M), int32(g.K),
		unsafe.Pointer(&alpha), g.B.ptr, int32(g.LDB), int64(g.StrideB), g.A.ptr, int32(g.LDA), int64(g.StrideA),
		unsafe.Pointer(&beta), g.C.ptr, int32(g.LDC), int64(g.StrideC), int32(g.Batch))
	return b.api.check("cublasSgemmStridedBatched", r)
}
