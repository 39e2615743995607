package cuda

import "fmt"

// Report is what Probe found: the driver, its GPUs and the CUDA libraries.
type Report struct {
	Driver    string // the driver's CUDA version, "13.0" ("" without a driver)
	Devices   []DeviceInfo
	Libraries []Library
	// NoGPU says in one line why no GPU is listed (nil when some are).
	NoGPU error
}

// Probe loads what it can (the driver, then NVRTC, cuBLAS and cuDNN, each
// optional) and lists the GPUs; it opens no device. Failures are in the
// report, never fatal.
func Probe() Report { return probeWith(defaultLibs()) }

func probeWith(ls *libSet) (r Report) {
	defer func() { r.Libraries = ls.versions(ls.report()) }()
	drv, err := ls.driver()
	if err != nil {
		r.NoGPU = err
		// the toolkit libraries are still worth reporting
		ls.nvrtcAPI()
		ls.cublasAPI()
		ls.cudnnAPI(false)
		return r
	}
	var v int32
	if drv.check("cuDriverGetVersion", drv.cuDriverGetVersion(&v)) == nil {
		r.Driver = cudaVersion(int(v))
	}
	var n int32
	if err := drv.check("cuDeviceGetCount", drv.cuDeviceGetCount(&n)); err != nil {
		r.NoGPU = err
	} else if n == 0 {
		r.NoGPU = fmt.Errorf("%w: the driver (CUDA %s) reports no GPU", ErrNoDevice, r.Driver)
	}
	for i := 0; i < int(n); i++ {
		info, err := deviceInfo(drv, i)
		if err != nil {
			r.NoGPU = fmt.Errorf("cuda:%d: %w", i, err)
			break
		}
		r.Devices = append(r.Devices, info)
	}
	ls.nvrtcAPI()
	ls.cublasAPI()
	ls.cudnnAPI(false)
	return r
}

// versions fills the Version field of the loaded libraries that can say
// without a device context.
func (ls *libSet) versions(libs []Library) []Library {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for i := range libs {
		l := &libs[i]
		if l.Path == "" {
			continue
		}
		switch l.Key {
		case "nvrtc":
			if ls.nvrtc != nil {
				l.Version = ls.nvrtc.version()
			}
		case "cudnn":
			if ls.dnn != nil {
				l.Version = ls.dnn.version()
			}
		case "cublas":
			if ls.blas != nil && ls.blas.cublasGetProperty != nil {
				var a, b, c int32
				if ls.blas.cublasGetProperty(0, &a) == 0 && ls.blas.cublasGetProperty(1, &b) == 0 && ls.blas.cublasGetProperty(2, &c) == 0 {
					l.Version = fmt.Sprintf("%d.%d.%d", a, b, c)
				}
			}
		case "cuda":
			if ls.drv != nil {
				var v int32
				if ls.drv.cuDriverGetVersion(&v) == 0 {
					l.Version = cudaVersion(int(v))
				}
			}
		}
	}
	return libs
}
