package search

import (
	"testing"

	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/cuda"
	"github.com/effnas/effnas/trainer/cuda/cudatest"
	"github.com/effnas/effnas/trainer/cudaops"
)

// An evaluator built with a device (nas search --device, nas worker
// --device) trains on it and reports it in its host, so that every trial
// records the GPU and a worker on another kind of host is refused.
func TestEvaluatorOnDevice(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the kernels for the CUDA emulator")
	}
	dir := cudatest.Dir(t, cudatest.Full)
	cudatest.Controls(t, dir).SetDevices(1, 9, 0)
	t.Setenv(cudaops.EnvCache, "off")
	cu, err := cuda.Open(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cu.Close()
	d, err := trainer.NewDevice(cu)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cpu, err := NewEvaluator(EvaluatorSpec{Name: "train", Dataset: "synthetic"}, Local{})
	if err != nil {
		t.Fatal(err)
	}
	gpu, err := NewEvaluator(EvaluatorSpec{Name: "train", Dataset: "synthetic"}, Local{Device: d})
	if err != nil {
		t.Fatal(err)
	}
	if te := gpu.(*TrainEvaluator); te.Settings.Device != d {
		t.Fatalf("the evaluator trains on %v", te.Settings.Device)
	}
	hc, hg := cpu.(HostReporter).Host(), gpu.(HostReporter).Host()
	if hc.GPU != nil || hg.GPU == nil || hg.GPU.Name != "Fake GPU 0" || hc.Fingerprint() == hg.Fingerprint() {
		t.Fatalf("hosts: CPU %+v (%s), GPU %+v (%s)", hc.GPU, hc.Fingerprint(), hg.GPU, hg.Fingerprint())
	}
	p, err := NewProxy(ProxyOptions{Dataset: "synthetic", Device: d})
	if err != nil {
		t.Fatal(err)
	}
	if h := p.Evaluator.(HostReporter).Host(); h.GPU == nil {
		t.Fatal("NewProxy's evaluator does not report the device")
	}
}
