package cuda

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// Options configure Open. The zero value is the default: full FP32.
type Options struct {
	// TF32 lets cuBLAS and cuDNN use TF32 tensor cores for float32 GEMMs
	// and convolutions: faster, with products rounded to a 10-bit
	// mantissa. Off (the default), they compute in full FP32, as the
	// parity checks require. Results should say which was used
	// (Device.Precision).
	TF32 bool
}

// DeviceInfo describes one GPU as the driver reports it.
type DeviceInfo struct {
	Index        int
	Name         string
	Major, Minor int   // compute capability
	Memory       int64 // bytes
	SMs          int   // multiprocessors
	ClockMHz     int
	PCIBus       int
	Driver       string // driver's CUDA version, "13.0"
}

// Arch is the device's SM architecture for compilers, "sm_90".
func (i DeviceInfo) Arch() string { return fmt.Sprintf("sm_%d%d", i.Major, i.Minor) }

// ParseDevice parses a device name: "cpu", "cuda" (= cuda:0) or
// "cuda:N". It returns the GPU index, or -1 for the CPU.
func ParseDevice(s string) (int, error) {
	switch s {
	case "", "cpu":
		return -1, nil
	case "cuda", "gpu":
		return 0, nil
	}
	if rest, ok := strings.CutPrefix(s, "cuda:"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("device %q: want cpu, cuda or cuda:N (N the GPU's index, from 0)", s)
}

// Device is one GPU opened for computing: its primary context, owned by
// the device thread, a stream, a cuBLAS handle and (from first use) a
// cuDNN handle. All work goes through Do.
type Device struct {
	info DeviceInfo
	opts Options
	libs *libSet
	drv  *driverAPI
	rtc  *nvrtcAPI
	th   *thread

	// owned by the device thread
	dev      int32
	ctx      uintptr
	stream   uintptr
	main     uintptr // the stream made at Open
	blas     *blasHandle
	dnn      *dnnHandle
	args     *argPack
	pin      runtime.Pinner
	c        Ctx
	closed   bool
	closeErr error

	mu sync.Mutex // guards closed for Do/Close from other goroutines
}

// Open opens GPU index (from 0) with opts (nil: defaults). It loads the
// driver, NVRTC and cuBLAS (cuDNN loads on first use); every missing
// piece is one error naming what was looked for and where.
func Open(index int, opts *Options) (*Device, error) {
	return openWith(defaultLibs(), index, opts)
}

func openWith(ls *libSet, index int, opts *Options) (*Device, error) {
	d := &Device{libs: ls}
	if opts != nil {
		d.opts = *opts
	}
	name := fmt.Sprintf("cuda:%d", index)
	drv, err := ls.driver()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d.drv = drv
	var n int32
	if err := drv.check("cuDeviceGetCount", drv.cuDeviceGetCount(&n)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if index < 0 || index >= int(n) {
		return nil, fmt.Errorf("%s: %w: the driver reports %d GPU(s)", name, ErrNoDevice, n)
	}
	if d.rtc, err = ls.nvrtcAPI(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	blas, err := ls.cublasAPI()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d.info, err = deviceInfo(drv, index)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d.args = &argPack{}
	d.pin.Pin(d.args)
	for i := range d.args.ptrs {
		d.args.ptrs[i] = unsafe.Pointer(&d.args.vals[i])
	}
	d.c = Ctx{d: d}
	d.th, err = startThread(func() error { return d.init(blas) })
	if err != nil {
		d.pin.Unpin()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}

// init runs on the device thread: context, stream, cuBLAS.
func (d *Device) init(blas *cublasAPI) error {
	drv := d.drv
	if err := drv.check("cuDeviceGet", drv.cuDeviceGet(&d.dev, int32(d.info.Index))); err != nil {
		return err
	}
	if err := drv.check("cuDevicePrimaryCtxRetain", drv.cuDevicePrimaryCtxRetain(&d.ctx, d.dev)); err != nil {
		return err
	}
	fail := func(err error) error {
		drv.cuDevicePrimaryCtxRelease(d.dev)
		return err
	}
	if err := drv.check("cuCtxSetCurrent", drv.cuCtxSetCurrent(d.ctx)); err != nil {
		return fail(err)
	}
	const nonBlocking = 1 // no implicit synchronisation with the legacy stream
	if err := drv.check("cuStreamCreate", drv.cuStreamCreate(&d.main, nonBlocking)); err != nil {
		return fail(err)
	}
	d.stream = d.main
	b, err := newBlasHandle(blas, d.stream, d.opts.TF32)
	if err != nil {
		drv.cuStreamDestroy(d.main)
		return fail(err)
	}
	d.blas = b
	return nil
}

// deviceInfo queries the driver about device index (no context needed).
func deviceInfo(drv *driverAPI, index int) (DeviceInfo, error) {
	info := DeviceInfo{Index: index}
	var dev int32
	if err := drv.check("cuDeviceGet", drv.cuDeviceGet(&dev, int32(index))); err != nil {
		return info, err
	}
	name := make([]byte, 256)
	if err := drv.check("cuDeviceGetName", drv.cuDeviceGetName(&name[0], int32(len(name)), dev)); err != nil {
		return info, err
	}
	info.Name = bytesString(name)
	for _, a := range []struct {
		a int32
		v *int
	}{{attrComputeCapabilityMajor, &info.Major}, {attrComputeCapabilityMinor, &info.Minor}} {
		var v int32
		if err := drv.check("cuDeviceGetAttribute", drv.cuDeviceGetAttribute(&v, a.a, dev)); err != nil {
			return info, err
		}
		*a.v = int(v)
	}
	// informational attributes: a driver that no longer answers one
	// (CUDA 13 deprecates some) leaves it 0
	for _, a := range []struct {
		a int32
		v *int
	}{{attrMultiprocessorCount, &info.SMs}, {attrClockRate, &info.ClockMHz}, {attrPCIBusID, &info.PCIBus}} {
		var v int32
		if drv.cuDeviceGetAttribute(&v, a.a, dev) == cudaSuccess {
			*a.v = int(v)
		}
	}
	info.ClockMHz /= 1000 // kHz
	var mem uintptr
	if err := drv.check("cuDeviceTotalMem_v2", drv.cuDeviceTotalMem(&mem, dev)); err != nil {
		return info, err
	}
	info.Memory = int64(mem)
	var v int32
	if err := drv.check("cuDriverGetVersion", drv.cuDriverGetVersion(&v)); err != nil {
		return info, err
	}
	info.Driver = cudaVersion(int(v))
	return info, nil
}

// cudaVersion formats a CUDA version number (13000 -> "13.0").
func cudaVersion(v int) string { return fmt.Sprintf("%d.%d", v/1000, v%1000/10) }

// Info describes the device.
func (d *Device) Info() DeviceInfo { return d.info }

// Precision is the float32 GEMM and convolution arithmetic: "FP32" or
// "TF32" (Options.TF32).
func (d *Device) Precision() string {
	if d.opts.TF32 {
		return "TF32"
	}
	return "FP32"
}

// String is "cuda:0 (NVIDIA H100 80GB HBM3, sm_90)".
func (d *Device) String() string {
	return fmt.Sprintf("cuda:%d (%s, %s)", d.info.Index, d.info.Name, d.info.Arch())
}

// Do runs fn on the device thread with the device's context current and
// returns its error. Calls from several goroutines run one after another.
// fn must not keep c beyond its return nor call Do itself. Run a whole
// training step in one Do: each Do costs a hand-over between OS threads.
func (d *Device) Do(fn func(c *Ctx) error) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return fmt.Errorf("cuda:%d: %w", d.info.Index, ErrClosed)
	}
	d.mu.Unlock()
	return d.th.run(func() error { return fn(&d.c) })
}

// Close synchronises, releases the handles, the stream and the context,
// and stops the device thread. Buffers not freed are released with the
// context only if nothing else holds it.
func (d *Device) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	err := d.th.run(func() error {
		drv := d.drv
		first := drv.check("cuCtxSynchronize", drv.cuCtxSynchronize())
		if d.dnn != nil {
			d.dnn.api.cudnnDestroy(d.dnn.h)
		}
		if d.blas != nil {
			d.blas.api.cublasDestroy(d.blas.h)
		}
		if e := drv.check("cuStreamDestroy_v2", drv.cuStreamDestroy(d.main)); first == nil {
			first = e
		}
		if e := drv.check("cuDevicePrimaryCtxRelease_v2", drv.cuDevicePrimaryCtxRelease(d.dev)); first == nil {
			first = e
		}
		return first
	})
	d.th.stop()
	d.pin.Unpin()
	return err
}

// Libraries reports the CUDA libraries this process loaded and from where.
func (d *Device) Libraries() []Library { return d.libs.versions(d.libs.report()) }
