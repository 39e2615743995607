package trainer

import (
	"bufio"
	"os"
	"runtime"
	"strings"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/trainer/kernels"
	"github.com/effnas/effnas/version"
)

// HostInfo describes this process's machine (measure.Host), so that step
// times from different hosts are never mixed silently; Backend is the
// float32 kernel backend.
func HostInfo() measure.Host {
	h := measure.Host{OS: runtime.GOOS, Arch: runtime.GOARCH, Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion: runtime.Version(), Backend: "cpu/" + kernels.Backend(), CPU: cpuModel(), Code: version.Get()}
	h.Hostname, _ = os.Hostname()
	return h
}

// cpuModel reads the CPU model from /proc/cpuinfo ("model name" on x86,
// "Model" or "Hardware" on ARM), or names the architecture.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	fallback := runtime.GOARCH
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			return strings.TrimSpace(v)
		case "Model", "Hardware":
			if fallback == runtime.GOARCH {
				fallback = strings.TrimSpace(v)
			}
		}
	}
	return fallback
}
