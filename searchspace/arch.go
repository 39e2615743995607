package searchspace

import (
	"fmt"
	"strings"
)

// BlockType is the kind of block a stage repeats.
type BlockType int

const (
	// MBConv is the mobile inverted bottleneck: 1x1 expansion, depthwise kxk,
	// optional squeeze-excite, 1x1 projection (block string c0, the default).
	MBConv BlockType = 0
	// FusedMBConv replaces MBConv's expansion and depthwise convolutions by
	// one regular kxk convolution (block string c1).
	FusedMBConv BlockType = 1
)

var blockTypeNames = map[BlockType]string{MBConv: "mbconv", FusedMBConv: "fused_mbconv"}

func (b BlockType) String() string {
	if s, ok := blockTypeNames[b]; ok {
		return s
	}
	return fmt.Sprintf("BlockType(%d)", int(b))
}

// ParseBlockType accepts "mbconv" and "fused_mbconv" (also "fused-mbconv" and "fused").
func ParseBlockType(s string) (BlockType, error) {
	switch strings.ToLower(s) {
	case "mbconv":
		return MBConv, nil
	case "fused_mbconv", "fused-mbconv", "fused", "fusedmbconv":
		return FusedMBConv, nil
	}
	return 0, fmt.Errorf("unknown block type %q (allowed: mbconv, fused_mbconv)", s)
}

// MarshalText encodes the block type by name.
func (b BlockType) MarshalText() ([]byte, error) {
	if _, ok := blockTypeNames[b]; !ok {
		return nil, fmt.Errorf("unknown block type %d (allowed: 0 mbconv, 1 fused_mbconv)", int(b))
	}
	return []byte(b.String()), nil
}

// UnmarshalText decodes a block type name.
func (b *BlockType) UnmarshalText(t []byte) error {
	v, err := ParseBlockType(string(t))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// Stem is the first convolution (followed by BatchNorm and SiLU).
type Stem struct {
	Channels int `json:"channels"`
	Kernel   int `json:"kernel"`
	Stride   int `json:"stride"`
}

// Stage is one row of the official block table: a block repeated Repeats
// times. The first repeat uses Stride and In; the following ones use stride 1
// and In = Out, as in the official code.
type Stage struct {
	Block   BlockType `json:"block"`
	Kernel  int       `json:"kernel"`
	Stride  int       `json:"stride"`
	Expand  int       `json:"expand"`
	In      int       `json:"in"`
	Out     int       `json:"out"`
	Repeats int       `json:"repeats"`
	SE      float64   `json:"se"`
}

// Arch is a whole network, as data.
type Arch struct {
	// Name is free text ("efficientnetv2-s", "trial 17").
	Name string
	// InputChannels is the number of image channels (3 for RGB, 1 for grey).
	InputChannels int
	// ImageSize is the evaluation image size; TrainImageSize the training size
	// (0 means the same as ImageSize).
	ImageSize      int
	TrainImageSize int
	NumClasses     int
	Stem           Stem
	Stages         []Stage
	HeadChannels   int
	// Dropout is the rate before the classifier.
	Dropout float64
	// SurvivalProb is the stochastic-depth survival probability of the last
	// block; it falls linearly from 1 over the blocks. 1 disables it.
	SurvivalProb float64
}

// Clone returns a deep copy.
func (a Arch) Clone() Arch {
	a.Stages = append([]Stage(nil), a.Stages...)
	return a
}

// TrainSize is the training image size (ImageSize when TrainImageSize is 0).
func (a Arch) TrainSize() int {
	if a.TrainImageSize > 0 {
		return a.TrainImageSize
	}
	return a.ImageSize
}

// Block is one block of the expanded network, after repeats.
type Block struct {
	Stage, Index int // stage index and repeat index within it
	Type         BlockType
	Kernel       int
	Stride       int
	Expand       int
	In, Out      int
	SE           float64
	// SurvivalProb is this block's stochastic-depth survival probability:
	// 1 - (1 - arch.SurvivalProb) * i / n over all n blocks, as in the
	// official code.
	SurvivalProb float64
}

// Mid is the width inside the block (In * Expand).
func (b Block) Mid() int { return b.In * b.Expand }

// SEChannels is the squeeze width: max(1, int(In * SE)), relative to the
// block's input filters as in the official code; 0 when there is no SE.
func (b Block) SEChannels() int {
	if b.SE <= 0 {
		return 0
	}
	return max(1, int(float64(b.In)*b.SE))
}

// Residual reports whether the block has an identity shortcut.
func (b Block) Residual() bool { return b.Stride == 1 && b.In == b.Out }

// NumBlocks is the number of blocks after repeats.
func (a Arch) NumBlocks() int {
	n := 0
	for _, s := range a.Stages {
		n += s.Repeats
	}
	return n
}

// Blocks expands the stages into the blocks the network is built from.
func (a Arch) Blocks() []Block {
	n := a.NumBlocks()
	out := make([]Block, 0, n)
	drop := 1 - a.SurvivalProb
	if a.SurvivalProb <= 0 || a.SurvivalProb > 1 {
		drop = 0
	}
	for si, s := range a.Stages {
		for r := 0; r < s.Repeats; r++ {
			b := Block{Stage: si, Index: r, Type: s.Block, Kernel: s.Kernel, Stride: s.Stride,
				Expand: s.Expand, In: s.In, Out: s.Out, SE: s.SE}
			if r > 0 {
				b.Stride, b.In = 1, s.Out
			}
			b.SurvivalProb = 1 - drop*float64(len(out))/float64(n)
			out = append(out, b)
		}
	}
	return out
}

// WithInput returns a copy adapted to another input: image size, channels and
// classes. With smallImage set the stem stride becomes 1, as is usual for
// 28x28 and 32x32 inputs (CIFAR, MNIST), so the network keeps its spatial
// resolution for longer.
func (a Arch) WithInput(imageSize, channels, classes int, smallImage bool) Arch {
	b := a.Clone()
	if imageSize > 0 {
		b.ImageSize, b.TrainImageSize = imageSize, 0
	}
	if channels > 0 {
		b.InputChannels = channels
	}
	if classes > 0 {
		b.NumClasses = classes
	}
	if smallImage {
		b.Stem.Stride = 1
	}
	return b
}
