package cuda

import (
	"errors"
	"fmt"
)

// Sentinel errors for what callers act on (errors.Is). The errors returned
// wrap them with the details: what was looked for and where, which call
// failed and why.
var (
	// ErrNoDriver: the NVIDIA driver library (libcuda.so.1) was not found
	// or could not be loaded.
	ErrNoDriver = errors.New("no NVIDIA driver")
	// ErrNoDevice: the driver loaded but reports no CUDA device, or not
	// the one asked for.
	ErrNoDevice = errors.New("no CUDA device")
	// ErrLibrary: a CUDA library (NVRTC, cuBLAS, cuDNN) was not found, could
	// not be loaded, or lacks a symbol this package needs.
	ErrLibrary = errors.New("CUDA library unavailable")
	// ErrClosed: the device was closed.
	ErrClosed = errors.New("device closed")
)

// Error is a failed CUDA call: the library ("driver", "nvrtc", "cublas",
// "cudnn"), the function, its status code and the library's name and
// description of that code.
type Error struct {
	Lib  string
	Call string
	Code int
	Name string // e.g. CUDA_ERROR_OUT_OF_MEMORY (empty when the library has no names)
	Msg  string // e.g. "out of memory"
	// Log is the compiler log of a failed NVRTC compilation.
	Log string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s", e.Call, e.Msg)
	if e.Name != "" {
		s += fmt.Sprintf(" (%s, %d)", e.Name, e.Code)
	} else {
		s += fmt.Sprintf(" (status %d)", e.Code)
	}
	if e.Log != "" {
		s += "\n" + e.Log
	}
	return s
}

// Is reports ErrNoDevice for the driver's "no device" and "invalid device"
// codes, so callers can treat them like a missing device.
func (e *Error) Is(target error) bool {
	return target == ErrNoDevice && e.Lib == "driver" && (e.Code == cudaErrorNoDevice || e.Code == cudaErrorInvalidDevice)
}
