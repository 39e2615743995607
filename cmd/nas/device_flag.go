package main

import (
	"errors"
	"flag"

	"github.com/effnas/effnas/trainer"
)

// deviceFlags are the --device and --tf32 flags of the commands that
// train, evaluate or time a network: train, eval, bench, search and
// worker.
type deviceFlags struct {
	name *string
	tf32 *bool
}

// addDeviceFlags adds --device and --tf32 to fs.
func addDeviceFlags(fs *flag.FlagSet) deviceFlags {
	return deviceFlags{
		name: fs.String("device", "cpu", "where to train, evaluate and time: cpu, cuda or cuda:N (an NVIDIA GPU)"),
		tf32: fs.Bool("tf32", false, "on a GPU, let cuBLAS and cuDNN use TF32 tensor cores (default: full FP32)"),
	}
}

// settings returns s set to run where the flags say, and the function
// that releases the device (see deviceSettings).
func (f deviceFlags) settings(s trainer.Settings) (trainer.Settings, func() error, error) {
	return deviceSettings(*f.name, *f.tf32, s)
}

// deviceSettings returns s set to train, evaluate and time on the device
// a --device flag names, and the function that releases it: for "cpu", s
// unchanged; for "cuda" or "cuda:N", s.Device set to the GPU (opened with
// openDevice) with the trainer's kernels loaded. Without a usable GPU the
// error is one line saying why (no driver, no such device, a missing
// library); a malformed name is a usage error. The same Device goes into
// Eval.Device for evaluation.
func deviceSettings(name string, tf32 bool, s trainer.Settings) (trainer.Settings, func() error, error) {
	cu, err := openDevice(name, tf32)
	if err != nil {
		return s, nil, err
	}
	if cu == nil {
		return s, func() error { return nil }, nil
	}
	d, err := trainer.NewDevice(cu)
	if err != nil {
		cu.Close()
		return s, nil, err
	}
	s.Device = d
	return s, func() error { return errors.Join(d.Close(), cu.Close()) }, nil
}
