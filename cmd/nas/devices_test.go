package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/effnas/effnas/trainer/cuda"
	"github.com/effnas/effnas/trainer/cuda/cudatest"
)

func TestMain(m *testing.M) {
	// the helper process of TestDevicesOnFakeGPU runs the program itself
	if args := os.Getenv("EFFNAS_NAS_HELPER_ARGS"); args != "" {
		os.Exit(run(strings.Fields(args), os.Stdout, os.Stderr))
	}
	os.Exit(cudatest.Run(m))
}

// noGPU skips the test on a machine where a GPU is usable.
func noGPU(t *testing.T) {
	t.Helper()
	if r := cuda.Probe(); r.NoGPU == nil {
		t.Skip("a GPU is present")
	}
}

func TestDevicesWithoutGPU(t *testing.T) {
	noGPU(t)
	out, errs, code := nas(t, "devices")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "cpu ") || !strings.Contains(lines[0], "float32 kernels: ") ||
		!strings.HasPrefix(lines[1], "cuda     none: ") {
		t.Fatalf("listing:\n%s", out)
	}
	out, _, code = nas(t, "devices", "--json")
	if code != 0 || !strings.Contains(out, `"gpus": []`) || !strings.Contains(out, `"no_gpu": "`) || !strings.Contains(out, `"backend": "`) {
		t.Fatalf("json:\n%s", out)
	}
}

// TestNoGPUIsOneLineOfError is what `nas bench bench-dw --device cuda`
// will print on a machine without a GPU: the commands call openDevice.
func TestNoGPUIsOneLineOfError(t *testing.T) {
	noGPU(t)
	d, err := openDevice("cuda", false)
	if d != nil || err == nil || !strings.HasPrefix(err.Error(), "cuda:0: no NVIDIA driver: libcuda.so.1 or libcuda.so (CUDA driver) not found") ||
		strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v", err)
	}
	out, errs, code := nas(t, "devices", "--check")
	if code != 1 || out != "" || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "nas devices: cuda:0: no NVIDIA driver: ") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if d, err := openDevice("cpu", false); d != nil || err != nil {
		t.Errorf("cpu: %v %v", d, err)
	}
	_, errs, code = nas(t, "devices", "--check", "--device", "tpu")
	if code != 2 || !strings.Contains(errs, `--device: device "tpu": want cpu, cuda or cuda:N`) {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestDevicesSource(t *testing.T) {
	out, _, code := nas(t, "devices", "--source")
	if code != 0 || !strings.Contains(out, "EXTERN_C __global__ void dw_fwd(") {
		t.Fatalf("exit %d:\n%.200s", code, out)
	}
}

// TestDevicesOnFakeGPU runs `nas devices` and `nas devices --check` in a
// child process against the fake CUDA libraries (kernels on the CPU
// emulator): the listing, the library report and the parity table.
func TestDevicesOnFakeGPU(t *testing.T) {
	dir := cudatest.Dir(t, cudatest.Full)
	runNas := func(args string) (string, int) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "EFFNAS_NAS_HELPER_ARGS="+args, "EFFNAS_CUDA_LIBS="+dir, "EFFNAS_CUDA_CACHE=off")
		out, err := cmd.CombinedOutput()
		code := 0
		if e, ok := err.(*exec.ExitError); ok {
			code = e.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	out, code := runNas("devices")
	for _, want := range []string{"cuda:0   Fake GPU 0, compute capability 9.0 (sm_90), 80.0 GiB, 132 SMs at 1980 MHz", "driver CUDA 13.0",
		"libraries:", dir + "/libcuda.so.1 (13.0)", dir + "/libnvrtc.so.13 (13.0)", dir + "/libcublas.so.13 (13.1.0)", dir + "/libcudnn.so.9 (9.10.0)"} {
		if !strings.Contains(out, want) {
			t.Errorf("listing lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	out, code = runNas("devices --check --only Depthwise")
	if code != 0 || !strings.Contains(out, "cuda:0 (Fake GPU 0, sm_90), FP32 arithmetic") || !strings.Contains(out, "compiled for sm_90 as CUBIN") ||
		!strings.Contains(out, "parity: 24 of 24 outputs match the CPU") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
