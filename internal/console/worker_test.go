package console

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/effnas/effnas/measure"
)

func TestLogf(t *testing.T) {
	var b bytes.Buffer
	logf := Logf(&b)
	logf("trial %d: %s", 3, "done")
	logf("100%% sure")
	if !regexp.MustCompile(`^\d\d:\d\d:\d\d trial 3: done\n\d\d:\d\d:\d\d 100% sure\n$`).MatchString(b.String()) {
		t.Fatalf("%q", b.String())
	}
}

func TestWorkerStarted(t *testing.T) {
	h := measure.Host{OS: "linux", Arch: "amd64", CPU: "Xeon", Cores: 16, GOMAXPROCS: 16, GoVersion: "go1.26", Backend: "avx512"}
	if got, want := WorkerStarted("w1", h, "nats://h:4222"), "worker w1 (Xeon, 16 cores, avx512; host kind "+h.Fingerprint()+") takes trials from nats://h:4222"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	h.GPU = &measure.GPU{Name: "NVIDIA H100"}
	if got, want := WorkerStarted("w1", h, "q"), "worker w1 (Xeon, 16 cores, avx512, GPU NVIDIA H100; host kind "+h.Fingerprint()+") takes trials from q"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}
