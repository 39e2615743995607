package measure

import "fmt"

// GPU is the accelerator a measurement ran on, when it ran on one: what
// decides a GPU's step time besides the host (the device, its arithmetic
// and the CUDA libraries).
type GPU struct {
	// Name is the device's name, "NVIDIA H100 80GB HBM3".
	Name string `json:"name"`
	// Capability is the compute capability, "9.0".
	Capability string `json:"capability"`
	// Precision is the float32 arithmetic of the GEMMs and convolutions:
	// "FP32" (full) or "TF32" (tensor cores).
	Precision string `json:"precision"`
	// Driver is the driver's CUDA version, "13.0".
	Driver string `json:"driver"`
	// Libraries names the CUDA libraries' versions, "nvrtc 13.0, cublas
	// 13.0.0, cudnn 9.10.2".
	Libraries string `json:"libraries"`
}

// fingerprintText is the part of Host.Fingerprint's text for g.
func (g *GPU) fingerprintText() string {
	if g == nil {
		return ""
	}
	return fmt.Sprintf("gpu=%s\ncapability=%s\nprecision=%s\ndriver=%s\nlibraries=%s\n", g.Name, g.Capability, g.Precision, g.Driver, g.Libraries)
}
