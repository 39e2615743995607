package trainer

import (
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/effnas/effnas/trainer/cuda"
)

func TestDevicesListing(t *testing.T) {
	libs := []cuda.Library{{Key: "cuda", What: "CUDA driver", Path: "/lib/libcuda.so.1", Version: "13.0"},
		{Key: "nvrtc", What: "NVRTC", Path: "/lib/libnvrtc.so.13"}, {Key: "cudnn", What: "cuDNN", Err: errors.New("not found")}}
	gpu := cuda.DeviceInfo{Index: 0, Name: "H100", Major: 9, Minor: 0, Memory: 80 << 30, SMs: 132, ClockMHz: 1980, PCIBus: 4, Driver: "13.0"}
	v := devicesOf("Xeon", 16, 8, "avx2", []string{"avx2", "go"}, cuda.Report{Driver: "13.0", Devices: []cuda.DeviceInfo{gpu}, Libraries: libs})
	var b strings.Builder
	if err := v.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "cpu      Xeon, 16 cores (GOMAXPROCS 8, " + runtime.GOOS + "/" + runtime.GOARCH + "), float32 kernels: avx2 (available: avx2, go)\n" +
		"cuda:0   H100, compute capability 9.0 (sm_90), 80.0 GiB, 132 SMs at 1980 MHz, PCI bus 4, driver CUDA 13.0\n" +
		"libraries:\n" +
		"  cuda            /lib/libcuda.so.1 (13.0)\n" +
		"  nvrtc           /lib/libnvrtc.so.13\n" +
		"  cudnn           not loaded: not found\n"
	if b.String() != want {
		t.Fatalf("listing:\n%s\nwant:\n%s", b.String(), want)
	}

	none := devicesOf("Xeon", 2, 2, "go", []string{"go"}, cuda.Report{NoGPU: errors.New("no NVIDIA driver"), Libraries: libs[2:]})
	b.Reset()
	none.WriteText(&b)
	if lines := strings.Split(strings.TrimSpace(b.String()), "\n"); len(lines) != 2 || lines[1] != "cuda     none: no NVIDIA driver" {
		t.Fatalf("without a GPU:\n%s", b.String())
	}
	js, _ := json.Marshal(none)
	if s := string(js); !strings.Contains(s, `"gpus":[]`) || !strings.Contains(s, `"no_gpu":"no NVIDIA driver"`) ||
		!strings.Contains(s, `{"key":"cudnn","what":"cuDNN","error":"not found"}`) || !strings.Contains(s, `"backends":["go"]`) {
		t.Fatalf("JSON %s", s)
	}
}
