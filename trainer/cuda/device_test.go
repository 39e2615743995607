package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/effnas/effnas/trainer/cuda/cudatest"
	"github.com/effnas/effnas/trainer/kernels"
)

func TestMain(m *testing.M) { os.Exit(cudatest.Run(m)) }

// openFake opens device 0 of the fake libraries of variant v.
func openFake(t *testing.T, v cudatest.Variant, opts *Options) (*Device, *cudatest.Control) {
	t.Helper()
	dir := cudatest.Dir(t, v)
	ctl := cudatest.Controls(t, dir)
	ctl.SetDevices(1, 9, 0)
	ctl.ResetLogs()
	d, err := openWith(newLibSet(searchPaths{override: []string{dir}}), 0, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d, ctl
}

func TestOpenWithoutDriverIsOneLine(t *testing.T) {
	empty := t.TempDir()
	_, err := openWith(newLibSet(searchPaths{override: []string{empty}}), 0, nil)
	if !errors.Is(err, ErrNoDriver) {
		t.Fatalf("got %v, want ErrNoDriver", err)
	}
	msg := err.Error()
	for _, want := range []string{"cuda:0: no NVIDIA driver", "libcuda.so.1", "looked in " + empty, EnvLibs} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("not one line: %q", msg)
	}
	r := probeWith(newLibSet(searchPaths{override: []string{empty}}))
	if len(r.Devices) != 0 || !errors.Is(r.NoGPU, ErrNoDriver) {
		t.Errorf("Probe without driver: %+v", r)
	}
}

func TestOpenDriverLackingASymbol(t *testing.T) {
	dir := cudatest.Dir(t, cudatest.NoLaunch)
	_, err := openWith(newLibSet(searchPaths{override: []string{dir}}), 0, nil)
	if !errors.Is(err, ErrNoDriver) || !errors.Is(err, ErrLibrary) {
		t.Fatalf("got %v, want ErrNoDriver and ErrLibrary", err)
	}
	for _, want := range []string{dir + "/libcuda.so.1", "lacks cuLaunchKernel"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

func TestOpenWithoutToolkit(t *testing.T) {
	dir := cudatest.Dir(t, cudatest.DriverOnly)
	cudatest.Controls(t, dir).SetDevices(1, 9, 0)
	ls := newLibSet(searchPaths{override: []string{dir}})
	_, err := openWith(ls, 0, nil)
	if !errors.Is(err, ErrLibrary) || !strings.Contains(err.Error(), "libnvrtc.so.13 or libnvrtc.so.12 (NVRTC) not found") {
		t.Fatalf("got %v", err)
	}
	// Probe still lists the GPU and says what is missing
	r := probeWith(ls)
	if len(r.Devices) != 1 || r.NoGPU != nil || r.Driver != "13.0" {
		t.Fatalf("Probe: %+v", r)
	}
	var sawDriver, sawNVRTC bool
	for _, l := range r.Libraries {
		switch l.Key {
		case "cuda":
			sawDriver = l.Path == dir+"/libcuda.so.1" && l.Version == "13.0"
		case "nvrtc":
			sawNVRTC = errors.Is(l.Err, ErrLibrary)
		}
	}
	if !sawDriver || !sawNVRTC {
		t.Errorf("libraries: %+v", r.Libraries)
	}
}

func TestOpenNoSuchDevice(t *testing.T) {
	dir := cudatest.Dir(t, cudatest.Full)
	ctl := cudatest.Controls(t, dir)
	ctl.SetDevices(1, 9, 0)
	_, err := openWith(newLibSet(searchPaths{override: []string{dir}}), 2, nil)
	if !errors.Is(err, ErrNoDevice) || err.Error() != "cuda:2: no CUDA device: the driver reports 1 GPU(s)" {
		t.Fatalf("got %v", err)
	}
	ctl.SetDevices(0, 9, 0)
	defer ctl.SetDevices(1, 9, 0)
	r := probeWith(newLibSet(searchPaths{override: []string{dir}}))
	if !errors.Is(r.NoGPU, ErrNoDevice) || !strings.Contains(r.NoGPU.Error(), "reports no GPU") {
		t.Errorf("Probe with 0 GPUs: %v", r.NoGPU)
	}
}

func TestDeviceInfoAndLibraries(t *testing.T) {
	d, ctl := openFake(t, cudatest.Full, nil)
	for _, line := range []string{"cuInit flags=0", "cuDeviceGet ordinal=0", "cuDeviceGetName len=256 dev=0", "cuDeviceGetAttribute attr=75 dev=0",
		"cuDeviceGetAttribute attr=76 dev=0", "cuDeviceTotalMem_v2 dev=0", "cuDevicePrimaryCtxRetain dev=0", "cuCtxSetCurrent ctx=0x1000", "cuStreamCreate flags=1"} {
		if !strings.Contains(ctl.Log(), line+"\n") {
			t.Errorf("log lacks %q", line)
		}
	}
	i := d.Info()
	if i.Name != "Fake GPU 0" || i.Major != 9 || i.Minor != 0 || i.Memory != 80<<30 || i.SMs != 132 ||
		i.ClockMHz != 1980 || i.Driver != "13.0" || i.Arch() != "sm_90" {
		t.Errorf("info %+v", i)
	}
	if d.String() != "cuda:0 (Fake GPU 0, sm_90)" || d.Precision() != "FP32" {
		t.Errorf("%v %v", d, d.Precision())
	}
	keys := map[string]string{}
	for _, l := range d.Libraries() {
		keys[l.Key] = l.Version
	}
	for k, v := range map[string]string{"cuda": "13.0", "nvrtc": "13.0", "cublasLt": "", "cublas": "13.1.0"} {
		if got, ok := keys[k]; !ok || got != v {
			t.Errorf("library %s: loaded %v, version %q, want %q", k, ok, got, v)
		}
	}
}

func TestErrorsNameTheCall(t *testing.T) {
	d, ctl := openFake(t, cudatest.Full, nil)
	ctl.Fail("cuMemAlloc_v2", 2)
	err := d.Do(func(c *Ctx) error { _, err := c.Alloc(10); return err })
	var e *Error
	if !errors.As(err, &e) || e.Call != "cuMemAlloc_v2" || e.Code != 2 || e.Name != "CUDA_ERROR_OUT_OF_MEMORY" {
		t.Fatalf("got %#v", err)
	}
	if want := "cuMemAlloc_v2: out of memory (CUDA_ERROR_OUT_OF_MEMORY, 2) (allocating 40 bytes)"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	// a code the driver cannot name
	ctl.Fail("cuStreamSynchronize", 12345)
	err = d.Do(func(c *Ctx) error { return c.Sync() })
	if err == nil || err.Error() != "cuStreamSynchronize: unknown error (status 12345)" {
		t.Errorf("got %v", err)
	}
	// the driver's "no device" codes are ErrNoDevice
	if !errors.Is(&Error{Lib: "driver", Code: cudaErrorNoDevice}, ErrNoDevice) {
		t.Error("CUDA_ERROR_NO_DEVICE is not ErrNoDevice")
	}
}

func TestMemoryMarshalling(t *testing.T) {
	d, ctl := openFake(t, cudatest.Full, nil)
	src := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	got := make([]float32, 10)
	var buf, buf2 Buffer
	err := d.Do(func(c *Ctx) (err error) {
		if buf, err = c.Alloc(10); err != nil {
			return err
		}
		if buf2, err = c.Alloc(10); err != nil {
			return err
		}
		if err := c.Upload(buf, src); err != nil {
			return err
		}
		if err := c.Copy(buf2, buf); err != nil {
			return err
		}
		if err := c.Fill(buf2.Slice(8, 2), -1.5); err != nil {
			return err
		}
		return c.Download(got, buf2)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 2, 3, 4, 5, 6, 7, 8, -1.5, -1.5}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	log := ctl.Log()
	stream := fmt.Sprintf("stream=%#x", d.main)
	for _, line := range []string{
		"cuMemAlloc_v2 bytes=40",
		fmt.Sprintf("cuMemcpyHtoDAsync_v2 dst=%#x bytes=40 %s", buf.ptr, stream),
		fmt.Sprintf("cuMemcpyDtoDAsync_v2 dst=%#x src=%#x bytes=40 %s", buf2.ptr, buf.ptr, stream),
		fmt.Sprintf("cuMemsetD32Async dst=%#x value=%#x count=2 %s", buf2.ptr+32, math.Float32bits(-1.5), stream),
		fmt.Sprintf("cuMemcpyDtoHAsync_v2 src=%#x bytes=40 %s", buf2.ptr, stream),
		"cuStreamSynchronize " + stream,
	} {
		if !strings.Contains(log, line+"\n") {
			t.Errorf("log lacks %q:\n%s", line, log)
		}
	}
	// typed copies of other element types and size checks
	err = d.Do(func(c *Ctx) error {
		ints := []int32{-7, 1 << 30}
		if err := Upload(c, buf, ints); err != nil {
			return err
		}
		back := make([]int32, 2)
		if err := Download(c, back, buf); err != nil {
			return err
		}
		if back[0] != -7 || back[1] != 1<<30 {
			return fmt.Errorf("int32 round trip: %v", back)
		}
		if err := Upload(c, buf, make([]float64, 6)); err == nil || !strings.Contains(err.Error(), "48 bytes into a buffer of 40") {
			return fmt.Errorf("oversized upload: %v", err)
		}
		if err := c.Free(buf); err != nil {
			return err
		}
		return c.Free(buf2)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := ctl.LiveAllocs(); n != 0 {
		t.Errorf("%d allocations left", n)
	}
}

func TestDeviceThreadOwnsTheContext(t *testing.T) {
	d, ctl := openFake(t, cudatest.Full, nil)
	ctl.ResetLogs()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				errs <- d.Do(func(c *Ctx) error {
					b, err := c.Alloc(4)
					if err != nil {
						return err
					}
					return c.Free(b)
				})
			}
		}()
	}
	go func() { wg.Wait(); close(errs) }()
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := ctl.DistinctThreads(); n != 1 {
		t.Errorf("the driver was called from %d OS threads, want 1", n)
	}
	// the fake, like the driver, refuses calls from a thread without the
	// context: what Do protects against
	var p uint64
	errc := make(chan cuResult)
	go func() { errc <- d.drv.cuMemAlloc(&p, 4) }()
	if r := <-errc; r != 201 {
		t.Errorf("cuMemAlloc off the device thread returned %d, want 201 (CUDA_ERROR_INVALID_CONTEXT)", r)
	}
	// Do inside Do is an error, not a deadlock; a panic is an error and
	// the thread lives on
	err := d.Do(func(c *Ctx) error { return d.Do(func(*Ctx) error { return nil }) })
	if !errors.Is(err, errReentrant) {
		t.Errorf("nested Do: %v", err)
	}
	err = d.Do(func(c *Ctx) error { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "panic on the device thread: boom") {
		t.Errorf("panic: %v", err)
	}
	if err := d.Do(func(c *Ctx) error { return c.Sync() }); err != nil {
		t.Errorf("after panic: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ctl.Log(), "cuDevicePrimaryCtxRelease_v2 dev=0") {
		t.Error("Close did not release the primary context")
	}
	if err := d.Do(func(*Ctx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close: %v", err)
	}
}

const testKernels = `
#ifndef EFFNAS_EMULATE
#define EXTERN_C extern "C"
#endif
EXTERN_C __global__ void axpy(float *y, const float *x, float a, int n, long long big, double dd) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) y[i] = a * x[i] + y[i] + (float)(big - 1000000000000LL) + (float)dd;
}
// one sum per block: a shared-memory tree with barriers
EXTERN_C __global__ void blocksum(float *out, const float *x, int n) {
	__shared__ float s[64];
	int t = threadIdx.x;
	float v = 0;
	for (int i = blockIdx.x * n + t; i < (int)(blockIdx.x + 1) * n; i += blockDim.x) v += x[i];
	s[t] = v;
	__syncthreads();
	for (int k = blockDim.x / 2; k > 0; k /= 2) {
		if (t < k) s[t] += s[t + k];
		__syncthreads();
	}
	if (t == 0) out[blockIdx.x] = s[0];
}
#ifdef EFFNAS_EMULATE
void emu_axpy(void **p) { axpy(*(float **)p[0], *(const float **)p[1], *(float *)p[2], *(int *)p[3], *(long long *)p[4], *(double *)p[5]); }
const char *emu_sig_axpy = "ppfild";
void emu_blocksum(void **p) { blocksum(*(float **)p[0], *(const float **)p[1], *(int *)p[2]); }
const char *emu_sig_blocksum = "ppi";
#endif
`

func TestCompileAndLaunch(t *testing.T) {
	d, ctl := openFake(t, cudatest.Full, nil)
	img, err := d.Compile(testKernels, "test.cu", "-DX=1")
	if err != nil {
		t.Fatal(err)
	}
	if img.Arch != "sm_90" || img.PTX {
		t.Errorf("image %s ptx=%v", img.Arch, img.PTX)
	}
	for _, line := range []string{
		fmt.Sprintf("nvrtcCreateProgram name=test.cu bytes=%d headers=0", len(testKernels)),
		"nvrtcCompileProgram options=3 [--gpu-architecture=sm_90] [--std=c++17] [-DX=1]",
		"nvrtcDestroyProgram",
	} {
		if !strings.Contains(ctl.NVRTCLog(), line+"\n") {
			t.Errorf("NVRTC log lacks %q:\n%s", line, ctl.NVRTCLog())
		}
	}
	const n = 300
	x, y := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], y[i] = float32(i), 1
	}
	sums := make([]float32, 3)
	var yb Buffer
	err = d.Do(func(c *Ctx) error {
		m, err := c.LoadModule(img)
		if err != nil {
			return err
		}
		defer c.UnloadModule(m)
		axpy, err := c.Function(m, "axpy")
		if err != nil {
			return err
		}
		xb, _ := c.Alloc(n)
		yb, _ = c.Alloc(n)
		defer c.Free(xb)
		defer c.Free(yb)
		c.Upload(xb, x)
		c.Upload(yb, y)
		if err := c.Launch(axpy, D1(3), D1(128), 0, BufArg(yb), BufArg(xb), FloatArg(2.5), IntArg(n),
			Int64Arg(1000000000003), DoubleArg(0.25)); err != nil {
			return err
		}
		if err := c.Download(y, yb); err != nil {
			return err
		}
		bs, err := c.Function(m, "blocksum")
		if err != nil {
			return err
		}
		ob, _ := c.Alloc(3)
		defer c.Free(ob)
		if err := c.Launch(bs, D1(3), D1(64), 0, BufArg(ob), BufArg(xb), IntArg(100)); err != nil {
			return err
		}
		return c.Download(sums, ob)
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range y {
		if want := 2.5*float32(i) + 1 + 3 + 0.25; y[i] != want {
			t.Fatalf("y[%d] = %v, want %v", i, y[i], want)
		}
	}
	for b, s := range sums {
		if want := float32(100*100*b + 4950); s != want {
			t.Errorf("block %d sum %v, want %v", b, s, want)
		}
	}
	for _, name := range []string{"axpy", "blocksum"} {
		if !strings.Contains(ctl.Log(), "cuModuleGetFunction name="+name+"\n") {
			t.Errorf("log lacks the lookup of %s", name)
		}
	}
	want := fmt.Sprintf("cuLaunchKernel axpy grid=3,1,1 block=128,1,1 shmem=0 stream=%#x extra=(nil) args= p:%#x", d.main, yb.ptr)
	lines := cudatest.Lines(ctl.Log(), "cuLaunchKernel")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], want) || !strings.HasSuffix(lines[0], " f:2.5 i:300 l:1000000000003 d:0.25") {
		t.Errorf("launch log %q, want prefix %q", lines, want)
	}
}

func TestCompileErrorCarriesTheLog(t *testing.T) {
	d, _ := openFake(t, cudatest.Full, nil)
	_, err := d.Compile("#error the kernel is broken\n", "bad.cu")
	var e *Error
	if !errors.As(err, &e) || e.Call != "nvrtcCompileProgram" || e.Msg != "NVRTC_ERROR_COMPILATION" || !strings.Contains(e.Log, "the kernel is broken") {
		t.Fatalf("got %#v", err)
	}
}

func TestCompileFallsBackToPTX(t *testing.T) {
	d, ctl := openFake(t, cudatest.Full, nil)
	ctl.SetNVRTCArchs(75, 80, 86)
	defer ctl.SetNVRTCArchs(75, 80, 86, 89, 90, 100, 120)
	arch, ptx, err := d.CompileTarget()
	if err != nil || arch != "compute_86" || !ptx {
		t.Fatalf("target %s %v %v", arch, ptx, err)
	}
	img, err := d.Compile(testKernels, "t.cu")
	if err != nil || !img.PTX {
		t.Fatalf("%v %+v", err, img.Arch)
	}
	if err := d.Do(func(c *Ctx) error { _, err := c.LoadModule(img); return err }); err != nil {
		t.Fatal(err)
	}
	ctl.SetNVRTCArchs(100, 120)
	if _, _, err := d.CompileTarget(); err == nil || !strings.Contains(err.Error(), "none of them for sm_90") {
		t.Errorf("no usable arch: %v", err)
	}
}

func TestLaunchChecksArguments(t *testing.T) {
	d, _ := openFake(t, cudatest.Full, nil)
	img, err := d.Compile(testKernels, "t.cu")
	if err != nil {
		t.Fatal(err)
	}
	err = d.Do(func(c *Ctx) error {
		m, err := c.LoadModule(img)
		if err != nil {
			return err
		}
		f, err := c.Function(m, "axpy")
		if err != nil {
			return err
		}
		if err := c.Launch(f, D1(1), D1(1), 0, IntArg(1<<40)); err == nil || !strings.Contains(err.Error(), "does not fit in an int") {
			return fmt.Errorf("big int: %v", err)
		}
		if err := c.Launch(f, D1(1), Dim3{1025, 1, 1}, 0); err == nil || !strings.Contains(err.Error(), "bad grid") {
			return fmt.Errorf("big block: %v", err)
		}
		if _, err := c.Function(m, "nope"); err == nil || !strings.Contains(err.Error(), `CUDA_ERROR_NOT_FOUND, 500) (kernel "nope")`) {
			return fmt.Errorf("missing kernel: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// upload allocates a buffer holding v.
func upload(t *testing.T, c *Ctx, v []float32) Buffer {
	b, err := c.Alloc(len(v))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Upload(b, v); err != nil {
		t.Fatal(err)
	}
	return b
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

func TestGemmRowMajorMatchesCPU(t *testing.T) {
	for _, tf32 := range []bool{false, true} {
		d, ctl := openFake(t, cudatest.Full, &Options{TF32: tf32})
		mode := "mode=0"
		if tf32 {
			mode = "mode=3"
		}
		if !strings.Contains(ctl.BLASLog(), "cublasSetMathMode "+mode) {
			t.Errorf("TF32=%v: math mode not set: %s", tf32, ctl.BLASLog())
		}
		r := rand.New(rand.NewPCG(1, 2))
		m, n, k := 5, 7, 3
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				lda, ldb, ldc := k+2, n+1, n+3
				if ta {
					lda = m + 1
				}
				if tb {
					ldb = k + 4
				}
				rowsA, rowsB := m, k
				if ta {
					rowsA = k
				}
				if tb {
					rowsB = n
				}
				a, b, cc := randSlice(r, rowsA*lda), randSlice(r, rowsB*ldb), randSlice(r, m*ldc)
				want := append([]float32(nil), cc...)
				kernels.Gemm(ta, tb, m, n, k, 1.5, a, lda, b, ldb, 0.5, want, ldc)
				got := make([]float32, len(cc))
				ctl.ResetLogs()
				err := d.Do(func(c *Ctx) error {
					ab, bb, cb := upload(t, c, a), upload(t, c, b), upload(t, c, cc)
					defer c.Free(ab)
					defer c.Free(bb)
					defer c.Free(cb)
					if err := c.Gemm(GemmArgs{TransA: ta, TransB: tb, M: m, N: n, K: k, Alpha: 1.5, Beta: 0.5,
						A: ab, B: bb, C: cb, LDA: lda, LDB: ldb, LDC: ldc}); err != nil {
						return err
					}
					return c.Download(got, cb)
				})
				if err != nil {
					t.Fatal(err)
				}
				for i := range got {
					if math.Abs(float64(got[i]-want[i])) > 1e-5 {
						t.Fatalf("ta=%v tb=%v: C[%d] = %v, want %v", ta, tb, i, got[i], want[i])
					}
				}
				line := fmt.Sprintf("cublasSgemm_v2 ta=%d tb=%d m=%d n=%d k=%d alpha=1.5", b2i(tb), b2i(ta), n, m, k)
				if !strings.Contains(ctl.BLASLog(), line) || !strings.Contains(ctl.BLASLog(), fmt.Sprintf("lda=%d", ldb)) ||
					!strings.Contains(ctl.BLASLog(), fmt.Sprintf("beta=0.5 c=")) || !strings.Contains(ctl.BLASLog(), mode) {
					t.Errorf("BLAS log %q lacks %q", ctl.BLASLog(), line)
				}
			}
		}
		// a batch of two with strides, and a size error
		a, b := randSlice(r, 2*m*k), randSlice(r, 2*k*n)
		want := make([]float32, 2*m*n)
		for i := 0; i < 2; i++ {
			kernels.Gemm(false, false, m, n, k, 1, a[i*m*k:], k, b[i*k*n:], n, 0, want[i*m*n:], n)
		}
		got := make([]float32, 2*m*n)
		err := d.Do(func(c *Ctx) error {
			ab, bb := upload(t, c, a), upload(t, c, b)
			cb, _ := c.Alloc(2 * m * n)
			g := GemmArgs{M: m, N: n, K: k, Alpha: 1, A: ab, B: bb, C: cb, LDA: k, LDB: n, LDC: n,
				StrideA: m * k, StrideB: k * n, StrideC: m * n, Batch: 2}
			if err := c.GemmBatched(g); err != nil {
				return err
			}
			g.Batch = 3
			if err := c.GemmBatched(g); err == nil || !strings.Contains(err.Error(), "A needs 45 floats, its buffer holds 30") {
				return fmt.Errorf("oversized batch: %v", err)
			}
			return c.Download(got, cb)
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Fatalf("batched C[%d] = %v, want %v", i, got[i], want[i])
			}
		}
		d.Close()
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// convRef is a grouped NHWC cross-correlation with KRSC weights.
func convRef(s ConvSpec, x, w []float32) []float32 {
	oh, ow := s.OutHW()
	g := s.groups()
	cg, kg := s.C/g, s.K/g
	y := make([]float32, s.N*oh*ow*s.K)
	for n := 0; n < s.N; n++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				for k := 0; k < s.K; k++ {
					var acc float64
					for r := 0; r < s.R; r++ {
						for q := 0; q < s.S; q++ {
							ii, jj := i*s.StrideH-s.PadH+r, j*s.StrideW-s.PadW+q
							if ii < 0 || ii >= s.H || jj < 0 || jj >= s.W {
								continue
							}
							for c := 0; c < cg; c++ {
								acc += float64(x[((n*s.H+ii)*s.W+jj)*s.C+k/kg*cg+c]) * float64(w[((k*s.R+r)*s.S+q)*cg+c])
							}
						}
					}
					y[((n*oh+i)*ow+j)*s.K+k] = float32(acc)
				}
			}
		}
	}
	return y
}

func TestConvWithCuDNN(t *testing.T) {
	d, ctl := openFake(t, cudatest.Full, nil)
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range []ConvSpec{
		{N: 2, H: 5, W: 6, C: 4, K: 6, R: 3, S: 3, PadH: 1, PadW: 1, StrideH: 1, StrideW: 1},
		{N: 1, H: 6, W: 6, C: 4, K: 4, R: 3, S: 3, PadH: 1, PadW: 1, StrideH: 2, StrideW: 2, Groups: 4},
	} {
		nx, nw, ny := s.sizes()
		x, w := randSlice(r, nx), randSlice(r, nw)
		want := convRef(s, x, w)
		got := make([]float32, ny)
		ctl.ResetLogs()
		err := d.Do(func(c *Ctx) error {
			cv, err := c.NewConv(s)
			if err != nil {
				return err
			}
			defer c.FreeConv(cv)
			if cv.fwd != 2 || cv.bwdData != 2 || cv.bwdFlt != 2 || cv.Workspace() != 256 || !cv.Deterministic {
				return fmt.Errorf("algorithms %d %d %d, workspace %d: want the deterministic algorithm 2", cv.fwd, cv.bwdData, cv.bwdFlt, cv.Workspace())
			}
			xb, wb := upload(t, c, x), upload(t, c, w)
			yb, _ := c.Alloc(ny)
			ws, _ := c.AllocBytes(cv.Workspace())
			small, _ := c.AllocBytes(8)
			defer func() {
				for _, b := range []Buffer{xb, wb, yb, ws, small} {
					c.Free(b)
				}
			}()
			if err := c.ConvForward(cv, xb, wb, yb, small); err == nil || !strings.Contains(err.Error(), "needs 256 bytes of workspace, got 8") {
				return fmt.Errorf("small workspace: %v", err)
			}
			if err := c.ConvForward(cv, xb, wb, yb, ws); err != nil {
				return err
			}
			// backward calls reach cuDNN with the right descriptors
			dx, _ := c.Alloc(nx)
			dw, _ := c.Alloc(nw)
			defer c.Free(dx)
			defer c.Free(dw)
			if err := c.ConvBackwardData(cv, wb, yb, dx, ws); err != nil {
				return err
			}
			if err := c.ConvBackwardFilter(cv, xb, yb, dw, ws); err != nil {
				return err
			}
			return c.Download(got, yb)
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Fatalf("%+v: y[%d] = %v, want %v", s, i, got[i], want[i])
			}
		}
		log := ctl.DNNLog()
		oh, ow := s.OutHW()
		for _, line := range []string{
			fmt.Sprintf("cudnnSetTensor4dDescriptor format=1 dtype=0 n=%d c=%d h=%d w=%d", s.N, s.C, s.H, s.W),
			fmt.Sprintf("cudnnSetTensor4dDescriptor format=1 dtype=0 n=%d c=%d h=%d w=%d", s.N, s.K, oh, ow),
			fmt.Sprintf("cudnnSetFilter4dDescriptor dtype=0 format=1 k=%d c=%d h=%d w=%d", s.K, s.C/s.groups(), s.R, s.S),
			fmt.Sprintf("cudnnSetConvolution2dDescriptor pad=%d,%d stride=%d,%d dilation=1,1 mode=1 compute=0", s.PadH, s.PadW, s.StrideH, s.StrideW),
			fmt.Sprintf("cudnnSetConvolutionGroupCount groups=%d", s.groups()),
			"cudnnSetConvolutionMathType math=3",
			"cudnnGetConvolutionForwardAlgorithm_v7 requested=16 sizeof(perf)=48",
			"cudnnConvolutionForward alpha=1 beta=0 algo=2 ws=256",
			"cudnnConvolutionBackwardData alpha=1 beta=0 algo=2 ws=256",
			"cudnnConvolutionBackwardFilter alpha=1 beta=0 algo=2 ws=256",
		} {
			if !strings.Contains(log, line+"\n") {
				t.Errorf("cuDNN log lacks %q:\n%s", line, log)
			}
		}
	}
	// without a deterministic algorithm the fastest other one is taken
	ctl.SetCuDNNNondeterministic(true)
	err := d.Do(func(c *Ctx) error {
		cv, err := c.NewConv(ConvSpec{N: 1, H: 4, W: 4, C: 2, K: 2, R: 3, S: 3, PadH: 1, PadW: 1, StrideH: 1, StrideW: 1})
		if err != nil {
			return err
		}
		defer c.FreeConv(cv)
		if cv.Deterministic || cv.fwd != 1 {
			return fmt.Errorf("fallback: deterministic=%v algorithm %d", cv.Deterministic, cv.fwd)
		}
		return nil
	})
	ctl.SetCuDNNNondeterministic(false)
	if err != nil {
		t.Fatal(err)
	}
	// in FP32 mode, algorithms that report tensor-op math are refused;
	// the default math is accepted (the descriptor stays on FMA)
	for _, m := range []struct {
		math int
		ok   bool
	}{{cudnnTensorOpMath, false}, {cudnnDefaultMath, true}} {
		ctl.SetCuDNNMath(m.math)
		err = d.Do(func(c *Ctx) error {
			cv, err := c.NewConv(ConvSpec{N: 1, H: 4, W: 4, C: 2, K: 2, R: 3, S: 3, PadH: 1, PadW: 1, StrideH: 1, StrideW: 1})
			if err == nil {
				c.FreeConv(cv)
			}
			return err
		})
		ctl.SetCuDNNMath(-1)
		if m.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "offers no FP32 (FMA) algorithm")) {
			t.Errorf("algorithms with math %d: %v", m.math, err)
		}
	}
	if unsafe.Sizeof(convAlgoPerf{}) != 48 {
		t.Errorf("convAlgoPerf is %d bytes, cuDNN's struct 48", unsafe.Sizeof(convAlgoPerf{}))
	}
	err = d.Do(func(c *Ctx) error {
		_, err := c.NewConv(ConvSpec{N: 1, H: 4, W: 4, C: 3, K: 4, R: 3, S: 3, StrideH: 1, StrideW: 1, Groups: 2})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "2 groups do not divide C=3") {
		t.Errorf("bad groups: %v", err)
	}
}

// TestFloatArgumentsReachC checks that float64 arguments passed by value
// among many integer ones (cuDNN's batch-norm call: 15 integers, two of
// them on the stack, and 2 doubles) arrive intact.
func TestFloatArgumentsReachC(t *testing.T) {
	d, ctl := openFake(t, cudatest.Full, nil)
	err := d.Do(func(c *Ctx) error {
		h, err := c.dnnHandle()
		if err != nil {
			return err
		}
		a := h.api
		if a.cudnnBatchNormalizationForwardTraining == nil {
			return fmt.Errorf("optional batch-norm binding missing")
		}
		alpha, beta := float32(1), float32(0)
		r := a.cudnnBatchNormalizationForwardTraining(h.h, cudnnBatchNormSpatial, unsafe.Pointer(&alpha), unsafe.Pointer(&beta),
			0, 0x1000, 0, 0x2000, 0, 0x3000, 0x4000, 0.1, 0x5000, 0x6000, 1e-3, 0x7000, 0x8000)
		return a.check("cudnnBatchNormalizationForwardTraining", r)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "cudnnBatchNormalizationForwardTraining mode=1 alpha=1 beta=0 x=0x1000 y=0x2000 scale=0x3000 bias=0x4000 " +
		"factor=0.10000000000000001 rmean=0x5000 rvar=0x6000 eps=0.001 smean=0x7000 sinv=0x8000"
	if !strings.Contains(ctl.DNNLog(), want) {
		t.Errorf("cuDNN log lacks %q:\n%s", want, ctl.DNNLog())
	}
}

func TestEventsTime(t *testing.T) {
	d, _ := openFake(t, cudatest.Full, nil)
	err := d.Do(func(c *Ctx) error {
		dt, err := c.Time(func() error { return c.Sync() })
		if err != nil {
			return err
		}
		if dt < 0 {
			return fmt.Errorf("negative time %v", dt)
		}
		s, err := c.NewStream()
		if err != nil {
			return err
		}
		if err := c.SetStream(s); err != nil {
			return err
		}
		if err := c.FreeStream(s); err == nil {
			return fmt.Errorf("freeing the current stream succeeded")
		}
		if err := c.SetStream(Stream{}); err != nil {
			return err
		}
		return c.FreeStream(s)
	})
	if err != nil {
		t.Fatal(err)
	}
}
