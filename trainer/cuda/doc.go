// Package cuda runs work on NVIDIA GPUs without cgo: the CUDA libraries
// are loaded when first needed with github.com/ebitengine/purego, so a
// binary built with CGO_ENABLED=0 on a machine without CUDA runs on a GPU
// host, and CPU-only machines never need a CUDA library.
//
// It binds what a trainer needs: the driver API (devices and their
// properties, the primary context, memory, copies, streams, events,
// modules and kernel launches), NVRTC (CUDA C++ compiled at run time to a
// CUBIN for the device's architecture), cuBLAS (single-precision GEMMs,
// strided batches) and cuDNN 9's legacy convolution API (NHWC tensors,
// grouped convolutions forward, backward data and backward filter, with
// algorithm choice and workspace). The kernels of the trainer's ops and
// their launch wrappers are in package trainer/cudaops, the trainer's
// graphs compiled into programs of them in trainer/cudaexec, and the
// trainer runs on a device through trainer.Device.
//
// # Where the libraries come from
//
// Each library is loaded by absolute path, dependencies first, with its
// symbols global (so that libraries opening others by soname find them):
//
//   - libcuda.so.1 comes with the driver: the directories of
//     LD_LIBRARY_PATH, /usr/lib/<triplet>, /usr/lib64, /usr/lib,
//     /lib/<triplet>, /lib64, /usr/local/nvidia/lib{64,} (containers) and
//     /usr/lib/wsl/lib; failing those, the system loader's own search
//     (ld.so.cache) by name.
//   - NVRTC (and its builtins), cuBLASLt then cuBLAS, the CUDA runtime and
//     cuDNN 9 come from the CUDA toolkit or from NVIDIA's Python wheels:
//     LD_LIBRARY_PATH, $CUDA_HOME/lib64, $CUDA_PATH/lib64,
//     /usr/local/cuda/lib64, /usr/local/cuda/targets/<arch>-linux/lib,
//     /usr/local/cuda-X.Y/lib64 (newest first), /usr/lib/<triplet>,
//     /usr/lib64, /usr/local/lib, then nvidia/{cu13,cudnn,cublas,
//     cuda_nvrtc,cuda_runtime,cu12}/lib under the site-packages (or
//     dist-packages) of the python3 on PATH (and of the interpreter it
//     links to), of $VIRTUAL_ENV and $CONDA_PREFIX, of /usr and /usr/local,
//     and of ~/.local.
//   - The directories of EFFNAS_CUDA_LIBS (colon-separated) are searched
//     before all of these, for every library including the driver.
//
// Newer major versions are preferred (libcublas.so.13 over .12); cuBLAS
// takes the major version of the cuBLASLt found, NVRTC's builtins that of
// NVRTC. cuDNN's sub-libraries (libcudnn_graph, _ops, _cnn, _adv,
// _engines_*, _heuristic) are preloaded from cuDNN's directory before the
// first cuDNN handle is made. A missing library is one line naming the
// files looked for, what they are, the directories searched and the
// override variable; errors.Is tells ErrNoDriver, ErrNoDevice and
// ErrLibrary apart. Probe (what `nas devices` prints) reports every
// library with its path and version, or why it is missing.
//
// # Threads
//
// A CUDA context is current per OS thread. Open starts one goroutine
// locked to one OS thread (the device thread) that makes the device's
// primary context current and then runs closures one at a time:
// Device.Do(func(c *Ctx) error). Every CUDA call of a device happens on
// its device thread, so no call runs without the context and calls never
// interleave; Do from several goroutines is safe and serialised. A Ctx is
// only valid inside its closure. Do inside Do is an error, a panic in the
// closure comes back as an error, and each Do costs a hand-over between
// OS threads, so run a whole training step in one Do.
//
// Work goes to one stream per device (non-blocking, so no implicit
// synchronisation with the legacy stream); copies and launches are queued
// in call order and Download, Sync and event timing wait. Kernel
// arguments are packed into a pinned array that lives as long as the
// device (cuLaunchKernel copies the values when it queues the launch);
// strings and string arrays passed to NVRTC are NUL-terminated copies,
// pinned for the call.
//
// # Precision
//
// By default cuBLAS uses its default math mode (FP32 arithmetic for
// SGEMM) and cuDNN convolutions are restricted to FMA kernels
// (CUDNN_FMA_MATH) and deterministic algorithms: full FP32, reproducible,
// what the parity checks compare with the CPU. Options.TF32 allows TF32
// tensor cores in both (CUBLAS_TF32_TENSOR_OP_MATH, CUDNN_DEFAULT_MATH);
// Device.Precision says which is in effect, and results should report it.
//
// # Testing without a GPU
//
// Package cuda/cudatest builds fake libcuda, libnvrtc, libcublas and
// libcudnn with gcc; the fake driver runs kernels on the CPU (CUDA C
// compiled as C, each block's threads as coroutines), so this package and
// trainer/cudaops are tested end to end on machines without a GPU. The
// real libraries are only exercised on a GPU host (bench/gpu-check.sh).
//
// # Builds
//
// purego brings in a small runtime shim, so binaries link libc
// dynamically even with CGO_ENABLED=0 (unversioned dlopen and pthread
// symbols: any glibc). Build with -tags nocuda for a static binary that
// never loads shared libraries (every GPU is then reported missing).
package cuda
