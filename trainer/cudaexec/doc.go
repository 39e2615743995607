// Package cudaexec runs the trainer's gorgonia graphs on a CUDA device.
// Gorgonia stays the graph and the symbolic differentiation (the trainer
// builds a network and calls gorgonia.Grad as on the CPU); Compile turns
// the differentiated graph into a device program, a list of instructions
// that Program.Run queues on the device's stream.
//
// # Compiling
//
// Compile walks the nodes in gorgonia's topological order, keeping those
// the requested outputs depend on (the loss, the logits, the parameters'
// gradients), and maps each op by its kind and attributes
// (ops.Describe) to a launch wrapper of package trainer/cudaops:
//
//   - Conv2D and Conv2DInput and their gradient ops: cudaops.Conv (one
//     cuBLAS GEMM for 1x1 stride 1, cuDNN otherwise), one prepared
//     convolution per shape shared by every layer of that shape;
//     DepthwiseConv2D and its gradients: the package's own kernels.
//   - BatchNorm(+SiLU) forward: BNForward in the mode of the run; the
//     backward ops of a layer (BatchNormSiLUGrad, GradX, GradGamma,
//     GradBeta) become one BNBackward, which writes all four.
//   - SiLU, Sigmoid and their gradients, GlobalAvgPool(+Grad),
//     ChannelScale(+GradS), SampleScale, BiasAdd, ChannelSum (ColumnSum)
//     and Add: one wrapper each.
//   - SoftmaxCrossEntropy and its gradient: one SoftmaxCrossEntropy call
//     for both; the gradient's output gradient must be a constant (the 1
//     that gorgonia.Grad starts the backward pass with).
//   - gorgonia's own ops the trainer's graphs contain: the matrix product
//     with the transposes its gradients use (A×B, Aᵀ×B, A×Bᵀ: a row-major
//     cuBLAS GEMM), the elementwise sum (gradients of a node with several
//     consumers) and product (the dropout mask) of equal shapes.
//
// Any other op, a graph input that is neither among Spec.Inputs nor
// bound to a caller's buffer, or a dtype other than float32 is an error
// naming the node: nothing silently falls back to the host. gorgonia's
// Read nodes are not outputs and are skipped; reshapes do not occur in
// the trainer's graphs and have no mapping.
//
// # Memory
//
// The parameters are bound to device buffers the caller owns (Spec.Bound),
// so they stay on the device for the whole of training; the BatchNorm
// layers' device state comes from the caller too (Spec.BatchNorm), shared
// by the programs of one network. Inputs get buffers of their own.
// Every other value gets a place in one arena from the instruction that
// writes it to the last that reads it (outputs: to the end of the run),
// first fit over a free list, 256-byte aligned; Stats reports the arena
// against a buffer per value (about 40% of it for a training step of the
// bench networks and efficientnetv2-b0, a tenth for inference). Plan
// does the same without a device, to know a graph's memory beforehand.
//
// # Running
//
// Run queues the instructions on the device's current stream; nothing
// waits until the caller downloads a value. A program with a backward pass
// runs in BNTrain mode only (its gradients use the batch statistics of its
// own forward pass); an inference program runs in BNEval (running
// statistics) or BNRecalibrate. Profile runs once with events around each
// instruction and returns the device time per op and shape.
//
// The trainer (trainer.Device, Settings.Device) builds the programs of a
// step and of evaluation with this package and keeps the optimizer state
// on the device. The tests compare a program with gorgonia's tape machine
// on the CPU emulator of package cuda/cudatest.
package cudaexec
