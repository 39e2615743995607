// Package kernels holds the numeric kernels the trainer's ops call: matrix
// multiplication and the elementwise row kernels.
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
//
// # Backends
//
// Gemm[float32] and the row kernels (vec.go: SiLU, sigmoid and their
// gradients, affine and fused affine+SiLU, FMA, add, mul, copy, 2-D copy and
// add, squared deviations, shifted and gradient sums, the depthwise pixel,
// the Winograd transforms) run on one backend, chosen at start-up from the CPU's features
// (golang.org/x/sys/cpu). Backend names it; a run records it next to its
// timings. Gemm[float64] always runs the reference loops (float64 is only
// used for gradient checks).
//
//   - "avx512": amd64 with AVX-512F and OS support for the zmm and opmask
//     state. GEMM micro-kernels keep an MR x 16*NV tile of C in zmm
//     registers (16x16, 14x32, 9x48 or 6x64, picked per call from n),
//     broadcast A from memory (VBROADCASTSS / embedded broadcast) and mask
//     column tails. Row kernels: hand-written, 16 lanes, masked tails.
//   - "avx2": amd64 with AVX2, FMA and OS support for the ymm state. GEMM:
//     6x16 (12x8 and 4x24 for narrow and 24-wide panels), A broadcast from
//     memory, the next row tile's A prefetched (go-avx2-gemm.md). Row
//     kernels: 8 lanes, the last n%8 elements one at a time.
//   - "neon": arm64 with Advanced SIMD. GEMM: 8x8 and 8x4 tiles, A held in
//     registers and multiplied by element (FMLA Vd, Vn, Vm.S[i]); row
//     kernels: 4 lanes. Developed and tested under qemu-user; not yet timed
//     on arm64 hardware.
//   - "go": portable Go, the automatic choice on other CPUs: the same
//     blocked driver with scalar 4x2 and 3x3 micro-kernels (sized to fit
//     amd64's 15 X registers, k unrolled 4x), and row kernels that compute
//     exactly ref's values without data-dependent branches.
//   - "ref": the reference loops.
//
// Force a backend with the environment variable EFFNAS_KERNELS=ref|go|avx2|
// avx512|neon (read at start-up; "auto" or empty picks the fastest this CPU
// runs; one it cannot run is an error that falls back to auto) or with
// SetBackend. Every backend is tested against ref wherever it can run (the
// neon one in CI under qemu-aarch64). Results are deterministic per
// backend; backends differ by rounding (FMA, their own exp).
//
// The assembly and the go micro-kernels are generated (go generate runs
// internal/gen; a test fails when a committed file is stale). The row
// kernels of avx2 and neon come from one description of each kernel (a
// short SSA body that per-ISA emitters turn into loops); Go's arm64
// assembler lacks most float vector instructions, so those are WORD
// encodings with the instruction in a comment.
//
// # GEMM driver
//
// The driver (sgemm.go) reads A in place through the micro-kernels (row
// stride lda for A, or contiguous rows of A^T when transA), packs alpha*op(B)
// into zero-padded [k][nr] panels (read in place when B is exactly one full
// panel wide; one strided copy per panel), and handles all four transpose
// combinations, any lda/ldb/ldc and tails in m, n and k (masked on avx512;
// through a scratch tile on the others). PackedB packs op(B) once for
// products with many A (GemmPacked: a convolution's weights against each
// block of its rows).
//
// Tall problems split rows into chunks of micro-tiles that the team's
// workers (below) claim one at a time; the last chunks shrink (a quarter
// of what is left), so that the worker that takes the last one does not
// keep the other waiting long. B is packed by the first task, while the
// helpers join. Long reductions with few output rows (the A^T*B weight
// gradients) split k instead, into up to maxSplitK ranges of whole k blocks
// fixed by k alone (shrinking at the end likewise), each summed into its
// own buffer (the first into C) and added into C in range order by a
// second parallel phase over rows; so results do not depend on GOMAXPROCS.
// Calls under about 2^20 multiply-adds stay on the calling goroutine, as
// does any call made from inside a team task. Jobs and packing buffers are
// recycled, so steady-state calls do not allocate. BenchmarkGemm reports
// the helpers' share of the chunks.
//
// # The team
//
// Parallel (team.go) runs a call's tasks on the calling goroutine and up
// to GOMAXPROCS-1 helper goroutines, started once; the GEMM driver and the
// ops' parallel loops (package ops) share it. A call publishes its tasks
// in one slot and every worker claims task indices from one counter. An
// idle helper polls for the next call for spinFor (200µs), offering its
// CPU to other threads between polls (sched_yield), and then parks: the
// calls of a training step follow each other within microseconds, and
// waking a parked goroutine costs tens of microseconds on a virtual
// machine, more than many calls take. A caller whose tasks are all claimed
// polls briefly for the helpers still working, then parks until the last
// one leaves. One call owns the team at a time; a call made inside a task,
// or while another goroutine's call runs, runs its tasks on the calling
// goroutine. Callers split their work by the problem, never by the worker
// count.
//
// # Winograd transforms
//
// WinoIn, WinoOut, WinoFilter, WinoFilter2 and WinoOut3 (vec_wino.go) are
// the 1-D transforms of Winograd F(2x2, 3x3) and F(3x3, 2x2) as row
// kernels over n lanes of four (three, two) rows, for package ops' 3x3
// convolutions. They add, subtract and halve in one order, so every
// backend computes the same values; avx2 and neon are generated, avx512
// uses avx2's (they move data more than they compute), go and ref are
// loops.
package kernels
