/*
 * A fake libcuda.so.1 for tests: the driver API calls package cuda binds,
 * with canned device properties, host memory as "device" memory, a
 * per-thread current context (calls that need one fail with
 * CUDA_ERROR_INVALID_CONTEXT without it, as the real driver does), and
 * kernels run by the CPU emulator (emulate.h) of modules the fake NVRTC
 * built. Every call appends a line to a log that tests read back
 * (fake_log) to check the arguments they passed; fake_fail makes the next
 * call of a function fail with a given code.
 *
 * Build with -DFAKE_OMIT_LAUNCH for a library lacking cuLaunchKernel.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

/* ---- log, failure injection, thread record ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *logbuf;
static size_t loglen, logcap;
static char fail_call[128];
static int fail_code, fail_skip;
static long tids[64];
static int ntids;
static int ndevices = 1, ccmajor = 9, ccminor = 0;
static long live_allocs;

static void logf_(const char *fmt, ...) {
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	pthread_mutex_lock(&mu);
	if (loglen + (size_t)n + 1 > logcap) {
		logcap = (loglen + (size_t)n + 1) * 2;
		logbuf = realloc(logbuf, logcap);
	}
	memcpy(logbuf + loglen, line, (size_t)n);
	loglen += (size_t)n;
	logbuf[loglen] = 0;
	long tid = (long)syscall(SYS_gettid);
	int seen = 0;
	for (int i = 0; i < ntids; i++)
		if (tids[i] == tid)
			seen = 1;
	if (!seen && ntids < 64)
		tids[ntids++] = tid;
	pthread_mutex_unlock(&mu);
}

/* the start of the call: logs it and returns the injected failure, if any */
static CUresult enter(const char *call, const char *fmt, ...) {
	char args[3800] = "";
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(args, sizeof args, fmt, ap);
		va_end(ap);
	}
	logf_("%s %s", call, args);
	CUresult r = 0;
	pthread_mutex_lock(&mu);
	if (fail_call[0] && strcmp(fail_call, call) == 0) {
		if (fail_skip > 0) {
			fail_skip--;
		} else {
			r = fail_code;
			fail_call[0] = 0;
		}
	}
	pthread_mutex_unlock(&mu);
	return r;
}

const char *fake_log(void) { return logbuf ? logbuf : ""; }
void fake_log_reset(void) {
	pthread_mutex_lock(&mu);
	loglen = 0;
	if (logbuf)
		logbuf[0] = 0;
	ntids = 0;
	pthread_mutex_unlock(&mu);
}
/* fake_fail makes the (skip+1)-th next call of call return code */
void fake_fail(const char *call, int code, int skip) {
	pthread_mutex_lock(&mu);
	snprintf(fail_call, sizeof fail_call, "%s", call);
	fail_code = code;
	fail_skip = skip;
	pthread_mutex_unlock(&mu);
}
int fake_distinct_tids(void) { return ntids; }
void fake_set_devices(int n, int major, int minor) {
	ndevices = n;
	ccmajor = major;
	ccminor = minor;
}
long fake_live_allocs(void) { return live_allocs; }

/* ---- errors ---- */

static const struct {
	int code;
	const char *name, *msg;
} errs[] = {
    {0, "CUDA_SUCCESS", "no error"},
    {1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {200, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {500, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
};

CUresult cuGetErrorName(CUresult r, const char **s) {
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
		if (errs[i].code == r) {
			*s = errs[i].name;
			return 0;
		}
	*s = NULL;
	return 1;
}

CUresult cuGetErrorString(CUresult r, const char **s) {
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
		if (errs[i].code == r) {
			*s = errs[i].msg;
			return 0;
		}
	*s = NULL;
	return 1;
}

/* ---- init, devices ---- */

static int initialised;
static __thread uintptr_t current_ctx;

#define NEED_INIT \
	if (!initialised) \
		return 3;
#define NEED_CTX \
	if (!current_ctx) \
		return 201;

CUresult cuInit(unsigned flags) {
	CUresult r = enter("cuInit", "flags=%u", flags);
	if (r)
		return r;
	initialised = 1;
	return 0;
}

CUresult cuDriverGetVersion(int *v) {
	CUresult r = enter("cuDriverGetVersion", NULL);
	if (r)
		return r;
	*v = 13000;
	return 0;
}

CUresult cuDeviceGetCount(int *n) {
	CUresult r = enter("cuDeviceGetCount", NULL);
	if (r)
		return r;
	NEED_INIT
	*n = ndevices;
	return 0;
}

CUresult cuDeviceGet(int *d, int ordinal) {
	CUresult r = enter("cuDeviceGet", "ordinal=%d", ordinal);
	if (r)
		return r;
	NEED_INIT
	if (ordinal < 0 || ordinal >= ndevices)
		return 101;
	*d = ordinal;
	return 0;
}

CUresult cuDeviceGetName(char *name, int len, int dev) {
	CUresult r = enter("cuDeviceGetName", "len=%d dev=%d", len, dev);
	if (r)
		return r;
	NEED_INIT
	if (dev < 0 || dev >= ndevices)
		return 101;
	snprintf(name, (size_t)len, "Fake GPU %d", dev);
	return 0;
}

CUresult cuDeviceGetAttribute(int *v, int attr, int dev) {
	CUresult r = enter("cuDeviceGetAttribute", "attr=%d dev=%d", attr, dev);
	if (r)
		return r;
	NEED_INIT
	if (dev < 0 || dev >= ndevices)
		return 101;
	switch (attr) {
	case 75: *v = ccmajor; break;
	case 76: *v = ccminor; break;
	case 16: *v = 132; break;
	case 13: *v = 1980000; break;
	case 33: *v = 0x1b + dev; break;
	case 1: *v = 1024; break;
	default: *v = 0;
	}
	return 0;
}

CUresult cuDeviceTotalMem_v2(size_t *b, int dev) {
	CUresult r = enter("cuDeviceTotalMem_v2", "dev=%d", dev);
	if (r)
		return r;
	NEED_INIT
	*b = (size_t)80 << 30;
	return 0;
}

/* contexts: the primary context of device d is the address 0x1000+d */
static int retained[16];

CUresult cuDevicePrimaryCtxRetain(uintptr_t *ctx, int dev) {
	CUresult r = enter("cuDevicePrimaryCtxRetain", "dev=%d", dev);
	if (r)
		return r;
	NEED_INIT
	if (dev < 0 || dev >= ndevices || dev >= 16)
		return 101;
	retained[dev]++;
	*ctx = 0x1000 + (uintptr_t)dev;
	return 0;
}

CUresult cuDevicePrimaryCtxRelease_v2(int dev) {
	CUresult r = enter("cuDevicePrimaryCtxRelease_v2", "dev=%d", dev);
	if (r)
		return r;
	if (dev < 0 || dev >= 16 || retained[dev] == 0)
		return 201;
	retained[dev]--;
	return 0;
}

CUresult cuCtxSetCurrent(uintptr_t ctx) {
	CUresult r = enter("cuCtxSetCurrent", "ctx=%#lx", (unsigned long)ctx);
	if (r)
		return r;
	current_ctx = ctx;
	return 0;
}

CUresult cuCtxSynchronize(void) {
	CUresult r = enter("cuCtxSynchronize", NULL);
	if (r)
		return r;
	NEED_CTX
	return 0;
}

/* ---- memory: host memory, filled with 0xff (NaN floats) when allocated ---- */

CUresult cuMemGetInfo_v2(size_t *free_, size_t *total) {
	CUresult r = enter("cuMemGetInfo_v2", NULL);
	if (r)
		return r;
	NEED_CTX
	*free_ = (size_t)79 << 30;
	*total = (size_t)80 << 30;
	return 0;
}

CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
	CUresult r = enter("cuMemAlloc_v2", "bytes=%zu", bytes);
	if (r)
		return r;
	NEED_CTX
	void *m = malloc(bytes);
	if (!m)
		return 2;
	memset(m, 0xff, bytes);
	__atomic_add_fetch(&live_allocs, 1, __ATOMIC_SEQ_CST);
	*p = (CUdeviceptr)(uintptr_t)m;
	return 0;
}

CUresult cuMemFree_v2(CUdeviceptr p) {
	CUresult r = enter("cuMemFree_v2", "ptr=%#llx", p);
	if (r)
		return r;
	NEED_CTX
	free((void *)(uintptr_t)p);
	__atomic_sub_fetch(&live_allocs, 1, __ATOMIC_SEQ_CST);
	return 0;
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, uintptr_t s) {
	CUresult r = enter("cuMemcpyHtoDAsync_v2", "dst=%#llx bytes=%zu stream=%#lx", dst, n, (unsigned long)s);
	if (r)
		return r;
	NEED_CTX
	memcpy((void *)(uintptr_t)dst, src, n);
	return 0;
}

CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, uintptr_t s) {
	CUresult r = enter("cuMemcpyDtoHAsync_v2", "src=%#llx bytes=%zu stream=%#lx", src, n, (unsigned long)s);
	if (r)
		return r;
	NEED_CTX
	memcpy(dst, (void *)(uintptr_t)src, n);
	return 0;
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, uintptr_t s) {
	CUresult r = enter("cuMemcpyDtoDAsync_v2", "dst=%#llx src=%#llx bytes=%zu stream=%#lx", dst, src, n, (unsigned long)s);
	if (r)
		return r;
	NEED_CTX
	memmove((void *)(uintptr_t)dst, (void *)(uintptr_t)src, n);
	return 0;
}

CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned v, size_t n, uintptr_t s) {
	CUresult r = enter("cuMemsetD32Async", "dst=%#llx value=%#x count=%zu stream=%#lx", dst, v, n, (unsigned long)s);
	if (r)
		return r;
	NEED_CTX
	unsigned *p = (unsigned *)(uintptr_t)dst;
	for (size_t i = 0; i < n; i++)
		p[i] = v;
	return 0;
}

/* ---- streams and events (work is synchronous here) ---- */

static uintptr_t next_stream = 0x5000;

CUresult cuStreamCreate(uintptr_t *s, unsigned flags) {
	CUresult r = enter("cuStreamCreate", "flags=%u", flags);
	if (r)
		return r;
	NEED_CTX
	*s = __atomic_add_fetch(&next_stream, 0x10, __ATOMIC_SEQ_CST);
	return 0;
}

CUresult cuStreamDestroy_v2(uintptr_t s) {
	CUresult r = enter("cuStreamDestroy_v2", "stream=%#lx", (unsigned long)s);
	if (r)
		return r;
	NEED_CTX
	return 0;
}

CUresult cuStreamSynchronize(uintptr_t s) {
	CUresult r = enter("cuStreamSynchronize", "stream=%#lx", (unsigned long)s);
	if (r)
		return r;
	NEED_CTX
	return 0;
}

typedef struct {
	struct timespec t;
	int recorded;
} event;

CUresult cuEventCreate(uintptr_t *e, unsigned flags) {
	CUresult r = enter("cuEventCreate", "flags=%u", flags);
	if (r)
		return r;
	NEED_CTX
	*e = (uintptr_t)calloc(1, sizeof(event));
	return 0;
}

CUresult cuEventDestroy_v2(uintptr_t e) {
	CUresult r = enter("cuEventDestroy_v2", NULL);
	if (r)
		return r;
	NEED_CTX
	free((void *)e);
	return 0;
}

CUresult cuEventRecord(uintptr_t e, uintptr_t s) {
	CUresult r = enter("cuEventRecord", "stream=%#lx", (unsigned long)s);
	if (r)
		return r;
	NEED_CTX
	event *ev = (event *)e;
	clock_gettime(CLOCK_MONOTONIC, &ev->t);
	ev->recorded = 1;
	return 0;
}

CUresult cuEventSynchronize(uintptr_t e) {
	CUresult r = enter("cuEventSynchronize", NULL);
	if (r)
		return r;
	NEED_CTX
	return 0;
}

CUresult cuEventElapsedTime(float *ms, uintptr_t a, uintptr_t b) {
	CUresult r = enter("cuEventElapsedTime", NULL);
	if (r)
		return r;
	NEED_CTX
	event *x = (event *)a, *y = (event *)b;
	if (!x->recorded || !y->recorded)
		return 400;
	*ms = (float)((y->t.tv_sec - x->t.tv_sec) * 1e3 + (y->t.tv_nsec - x->t.tv_nsec) / 1e6);
	return 0;
}

/* ---- modules: an image is "FAKECUBIN:<path>" or "FAKEPTX:<path>" of a
 * shared object built by the fake NVRTC ---- */

typedef struct {
	void *so;
} module;

typedef struct {
	void (*tramp)(void **);
	const char *sig;
	char name[128];
	module *m;
} function;

CUresult cuModuleLoadData(uintptr_t *mod, const void *image) {
	const char *img = image;
	CUresult r = enter("cuModuleLoadData", "image=%.200s", img);
	if (r)
		return r;
	NEED_CTX
	const char *path = NULL;
	if (strncmp(img, "FAKECUBIN:", 10) == 0)
		path = img + 10;
	else if (strncmp(img, "FAKEPTX:", 8) == 0)
		path = img + 8;
	else
		return 200;
	void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!so) {
		logf_("dlopen: %s", dlerror());
		return 200;
	}
	module *m = calloc(1, sizeof *m);
	m->so = so;
	*mod = (uintptr_t)m;
	return 0;
}

CUresult cuModuleUnload(uintptr_t mod) {
	CUresult r = enter("cuModuleUnload", NULL);
	if (r)
		return r;
	NEED_CTX
	module *m = (module *)mod;
	dlclose(m->so);
	free(m);
	return 0;
}

CUresult cuModuleGetFunction(uintptr_t *f, uintptr_t mod, const char *name) {
	CUresult r = enter("cuModuleGetFunction", "name=%s", name);
	if (r)
		return r;
	NEED_CTX
	module *m = (module *)mod;
	char sym[160];
	snprintf(sym, sizeof sym, "emu_%s", name);
	void *tramp = dlsym(m->so, sym);
	snprintf(sym, sizeof sym, "emu_sig_%s", name);
	const char **sig = dlsym(m->so, sym);
	if (!tramp || !sig)
		return 500;
	function *fn = calloc(1, sizeof *fn);
	fn->tramp = (void (*)(void **))tramp;
	fn->sig = *sig;
	fn->m = m;
	snprintf(fn->name, sizeof fn->name, "%s", name);
	*f = (uintptr_t)fn;
	return 0;
}

#ifndef FAKE_OMIT_LAUNCH
CUresult cuLaunchKernel(uintptr_t f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                        unsigned bz, unsigned shmem, uintptr_t stream, void **params, void **extra) {
	function *fn = (function *)f;
	char args[3000] = "";
	size_t at = 0;
	for (const char *c = fn->sig; *c && at < sizeof args - 64; c++) {
		void *p = params[c - fn->sig];
		switch (*c) {
		case 'p': at += (size_t)snprintf(args + at, sizeof args - at, " p:%#llx", *(unsigned long long *)p); break;
		case 'i': at += (size_t)snprintf(args + at, sizeof args - at, " i:%d", *(int *)p); break;
		case 'f': at += (size_t)snprintf(args + at, sizeof args - at, " f:%.9g", (double)*(float *)p); break;
		case 'l': at += (size_t)snprintf(args + at, sizeof args - at, " l:%lld", *(long long *)p); break;
		case 'd': at += (size_t)snprintf(args + at, sizeof args - at, " d:%.17g", *(double *)p); break;
		}
	}
	CUresult r = enter("cuLaunchKernel", "%s grid=%u,%u,%u block=%u,%u,%u shmem=%u stream=%#lx extra=%p args=%s",
	                   fn->name, gx, gy, gz, bx, by, bz, shmem, (unsigned long)stream, (void *)extra, args);
	if (r)
		return r;
	NEED_CTX
	if (!gx || !gy || !gz || !bx || !by || !bz || bx * by * bz > 1024)
		return 1;
	int (*launch)(void (*)(void **), unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void **) =
	    (int (*)(void (*)(void **), unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void **))dlsym(fn->m->so, "emu_launch");
	if (!launch)
		return 500;
	if (launch(fn->tramp, gx, gy, gz, bx, by, bz, params) != 0)
		return 2;
	return 0;
}
#endif
