package cudaops

import (
	"regexp"
	"strings"
	"testing"
)

// CheckDevice names the device and how the kernels were loaded, prints the
// parity table and fails on a mismatch, after the table.
func TestCheckDevice(t *testing.T) {
	d, _ := fakeDevice(t, nil)
	var b strings.Builder
	if err := CheckDevice(&b, d, DeviceCheck{Parity: true, CheckOptions: CheckOptions{Seed: 1, Only: "Depthwise"}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.HasPrefix(out, "cuda:0 (Fake GPU 0, sm_90), FP32 arithmetic in cuBLAS/cuDNN") || !regexp.MustCompile(`\nkernels: [0-9]+, (compiled|from the cache) for sm_90 as CUBIN in `).MatchString(out) ||
		!strings.HasSuffix(out, "parity: 24 of 24 outputs match the CPU\n") {
		t.Fatalf("output:\n%s", out)
	}

	saved := kernels
	defer func() { kernels = saved; resetSource() }()
	kernels = append([]kernel(nil), saved...)
	for i := range kernels {
		if kernels[i].name == "dw_bwd_x" {
			kernels[i].body = strings.Replace(kernels[i].body, "kx < kw", "kx < kw - (ky == kh - 1)", 1)
		}
	}
	resetSource()
	b.Reset()
	err := CheckDevice(&b, d, DeviceCheck{Parity: true, CheckOptions: CheckOptions{Seed: 1, Only: "Depthwise"}})
	if err == nil || !strings.Contains(err.Error(), "GPU outputs differ from the CPU ops") || !strings.Contains(b.String(), "parity: ") {
		t.Fatalf("a wrong kernel: %v\n%s", err, b.String())
	}
}
