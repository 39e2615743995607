package measure

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

var testHost = Host{Hostname: "box", OS: "linux", Arch: "amd64", CPU: "Intel(R) Xeon(R) Platinum 8488C", Cores: 2, GOMAXPROCS: 2,
	GoVersion: "go1.26.0", Backend: "cpu/avx2"}

// The fingerprints of stored searches must not change: these values were
// computed by the program before this package existed (the second one is
// the store's own test host).
func TestFingerprintIsStable(t *testing.T) {
	if got := testHost.Fingerprint(); got != "78638de5c61c" {
		t.Errorf("fingerprint %s, want 78638de5c61c", got)
	}
	store := Host{Hostname: "node1", OS: "linux", Arch: "amd64", CPU: "Test CPU @ 3.0GHz", Cores: 16, GOMAXPROCS: 8,
		GoVersion: "go1.26.0", Backend: "avx512"}
	if got := store.Fingerprint(); got != "ce2d56c1e1ca" {
		t.Errorf("fingerprint %s, want ce2d56c1e1ca", got)
	}
	if got := (Host{}).Fingerprint(); got != "b900c4e3a6fd" {
		t.Errorf("empty host fingerprint %s, want b900c4e3a6fd", got)
	}
	renamed := testHost
	renamed.Hostname = "other"
	if renamed.Fingerprint() != testHost.Fingerprint() {
		t.Error("the host name changes the fingerprint")
	}
	for _, change := range []func(*Host){
		func(h *Host) { h.OS = "darwin" }, func(h *Host) { h.Arch = "arm64" }, func(h *Host) { h.CPU = "x" },
		func(h *Host) { h.Cores = 4 }, func(h *Host) { h.GOMAXPROCS = 1 }, func(h *Host) { h.GoVersion = "go1.27" },
		func(h *Host) { h.Backend = "cpu/avx512" },
	} {
		h := testHost
		change(&h)
		if h.Fingerprint() == testHost.Fingerprint() {
			t.Errorf("%+v: same fingerprint as %+v", h, testHost)
		}
	}
}

// storedMetrics is the JSON the store wrote for these metrics before this
// package existed: names and order must stay.
const storedMetrics = `{"step_time":{"count":5,"median":0.1,"p10":0.09,"p90":0.2,"mean":0.12},` +
	`"forward_time":{"count":0,"median":0,"p10":0,"p90":0,"mean":0},"params":7,"params_total":8,"macs":9,"steps":3,` +
	`"image_size":28,"batch":64,"host":{"hostname":"box","os":"linux","arch":"amd64","cpu":"Intel(R) Xeon(R) Platinum 8488C",` +
	`"cores":2,"gomaxprocs":2,"go_version":"go1.26.0","backend":"cpu/avx2"},"accuracy":"NaN","loss":"+Inf","wall_time":1.5,` +
	`"train_time":1,"epochs":0.5,"extra":{"train_loss":"-Inf"}}`

func testMetrics() Metrics {
	return Metrics{Accuracy: math.NaN(), Loss: math.Inf(1), StepTime: StepStats{Median: 0.1, P10: 0.09, P90: 0.2, Mean: 0.12, Count: 5},
		Params: 7, ParamsTotal: 8, MACs: 9, WallTime: 1.5, TrainTime: 1, Epochs: 0.5, Steps: 3, ImageSize: 28, Batch: 64, Host: testHost,
		Extra: map[string]float64{"train_loss": math.Inf(-1)}}
}

func TestMetricsJSONAsStored(t *testing.T) {
	b, err := json.Marshal(testMetrics())
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != storedMetrics {
		t.Fatalf("JSON changed:\n got %s\nwant %s", b, storedMetrics)
	}
	var m Metrics
	if err := json.Unmarshal([]byte(storedMetrics), &m); err != nil {
		t.Fatal(err)
	}
	want := testMetrics()
	if !math.IsNaN(m.Accuracy) || !math.IsInf(m.Loss, 1) || !math.IsInf(m.Extra["train_loss"], -1) {
		t.Fatalf("non-finite values lost: %+v", m)
	}
	m.Accuracy, want.Accuracy = 0, 0
	m.Loss, want.Loss = 0, 0
	m.Extra, want.Extra = nil, nil
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", m, want)
	}
}

func TestStepStatsOptionalFields(t *testing.T) {
	s := StepStats{Median: math.NaN(), Count: 2, Allocs: 12, Bytes: math.Inf(1)}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"count":2,"median":"NaN","p10":0,"p90":0,"mean":0,"allocs":12,"bytes":"+Inf"}`; string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
	var back StepStats
	if err := json.Unmarshal(b, &back); err != nil || !math.IsNaN(back.Median) || back.Allocs != 12 || !math.IsInf(back.Bytes, 1) {
		t.Fatalf("%+v %v", back, err)
	}
}

func TestReadsOlderAndNewerRecords(t *testing.T) {
	// "Inf" (an older spelling), null and an unknown field.
	var m Metrics
	in := `{"accuracy":0.5,"loss":"Inf","wall_time":null,"step_time":{"median":0.2,"count":3},"future_field":{"x":1},"host":{"cpu":"c","device":"gpu"}}`
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	if m.Accuracy != 0.5 || !math.IsInf(m.Loss, 1) || m.WallTime != 0 || m.StepTime.Median != 0.2 || m.StepTime.Count != 3 || m.Host.CPU != "c" {
		t.Fatalf("%+v", m)
	}
	for _, bad := range []string{`{"accuracy":"fast"}`, `{"step_time":{"median":"slow"}}`, `{"extra":{"x":"y"}}`} {
		if err := json.Unmarshal([]byte(bad), &m); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestFloat(t *testing.T) {
	for _, x := range []float64{0, -1.5, 1e-300, math.NaN(), math.Inf(1), math.Inf(-1)} {
		b, err := json.Marshal(Float(x))
		if err != nil {
			t.Fatal(err)
		}
		var y Float
		if err := json.Unmarshal(b, &y); err != nil {
			t.Fatal(err)
		}
		if !(float64(y) == x || math.IsNaN(x) && math.IsNaN(float64(y))) {
			t.Errorf("%v -> %s -> %v", x, b, y)
		}
	}
}

func TestCommas(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 7139704: "7,139,704", -1234567: "-1,234,567"} {
		if got := Commas(n); got != want {
			t.Errorf("Commas(%d) = %q, want %q", n, got, want)
		}
	}
}

// The relative step time and how it was measured are optional: absent from
// a record that has none (TestMetricsJSONAsStored), written NaN-safe and
// read back when there are.
func TestRelativeStepTimeJSON(t *testing.T) {
	m := testMetrics()
	m.RelativeStepTime = 1.25
	m.Interleaved = &Interleaved{Against: "base", Baseline: StepStats{Median: 0.08, Count: 18}, Pairs: 6, Burst: 3,
		Ratios: []float64{1.2, 1.25, 1.3, math.NaN(), 1.25, 1.25}, Noise: 0.02, MaxNoise: 0.05, Retimed: 1}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"relative_step_time":1.25`, `"interleaved":{"against":"base","baseline":{"count":18,"median":0.08`,
		`"ratios":[1.2,1.25,1.3,"NaN",1.25,1.25]`, `"noise":0.02`, `"max_noise":0.05`, `"retimed":1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no %s in %s", want, b)
		}
	}
	var back Metrics
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.RelativeStepTime != 1.25 || back.Interleaved == nil || back.Interleaved.Retimed != 1 || !math.IsNaN(back.Interleaved.Ratios[3]) ||
		back.Interleaved.Baseline.Median != 0.08 || back.Interleaved.Ratios[5] != 1.25 {
		t.Fatalf("round trip: %+v %+v", back, back.Interleaved)
	}
}

func TestHostDevice(t *testing.T) {
	h := Host{CPU: "AMD EPYC"}
	if h.Device() != "AMD EPYC" {
		t.Errorf("CPU host: %q", h.Device())
	}
	h.GPU = &GPU{Name: "NVIDIA H100 80GB HBM3"}
	if h.Device() != "NVIDIA H100 80GB HBM3" {
		t.Errorf("GPU host: %q", h.Device())
	}
}

func TestHostSummary(t *testing.T) {
	h := Host{CPU: "AMD EPYC", Cores: 2, Backend: "cpu/avx512"}
	if got := h.Summary(); got != "AMD EPYC, 2 cores, cpu/avx512" {
		t.Errorf("CPU host: %q", got)
	}
	h.GPU = &GPU{Name: "NVIDIA H100 80GB HBM3"}
	if got := h.Summary(); got != "AMD EPYC, 2 cores, cpu/avx512, GPU NVIDIA H100 80GB HBM3" {
		t.Errorf("GPU host: %q", got)
	}
}
