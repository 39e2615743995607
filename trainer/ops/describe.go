package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Kind says what an op of this package computes, for code that runs the
// package's graphs elsewhere (package trainer/cudaexec compiles them for a
// GPU). Each kind lists its inputs in the order of the node's children.
type Kind int

// The kinds of the package's ops.
const (
	KindUnknown Kind = iota
	// KindConv: y = conv(x, w); inputs (x, w). Desc: Stride, Depthwise,
	// NoGradX (Conv2DInput).
	KindConv
	// KindConvGradX: dx from (w, gy). Desc: Stride, Depthwise, Shape (x).
	KindConvGradX
	// KindConvGradW: dw from (x, gy). Desc: Stride, Depthwise, Shape (w).
	KindConvGradW
	// KindBatchNorm: y from (x, gamma, beta). Desc: BN, SiLU.
	KindBatchNorm
	// KindBatchNormSiLUGrad: gz, the gradient at the SiLU input, from (x,
	// gamma, beta, gy). Desc: BN.
	KindBatchNormSiLUGrad
	// KindBatchNormGradX: dx from (x, gamma, gy). Desc: BN.
	KindBatchNormGradX
	// KindBatchNormGradGamma: dgamma from (x, gy). Desc: BN.
	KindBatchNormGradGamma
	// KindBatchNormGradBeta: dbeta from (x, gy). Desc: BN.
	KindBatchNormGradBeta
	// KindSiLU: y from (x).
	KindSiLU
	// KindSiLUGrad: dx from (x, gy).
	KindSiLUGrad
	// KindSigmoid: y from (x).
	KindSigmoid
	// KindSigmoidGrad: dx from (y, gy), y the forward output.
	KindSigmoidGrad
	// KindGlobalAvgPool: (N,C) from x (N,H,W,C).
	KindGlobalAvgPool
	// KindGlobalAvgPoolGrad: dx from gy (N,C). Desc: Shape (x).
	KindGlobalAvgPoolGrad
	// KindChannelScale: y from (x (N,H,W,C), s (N,C)).
	KindChannelScale
	// KindChannelScaleGradS: ds (N,C) from (x, gy).
	KindChannelScaleGradS
	// KindSampleScale: y from (x (N,...), m (N)).
	KindSampleScale
	// KindBiasAdd: y from (x (...,C), b (C)).
	KindBiasAdd
	// KindChannelSum: (C) from x (...,C), the sum over all but the last
	// dimension.
	KindChannelSum
	// KindAdd: a + b of one shape.
	KindAdd
	// KindSoftmaxCrossEntropy: the scalar mean loss from (logits, targets).
	KindSoftmaxCrossEntropy
	// KindSoftmaxCrossEntropyGrad: dlogits from (logits, targets, g), g the
	// scalar output gradient.
	KindSoftmaxCrossEntropyGrad
)

var kindNames = [...]string{"unknown", "Conv", "ConvGradX", "ConvGradW", "BatchNorm", "BatchNormSiLUGrad", "BatchNormGradX",
	"BatchNormGradGamma", "BatchNormGradBeta", "SiLU", "SiLUGrad", "Sigmoid", "SigmoidGrad", "GlobalAvgPool",
	"GlobalAvgPoolGrad", "ChannelScale", "ChannelScaleGradS", "SampleScale", "BiasAdd", "ChannelSum", "Add",
	"SoftmaxCrossEntropy", "SoftmaxCrossEntropyGrad"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// Desc is what an op of this package computes: its kind and the
// attributes that are not in its inputs' shapes.
type Desc struct {
	Kind Kind
	// Stride of a convolution; Depthwise selects DepthwiseConv2D (weights
	// (KH,KW,C)) over Conv2D (HWIO); NoGradX marks a forward convolution
	// without an input gradient (Conv2DInput).
	Stride             int
	Depthwise, NoGradX bool
	// Shape is the shape a gradient op produces and cannot infer from its
	// inputs: x for ConvGradX and GlobalAvgPoolGrad, w for ConvGradW.
	Shape tensor.Shape
	// BN is the layer of a BatchNorm op; SiLU marks the fused
	// BatchNorm+SiLU forward op.
	BN   *BatchNorm
	SiLU bool
}

// Describe returns what op computes when it is an op of this package.
func Describe(op G.Op) (Desc, bool) {
	d, ok := op.(interface{ describe() Desc })
	if !ok {
		return Desc{}, false
	}
	return d.describe(), true
}

func (o op[K]) describe() Desc {
	if d, ok := any(o.k).(interface{ desc() Desc }); ok {
		return d.desc()
	}
	return Desc{}
}

func (op convOp) desc() Desc {
	return Desc{Kind: KindConv, Stride: op.stride, Depthwise: op.f == depthwiseConv, NoGradX: op.noGradX}
}
func (op convGradXOp) desc() Desc {
	return Desc{Kind: KindConvGradX, Stride: op.stride, Depthwise: op.f == depthwiseConv, Shape: op.xShape.Clone()}
}
func (op convGradWOp) desc() Desc {
	return Desc{Kind: KindConvGradW, Stride: op.stride, Depthwise: op.f == depthwiseConv, Shape: op.wShape.Clone()}
}
func (op bnOp) desc() Desc         { return Desc{Kind: KindBatchNorm, BN: op.bn, SiLU: op.silu} }
func (op bnSiLUGradOp) desc() Desc { return Desc{Kind: KindBatchNormSiLUGrad, BN: op.bn} }
func (op bnGradXOp) desc() Desc    { return Desc{Kind: KindBatchNormGradX, BN: op.bn} }
func (op bnGradGammaOp) desc() Desc {
	if op.beta {
		return Desc{Kind: KindBatchNormGradBeta, BN: op.bn}
	}
	return Desc{Kind: KindBatchNormGradGamma, BN: op.bn}
}
func (op unaryOp) desc() Desc {
	return Desc{Kind: [...]Kind{kSiLU: KindSiLU, kSigmoid: KindSigmoid, kSiLUGrad: KindSiLUGrad, kSigmoidGrad: KindSigmoidGrad}[op.kind]}
}
func (gapOp) desc() Desc        { return Desc{Kind: KindGlobalAvgPool} }
func (op gapGradOp) desc() Desc { return Desc{Kind: KindGlobalAvgPoolGrad, Shape: op.xShape.Clone()} }
func (csOp) desc() Desc         { return Desc{Kind: KindChannelScale} }
func (csGradSOp) desc() Desc    { return Desc{Kind: KindChannelScaleGradS} }
func (ssOp) desc() Desc         { return Desc{Kind: KindSampleScale} }
func (biasOp) desc() Desc       { return Desc{Kind: KindBiasAdd} }
func (chanSumOp) desc() Desc    { return Desc{Kind: KindChannelSum} }
func (addOp) desc() Desc        { return Desc{Kind: KindAdd} }
func (sceOp) desc() Desc        { return Desc{Kind: KindSoftmaxCrossEntropy} }
func (sceGradOp) desc() Desc    { return Desc{Kind: KindSoftmaxCrossEntropyGrad} }

// SetRecalibrationBatches sets the count RecalibrationBatches reports, for
// a layer whose statistics were recalibrated elsewhere (on a GPU) and
// copied in with SetStats: recalibration continues the cumulative average
// from it.
func (bn *BatchNorm) SetRecalibrationBatches(n int) {
	bn.mu.Lock()
	defer bn.mu.Unlock()
	bn.recalN = max(0, n)
}
