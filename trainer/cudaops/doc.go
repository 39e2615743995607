// Package cudaops runs the trainer's ops (package trainer/ops) on a CUDA
// device, and checks that they compute what the CPU ops compute.
//
// # Kernels
//
// The device kernels are CUDA C generated from one launch table
// (source.go): each entry is a name, a parameter list and a body, and
// repetitive shapes are Go templates (elementwise grid-stride loops,
// deterministic reductions over rows or pixels, the two RMSProp forms,
// BatchNorm with and without SiLU). Source() emits the kernels and, for
// the CPU emulator of the tests only, one trampoline and signature per
// kernel. Load compiles the source with NVRTC for the device's
// architecture (a CUBIN; PTX when NVRTC does not know the architecture),
// caches the image in the process and on disk (EFFNAS_CUDA_CACHE, default
// the user's cache directory; "off" disables) keyed by NVRTC version,
// architecture, options and source, and resolves every kernel of the
// table. Each typed wrapper (SiLU, DepthwiseForward, BNForward, ...)
// validates sizes and launches through the table, which checks the number
// and kinds of the arguments against the kernel's parameters.
//
// Semantics follow trainer/ops exactly: NHWC activations, HWC depthwise
// and HWIO convolution weights, TF "same" padding (ops.SamePadding: the
// odd row or column after), BatchNorm with batch statistics (biased
// variance to normalise, unbiased for the running update), TF momentum
// (0.9) and epsilon (1e-3), recalibration as a cumulative average, the
// fused BatchNorm+SiLU gradient, softmax cross-entropy on soft targets
// with gradient (softmax*sum(t) - t)*g/N, SampleScale's exact zeros.
// Reductions (BatchNorm statistics and gradient sums, bias and depthwise
// weight gradients, pooling, the loss) accumulate in float64 over a fixed
// split of the rows and add the parts in order: results do not depend on
// scheduling, so a seed gives the same numbers on every run of one GPU.
//
// Convolutions other than depthwise use cuBLAS (1x1 stride 1: one GEMM,
// as on the CPU) or cuDNN (HWIO weights transposed to cuDNN's KRSC; an
// asymmetric "same" padding becomes symmetric padding of an input padded
// with a zero row and column at the end, the input gradient cropped back).
// Depthwise convolutions have their own kernels; Conv with Depthwise runs
// cuDNN's grouped convolution for comparison (Bench).
//
// RMSPropStep implements the official TF form (epsilon inside the square
// root: ms = decay*ms + (1-decay)*g^2; mom = momentum*mom +
// lr*g/sqrt(ms+eps); w -= mom) and, with Torch, PyTorch's (and the CPU
// trainer's) lr*g/(sqrt(ms)+eps).
//
// # Parity
//
// Check runs every op on seeded random inputs and compares each output
// with the CPU: trainer/ops through a gorgonia graph (forward, and the
// gradients of sum(out*gy) for a random gy), trainer/kernels.Gemm, and the
// trainer's RMSProp update. An output passes when every element satisfies
// |device-cpu| <= Rel*|cpu| + Abs*max|cpu|: TolElementwise (1e-5, 1e-6)
// for elementwise ops, TolReduction (1e-4, 1e-5) for sums, convolutions
// and GEMMs in FP32, TolTF32 (1e-2, 2e-3) for cuBLAS and cuDNN with TF32.
// `nas devices --check` prints the table; on the CPU emulator of the
// tests every output passes, most of them bit for bit.
//
// # Still to do: the trainer on the device
//
// Nothing in the trainer calls this package yet. The intended shape keeps
// gorgonia as the graph and the symbolic differentiation and makes the
// execution ours:
//
//  1. After gorgonia.Grad, compile the graph into a device program instead
//     of a TapeMachine: walk the nodes in gorgonia's topological order and
//     map each op to a wrapper here by its type and attributes (DepthwiseConv2D
//     and its two gradient ops, Conv2D/Conv2DInput and theirs, BatchNorm(+SiLU)
//     forward and its gradient ops, which become one BNBackward, SiLU,
//     Sigmoid, ChannelScale, GlobalAvgPool, SampleScale, BiasAdd and
//     ChannelSum, Add, SoftmaxCrossEntropy and its gradient), plus the few
//     gorgonia ops the builder uses (Mul for dense layers: cuBLAS with the
//     transposes gorgonia's gradient asks for; HadamardProd for the dropout
//     mask: one more elementwise kernel; Add where gradients of a node with
//     several consumers are summed; Reshape: a view). trainer/ops needs to
//     expose each op's kind and attributes for this (its generic op wrapper
//     is the place); an op without a device mapping is a build error of the
//     program, never a silent copy to the host.
//  2. Give every node a device buffer from one arena, reusing memory of
//     nodes whose last reader has run (liveness from the same order);
//     parameters, their gradients, RMSProp state and BatchNorm state live
//     on the device for the whole run.
//  3. A step is one Device.Do: upload the batch, targets and masks (pinned
//     host memory would let the copy overlap the previous step), run the
//     program, RMSPropStep per parameter (WeightDecay 0 where the kind does
//     not decay), download the loss. Checkpoints download weights and
//     BatchNorm.Stats.
//  4. Measurement: events around steps; the host fingerprint gets the
//     DeviceInfo, Precision and library versions; --device on train, eval,
//     bench, search and worker opens the device with openDevice
//     (cmd/nas/devices.go).
//  5. Speed, after parity: launch overhead (go test -bench DriverCall
//     ./trainer/cuda/ measures a purego call, with the fake driver, at about
//     1.3 us and 3 allocations on this project's CPU; CUDA graphs would
//     replay a step in one call),
//     depthwise kernels with shared-memory tiles, fusing the SE gate.
//
// results/gpu/README.md says what a GPU run must check.
package cudaops
