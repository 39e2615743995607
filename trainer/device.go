package trainer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/trainer/cuda"
	"github.com/effnas/effnas/trainer/cudaops"
	"github.com/effnas/effnas/trainer/ops"
)

// Device is a GPU the trainer runs on (Settings.Device, Eval.Device): an
// open cuda.Device with the trainer's kernels loaded. With it, a training
// step is one compiled device program (package cudaexec) with the
// parameters, their gradients, the optimizer state and the BatchNorm
// layers resident on the device: only the batch goes up and the loss
// comes down. Evaluation, BatchNorm recalibration and the step-time
// measurement run there too.
//
// The Net stays the network's home: each training run, evaluation or
// measurement uploads the weights and BatchNorm statistics when it
// starts, and a training run downloads them (with the optimizer state of
// Settings.State) when it ends, so checkpoints, snapshots and the CPU
// paths see the trained network. Runs on several goroutines may share a
// Device: their device work is serialised on its thread, a step at a
// time.
type Device struct {
	cu  *cuda.Device
	k   *cudaops.Kernels
	gpu measure.GPU

	mu sync.Mutex
	// lost is a failure to copy a trained network back from the device:
	// reported by the call that trained, and by every later use.
	lost error
}

// NewDevice prepares an open GPU for training: it compiles (or reads
// from the cache) and loads the kernels. Close releases them; the
// cuda.Device stays open (its owner closes it).
func NewDevice(d *cuda.Device) (*Device, error) {
	if d == nil {
		return nil, errors.New("trainer: NewDevice of a nil cuda.Device")
	}
	dev := &Device{cu: d}
	err := d.Do(func(c *cuda.Ctx) error {
		k, err := cudaops.Load(c)
		if err != nil {
			return err
		}
		dev.k = k
		info := d.Info()
		libs := []string{"nvrtc " + d.NVRTCVersion(), "cublas " + c.BLASVersion()}
		if v, err := c.DNNVersion(); err == nil {
			libs = append(libs, "cudnn "+v)
		} else {
			// the 3x3 and strided convolutions need it: say so now
			k.Close(c)
			return err
		}
		dev.gpu = measure.GPU{Name: info.Name, Capability: fmt.Sprintf("%d.%d", info.Major, info.Minor),
			Precision: d.Precision(), Driver: info.Driver, Libraries: strings.Join(libs, ", ")}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("trainer: %v: %w", d, err)
	}
	return dev, nil
}

// Close unloads the kernels (not the cuda.Device).
func (d *Device) Close() error {
	if d == nil || d.k == nil {
		return nil
	}
	err := d.cu.Do(func(c *cuda.Ctx) error { return d.k.Close(c) })
	d.k = nil
	return err
}

// CUDA is the underlying device.
func (d *Device) CUDA() *cuda.Device { return d.cu }

// GPU describes the device for a measurement's host (measure.Host.GPU).
func (d *Device) GPU() measure.GPU { return d.gpu }

// HostInfoOn is HostInfo with the GPU of d (nil: the CPU alone): the host
// of measurements made on d, whose fingerprint then names the device, its
// arithmetic and the CUDA libraries.
func HostInfoOn(d *Device) measure.Host {
	h := HostInfo()
	if d != nil {
		g := d.GPU()
		h.GPU = &g
	}
	return h
}

// String is "cuda:0 (NVIDIA H100 80GB HBM3, sm_90), FP32".
func (d *Device) String() string { return fmt.Sprintf("%v, %s", d.cu, d.gpu.Precision) }

// do runs fn on the device thread, after any earlier loss of a trained
// network.
func (d *Device) do(fn func(c *cuda.Ctx) error) error {
	if err := d.lostErr(); err != nil {
		return err
	}
	if d.k == nil {
		return fmt.Errorf("trainer: %v: the device is closed", d.cu)
	}
	return d.cu.Do(fn)
}

func (d *Device) lostErr() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lost
}

func (d *Device) lose(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lost == nil {
		d.lost = fmt.Errorf("trainer: copying the trained network back from %v failed (the network on the host is older): %w", d.cu, err)
	}
}

// onDevice makes the network's training, evaluation and measurement run
// on d until the returned function is called (nothing when d is nil or
// the network already runs on it).
func (n *Net) onDevice(d *Device) func() {
	if d == nil || n.dev == d {
		return func() {}
	}
	prev := n.dev
	n.dev = d
	return func() { n.dev = prev }
}

// trainOn is Net.Train on the device of s.
func (n *Net) trainOn(ctx context.Context, p Problem, s Settings, b Budget) (Result, error) {
	d := s.Device
	defer n.onDevice(d)()
	s.Device = nil
	res, err := n.Train(ctx, p, s, b)
	if err == nil {
		err = d.lostErr()
	}
	res.Host.GPU = HostInfoOn(d).GPU
	return res, err
}

// devNet is a network's parameters and BatchNorm layers on the device,
// for one training run, evaluation or measurement. The parameters live
// in one buffer, those with weight decay first, so that an optimizer
// step is one launch per group.
type devNet struct {
	params cuda.Buffer
	off    []int // of each parameter (Net.Params order)
	sizes  []int
	// decayN is the number of elements of the parameters with weight
	// decay (the first ones), total of all
	decayN, total int
	layers        map[*ops.BatchNorm]*cudaops.BatchNorm
}

// layout places the parameters: weight decay first, then the rest, each
// in Net.Params order.
func layout(n *Net) (off []int, decayN, total int) {
	off = make([]int, len(n.Params))
	for _, first := range []bool{true, false} {
		for i, p := range n.Params {
			if p.Kind.Decays() == first {
				off[i] = total
				total += p.Size()
			}
		}
		if first {
			decayN = total
		}
	}
	return off, decayN, total
}

// newDevNet copies the network's parameters and BatchNorm layers to the
// device.
func newDevNet(c *cuda.Ctx, k *cudaops.Kernels, n *Net) (dn *devNet, err error) {
	dn = &devNet{layers: map[*ops.BatchNorm]*cudaops.BatchNorm{}}
	defer func() {
		if err != nil {
			dn.free(c)
		}
	}()
	dn.off, dn.decayN, dn.total = layout(n)
	for _, p := range n.Params {
		dn.sizes = append(dn.sizes, p.Size())
	}
	if dn.params, err = c.Alloc(dn.total); err != nil {
		return nil, err
	}
	for i, p := range n.Params {
		if err := c.Upload(dn.param(i), p.Value.Data().([]float32)); err != nil {
			return nil, err
		}
	}
	for _, bn := range n.BNs {
		l, err := k.NewBatchNorm(c, bn.Channels(), bn.Momentum(), bn.Eps())
		if err != nil {
			return nil, err
		}
		dn.layers[bn] = l
	}
	return dn, dn.uploadStats(c, n)
}

// param is parameter i's slice of the parameters' buffer.
func (dn *devNet) param(i int) cuda.Buffer { return dn.at(dn.params, i) }

// at is parameter i's slice of b, a buffer in the layout of the
// parameters (their gradients, the optimizer's slots).
func (dn *devNet) at(b cuda.Buffer, i int) cuda.Buffer { return b.Slice(dn.off[i], dn.sizes[i]) }

// uploadStats copies the host layers' running statistics and
// recalibration counts to the device.
func (dn *devNet) uploadStats(c *cuda.Ctx, n *Net) error {
	for _, bn := range n.BNs {
		l := dn.layers[bn]
		m, v := bn.Stats()
		if err := l.SetStats(c, m, v); err != nil {
			return err
		}
		l.SetRecalibrationBatches(bn.RecalibrationBatches())
	}
	return nil
}

// downloadStats copies them back.
func (dn *devNet) downloadStats(c *cuda.Ctx, n *Net) error {
	for _, bn := range n.BNs {
		l := dn.layers[bn]
		m, v, err := l.Stats(c)
		if err != nil {
			return err
		}
		if err := bn.SetStats(m, v); err != nil {
			return err
		}
		bn.SetRecalibrationBatches(l.RecalibrationBatches())
	}
	return nil
}

// downloadParams copies the parameters back into the network.
func (dn *devNet) downloadParams(c *cuda.Ctx, n *Net) error {
	for i, p := range n.Params {
		if err := c.Download(p.Value.Data().([]float32), dn.param(i)); err != nil {
			return err
		}
	}
	return nil
}

func (dn *devNet) layer(bn *ops.BatchNorm) (*cudaops.BatchNorm, error) {
	if l, ok := dn.layers[bn]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("trainer: a BatchNorm layer of the graph is not the network's")
}

func (dn *devNet) free(c *cuda.Ctx) {
	c.Free(dn.params)
	dn.params = cuda.Buffer{}
	for _, l := range dn.layers {
		l.Free(c)
	}
	dn.layers = nil
}
