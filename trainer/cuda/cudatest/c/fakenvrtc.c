/*
 * A fake libnvrtc for tests: "compiles" a CUDA C source by building it with
 * gcc as C against emulate.h (-DEFFNAS_EMULATE) into a shared object in
 * EMU_DIR; the "CUBIN" (or PTX) is the text FAKECUBIN:<path of the .so>,
 * which the fake driver loads. gcc's messages are the program log. Every
 * call is logged (fake_nvrtc_log) with its options.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef EMU_DIR
#error EMU_DIR must be defined
#endif

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *logbuf;
static size_t loglen, logcap;
static int counter;
static int archs[] = {75, 80, 86, 89, 90, 100, 120};
static int narchs = sizeof archs / sizeof archs[0];

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
	pthread_mutex_unlock(&mu);
}

const char *fake_nvrtc_log(void) { return logbuf ? logbuf : ""; }
void fake_nvrtc_log_reset(void) {
	pthread_mutex_lock(&mu);
	loglen = 0;
	if (logbuf)
		logbuf[0] = 0;
	pthread_mutex_unlock(&mu);
}
/* fake_nvrtc_archs replaces the supported architectures (n <= 7). */
void fake_nvrtc_archs(const int *a, int n) {
	if (n > 7)
		n = 7;
	for (int i = 0; i < n; i++)
		archs[i] = a[i];
	narchs = n;
}

typedef struct {
	char *src, *name, *log, *image;
	size_t imagelen;
	int ptx;
} program;

int nvrtcVersion(int *major, int *minor) {
	logf_("nvrtcVersion");
	*major = 13;
	*minor = 0;
	return 0;
}

const char *nvrtcGetErrorString(int r) {
	switch (r) {
	case 0: return "NVRTC_SUCCESS";
	case 3: return "NVRTC_ERROR_INVALID_INPUT";
	case 5: return "NVRTC_ERROR_INVALID_OPTION";
	case 6: return "NVRTC_ERROR_COMPILATION";
	}
	return "NVRTC_ERROR unknown";
}

int nvrtcGetNumSupportedArchs(int *n) {
	*n = narchs;
	return 0;
}

int nvrtcGetSupportedArchs(int *a) {
	memcpy(a, archs, sizeof(int) * (size_t)narchs);
	return 0;
}

int nvrtcCreateProgram(void **prog, const char *src, const char *name, int nh, const char *const *headers,
                       const char *const *includes) {
	logf_("nvrtcCreateProgram name=%s bytes=%zu headers=%d", name, strlen(src), nh);
	if (nh != 0 || headers || includes)
		return 3;
	program *p = calloc(1, sizeof *p);
	p->src = strdup(src);
	p->name = strdup(name ? name : "prog");
	*prog = p;
	return 0;
}

int nvrtcDestroyProgram(void **prog) {
	logf_("nvrtcDestroyProgram");
	program *p = *prog;
	if (p) {
		free(p->src);
		free(p->name);
		free(p->log);
		free(p->image);
		free(p);
	}
	*prog = NULL;
	return 0;
}

static char *slurp(const char *path) {
	FILE *f = fopen(path, "rb");
	if (!f)
		return strdup("");
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	size_t got = fread(b, 1, (size_t)n, f);
	b[got] = 0;
	fclose(f);
	return b;
}

int nvrtcCompileProgram(void *prog, int n, const char *const *opts) {
	program *p = prog;
	char optlog[2048] = "";
	size_t at = 0;
	const char *arch = NULL;
	for (int i = 0; i < n; i++) {
		at += (size_t)snprintf(optlog + at, sizeof optlog - at, " [%s]", opts[i]);
		if (at >= sizeof optlog)
			at = sizeof optlog - 1;
		if (strncmp(opts[i], "--gpu-architecture=", 19) == 0)
			arch = opts[i] + 19;
	}
	logf_("nvrtcCompileProgram options=%d%s", n, optlog);
	if (!arch)
		return 5;
	p->ptx = strncmp(arch, "compute_", 8) == 0;
	pthread_mutex_lock(&mu);
	int k = counter++;
	pthread_mutex_unlock(&mu);
	char src[1024], so[1024], log[1024], cmd[4096];
	snprintf(src, sizeof src, "%s/prog_%d_%d.c", EMU_DIR, (int)getpid(), k);
	snprintf(so, sizeof so, "%s/prog_%d_%d.so", EMU_DIR, (int)getpid(), k);
	snprintf(log, sizeof log, "%s/prog_%d_%d.log", EMU_DIR, (int)getpid(), k);
	FILE *f = fopen(src, "w");
	if (!f)
		return 6;
	fputs(p->src, f);
	fclose(f);
	snprintf(cmd, sizeof cmd,
	         "gcc -std=gnu11 -shared -fPIC -O1 -fno-strict-aliasing -DEFFNAS_EMULATE -include %s/emulate.h -x c %s -o %s -lm > %s 2>&1",
	         EMU_DIR, src, so, log);
	int rc = system(cmd);
	free(p->log);
	p->log = slurp(log);
	if (rc != 0)
		return 6;
	size_t len = strlen(so) + 16;
	p->image = malloc(len);
	snprintf(p->image, len, "%s%s", p->ptx ? "FAKEPTX:" : "FAKECUBIN:", so);
	p->imagelen = strlen(p->image) + 1;
	return 0;
}

int nvrtcGetProgramLogSize(void *prog, size_t *n) {
	program *p = prog;
	*n = (p->log ? strlen(p->log) : 0) + 1;
	return 0;
}

int nvrtcGetProgramLog(void *prog, char *out) {
	program *p = prog;
	strcpy(out, p->log ? p->log : "");
	return 0;
}

static int image(program *p, int ptx, size_t *n, char *out) {
	if (!p->image || p->ptx != ptx)
		return 3;
	if (n)
		*n = p->imagelen;
	if (out)
		memcpy(out, p->image, p->imagelen);
	return 0;
}

int nvrtcGetCUBINSize(void *prog, size_t *n) { return image(prog, 0, n, NULL); }
int nvrtcGetCUBIN(void *prog, char *out) { return image(prog, 0, NULL, out); }
int nvrtcGetPTXSize(void *prog, size_t *n) { return image(prog, 1, n, NULL); }
int nvrtcGetPTX(void *prog, char *out) { return image(prog, 1, NULL, out); }
