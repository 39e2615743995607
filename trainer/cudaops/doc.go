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
// # The trainer on the device
//
// Package trainer/cudaexec compiles the trainer's differentiated gorgonia
// graphs into programs of this package's wrappers (every op mapped by its
// kind and attributes, ops.Describe; an arena with liveness reuse), and
// trainer.Device (Settings.Device, Eval.Device) runs training steps,
// evaluation, BatchNorm recalibration and timing with them: parameters,
// gradients, the optimizer state (RMSPropStep in the CPU solver's form,
// AdamStep, SGDStep, one launch per weight-decay group, guarded by the
// step's loss) and the BatchNorm layers stay on the device; a step is one
// Device.Do. Tests on the emulator compare steps, short runs, evaluation
// and checkpoints with the CPU trainer.
//
// Still to do:
//
//   - The --device flags of train, eval, bench, search and worker (the
//     function they call is cmd/nas's deviceSettings), after the work on
//     those commands lands.
//   - Speed, after parity on a GPU: launch overhead (go test -bench
//     DriverCall ./trainer/cuda/ measures a purego call, with the fake
//     driver, at about 1.3 us and 3 allocations on this project's CPU; a
//     bench-dw training step is about 300 calls: 227 launches of this
//     package's kernels, 60 cuBLAS GEMMs, 11 cuDNN convolutions; CUDA
//     graphs would replay a step in one call), pinned host memory so the batch upload overlaps
//     the previous step, the depthwise path per shape (ours or cuDNN's,
//     from nas devices --bench), depthwise kernels with shared-memory
//     tiles, fusing the SE gate.
//
// results/gpu/README.md says what a GPU run must check.
package cudaops
