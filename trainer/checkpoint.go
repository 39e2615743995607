package trainer

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer/data"
	"gorgonia.org/tensor"
)

// The older checkpoint format (version 1), which LoadModel still reads
// (nas convert rewrites such a file as safetensors; nothing writes it any
// more). All integers little-endian:
//
//	magic    8 bytes  "EFFNASCK"
//	version  uint32   1
//	hlen     uint32   length of the header
//	header   hlen bytes of JSON: {"arch": <effnas/arch document>,
//	         "params": [{"name", "shape"}...], "batchnorm": [{"name",
//	         "channels"}...], "norm": {"Mean": [...], "Std": [...]},
//	         "meta": {...free-form: dataset, epochs, accuracy...}}
//	params   float32 values of every parameter, in header order
//	stats    for every BatchNorm layer, running mean then running variance,
//	         float64
//	crc      uint32   CRC-32 (IEEE) of everything before it
//
// Parameters are stored in the network's layouts (HWIO convolutions, HWC
// depthwise, (in, out) dense). Loading rebuilds the network from the
// architecture, checks every name and shape, and restores the values and
// the BatchNorm statistics. testdata/v1.ckpt is such a file, written by
// the last program that wrote them.

const (
	checkpointMagic   = "EFFNASCK"
	checkpointVersion = 1
)

// ErrCheckpoint marks a file that is not a valid checkpoint.
var ErrCheckpoint = errors.New("invalid checkpoint")

type ckptHeader struct {
	Arch      searchspace.Arch `json:"arch"`
	Params    []ckptParam      `json:"params"`
	BatchNorm []ckptBN         `json:"batchnorm"`
	Norm      *data.Norm       `json:"norm,omitempty"`
	Meta      map[string]any   `json:"meta,omitempty"`
}

type ckptParam struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

type ckptBN struct {
	Name     string `json:"name"`
	Channels int    `json:"channels"`
}

// decodeCheckpoint reads a version-1 file (LoadModel's older format).
func decodeCheckpoint(raw []byte) (*Model, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCheckpoint, fmt.Sprintf(format, args...))
	}
	if len(raw) < 20 || string(raw[:8]) != checkpointMagic {
		return nil, bad("not an effnas checkpoint (no %q magic)", checkpointMagic)
	}
	body, sum := raw[:len(raw)-4], binary.LittleEndian.Uint32(raw[len(raw)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, bad("checksum mismatch: the file is damaged or truncated")
	}
	r := bytes.NewReader(body[8:])
	var version, hlen uint32
	binary.Read(r, binary.LittleEndian, &version)
	binary.Read(r, binary.LittleEndian, &hlen)
	if version != checkpointVersion {
		return nil, bad("version %d, this program reads version %d", version, checkpointVersion)
	}
	if int(hlen) > r.Len() {
		return nil, bad("header length %d past the end of the file", hlen)
	}
	hdr := make([]byte, hlen)
	io.ReadFull(r, hdr)
	var h ckptHeader
	if err := json.Unmarshal(hdr, &h); err != nil {
		return nil, bad("header: %v", err)
	}
	if err := h.Arch.Validate(); err != nil {
		return nil, bad("architecture: %v", err)
	}
	net, err := NewNet(h.Arch, tensor.Float32, 0)
	if err != nil {
		return nil, err
	}
	if len(h.Params) != len(net.Params) || len(h.BatchNorm) != len(net.BNs) {
		return nil, bad("%d parameters and %d BatchNorm layers, the architecture has %d and %d",
			len(h.Params), len(h.BatchNorm), len(net.Params), len(net.BNs))
	}
	for i, p := range net.Params {
		if h.Params[i].Name != p.Name || !tensor.Shape(h.Params[i].Shape).Eq(p.Value.Shape()) {
			return nil, bad("parameter %d is %s %v, the architecture wants %s %v", i, h.Params[i].Name, h.Params[i].Shape, p.Name, p.Value.Shape())
		}
		if err := binary.Read(r, binary.LittleEndian, p.Value.Data().([]float32)); err != nil {
			return nil, bad("parameter %s: %v", p.Name, err)
		}
	}
	for i, bn := range net.BNs {
		c := bn.Channels()
		if h.BatchNorm[i].Channels != c {
			return nil, bad("BatchNorm %s has %d channels, want %d", h.BatchNorm[i].Name, h.BatchNorm[i].Channels, c)
		}
		m, v := make([]float64, c), make([]float64, c)
		if err := binary.Read(r, binary.LittleEndian, m); err != nil {
			return nil, bad("BatchNorm %s: %v", h.BatchNorm[i].Name, err)
		}
		if err := binary.Read(r, binary.LittleEndian, v); err != nil {
			return nil, bad("BatchNorm %s: %v", h.BatchNorm[i].Name, err)
		}
		if err := bn.SetStats(m, v); err != nil {
			return nil, bad("%v", err)
		}
	}
	if r.Len() != 0 {
		return nil, bad("%d unexpected bytes after the data", r.Len())
	}
	for _, p := range net.Params {
		for _, v := range p.Value.Data().([]float32) {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, bad("parameter %s holds %v", p.Name, v)
			}
		}
	}
	net.SetBNMode(false, false)
	return &Model{Net: net, Norm: h.Norm, Meta: h.Meta, CodeVersion: "unknown"}, nil
}
