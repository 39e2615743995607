package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/effnas/effnas/trainer"
	"github.com/effnas/effnas/trainer/cuda"
	"github.com/effnas/effnas/trainer/cudaops"
	"github.com/effnas/effnas/trainer/kernels"
)

func init() {
	register(&command{
		name: "devices",
		flags: func(fs *flag.FlagSet) func([]string) error {
			check := fs.Bool("check", false, "compare every GPU kernel with the CPU ops; exit 1 on a mismatch")
			only := fs.String("only", "", "with --check: only the ops whose name contains this")
			seed := fs.Uint64("seed", 1, "with --check: random seed of the inputs")
			bench := fs.Bool("bench", false, "time GPU kernels (depthwise against cuDNN, BatchNorm+SiLU)")
			device := fs.String("device", "cuda:0", "GPU for --check and --bench")
			tf32 := fs.Bool("tf32", false, "allow TF32 tensor cores in cuBLAS and cuDNN (default: full FP32)")
			asJSON := fs.Bool("json", false, "print the listing as JSON")
			source := fs.Bool("source", false, "print the CUDA source of the GPU kernels and exit")
			return func(args []string) error {
				if len(args) != 0 {
					return usagef("devices takes no arguments")
				}
				if *source {
					_, err := io.WriteString(stdout, cudaops.Source())
					return err
				}
				if !*check && !*bench {
					return listDevices(*asJSON)
				}
				d, err := openDevice(*device, *tf32)
				if err != nil {
					return err
				}
				if d == nil {
					return usagef("--check and --bench need a GPU: --device cuda or cuda:N")
				}
				defer d.Close()
				return checkDevice(d, *check, *bench, cudaops.CheckOptions{Seed: *seed, Only: *only})
			}
		},
	})
}

// openDevice opens the device a --device flag names: nil for "cpu", the
// GPU for "cuda" or "cuda:N", or one line saying why it cannot be used.
func openDevice(name string, tf32 bool) (*cuda.Device, error) {
	idx, err := cuda.ParseDevice(name)
	if err != nil {
		return nil, usagef("--device: %v", err)
	}
	if idx < 0 {
		return nil, nil
	}
	return cuda.Open(idx, &cuda.Options{TF32: tf32})
}

type devicesJSON struct {
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
	Libraries []libraryJSON     `json:"libraries"`
}

type libraryJSON struct {
	Key     string `json:"key"`
	What    string `json:"what"`
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
	Error   string `json:"error,omitempty"`
}

func listDevices(asJSON bool) error {
	h := trainer.HostInfo()
	r := cuda.Probe()
	if asJSON {
		var v devicesJSON
		v.CPU.Model, v.CPU.Cores, v.CPU.GOMAXPROCS = h.CPU, h.Cores, h.GOMAXPROCS
		v.CPU.Backend, v.CPU.Backends = kernels.Backend(), kernels.Backends()
		v.Driver, v.GPUs = r.Driver, r.Devices
		if v.GPUs == nil {
			v.GPUs = []cuda.DeviceInfo{}
		}
		if r.NoGPU != nil {
			v.NoGPU = r.NoGPU.Error()
		}
		for _, l := range r.Libraries {
			j := libraryJSON{Key: l.Key, What: l.What, Path: l.Path, Version: l.Version}
			if l.Err != nil {
				j.Error = l.Err.Error()
			}
			v.Libraries = append(v.Libraries, j)
		}
		return writeJSON(v)
	}
	fmt.Fprintf(stdout, "cpu      %s, %d cores (GOMAXPROCS %d, %s/%s), float32 kernels: %s (available: %s)\n",
		h.CPU, h.Cores, h.GOMAXPROCS, runtime.GOOS, runtime.GOARCH, kernels.Backend(), strings.Join(kernels.Backends(), ", "))
	for _, g := range r.Devices {
		fmt.Fprintf(stdout, "cuda:%-3d %s, compute capability %d.%d (%s), %.1f GiB, %d SMs at %d MHz, PCI bus %d, driver CUDA %s\n",
			g.Index, g.Name, g.Major, g.Minor, g.Arch(), float64(g.Memory)/(1<<30), g.SMs, g.ClockMHz, g.PCIBus, g.Driver)
	}
	if r.NoGPU != nil {
		fmt.Fprintf(stdout, "cuda     none: %v\n", r.NoGPU)
	}
	if len(r.Devices) == 0 {
		return nil
	}
	fmt.Fprintln(stdout, "libraries:")
	for _, l := range r.Libraries {
		switch {
		case l.Err != nil:
			fmt.Fprintf(stdout, "  %-15s not loaded: %v\n", l.Key, l.Err)
		case l.Version != "":
			fmt.Fprintf(stdout, "  %-15s %s (%s)\n", l.Key, l.Path, l.Version)
		default:
			fmt.Fprintf(stdout, "  %-15s %s\n", l.Key, l.Path)
		}
	}
	return nil
}

// checkDevice runs the parity check and/or the benchmark on d.
func checkDevice(d *cuda.Device, check, bench bool, opt cudaops.CheckOptions) error {
	return d.Do(func(c *cuda.Ctx) error {
		dnn, err := c.DNNVersion()
		if err != nil {
			dnn = "not loaded (" + err.Error() + ")"
		}
		fmt.Fprintf(stdout, "%s, %s arithmetic in cuBLAS/cuDNN; NVRTC %s, cuBLAS %s, cuDNN %s\n",
			d, d.Precision(), d.NVRTCVersion(), c.BLASVersion(), dnn)
		t := time.Now()
		k, err := cudaops.Load(c)
		if err != nil {
			return err
		}
		defer k.Close(c)
		img := k.Image()
		how := "compiled"
		if k.Cached {
			how = "from the cache"
		}
		form := "CUBIN"
		if img.PTX {
			form = "PTX (JIT by the driver)"
		}
		fmt.Fprintf(stdout, "kernels: %d, %s for %s as %s in %.2fs\n", len(cudaops.KernelNames()), how, img.Arch, form, time.Since(t).Seconds())
		if check {
			rs, err := cudaops.Check(c, k, opt)
			if err != nil {
				return err
			}
			fails := cudaops.PrintResults(stdout, rs)
			fmt.Fprintf(stdout, "parity: %d of %d outputs match the CPU\n", len(rs)-fails, len(rs))
			if fails > 0 {
				return fmt.Errorf("%d of %d GPU outputs differ from the CPU ops", fails, len(rs))
			}
		}
		if bench {
			rs, err := cudaops.Bench(c, k, cudaops.BenchOptions{})
			cudaops.PrintBench(stdout, rs)
			if err != nil {
				return err
			}
		}
		return nil
	})
}
