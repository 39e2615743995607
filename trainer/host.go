package trainer

import (
	"bufio"
	"os"
	"runtime"
	"strings"

	"github.com/effnas/effnas/trainer/kernels"
)

// Host describes the machine a measurement ran on, so that step times from
// different hosts are never mixed silently.
type Host struct {
	Hostname   string
	OS, Arch   string
	CPU        string
	Cores      int
	GOMAXPROCS int
	GoVersion  string
	Backend    string // the float32 kernel backend
}

// HostInfo describes this process's machine.
func HostInfo() Host {
	h := Host{OS: runtime.GOOS, Arch: runtime.GOARCH, Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion: runtime.Version(), Backend: "cpu/" + kernels.Backend(), CPU: cpuModel()}
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
