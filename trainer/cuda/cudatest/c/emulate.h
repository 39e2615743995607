/*
 * emulate.h: runs CUDA C kernels on the CPU, for tests.
 *
 * The fake NVRTC compiles a kernel source with gcc as C with
 * -DEFFNAS_EMULATE -include emulate.h. Each CUDA thread of a block is a
 * ucontext coroutine on one OS thread; __syncthreads() yields to a
 * round-robin scheduler, so every thread of the block finishes a phase
 * before any starts the next, as on a GPU. Blocks run one after another,
 * so __shared__ variables are plain statics. Kernel sources must be C
 * compatible (no templates, references or warp intrinsics) and must not
 * return early from a kernel that synchronises.
 *
 * Kernel sources provide, under #ifdef EFFNAS_EMULATE, a trampoline per
 * kernel, void emu_NAME(void **params), that unpacks cuLaunchKernel's
 * parameter array, and its signature string emu_sig_NAME ('p' pointer,
 * 'i' int, 'f' float, 'l' long long, 'd' double).
 */
#ifndef EFFNAS_EMULATE_H
#define EFFNAS_EMULATE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

typedef struct { unsigned int x, y, z; } dim3;
typedef dim3 uint3;

static uint3 threadIdx, blockIdx;
static dim3 blockDim, gridDim;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ restrict
#define __shared__ static
#define EXTERN_C
#define __syncthreads() emu_sync()

static ucontext_t emu_sched;
static ucontext_t *emu_ctx;
static int *emu_done;
static int emu_cur;
static void (*emu_tramp)(void **);
static void **emu_params;

static void emu_sync(void) { swapcontext(&emu_ctx[emu_cur], &emu_sched); }

static void emu_entry(void) {
	emu_tramp(emu_params);
	emu_done[emu_cur] = 1;
}

/* emu_launch runs tramp(params) on a grid of blocks; the fake driver
 * calls it from cuLaunchKernel. It returns 0, or -1 if out of memory. */
int emu_launch(void (*tramp)(void **), unsigned gx, unsigned gy, unsigned gz,
               unsigned bx, unsigned by, unsigned bz, void **params) {
	const size_t stack = 64 * 1024;
	int n = (int)(bx * by * bz);
	char *stacks = malloc((size_t)n * stack);
	emu_ctx = malloc(sizeof(ucontext_t) * (size_t)n);
	emu_done = malloc(sizeof(int) * (size_t)n);
	if (!stacks || !emu_ctx || !emu_done) {
		free(stacks);
		free(emu_ctx);
		free(emu_done);
		return -1;
	}
	emu_tramp = tramp;
	emu_params = params;
	gridDim.x = gx, gridDim.y = gy, gridDim.z = gz;
	blockDim.x = bx, blockDim.y = by, blockDim.z = bz;
	for (unsigned z = 0; z < gz; z++)
		for (unsigned y = 0; y < gy; y++)
			for (unsigned x = 0; x < gx; x++) {
				blockIdx.x = x, blockIdx.y = y, blockIdx.z = z;
				for (int t = 0; t < n; t++) {
					getcontext(&emu_ctx[t]);
					emu_ctx[t].uc_stack.ss_sp = stacks + (size_t)t * stack;
					emu_ctx[t].uc_stack.ss_size = stack;
					emu_ctx[t].uc_link = &emu_sched;
					makecontext(&emu_ctx[t], emu_entry, 0);
					emu_done[t] = 0;
				}
				int live = 1;
				while (live) {
					live = 0;
					for (int t = 0; t < n; t++) {
						if (emu_done[t])
							continue;
						emu_cur = t;
						threadIdx.x = (unsigned)t % bx;
						threadIdx.y = ((unsigned)t / bx) % by;
						threadIdx.z = (unsigned)t / (bx * by);
						swapcontext(&emu_sched, &emu_ctx[t]);
						if (!emu_done[t])
							live = 1;
					}
				}
			}
	free(stacks);
	free(emu_ctx);
	free(emu_done);
	emu_ctx = NULL;
	emu_done = NULL;
	return 0;
}

#endif
