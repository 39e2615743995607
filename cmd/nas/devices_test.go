package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/cuda"
	"github.com/effnas/effnas/trainer/cuda/cudatest"
	"github.com/effnas/effnas/trainer/data"
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
	runNas := func(args string) (string, int) { return nasOnFakeGPU(t, dir, strings.Fields(args)...) }
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

// TestDeviceSettings: what train, eval, bench, search and worker will call
// for --device. On the CPU the settings are unchanged; a malformed name
// is a usage error; without a GPU the error is one line.
func TestDeviceSettings(t *testing.T) {
	s0 := trainer.Settings{Seed: 4, LR: 0.1}
	s, release, err := deviceSettings("cpu", false, s0)
	if err != nil || s.Device != nil || s.Seed != 4 || s.LR != 0.1 || release() != nil {
		t.Fatalf("cpu: %+v, %v", s, err)
	}
	var ue usageError
	if _, _, err := deviceSettings("gpu0", false, s0); !errors.As(err, &ue) || !strings.Contains(err.Error(), `device "gpu0": want cpu, cuda or cuda:N`) {
		t.Errorf("malformed name: %v", err)
	}
	noGPU(t)
	s, release, err = deviceSettings("cuda", false, s0)
	if err == nil || release != nil || s.Device != nil || strings.Contains(err.Error(), "\n") ||
		!strings.HasPrefix(err.Error(), "cuda:0: no NVIDIA driver: ") {
		t.Fatalf("no GPU: %v", err)
	}
}

// TestDeviceSettingsOnFakeGPU runs deviceSettingsOnFakeGPU in a child
// process (the process's CUDA libraries are chosen once) against the fake
// CUDA libraries: the settings train on the device.
func TestDeviceSettingsOnFakeGPU(t *testing.T) {
	if os.Getenv("EFFNAS_DEVICE_SETTINGS_CHILD") != "" {
		deviceSettingsOnFakeGPU(t)
		return
	}
	dir := cudatest.Dir(t, cudatest.Full)
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeviceSettingsOnFakeGPU$", "-test.v")
	cmd.Env = append(os.Environ(), "EFFNAS_DEVICE_SETTINGS_CHILD=1", "EFFNAS_CUDA_LIBS="+dir, "EFFNAS_CUDA_CACHE=off")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestDeviceSettingsOnFakeGPU") {
		t.Fatalf("%v:\n%s", err, out)
	}
}

func deviceSettingsOnFakeGPU(t *testing.T) {
	for _, tf32 := range []bool{false, true} {
		s, release, err := deviceSettings("cuda:0", tf32, trainer.Settings{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		g := s.Device.GPU()
		want := map[bool]string{false: "FP32", true: "TF32"}[tf32]
		if g.Name != "Fake GPU 0" || g.Capability != "9.0" || g.Precision != want || !strings.Contains(g.Libraries, "cudnn 9.10.0") {
			t.Errorf("GPU %+v", g)
		}
		if !tf32 {
			a, _ := searchspace.Reference("bench-dw")
			a = a.WithInput(8, 1, 4, true)
			ds, err := data.Synthetic(data.SyntheticConfig{Size: 8, Channels: 1, Classes: 4, Count: 16, Seed: 1}, "train")
			if err != nil {
				t.Fatal(err)
			}
			res, _, err := trainer.Train(context.Background(), trainer.Problem{Arch: a, Data: ds, Train: ds.All()[:12], Val: ds.All()[12:]}, s,
				trainer.Budget{Steps: 1, Batch: 4, EvalBatch: 4, RecalBatches: -1, TimingSteps: -1})
			if err != nil || res.Host.GPU == nil || res.Host.GPU.Name != "Fake GPU 0" || !(res.Loss > 0) {
				t.Fatalf("training on the device: %+v, %v", res.Host.GPU, err)
			}
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := deviceSettings("cuda:1", false, trainer.Settings{}); err == nil || !strings.Contains(err.Error(), "cuda:1: no CUDA device") {
		t.Errorf("cuda:1 of one GPU: %v", err)
	}
}

func TestDeviceFlags(t *testing.T) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	f := addDeviceFlags(fs)
	if err := fs.Parse([]string{"--device", "cpu", "--tf32"}); err != nil {
		t.Fatal(err)
	}
	s, release, err := f.settings(trainer.Settings{Seed: 2})
	if err != nil || s.Device != nil || s.Seed != 2 || release() != nil || !*f.tf32 {
		t.Fatalf("%+v, %v", s, err)
	}
	if err := fs.Parse([]string{"--device", "cuda:x"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.settings(trainer.Settings{}); err == nil || !strings.Contains(err.Error(), `--device: device "cuda:x"`) {
		t.Errorf("cuda:x: %v", err)
	}
}

// TestTrainEvalBenchOnFakeGPU runs `nas train`, `nas eval` and `nas bench`
// with --device cuda in a child process against the fake CUDA libraries:
// the commands open the device, the trainer runs its device programs (on
// the CPU emulator), and the GPU's checkpoint scores the same on the CPU.
func TestTrainEvalBenchOnFakeGPU(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the CUDA emulator")
	}
	dir := cudatest.Dir(t, cudatest.Full)
	runNas := func(args ...string) (string, int) { t.Helper(); return nasOnFakeGPU(t, dir, args...) }
	arch := filepath.Join(t.TempDir(), "tiny.json")
	writeTiny(t, arch)
	ck := filepath.Join(t.TempDir(), "gpu.safetensors")
	out, code := runNas("train", arch, "--device", "cuda", "--dataset", "synthetic", "--epochs", "0.1", "--batch", "16", "-o", ck)
	if code != 0 || !strings.Contains(out, "test accuracy") {
		t.Fatalf("train: exit %d\n%s", code, out)
	}
	gpu, code := runNas("eval", ck, "--device", "cuda", "--dataset", "synthetic")
	if code != 0 {
		t.Fatalf("eval on the GPU: exit %d\n%s", code, gpu)
	}
	cpu, code := runNas("eval", ck, "--dataset", "synthetic")
	// the same weights score the same images alike: the accuracy to the
	// printed digit (the loss may differ in its last digits: the sums run
	// in another order)
	acc := func(s string) string {
		_, a, _ := strings.Cut(s, " accuracy ")
		a, _, _ = strings.Cut(a, " ")
		return a
	}
	if code != 0 || acc(cpu) == "" || acc(cpu) != acc(gpu) {
		t.Fatalf("eval on the CPU: exit %d\n%s\non the GPU:\n%s", code, cpu, gpu)
	}
	out, code = runNas("bench", arch, "--device", "cuda", "--batch", "4", "--steps", "2", "--warmup", "1", "--json")
	if code != 0 || !strings.Contains(out, `"gpu"`) {
		t.Fatalf("bench: exit %d\n%s", code, out)
	}
}

// nasOnFakeGPU runs nas with args in a child process (this test binary)
// against the fake CUDA libraries in dir, and returns its combined output
// and exit status.
func nasOnFakeGPU(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EFFNAS_NAS_HELPER_ARGS="+strings.Join(args, " "), "EFFNAS_CUDA_LIBS="+dir, "EFFNAS_CUDA_CACHE=off")
	out, err := cmd.CombinedOutput()
	code := 0
	if e, ok := err.(*exec.ExitError); ok {
		code = e.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}
