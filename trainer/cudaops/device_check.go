package cudaops

import (
	"fmt"
	"io"
	"time"

	"github.com/effnas/effnas/trainer/cuda"
)

// DeviceCheck says what CheckDevice runs: the parity check, the
// benchmark, or both.
type DeviceCheck struct {
	Parity bool
	Bench  bool
	CheckOptions
}

// CheckDevice loads the kernels on d and writes to w the device, its
// libraries and how the kernels were loaded, then the parity table
// (o.Parity) and the benchmark table (o.Bench). A parity mismatch is an
// error, after the table.
func CheckDevice(w io.Writer, d *cuda.Device, o DeviceCheck) error {
	return d.Do(func(c *cuda.Ctx) error {
		dnn, err := c.DNNVersion()
		if err != nil {
			dnn = "not loaded (" + err.Error() + ")"
		}
		fmt.Fprintf(w, "%s, %s arithmetic in cuBLAS/cuDNN; NVRTC %s, cuBLAS %s, cuDNN %s\n",
			d, d.Precision(), d.NVRTCVersion(), c.BLASVersion(), dnn)
		t := time.Now()
		k, err := Load(c)
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
		fmt.Fprintf(w, "kernels: %d, %s for %s as %s in %.2fs\n", len(KernelNames()), how, img.Arch, form, time.Since(t).Seconds())
		if o.Parity {
			rs, err := Check(c, k, o.CheckOptions)
			if err != nil {
				return err
			}
			fails := PrintResults(w, rs)
			fmt.Fprintf(w, "parity: %d of %d outputs match the CPU\n", len(rs)-fails, len(rs))
			if fails > 0 {
				return fmt.Errorf("%d of %d GPU outputs differ from the CPU ops", fails, len(rs))
			}
		}
		if o.Bench {
			rs, err := Bench(c, k, BenchOptions{})
			PrintBench(w, rs)
			if err != nil {
				return err
			}
		}
		return nil
	})
}
