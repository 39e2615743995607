package trainer

import (
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/effnas/effnas/trainer/cuda"
	"github.com/effnas/effnas/trainer/kernels"
)

// Devices is what this machine can train on: the CPU with its float32
// kernel backends, and the NVIDIA GPUs with the CUDA libraries loaded (or
// why there is none). Its JSON is what "nas devices --json" prints.
type Devices struct {
	CPU struct {
		Model      string   `json:"model"`
		Cores      int      `json:"cores"`
		GOMAXPROCS int      `json:"gomaxprocs"`
		Backend    string   `json:"backend"`
		Backends   []string `json:"backends"`
	} `json:"cpu"`
	Driver    string            `json:"driver,omitempty"`
	GPUs      []cuda.DeviceInfo `json:"gpus"`
	NoGPU     string            `json:"no_gpu,omitempty"`
	Libraries []DeviceLibrary   `json:"libraries"`
}

// DeviceLibrary is one CUDA library: where it was loaded from and its
// version, or why it was not.
type DeviceLibrary struct {
	Key     string `json:"key"`
	What    string `json:"what"`
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
	Error   string `json:"error,omitempty"`
}

// ListDevices probes the CPU and the GPUs.
func ListDevices() Devices {
	h := HostInfo()
	return devicesOf(h.CPU, h.Cores, h.GOMAXPROCS, kernels.Backend(), kernels.Backends(), cuda.Probe())
}

func devicesOf(model string, cores, procs int, backend string, backends []string, r cuda.Report) Devices {
	var v Devices
	v.CPU.Model, v.CPU.Cores, v.CPU.GOMAXPROCS = model, cores, procs
	v.CPU.Backend, v.CPU.Backends = backend, backends
	v.Driver, v.GPUs = r.Driver, r.Devices
	if v.GPUs == nil {
		v.GPUs = []cuda.DeviceInfo{}
	}
	if r.NoGPU != nil {
		v.NoGPU = r.NoGPU.Error()
	}
	for _, l := range r.Libraries {
		j := DeviceLibrary{Key: l.Key, What: l.What, Path: l.Path, Version: l.Version}
		if l.Err != nil {
			j.Error = l.Err.Error()
		}
		v.Libraries = append(v.Libraries, j)
	}
	return v
}

// WriteText writes the listing: a line for the CPU, one per GPU (or one
// saying why there is none) and, with a GPU, the libraries.
func (v Devices) WriteText(w io.Writer) error {
	c := v.CPU
	fmt.Fprintf(w, "cpu      %s, %d cores (GOMAXPROCS %d, %s/%s), float32 kernels: %s (available: %s)\n",
		c.Model, c.Cores, c.GOMAXPROCS, runtime.GOOS, runtime.GOARCH, c.Backend, strings.Join(c.Backends, ", "))
	for _, g := range v.GPUs {
		fmt.Fprintf(w, "cuda:%-3d %s, compute capability %d.%d (%s), %.1f GiB, %d SMs at %d MHz, PCI bus %d, driver CUDA %s\n",
			g.Index, g.Name, g.Major, g.Minor, g.Arch(), float64(g.Memory)/(1<<30), g.SMs, g.ClockMHz, g.PCIBus, g.Driver)
	}
	if v.NoGPU != "" {
		fmt.Fprintf(w, "cuda     none: %s\n", v.NoGPU)
	}
	if len(v.GPUs) == 0 {
		return nil
	}
	fmt.Fprintln(w, "libraries:")
	for _, l := range v.Libraries {
		var err error
		switch {
		case l.Error != "":
			_, err = fmt.Fprintf(w, "  %-15s not loaded: %s\n", l.Key, l.Error)
		case l.Version != "":
			_, err = fmt.Fprintf(w, "  %-15s %s (%s)\n", l.Key, l.Path, l.Version)
		default:
			_, err = fmt.Fprintf(w, "  %-15s %s\n", l.Key, l.Path)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
