package measure

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

var testGPU = GPU{Name: "NVIDIA H100 80GB HBM3", Capability: "9.0", Precision: "FP32", Driver: "13.0",
	Libraries: "nvrtc 13.0, cublas 13.0.0, cudnn 9.10.2"}

// A host without a GPU keeps its fingerprint (TestFingerprintIsStable);
// with one, every field of the GPU enters it.
func TestGPUFingerprint(t *testing.T) {
	h := testHost
	g := testGPU
	h.GPU = &g
	if h.Fingerprint() == testHost.Fingerprint() {
		t.Error("a GPU does not change the fingerprint")
	}
	for _, change := range []func(*GPU){
		func(g *GPU) { g.Name = "NVIDIA H200" }, func(g *GPU) { g.Capability = "9.1" }, func(g *GPU) { g.Precision = "TF32" },
		func(g *GPU) { g.Driver = "13.1" }, func(g *GPU) { g.Libraries = "nvrtc 13.0, cublas 13.0.1, cudnn 9.10.2" },
	} {
		g2 := testGPU
		change(&g2)
		h2 := testHost
		h2.GPU = &g2
		if h2.Fingerprint() == h.Fingerprint() {
			t.Errorf("%+v: same fingerprint as %+v", g2, testGPU)
		}
	}
	// the hashed text is fixed, as the host's
	if got := h.Fingerprint(); got != "1cbc942b512c" {
		t.Errorf("fingerprint with a GPU %s", got)
	}
}

func TestGPUJSON(t *testing.T) {
	b, err := json.Marshal(testHost)
	if err != nil || strings.Contains(string(b), "gpu") {
		t.Errorf("a host without a GPU: %s, %v", b, err)
	}
	h := testHost
	g := testGPU
	h.GPU = &g
	if b, err = json.Marshal(h); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"gpu":{"name":"NVIDIA H100 80GB HBM3","capability":"9.0","precision":"FP32","driver":"13.0",`) {
		t.Errorf("JSON %s", b)
	}
	var back Host
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, h) {
		t.Errorf("read back %+v, %v", back, err)
	}
}
