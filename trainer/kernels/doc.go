// Package kernels holds the numeric kernels the trainer's ops call: matrix
// multiplication, and (later) convolution and elementwise helpers.
//
// It is the one seam between the graph (package ops) and the arithmetic. Every
// kernel has a plain reference implementation that tests trust; faster
// implementations (SIMD, assembly, GPU) live behind the same functions and are
// tested against the reference.
//
// Layout conventions used across the trainer, fixed here so every op agrees:
//   - activations are NHWC (batch, height, width, channels), row-major;
//   - convolution weights are HWIO (kernel height, kernel width, in, out);
//   - depthwise weights are HWC (kernel height, kernel width, channels);
//   - dense weights are (in, out).
package kernels
