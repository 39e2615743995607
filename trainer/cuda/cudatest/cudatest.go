// Package cudatest builds fake CUDA libraries for tests on machines
// without a GPU: a libcuda.so.1 whose "device" memory is host memory and
// whose kernels run on the CPU (emulate.h runs the CUDA C sources compiled
// with gcc as C), a libnvrtc that compiles with gcc, a libcublas whose
// GEMMs and a libcudnn whose convolutions are plain loops. Each library
// logs the arguments of every call, and the driver can be told to fail a
// call, so tests check what package cuda passes and how it reports errors.
//
// Use it from TestMain so the libraries are built once per test binary
// and removed at the end:
//
//	func TestMain(m *testing.M) { os.Exit(cudatest.Run(m)) }
//
// then point package cuda at the fakes with Dir(t) (EFFNAS_CUDA_LIBS).
// gcc is needed; without it the tests that use the fakes skip.
package cudatest

import (
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"
)

//go:embed c/*.c c/*.h
var sources embed.FS

// Variant selects which fake libraries a directory holds.
type Variant string

const (
	// Full: every library, complete.
	Full Variant = "full"
	// NoLaunch: a libcuda.so.1 lacking cuLaunchKernel (and nothing else).
	NoLaunch Variant = "nolaunch"
	// DriverOnly: libcuda.so.1 alone (no NVRTC, cuBLAS or cuDNN).
	DriverOnly Variant = "driveronly"
)

var (
	mu    sync.Mutex
	root  string
	built = map[Variant]string{}
	fails = map[Variant]error{}
)

// Run runs the tests and removes the built libraries afterwards.
func Run(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	if root != "" {
		os.RemoveAll(root)
	}
	mu.Unlock()
	return code
}

// Dir builds (once) the libraries of variant v and returns their
// directory, skipping the test when gcc is missing. It sets
// EFFNAS_CUDA_LIBS to the directory for the test.
func Dir(t testing.TB, v Variant) string {
	t.Helper()
	d, err := build(v)
	if err != nil {
		if _, e := exec.LookPath("gcc"); e != nil {
			t.Skipf("gcc not found: the fake CUDA libraries cannot be built (%v)", e)
		}
		t.Fatalf("building the fake CUDA libraries: %v", err)
	}
	t.Setenv("EFFNAS_CUDA_LIBS", d)
	return d
}

func build(v Variant) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if d, ok := built[v]; ok {
		return d, nil
	}
	if err, ok := fails[v]; ok {
		return "", err
	}
	d, err := buildLocked(v)
	if err != nil {
		fails[v] = err
		return "", err
	}
	built[v] = d
	return d, nil
}

func buildLocked(v Variant) (string, error) {
	if _, err := exec.LookPath("gcc"); err != nil {
		return "", err
	}
	if root == "" {
		r, err := os.MkdirTemp("", "effnas-fakecuda-")
		if err != nil {
			return "", err
		}
		root = r
	}
	dir := filepath.Join(root, string(v))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, f := range []string{"emulate.h", "fakecuda.c", "fakenvrtc.c", "fakecublas.c", "fakecublaslt.c", "fakecudnn.c"} {
		b, err := sources.ReadFile("c/" + f)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return "", err
		}
	}
	type lib struct {
		out, src string
		flags    []string
	}
	libs := []lib{{"libcuda.so.1", "fakecuda.c", []string{"-ldl", "-lpthread"}}}
	if v == NoLaunch {
		libs[0].flags = append(libs[0].flags, "-DFAKE_OMIT_LAUNCH")
	}
	if v != DriverOnly {
		libs = append(libs,
			lib{"libnvrtc.so.13", "fakenvrtc.c", []string{fmt.Sprintf("-DEMU_DIR=%q", dir), "-lpthread"}},
			lib{"libcublasLt.so.13", "fakecublaslt.c", nil},
			lib{"libcublas.so.13", "fakecublas.c", []string{"-L" + dir, "-l:libcublasLt.so.13"}},
			lib{"libcudnn.so.9", "fakecudnn.c", nil})
	}
	for _, l := range libs {
		args := append([]string{"-std=gnu11", "-shared", "-fPIC", "-O1", "-Wall", "-Wno-unused-parameter",
			"-Wl,-soname," + l.out, "-o", filepath.Join(dir, l.out), filepath.Join(dir, l.src)}, l.flags...)
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("gcc %s: %v\n%s", l.src, err, out)
		}
	}
	return dir, nil
}

// Control reaches into the fake libraries of a directory: their call logs,
// failure injection and device settings.
type Control struct {
	log, nvrtcLog, blasLog, dnnLog                  func() string
	logReset, nvrtcLogReset, blasLogReset, dnnReset func()
	fail                                            func(call string, code, skip int32)
	distinctTIDs                                    func() int32
	setDevices                                      func(n, major, minor int32)
	liveAllocs                                      func() int64
	nvrtcArchs                                      func(a unsafe.Pointer, n int32)
	dnnNondeterministic                             func(on int32)
	dnnMath                                         func(m int32)
}

// Controls binds the control functions of the libraries in dir (the
// handles are those package cuda gets: dlopen returns the loaded copy).
func Controls(t testing.TB, dir string) *Control {
	t.Helper()
	c := &Control{}
	open := func(name string) uintptr {
		h, err := purego.Dlopen(filepath.Join(dir, name), purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			t.Fatalf("cudatest: %v", err)
		}
		return h
	}
	h := open("libcuda.so.1")
	purego.RegisterLibFunc(&c.log, h, "fake_log")
	purego.RegisterLibFunc(&c.logReset, h, "fake_log_reset")
	purego.RegisterLibFunc(&c.fail, h, "fake_fail")
	purego.RegisterLibFunc(&c.distinctTIDs, h, "fake_distinct_tids")
	purego.RegisterLibFunc(&c.setDevices, h, "fake_set_devices")
	purego.RegisterLibFunc(&c.liveAllocs, h, "fake_live_allocs")
	if _, err := os.Stat(filepath.Join(dir, "libnvrtc.so.13")); err == nil {
		h = open("libnvrtc.so.13")
		purego.RegisterLibFunc(&c.nvrtcLog, h, "fake_nvrtc_log")
		purego.RegisterLibFunc(&c.nvrtcLogReset, h, "fake_nvrtc_log_reset")
		purego.RegisterLibFunc(&c.nvrtcArchs, h, "fake_nvrtc_archs")
		open("libcublasLt.so.13")
		h = open("libcublas.so.13")
		purego.RegisterLibFunc(&c.blasLog, h, "fake_cublas_log")
		purego.RegisterLibFunc(&c.blasLogReset, h, "fake_cublas_log_reset")
		h = open("libcudnn.so.9")
		purego.RegisterLibFunc(&c.dnnLog, h, "fake_cudnn_log")
		purego.RegisterLibFunc(&c.dnnReset, h, "fake_cudnn_log_reset")
		purego.RegisterLibFunc(&c.dnnNondeterministic, h, "fake_cudnn_nondeterministic")
		purego.RegisterLibFunc(&c.dnnMath, h, "fake_cudnn_math")
	}
	return c
}

// Log returns the driver's call log (one line per call: name, arguments)
// since the last ResetLogs.
func (c *Control) Log() string { return c.log() }

// NVRTCLog, BLASLog and DNNLog are the other libraries' call logs.
func (c *Control) NVRTCLog() string { return c.nvrtcLog() }
func (c *Control) BLASLog() string  { return c.blasLog() }
func (c *Control) DNNLog() string   { return c.dnnLog() }

// ResetLogs empties every log and the record of calling threads.
func (c *Control) ResetLogs() {
	c.logReset()
	if c.nvrtcLogReset != nil {
		c.nvrtcLogReset()
		c.blasLogReset()
		c.dnnReset()
	}
}

// Fail makes the next call of the driver function call return code.
func (c *Control) Fail(call string, code int) { c.fail(call, int32(code), 0) }

// FailLater makes the call after skip more calls of call return code.
func (c *Control) FailLater(call string, code, skip int) { c.fail(call, int32(code), int32(skip)) }

// DistinctThreads is the number of OS threads that called the driver
// since the last ResetLogs.
func (c *Control) DistinctThreads() int { return int(c.distinctTIDs()) }

// SetDevices sets the number of GPUs and their compute capability.
func (c *Control) SetDevices(n, major, minor int) {
	c.setDevices(int32(n), int32(major), int32(minor))
}

// LiveAllocs is the number of device allocations not yet freed.
func (c *Control) LiveAllocs() int64 { return c.liveAllocs() }

// SetNVRTCArchs sets the SM versions the fake NVRTC supports (at most 7).
func (c *Control) SetNVRTCArchs(archs ...int32) {
	c.nvrtcArchs(unsafe.Pointer(&archs[0]), int32(len(archs)))
}

// SetCuDNNNondeterministic makes the fake cuDNN offer only
// non-deterministic algorithms (on) or one deterministic one (off).
func (c *Control) SetCuDNNNondeterministic(on bool) {
	v := int32(0)
	if on {
		v = 1
	}
	c.dnnNondeterministic(v)
}

// SetCuDNNMath makes the fake cuDNN's algorithms report math type m
// (cuDNN's enum: 0 default, 1 tensor ops, 3 FMA); -1 restores the
// descriptor's.
func (c *Control) SetCuDNNMath(m int) { c.dnnMath(int32(m)) }

// Lines returns the lines of log that start with call.
func Lines(log, call string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.HasPrefix(l, call+" ") || l == call {
			out = append(out, l)
		}
	}
	return out
}
