package cudaops

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/effnas/effnas/trainer/cuda"
	"github.com/effnas/effnas/trainer/cuda/cudatest"
)

func TestMain(m *testing.M) { os.Exit(cudatest.Run(m)) }

// fakeDevice opens the fake GPU (kernels run on the CPU emulator).
func fakeDevice(t *testing.T, opts *cuda.Options) (*cuda.Device, *cudatest.Control) {
	t.Helper()
	dir := cudatest.Dir(t, cudatest.Full)
	ctl := cudatest.Controls(t, dir)
	ctl.SetDevices(1, 9, 0)
	if os.Getenv(EnvCache) == "" {
		t.Setenv(EnvCache, "off")
	}
	d, err := cuda.Open(0, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, ctl
}

func TestSourceMatchesTheLaunchTable(t *testing.T) {
	src := Source()
	seen := map[string]bool{}
	for _, kn := range kernels {
		if seen[kn.name] {
			t.Errorf("kernel %s defined twice", kn.name)
		}
		seen[kn.name] = true
		if kernelByID[kn.name] == nil {
			t.Errorf("kernel %s missing from the index", kn.name)
		}
		// exactly one definition, with the table's parameters in order
		def := fmt.Sprintf("EXTERN_C __global__ void %s(%s) {", kn.name, cParams(kn.params))
		if n := strings.Count(src, def); n != 1 {
			t.Errorf("%s: %d definitions %q", kn.name, n, def)
		}
		// the emulator's trampoline and signature
		var sig strings.Builder
		var unpack []string
		for i, p := range kn.params {
			sig.WriteByte(p.sig())
			unpack = append(unpack, fmt.Sprintf("*(%s *)p[%d]", p.typ, i))
		}
		if !strings.Contains(src, fmt.Sprintf("const char *emu_sig_%s = %q;", kn.name, sig.String())) ||
			!strings.Contains(src, fmt.Sprintf("void emu_%s(void **p) { %s(%s); }", kn.name, kn.name, strings.Join(unpack, ", "))) {
			t.Errorf("%s: trampoline or signature missing", kn.name)
		}
		// every parameter is used by the body
		for _, p := range kn.params {
			if !regexp.MustCompile(`\b` + p.name + `\b`).MatchString(kn.body) {
				t.Errorf("%s: parameter %s unused", kn.name, p.name)
			}
		}
		// no early return in a kernel that synchronises (the emulator and
		// the GPU would both deadlock or misbehave)
		if strings.Contains(kn.body, "__syncthreads") && strings.Contains(kn.body, "return") {
			t.Errorf("%s: returns early and synchronises", kn.name)
		}
	}
	if got := len(KernelNames()); got != len(kernels) {
		t.Errorf("KernelNames: %d, table %d", got, len(kernels))
	}
}

// TestSourceIsCUDACpp compiles the source as C++ (what NVRTC sees) against
// stand-in declarations of the CUDA built-ins: it catches C++-only errors
// the C emulator would accept.
func TestSourceIsCUDACpp(t *testing.T) {
	gxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("g++ not found")
	}
	dir := t.TempDir()
	header := `#include <math.h>
struct uint3 { unsigned x, y, z; };
struct dim3 { unsigned x, y, z; };
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
#define __global__ __attribute__((used))
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static
void __syncthreads();
`
	if err := os.WriteFile(filepath.Join(dir, "cuda.h"), []byte(header), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "k.cu")
	if err := os.WriteFile(src, []byte(Source()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(gxx, "-std=c++17", "-fsyntax-only", "-Wall", "-Wno-unused-variable", "-Werror",
		"-include", filepath.Join(dir, "cuda.h"), "-x", "c++", src).CombinedOutput()
	if err != nil {
		t.Fatalf("the kernels are not valid C++: %v\n%s", err, out)
	}
}

func TestParityOnTheEmulator(t *testing.T) {
	d, _ := fakeDevice(t, nil)
	var rs []Result
	var launched map[string]int
	err := d.Do(func(c *cuda.Ctx) error {
		k, err := Load(c)
		if err != nil {
			return err
		}
		defer k.Close(c)
		rs, err = Check(c, k, CheckOptions{Seed: 1})
		launched = k.Launched
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if fails := PrintResults(&b, rs); fails > 0 {
		t.Errorf("%d mismatches:\n%s", fails, b.String())
	} else {
		t.Logf("\n%s", b.String())
	}
	// every kernel of the table ran, so every launch wrapper passed
	// arguments of the table's kinds (launch checks) to a kernel whose
	// emulated signature came from the same table
	for _, name := range KernelNames() {
		if launched[name] == 0 {
			t.Errorf("kernel %s never launched by the check", name)
		}
	}
	if len(rs) < 60 {
		t.Errorf("only %d results", len(rs))
	}
}

// TestCheckCatchesAWrongKernel makes sure the parity check can fail: the
// same check against a kernel with a deliberate error reports a mismatch.
func TestCheckCatchesAWrongKernel(t *testing.T) {
	d, _ := fakeDevice(t, nil)
	saved := kernels
	defer func() { kernels = saved; resetSource() }()
	kernels = append([]kernel(nil), saved...)
	for i := range kernels {
		if kernels[i].name == "dw_bwd_x" {
			// drop the last tap
			kernels[i].body = strings.Replace(kernels[i].body, "kx < kw", "kx < kw - (ky == kh - 1)", 1)
		}
	}
	resetSource()
	var rs []Result
	err := d.Do(func(c *cuda.Ctx) error {
		k, err := Load(c)
		if err != nil {
			return err
		}
		defer k.Close(c)
		rs, err = Check(c, k, CheckOptions{Seed: 1, Only: "Depthwise"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, r := range rs {
		if !r.Pass {
			bad++
			if r.Output != "dx" || !strings.HasPrefix(r.Op, "DepthwiseConv2D") {
				t.Errorf("unexpected mismatch %+v", r)
			}
		}
	}
	if bad == 0 {
		t.Error("the check did not notice a wrong depthwise input gradient")
	}
}

func TestLaunchRejectsWrongArguments(t *testing.T) {
	kn := kernelByID["silu_fwd"]
	if kn == nil {
		Source()
		kn = kernelByID["silu_fwd"]
	}
	if err := checkArgs(kn, []cuda.Arg{cuda.IntArg(1)}); err == nil || !strings.Contains(err.Error(), "takes 3 arguments, got 1") {
		t.Errorf("count: %v", err)
	}
	err := checkArgs(kn, []cuda.Arg{cuda.IntArg(1), cuda.IntArg(1), cuda.IntArg(1)})
	if err == nil || !strings.Contains(err.Error(), "argument 0 (float* y) is a int") {
		t.Errorf("kind: %v", err)
	}
}

func TestKernelCache(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(EnvCache, cache)
	d, ctl := fakeDevice(t, nil)
	resetImages()
	ctl.ResetLogs()
	load := func() *Kernels {
		var k *Kernels
		if err := d.Do(func(c *cuda.Ctx) (err error) { k, err = Load(c); return err }); err != nil {
			t.Fatal(err)
		}
		return k
	}
	if k := load(); k.Cached {
		t.Error("first load came from a cache")
	}
	files, _ := filepath.Glob(filepath.Join(cache, "*-sm_90.cubin"))
	if len(files) != 1 {
		t.Fatalf("cache holds %v", files)
	}
	resetImages() // a new process: only the disk cache is left
	if k := load(); !k.Cached {
		t.Error("second load did not use the disk cache")
	}
	if n := strings.Count(ctl.NVRTCLog(), "nvrtcCompileProgram"); n != 1 {
		t.Errorf("compiled %d times, want 1", n)
	}
}

func TestWrappersCheckSizes(t *testing.T) {
	d, _ := fakeDevice(t, nil)
	err := d.Do(func(c *cuda.Ctx) error {
		k, err := Load(c)
		if err != nil {
			return err
		}
		defer k.Close(c)
		small, _ := c.Alloc(4)
		defer c.Free(small)
		if err := k.SiLU(c, small, small, 5); err == nil || err.Error() != "cudaops.SiLU: y needs 5 elements, its buffer holds 4" {
			return fmt.Errorf("SiLU: %v", err)
		}
		if err := k.DepthwiseForward(c, small, small, small, DWGeom{N: 1, H: 0, W: 1, C: 1, KH: 1, KW: 1, Stride: 1}); err == nil ||
			!strings.Contains(err.Error(), "sizes must be positive") {
			return fmt.Errorf("Depthwise: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// resetSource regenerates the source from the (changed) table.
func resetSource() {
	sourceOnce = sync.Once{}
	sourceText = ""
	Source()
}

// resetImages forgets the images compiled in this process.
func resetImages() {
	imgMu.Lock()
	imgCache = map[string]cuda.Image{}
	imgMu.Unlock()
}

func TestBenchRunsOnTheEmulator(t *testing.T) {
	d, _ := fakeDevice(t, nil)
	var rs []BenchResult
	err := d.Do(func(c *cuda.Ctx) error {
		k, err := Load(c)
		if err != nil {
			return err
		}
		defer k.Close(c)
		rs, err = Bench(c, k, BenchOptions{Reps: 3, Depthwise: []DWGeom{{N: 2, H: 6, W: 6, C: 8, KH: 3, KW: 3, Stride: 2}}, BN: [][2]int{{50, 8}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Ours <= 0 || rs[0].CuDNN <= 0 || rs[1].Ours <= 0 || rs[1].CuDNN != 0 {
		t.Fatalf("%+v", rs)
	}
	var b strings.Builder
	PrintBench(&b, rs)
	if !regexp.MustCompile(`depthwise k3 s2 fwd\+dx\+dw +\(2,6,6,8\) +[0-9.]+ +[0-9]+ +[0-9.]+ +[0-9.]+\n`).MatchString(b.String()) ||
		!regexp.MustCompile(`BatchNorm\+SiLU train fwd\+bwd +\(50,8\) +[0-9.]+ +[0-9]+ +- +-\n`).MatchString(b.String()) {
		t.Errorf("table:\n%s", b.String())
	}
}

// TestConvFailureFreesEverything: a convolution (or a BatchNorm layer) that
// cannot be prepared is an error, with nothing left allocated.
func TestConvFailureFreesEverything(t *testing.T) {
	d, ctl := fakeDevice(t, nil)
	shape := ConvShape{N: 2, H: 8, W: 8, Cin: 4, KH: 3, KW: 3, Cout: 4, Stride: 2} // padded: 4 allocations
	err := d.Do(func(c *cuda.Ctx) error {
		k, err := Load(c)
		if err != nil {
			return err
		}
		defer k.Close(c)
		before := ctl.LiveAllocs()
		ctl.SetCuDNNMath(1) // only tensor-op algorithms: refused in FP32 mode
		_, err = k.NewConv(c, shape)
		ctl.SetCuDNNMath(-1)
		if err == nil || !strings.Contains(err.Error(), "offers no FP32 (FMA) algorithm") {
			return fmt.Errorf("NewConv with tensor-op algorithms: %v", err)
		}
		for skip := 0; skip < 4; skip++ {
			ctl.FailLater("cuMemAlloc_v2", 2, skip)
			if _, err := k.NewConv(c, shape); err == nil || !strings.Contains(err.Error(), "CUDA_ERROR_OUT_OF_MEMORY") {
				return fmt.Errorf("allocation %d failing: %v", skip, err)
			}
		}
		if n := ctl.LiveAllocs(); n != before {
			return fmt.Errorf("%d allocations left behind", n-before)
		}
		ctl.FailLater("cuMemAlloc_v2", 2, 6)
		if _, err := k.NewBatchNorm(c, 8, 0.9, 1e-3); err == nil {
			return fmt.Errorf("NewBatchNorm with a failing allocation succeeded")
		}
		cv, err := k.NewConv(c, shape)
		if err != nil {
			return err
		}
		cv.Free(c)
		if n := ctl.LiveAllocs(); n != before {
			return fmt.Errorf("%d allocations left after Free", n-before)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOptimizerGuard: an optimizer step whose guard (the step's loss) is
// NaN or infinite changes nothing; a finite one updates.
func TestOptimizerGuard(t *testing.T) {
	d, _ := fakeDevice(t, nil)
	err := d.Do(func(c *cuda.Ctx) error {
		k, err := Load(c)
		if err != nil {
			return err
		}
		defer k.Close(c)
		const n = 5
		bufs := make([]cuda.Buffer, 5)
		for i := range bufs {
			if bufs[i], err = c.Alloc(n); err != nil {
				return err
			}
			defer c.Free(bufs[i])
		}
		w, g, s1, s2, guard := bufs[0], bufs[1], bufs[2], bufs[3], bufs[4]
		for _, loss := range []float32{float32(math.NaN()), float32(math.Inf(1)), 2.5} {
			for _, opt := range []string{"rmsprop", "adam", "sgd"} {
				w0 := []float32{1, 2, 3, 4, 5}
				if err := c.Upload(w, w0); err != nil {
					return err
				}
				for _, b := range []cuda.Buffer{g, s1, s2} {
					if err := c.Fill(b, 0.5); err != nil {
						return err
					}
				}
				if err := c.Upload(guard, []float32{loss}); err != nil {
					return err
				}
				switch opt {
				case "rmsprop":
					err = k.RMSPropStep(c, w, g, s1, s2, n, RMSProp{LR: 0.1, Decay: 0.9, Momentum: 0.9, Eps: 1e-3, Guard: guard.Slice(0, 1)})
				case "adam":
					err = k.AdamStep(c, w, g, s1, s2, n, Adam{Step: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Guard: guard.Slice(0, 1)})
				default:
					err = k.SGDStep(c, w, g, s1, n, SGD{LR: 0.1, Momentum: 0.9, Guard: guard.Slice(0, 1)})
				}
				if err != nil {
					return err
				}
				got := make([]float32, n)
				if err := c.Download(got, w); err != nil {
					return err
				}
				finite := !math.IsNaN(float64(loss)) && !math.IsInf(float64(loss), 0)
				for i := range got {
					if (got[i] == w0[i]) == finite {
						t.Errorf("%s with loss %v: w[%d] %v from %v", opt, loss, i, got[i], w0[i])
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
