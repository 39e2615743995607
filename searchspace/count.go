package searchspace

import "fmt"

// Count is a tally of one part of a network.
type Count struct {
	// Params is the number of trainable parameters.
	Params int64 `json:"params"`
	// ParamsTotal adds the BatchNorm moving mean and variance, as Keras'
	// count_params() does (the official automl test numbers).
	ParamsTotal int64 `json:"params_total"`
	// MACs is the number of multiply-adds of convolutions and dense layers
	// for one image (the "FLOPs" of the EfficientNet papers).
	MACs int64 `json:"macs"`
}

func (c *Count) add(o Count) {
	c.Params += o.Params
	c.ParamsTotal += o.ParamsTotal
	c.MACs += o.MACs
}

// conv counts a kxk convolution from cin to cout producing an hw x hw map,
// optionally with a bias.
func conv(k, cin, cout, hw int, bias bool) Count {
	p := int64(k) * int64(k) * int64(cin) * int64(cout)
	c := Count{Params: p, ParamsTotal: p, MACs: p * int64(hw) * int64(hw)}
	if bias {
		c.Params += int64(cout)
		c.ParamsTotal += int64(cout)
	}
	return c
}

// depthwise counts a kxk depthwise convolution over c channels.
func depthwise(k, c, hw int) Count {
	p := int64(k) * int64(k) * int64(c)
	return Count{Params: p, ParamsTotal: p, MACs: p * int64(hw) * int64(hw)}
}

// batchNorm counts gamma and beta (trainable) plus moving mean and variance.
func batchNorm(c int) Count {
	return Count{Params: 2 * int64(c), ParamsTotal: 4 * int64(c)}
}

// OutSize is the output size of a TF "same" convolution: ceil(in / stride).
func OutSize(in, stride int) int { return (in + stride - 1) / stride }

// PartCount is the tally of one part of the network (stem, a stage, head,
// classifier) at a given input resolution.
type PartCount struct {
	Name string `json:"name"`
	// Block is the official block string of a stage; empty for other parts.
	Block string `json:"block,omitempty"`
	// OutSize is the spatial size of the part's output.
	OutSize int `json:"out_size"`
	Count
}

// Accounting is the tally of a whole network at one image size and class
// count: per part and in total.
type Accounting struct {
	ImageSize  int         `json:"image_size"`
	NumClasses int         `json:"num_classes"`
	Parts      []PartCount `json:"parts"`
	Total      Count       `json:"total"`
}

// BlockCount tallies one block whose input is hw x hw.
func BlockCount(b Block, hw int) Count {
	var c Count
	out := OutSize(hw, b.Stride)
	mid := b.Mid()
	se := func(atHW int) {
		if n := b.SEChannels(); n > 0 {
			c.add(conv(1, mid, n, 1, true))
			c.add(conv(1, n, mid, 1, true))
		}
	}
	switch b.Type {
	case MBConv:
		if b.Expand != 1 {
			c.add(conv(1, b.In, mid, hw, false))
			c.add(batchNorm(mid))
		}
		c.add(depthwise(b.Kernel, mid, out))
		c.add(batchNorm(mid))
		se(out)
		c.add(conv(1, mid, b.Out, out, false))
		c.add(batchNorm(b.Out))
	case FusedMBConv:
		if b.Expand != 1 {
			c.add(conv(b.Kernel, b.In, mid, out, false))
			c.add(batchNorm(mid))
			se(out)
			c.add(conv(1, mid, b.Out, out, false))
		} else {
			// The official e=1 block is a single kxk convolution (with SE, if
			// any, applied before it on the input).
			se(hw)
			c.add(conv(b.Kernel, b.In, b.Out, out, false))
		}
		c.add(batchNorm(b.Out))
	}
	return c
}

// Count tallies the network at the given image size and class count; zero
// values mean the architecture's own ImageSize and NumClasses.
func (a Arch) Count(imageSize, classes int) (Accounting, error) {
	if imageSize <= 0 {
		imageSize = a.ImageSize
	}
	if classes <= 0 {
		classes = a.NumClasses
	}
	b := a.Clone()
	b.ImageSize, b.NumClasses = imageSize, classes
	if err := b.Validate(); err != nil {
		return Accounting{}, err
	}
	acc := Accounting{ImageSize: imageSize, NumClasses: classes}
	hw := OutSize(imageSize, a.Stem.Stride)
	stem := conv(a.Stem.Kernel, a.InputChannels, a.Stem.Channels, hw, false)
	stem.add(batchNorm(a.Stem.Channels))
	acc.Parts = append(acc.Parts, PartCount{Name: "stem", OutSize: hw, Count: stem})
	blocks := a.Blocks()
	for si, s := range a.Stages {
		p := PartCount{Name: fmt.Sprintf("stage %d", si+1), Block: EncodeBlockString(s)}
		for _, blk := range blocks {
			if blk.Stage != si {
				continue
			}
			p.add(BlockCount(blk, hw))
			hw = OutSize(hw, blk.Stride)
		}
		p.OutSize = hw
		acc.Parts = append(acc.Parts, p)
	}
	last := a.Stages[len(a.Stages)-1].Out
	head := conv(1, last, a.HeadChannels, hw, false)
	head.add(batchNorm(a.HeadChannels))
	acc.Parts = append(acc.Parts, PartCount{Name: "head", OutSize: hw, Count: head})
	acc.Parts = append(acc.Parts, PartCount{Name: "classifier", OutSize: 1, Count: conv(1, a.HeadChannels, classes, 1, true)})
	for _, p := range acc.Parts {
		acc.Total.add(p.Count)
	}
	return acc, nil
}
