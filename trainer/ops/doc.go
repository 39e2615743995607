// Package ops holds the gorgonia operations the trainer builds MBConv and
// Fused-MBConv networks from. Every op has forward and backward kernels,
// differentiates symbolically (gorgonia.Grad + SDOp.SymDiff, run on a
// TapeMachine), and works on float32 (training) and float64 (gradient checks).
//
// # Layouts
//
// As fixed in package kernels: activations NHWC (N,H,W,C), convolution
// weights HWIO (KH,KW,Cin,Cout), depthwise weights (KH,KW,C), dense weights
// (in,out), per-channel vectors (C). Padding is TensorFlow "same" everywhere
// (see SamePadding): out = ceil(in/stride), the odd padding row/column goes
// after, so stride-2 layers pad asymmetrically like the reference weights.
//
// # Ops and why they exist
//
// gorgonia v0.9.18 is NCHW-only and misses or breaks several pieces
// (shared/reference/gorgonia.md):
//
//   - Conv2D(x, w, stride): gorgonia's Conv2d is NCHW, always runs im2col and
//     transposes its output. Here a 1x1 stride-1 convolution is one matrix
//     product (N*H*W,Cin)x(Cin,Cout). float32 3x3 stride-1 convolutions
//     with at least 16 channels on both sides run as Winograd F(2x2,3x3)
//     (winograd.go): 16 products per block of 2x2 output tiles, 2.25 times
//     fewer multiply-adds; the input gradient is the same convolution with
//     the kernel turned, the weight gradient F(3x3,2x2). Other k×k
//     convolutions (and float64, which gradient checks use) run NHWC
//     im2col: tasks of one im2col block of output rows (rows N*OH*OW,
//     columns KH*KW*Cin) and its GEMM against the weights packed once,
//     each on one worker with the block in its cache; the input gradient
//     by whole samples (GEMM, then col2im, whose writes stay inside the
//     samples), the weight gradient over all rows in fixed chunks summed in
//     order. Every matrix product goes through kernels.Gemm. Conv2DInput is
//     Conv2D without the input gradient (the stem: the image needs none).
//   - DepthwiseConv2D(x, w, stride): gorgonia has no grouped/depthwise
//     convolution. Loops are NHWC with the innermost loop over channels,
//     parallel over the batch; each output pixel (and each input-gradient
//     pixel, gathered rather than scattered) sums its taps in registers,
//     and the weight gradient sums each tap over a sample's pixels the
//     same way.
//   - BatchNorm (NewBatchNorm + Apply): gorgonia's BatchNormOp resets its
//     running statistics whenever a machine is built (TrainModeOp), uses the
//     PyTorch momentum convention and cannot recalibrate. Ours owns its
//     float64 statistics, uses the TF convention (momentum 0.9, eps 1e-3),
//     never implements TrainModeOp, carries a unique id in its hash (two
//     layers on one input never merge), updates the statistics exactly once
//     per forward execution, supports BN recalibration (ResetStats +
//     Recalibrate: cumulative average of batch statistics) and exposes
//     Stats/SetStats for checkpoints. Gradients wrt x, gamma and beta;
//     the backward ops recompute the batch statistics from x instead of
//     sharing hidden state with the forward op (a per-layer memo keyed by
//     the identity of x and the output gradient lets them share the
//     statistics and the gradient sums within a run). ApplySiLU is
//     SiLU(BatchNorm(x)) as one op: one forward pass, no normalised tensor
//     kept; its backward op forms the gradient at the SiLU input from x and
//     the BatchNorm gradient sums in the same pass. Narrow layers run the
//     row kernels on several rows per call (tiled per-channel vectors).
//   - SiLU(x), Sigmoid(x): fused, stable, float32 math (own expf), parallel
//     over elements. gorgonia's sigmoid evaluates float64 exp per element on
//     one goroutine, and SiLU as x⊙σ(x) costs several nodes.
//   - GlobalAvgPool(x) (N,H,W,C) -> (N,C): gorgonia's GlobalAveragePool2D
//     has no gradient and Mean over axes 2,3 of a 4-D tensor is wrong.
//   - ChannelScale(x, s): x (N,H,W,C) times s (N,C), the squeeze-and-
//     excitation gate, without broadcast patterns.
//   - SampleScale(x, m): sample n of x (N,...) times m[n], the drop-connect
//     (stochastic depth) mask. The caller fills the input node m each step
//     from its own seeded RNG with 0 or 1/survival (all ones, or no op, to
//     evaluate); m gets no gradient.
//   - BiasAdd(x, b): x (...,C) plus b (C), for SE convolutions and dense.
//   - Add(a, b): a + b of one shape, the residual connection, with the
//     vector kernels (gorgonia's Add runs a scalar loop).
//   - SoftmaxCrossEntropy(logits, targets): scalar mean cross-entropy of
//     (N,K) logits against (N,K) target probabilities, with log-sum-exp;
//     label smoothing is the caller's (smoothed targets). gorgonia has none.
//
// Softmax and Argmax are plain helpers on tensors for evaluation.
//
// Dense layers and dropout need no op of their own: dense is
// gorgonia.Mul(x, w) followed by BiasAdd; dropout before the classifier is a
// mask input node (N,F) filled by the caller from a seeded RNG with 0 or
// 1/(1-p), applied with gorgonia.HadamardProd (gorgonia's Dropout op has a
// wrong gradient, a clock-seeded RNG and a hash without the probability).
// Run graphs with gorgonia.WithEngine(Engine): its MatMul puts the dense
// layers' products on kernels.Gemm, and its Add the sums of gradients that
// gorgonia forms for nodes with several consumers on the vector kernels.
//
// # Contract of every op
//
// Constructors validate shapes and dtypes and return errors naming the op,
// the shapes and what was expected; they never panic. An op is a small
// kernel type (op.go): its String, arity, type, shape rule and a kernel
// that overwrites its output, plus diffWRT/symDiff for a forward op. The
// generic wrapper op[K] gives it everything gorgonia asks of an Op: a hash
// of its type and every attribute, ReturnsPtr false, CallsExtern false,
// OverwritesInput -1, Do and UsePreallocDo (which checks the buffer's shape
// and dtype, as the TapeMachine may hand over another node's register, and
// overwrites it completely), a per-node output cache and the timers.
// Kernels without a gradient (the gradient ops) are not differentiable
// again (no second order). The full and depthwise convolutions share their
// three ops (convop.go), differing in a convFlavour.
//
// # Files
//
// op.go the wrapper and the Do plumbing; engine.go the tensor engine for
// the machines (gorgonia's gradient sums and matrix products on the
// kernels); types.go and check.go the element types and input checks;
// parallel.go the parallel loops on the kernels' team (fixed-part
// reductions whose results do not depend on GOMAXPROCS); conv.go and
// winograd.go the convolutions; timing.go the per-op timers; batchnorm.go the BatchNorm layer and its state, bnops.go
// its ops, bnmemo.go what they share within a run, bnkernels.go and
// bnsilu.go their kernels; vec*.go the row kernels.
//
// # Timing
//
// SetTiming(true) makes every op of the package record its kernel's wall
// time by op type and output shape (Timings, ResetTimings); off by default.
// The trainer's Net.Profile and `nas bench --layers` use it.
//
// # Usage notes
//
//   - Give every parameter node a unique name: gorgonia merges input nodes
//     with equal name, shape and type.
//   - One BatchNorm per layer. Set Training/Recalibrate between runs, not
//     during one; the backward ops read the same mode as the forward op.
//   - Read values with gorgonia.Read: after RunAll a node's Value may hold a
//     later instruction's data.
package ops
