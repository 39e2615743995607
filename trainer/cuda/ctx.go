package cuda

import (
	"fmt"
	"math"
	"time"
	"unsafe"
)

// Ctx is the device's context as seen from the device thread: every
// method issues CUDA calls and must only be used inside Device.Do.
// Work is queued on the current stream (Stream/SetStream) in call order;
// Download and Sync wait for it.
type Ctx struct{ d *Device }

// Device returns the device the context belongs to.
func (c *Ctx) Device() *Device { return c.d }

func (c *Ctx) check(call string, r cuResult) error { return c.d.drv.check(call, r) }

// ---- memory ----

// Buffer is device memory: a pointer and a size in bytes. Len counts
// 4-byte elements (float32 or int32). A Buffer is a value; Slice makes
// views; only buffers returned by Alloc may be freed.
type Buffer struct {
	ptr   uint64
	bytes int
}

// Ptr is the device address.
func (b Buffer) Ptr() uint64 { return b.ptr }

// Bytes is the size in bytes.
func (b Buffer) Bytes() int { return b.bytes }

// Len is the number of 4-byte elements.
func (b Buffer) Len() int { return b.bytes / 4 }

// Slice returns elements [off, off+n) (4-byte elements) of b.
func (b Buffer) Slice(off, n int) Buffer {
	if off < 0 || n < 0 || (off+n)*4 > b.bytes {
		panic(fmt.Sprintf("cuda: Buffer.Slice(%d, %d) out of range (%d elements)", off, n, b.Len()))
	}
	return Buffer{ptr: b.ptr + uint64(off)*4, bytes: n * 4}
}

// Alloc allocates n float32 (4-byte) elements, not initialised.
func (c *Ctx) Alloc(n int) (Buffer, error) { return c.AllocBytes(4 * n) }

// AllocBytes allocates n bytes, not initialised.
func (c *Ctx) AllocBytes(n int) (Buffer, error) {
	if n <= 0 {
		return Buffer{}, fmt.Errorf("cuda: Alloc of %d bytes: want a positive size", n)
	}
	var p uint64
	if err := c.check("cuMemAlloc_v2", c.d.drv.cuMemAlloc(&p, uintptr(n))); err != nil {
		return Buffer{}, fmt.Errorf("%w (allocating %d bytes)", err, n)
	}
	return Buffer{ptr: p, bytes: n}, nil
}

// Free releases a buffer returned by Alloc (after the work queued so far).
func (c *Ctx) Free(b Buffer) error {
	if b.ptr == 0 {
		return nil
	}
	return c.check("cuMemFree_v2", c.d.drv.cuMemFree(b.ptr))
}

// MemInfo returns the free and total device memory in bytes.
func (c *Ctx) MemInfo() (free, total int64, err error) {
	var f, t uintptr
	err = c.check("cuMemGetInfo_v2", c.d.drv.cuMemGetInfo(&f, &t))
	return int64(f), int64(t), err
}

// Host is the element types that move between host and device.
type Host interface {
	float32 | int32 | float64 | uint32
}

// Upload copies src into the start of dst. The copy is queued on the
// stream; src may be reused as soon as Upload returns.
func Upload[T Host](c *Ctx, dst Buffer, src []T) error {
	var zero T
	n := len(src) * int(unsafe.Sizeof(zero))
	if n == 0 {
		return nil
	}
	if n > dst.bytes {
		return fmt.Errorf("cuda: Upload of %d bytes into a buffer of %d", n, dst.bytes)
	}
	return c.check("cuMemcpyHtoDAsync_v2", c.d.drv.cuMemcpyHtoDAsync(dst.ptr, unsafe.Pointer(&src[0]), uintptr(n), c.d.stream))
}

// Download copies the start of src into dst and waits for it (and for
// everything queued before it).
func Download[T Host](c *Ctx, dst []T, src Buffer) error {
	var zero T
	n := len(dst) * int(unsafe.Sizeof(zero))
	if n == 0 {
		return nil
	}
	if n > src.bytes {
		return fmt.Errorf("cuda: Download of %d bytes from a buffer of %d", n, src.bytes)
	}
	if err := c.check("cuMemcpyDtoHAsync_v2", c.d.drv.cuMemcpyDtoHAsync(unsafe.Pointer(&dst[0]), src.ptr, uintptr(n), c.d.stream)); err != nil {
		return err
	}
	return c.Sync()
}

// Upload copies float32 values into dst (see the generic Upload).
func (c *Ctx) Upload(dst Buffer, src []float32) error { return Upload(c, dst, src) }

// Download copies float32 values out of src and waits (see the generic
// Download).
func (c *Ctx) Download(dst []float32, src Buffer) error { return Download(c, dst, src) }

// Copy queues a device-to-device copy of min(dst, src) bytes.
func (c *Ctx) Copy(dst, src Buffer) error {
	n := min(dst.bytes, src.bytes)
	if n == 0 {
		return nil
	}
	return c.check("cuMemcpyDtoDAsync_v2", c.d.drv.cuMemcpyDtoDAsync(dst.ptr, src.ptr, uintptr(n), c.d.stream))
}

// Fill queues setting every 4-byte element of b to v.
func (c *Ctx) Fill(b Buffer, v float32) error {
	if b.Len() == 0 {
		return nil
	}
	return c.check("cuMemsetD32Async", c.d.drv.cuMemsetD32Async(b.ptr, math.Float32bits(v), uintptr(b.Len()), c.d.stream))
}

// Zero queues setting b to zero.
func (c *Ctx) Zero(b Buffer) error { return c.Fill(b, 0) }

// Sync waits for the work queued on the current stream.
func (c *Ctx) Sync() error {
	return c.check("cuStreamSynchronize", c.d.drv.cuStreamSynchronize(c.d.stream))
}

// ---- streams and events ----

// Stream is a CUDA stream: work on one stream runs in order.
type Stream struct{ s uintptr }

// Stream returns the current stream.
func (c *Ctx) Stream() Stream { return Stream{c.d.stream} }

// NewStream creates a stream (not synchronising with the legacy one).
func (c *Ctx) NewStream() (Stream, error) {
	var s uintptr
	err := c.check("cuStreamCreate", c.d.drv.cuStreamCreate(&s, 1))
	return Stream{s}, err
}

// SetStream makes s the stream of the following work (copies, launches,
// cuBLAS and cuDNN calls); the zero Stream selects the device's own.
func (c *Ctx) SetStream(s Stream) error {
	d := c.d
	if s.s == 0 {
		s.s = d.main
	}
	d.stream = s.s
	if err := d.blas.api.check("cublasSetStream_v2", d.blas.api.cublasSetStream(d.blas.h, s.s)); err != nil {
		return err
	}
	if d.dnn != nil {
		return d.dnn.api.check("cudnnSetStream", d.dnn.api.cudnnSetStream(d.dnn.h, s.s))
	}
	return nil
}

// FreeStream destroys a stream made by NewStream (never the current one).
func (c *Ctx) FreeStream(s Stream) error {
	if s.s == 0 || s.s == c.d.main {
		return nil
	}
	if s.s == c.d.stream {
		return fmt.Errorf("cuda: FreeStream of the current stream")
	}
	return c.check("cuStreamDestroy_v2", c.d.drv.cuStreamDestroy(s.s))
}

// Event marks a point in a stream, for timing.
type Event struct{ e uintptr }

// NewEvent creates an event.
func (c *Ctx) NewEvent() (Event, error) {
	var e uintptr
	err := c.check("cuEventCreate", c.d.drv.cuEventCreate(&e, 0))
	return Event{e}, err
}

// Record queues e on the current stream.
func (c *Ctx) Record(e Event) error {
	return c.check("cuEventRecord", c.d.drv.cuEventRecord(e.e, c.d.stream))
}

// Elapsed waits for end and returns the device time between start and end.
func (c *Ctx) Elapsed(start, end Event) (time.Duration, error) {
	if err := c.check("cuEventSynchronize", c.d.drv.cuEventSynchronize(end.e)); err != nil {
		return 0, err
	}
	var ms float32
	if err := c.check("cuEventElapsedTime", c.d.drv.cuEventElapsedTime(&ms, start.e, end.e)); err != nil {
		return 0, err
	}
	return time.Duration(float64(ms) * float64(time.Millisecond)), nil
}

// FreeEvent destroys e.
func (c *Ctx) FreeEvent(e Event) error {
	if e.e == 0 {
		return nil
	}
	return c.check("cuEventDestroy_v2", c.d.drv.cuEventDestroy(e.e))
}

// Time returns the device time of the work fn queues, measured with two
// events on the current stream.
func (c *Ctx) Time(fn func() error) (time.Duration, error) {
	a, err := c.NewEvent()
	if err != nil {
		return 0, err
	}
	defer c.FreeEvent(a)
	b, err := c.NewEvent()
	if err != nil {
		return 0, err
	}
	defer c.FreeEvent(b)
	if err := c.Record(a); err != nil {
		return 0, err
	}
	if err := fn(); err != nil {
		return 0, err
	}
	if err := c.Record(b); err != nil {
		return 0, err
	}
	return c.Elapsed(a, b)
}

// ---- GEMM (cuBLAS) ----

// Gemm queues the row-major single-precision GEMM g (see GemmArgs).
func (c *Ctx) Gemm(g GemmArgs) error {
	if err := g.check(false); err != nil {
		return err
	}
	return c.d.blas.sgemm(&g)
}

// GemmBatched queues g.Batch GEMMs whose matrices are g.StrideA/B/C
// elements apart.
func (c *Ctx) GemmBatched(g GemmArgs) error {
	if err := g.check(true); err != nil {
		return err
	}
	return c.d.blas.sgemmBatched(&g)
}

// BLASVersion is cuBLAS's version, "13.0.0".
func (c *Ctx) BLASVersion() string { return c.d.blas.version() }

// ---- convolutions (cuDNN) ----

// dnnHandle returns the cuDNN handle, loading cuDNN on first use.
func (c *Ctx) dnnHandle() (*dnnHandle, error) {
	d := c.d
	if d.dnn != nil {
		return d.dnn, nil
	}
	api, err := d.libs.cudnnAPI(true)
	if err != nil {
		return nil, err
	}
	h, err := newDNNHandle(api, d.stream, d.opts.TF32)
	if err != nil {
		return nil, err
	}
	d.dnn = h
	return h, nil
}

// DNNVersion loads cuDNN if needed and returns its version, "9.10.2".
func (c *Ctx) DNNVersion() (string, error) {
	h, err := c.dnnHandle()
	if err != nil {
		return "", err
	}
	return h.api.version(), nil
}

// NewConv prepares a cuDNN convolution (descriptors, algorithms,
// workspace sizes) for s.
func (c *Ctx) NewConv(s ConvSpec) (*Conv, error) {
	h, err := c.dnnHandle()
	if err != nil {
		return nil, err
	}
	return h.newConv(s)
}

// FreeConv releases cv's descriptors.
func (c *Ctx) FreeConv(cv *Conv) {
	if cv != nil && c.d.dnn != nil {
		c.d.dnn.freeConv(cv)
	}
}

func (c *Ctx) convCheck(cv *Conv, ws Buffer, need int, bufs ...namedBuf) error {
	if cv == nil || cv.cd == 0 {
		return fmt.Errorf("cuda: convolution not prepared (use NewConv)")
	}
	if ws.bytes < need {
		return fmt.Errorf("cuda: convolution needs %d bytes of workspace, got %d", need, ws.bytes)
	}
	for _, b := range bufs {
		if b.b.Len() < b.n {
			return fmt.Errorf("cuda: convolution %s needs %d floats, its buffer holds %d", b.name, b.n, b.b.Len())
		}
	}
	return nil
}

type namedBuf struct {
	name string
	b    Buffer
	n    int
}

func (s ConvSpec) sizes() (x, w, y int) {
	oh, ow := s.OutHW()
	return s.N * s.H * s.W * s.C, s.K * s.R * s.S * (s.C / s.groups()), s.N * oh * ow * s.K
}

// ConvForward queues y = conv(x, w) (y overwritten).
func (c *Ctx) ConvForward(cv *Conv, x, w, y, ws Buffer) error {
	nx, nw, ny := cv.Spec.sizes()
	if err := c.convCheck(cv, ws, cv.WSForward, namedBuf{"x", x, nx}, namedBuf{"w", w, nw}, namedBuf{"y", y, ny}); err != nil {
		return err
	}
	h := c.d.dnn
	one, zero := float32(1), float32(0)
	return h.api.check("cudnnConvolutionForward", h.api.cudnnConvolutionForward(h.h, unsafe.Pointer(&one), cv.xd, x.ptr, cv.wd, w.ptr,
		cv.cd, cv.fwd, ws.ptr, uintptr(ws.bytes), unsafe.Pointer(&zero), cv.yd, y.ptr))
}

// ConvBackwardData queues dx = the gradient wrt x of conv given dy
// (dx overwritten).
func (c *Ctx) ConvBackwardData(cv *Conv, w, dy, dx, ws Buffer) error {
	nx, nw, ny := cv.Spec.sizes()
	if err := c.convCheck(cv, ws, cv.WSBackwardData, namedBuf{"w", w, nw}, namedBuf{"dy", dy, ny}, namedBuf{"dx", dx, nx}); err != nil {
		return err
	}
	h := c.d.dnn
	one, zero := float32(1), float32(0)
	return h.api.check("cudnnConvolutionBackwardData", h.api.cudnnConvolutionBackwardData(h.h, unsafe.Pointer(&one), cv.wd, w.ptr, cv.yd, dy.ptr,
		cv.cd, cv.bwdData, ws.ptr, uintptr(ws.bytes), unsafe.Pointer(&zero), cv.xd, dx.ptr))
}

// ConvBackwardFilter queues dw = the gradient wrt w of conv given x and dy
// (dw overwritten).
func (c *Ctx) ConvBackwardFilter(cv *Conv, x, dy, dw, ws Buffer) error {
	nx, nw, ny := cv.Spec.sizes()
	if err := c.convCheck(cv, ws, cv.WSBackwardFilter, namedBuf{"x", x, nx}, namedBuf{"dy", dy, ny}, namedBuf{"dw", dw, nw}); err != nil {
		return err
	}
	h := c.d.dnn
	one, zero := float32(1), float32(0)
	return h.api.check("cudnnConvolutionBackwardFilter", h.api.cudnnConvolutionBackwardFilter(h.h, unsafe.Pointer(&one), cv.xd, x.ptr, cv.yd, dy.ptr,
		cv.cd, cv.bwdFlt, ws.ptr, uintptr(ws.bytes), unsafe.Pointer(&zero), cv.wd, dw.ptr))
}
