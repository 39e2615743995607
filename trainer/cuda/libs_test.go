package cuda

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tree makes empty files (and their directories) under root.
func tree(t *testing.T, root string, files ...string) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func findAll(t *testing.T, s searchPaths, specs ...libSpec) map[string]string {
	t.Helper()
	found := map[string]string{}
	for _, sp := range specs {
		p, err := s.findLib(sp, found)
		if err != nil {
			t.Fatalf("%s: %v", sp.key, err)
		}
		found[sp.key] = p
	}
	return found
}

func TestSearchToolkitPrefersNewestCUDA(t *testing.T) {
	root := t.TempDir()
	tree(t, root,
		"usr/local/cuda-12.4/lib64/libcublas.so.12", "usr/local/cuda-12.4/lib64/libcublasLt.so.12",
		"usr/local/cuda-13.0/lib64/libcublas.so.13", "usr/local/cuda-13.0/lib64/libcublasLt.so.13",
		"usr/local/cuda-13.0/lib64/libnvrtc.so.13", "usr/local/cuda-13.0/lib64/libnvrtc-builtins.so.13.0",
		"usr/local/cuda-13.0/lib64/libnvrtc-builtins.so.13.1",
		"usr/lib/"+triplet()+"/libcuda.so.1")
	s := searchFor(root, envOf(nil))
	got := findAll(t, s, specDriver, specCublasLt, specCublas, specNVRTC, specNVRTCBuiltins)
	want := map[string]string{
		"cuda":           "usr/lib/" + triplet() + "/libcuda.so.1",
		"cublasLt":       "usr/local/cuda-13.0/lib64/libcublasLt.so.13",
		"cublas":         "usr/local/cuda-13.0/lib64/libcublas.so.13",
		"nvrtc":          "usr/local/cuda-13.0/lib64/libnvrtc.so.13",
		"nvrtc-builtins": "usr/local/cuda-13.0/lib64/libnvrtc-builtins.so.13.1",
	}
	for k, w := range want {
		if got[k] != filepath.Join(root, w) {
			t.Errorf("%s: got %s, want %s", k, got[k], filepath.Join(root, w))
		}
	}
	// the cuda-13.0 directory is searched before cuda-12.4
	var i13, i12 = -1, -1
	for i, d := range s.toolkit {
		switch d {
		case filepath.Join(root, "usr/local/cuda-13.0/lib64"):
			i13 = i
		case filepath.Join(root, "usr/local/cuda-12.4/lib64"):
			i12 = i
		}
	}
	if i13 < 0 || i12 < 0 || i13 > i12 {
		t.Errorf("toolkit order %v: want cuda-13.0 before cuda-12.4", s.toolkit)
	}
}

func TestSearchPythonWheels(t *testing.T) {
	root := t.TempDir()
	sp := "venv/lib/python3.12/site-packages/nvidia"
	tree(t, root, "venv/bin/python3",
		sp+"/cu13/lib/libcublas.so.13", sp+"/cu13/lib/libcublasLt.so.13", sp+"/cu13/lib/libnvrtc.so.13",
		sp+"/cu13/lib/libnvrtc-builtins.so.13.0", sp+"/cu13/lib/libcudart.so.13",
		sp+"/cudnn/lib/libcudnn.so.9", sp+"/cudnn/lib/libcudnn_graph.so.9",
		"home/u/.local/lib/python3.11/site-packages/nvidia/cudnn/lib/libcudnn.so.9")
	env := envOf(map[string]string{"PATH": filepath.Join(root, "venv/bin") + ":/nonexistent", "HOME": filepath.Join(root, "home/u")})
	s := searchFor(root, env)
	got := findAll(t, s, specCublasLt, specCublas, specNVRTC, specNVRTCBuiltins, specCudart, specCudnn)
	for k, w := range map[string]string{
		"cublas": sp + "/cu13/lib/libcublas.so.13", "cublasLt": sp + "/cu13/lib/libcublasLt.so.13",
		"nvrtc": sp + "/cu13/lib/libnvrtc.so.13", "nvrtc-builtins": sp + "/cu13/lib/libnvrtc-builtins.so.13.0",
		"cudart": sp + "/cu13/lib/libcudart.so.13",
		// the python3 on PATH comes before the user's site-packages
		"cudnn": sp + "/cudnn/lib/libcudnn.so.9",
	} {
		if got[k] != filepath.Join(root, w) {
			t.Errorf("%s: got %s, want %s", k, got[k], filepath.Join(root, w))
		}
	}
	// the user's site-packages are searched too
	if !contains(s.toolkit, filepath.Join(root, "home/u/.local/lib/python3.11/site-packages/nvidia/cudnn/lib")) {
		t.Errorf("~/.local site-packages missing from %v", s.toolkit)
	}
	// the driver is never looked for among the wheels
	if _, err := s.findLib(specDriver, map[string]string{}); !errors.Is(err, ErrNoDriver) {
		t.Errorf("driver: got %v, want ErrNoDriver", err)
	}
}

func TestSearchSystemDistPackagesAndCUDAHome(t *testing.T) {
	root := t.TempDir()
	tree(t, root, "usr/lib/python3/dist-packages/nvidia/cudnn/lib/libcudnn.so.9",
		"opt/cuda/lib64/libnvrtc.so.12", "opt/cuda/lib64/libnvrtc-builtins.so.12.8")
	s := searchFor(root, envOf(map[string]string{"CUDA_HOME": filepath.Join(root, "opt/cuda")}))
	got := findAll(t, s, specCudnn, specNVRTC, specNVRTCBuiltins)
	if want := filepath.Join(root, "usr/lib/python3/dist-packages/nvidia/cudnn/lib/libcudnn.so.9"); got["cudnn"] != want {
		t.Errorf("cudnn: got %s, want %s", got["cudnn"], want)
	}
	if want := filepath.Join(root, "opt/cuda/lib64/libnvrtc-builtins.so.12.8"); got["nvrtc-builtins"] != want {
		t.Errorf("builtins: got %s, want %s", got["nvrtc-builtins"], want)
	}
}

func TestSearchOverrideComesFirst(t *testing.T) {
	root := t.TempDir()
	tree(t, root, "usr/local/cuda/lib64/libcublas.so.13", "usr/local/cuda/lib64/libcublasLt.so.13",
		"mine/libcublas.so.13", "mine/libcublasLt.so.13", "mine/libcuda.so.1", "usr/lib64/libcuda.so.1")
	s := searchFor(root, envOf(map[string]string{EnvLibs: filepath.Join(root, "mine") + ":" + filepath.Join(root, "missing")}))
	got := findAll(t, s, specDriver, specCublasLt, specCublas)
	for _, k := range []string{"cuda", "cublasLt", "cublas"} {
		if filepath.Dir(got[k]) != filepath.Join(root, "mine") {
			t.Errorf("%s: got %s, want it from the override directory", k, got[k])
		}
	}
}

func TestSearchSameMajorAsDependency(t *testing.T) {
	// cuBLASLt 12 only; cuBLAS 13 elsewhere must not be paired with it
	root := t.TempDir()
	tree(t, root, "usr/local/cuda-12.8/lib64/libcublasLt.so.12", "usr/local/cuda-12.8/lib64/libcublas.so.12",
		"usr/local/cuda-13.0/lib64/libcublas.so.13")
	got := findAll(t, searchFor(root, envOf(nil)), specCublasLt, specCublas)
	if want := filepath.Join(root, "usr/local/cuda-12.8/lib64/libcublas.so.12"); got["cublas"] != want {
		t.Errorf("cublas: got %s, want %s (the major of cuBLASLt)", got["cublas"], want)
	}
}

func TestSearchNotFoundIsOneClearLine(t *testing.T) {
	root := t.TempDir()
	tree(t, root, "usr/local/cuda/lib64/libcudart.so.13")
	s := searchFor(root, envOf(nil))
	_, err := s.findLib(specCublas, map[string]string{})
	if !errors.Is(err, ErrLibrary) {
		t.Fatalf("got %v, want ErrLibrary", err)
	}
	msg := err.Error()
	for _, want := range []string{"libcublas.so.13 or libcublas.so.12", "cuBLAS", "not found", filepath.Join(root, "usr/local/cuda/lib64"), EnvLibs} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	_, err = searchPaths{}.findLib(specDriver, map[string]string{})
	if !errors.Is(err, ErrNoDriver) || !strings.Contains(err.Error(), "no candidate directory exists") {
		t.Errorf("empty search: got %v", err)
	}
}

func TestVersionOrder(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{{"cuda-12.9", "cuda-13.0", true}, {"cuda-13.0", "cuda-12.9", false}, {"x.so.13.0", "x.so.13.10", true}, {"cuda-12", "cuda-12.1", true}} {
		if got := versionLess(c.a, c.b); got != c.less {
			t.Errorf("versionLess(%q, %q) = %v", c.a, c.b, got)
		}
	}
	if major("libnvrtc-builtins.so.13*") != "13" || major("libcublas.so.12") != "12" || major("libx.so") != "" {
		t.Error("major")
	}
}

func TestParseDevice(t *testing.T) {
	for in, want := range map[string]int{"cpu": -1, "": -1, "cuda": 0, "gpu": 0, "cuda:0": 0, "cuda:3": 3} {
		if got, err := ParseDevice(in); err != nil || got != want {
			t.Errorf("ParseDevice(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"cuda:", "cuda:-1", "cuda:x", "tpu", "cuda0"} {
		_, err := ParseDevice(in)
		if err == nil || !strings.Contains(err.Error(), "want cpu, cuda or cuda:N") {
			t.Errorf("ParseDevice(%q): got %v", in, err)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
