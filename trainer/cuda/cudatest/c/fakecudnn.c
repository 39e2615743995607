/*
 * A fake libcudnn.so.9 for tests: descriptors are recorded and checked
 * (NHWC float only), algorithm queries return a non-deterministic and a
 * deterministic algorithm (the math type of the convolution descriptor),
 * and the three convolution calls compute grouped NHWC cross-correlations
 * on host memory with plain loops (alpha and beta applied), so that the
 * layout and padding mapping of the callers can be checked against the
 * trainer's CPU convolution. Every call is logged (fake_cudnn_log).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *logbuf;
static size_t loglen, logcap;

static void logf_(const char *fmt, ...) {
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	if (loglen + (size_t)n + 1 > logcap) {
		logcap = (loglen + (size_t)n + 1) * 2;
		logbuf = realloc(logbuf, logcap);
	}
	memcpy(logbuf + loglen, line, (size_t)n);
	loglen += (size_t)n;
	logbuf[loglen] = 0;
}

const char *fake_cudnn_log(void) { return logbuf ? logbuf : ""; }
void fake_cudnn_log_reset(void) {
	loglen = 0;
	if (logbuf)
		logbuf[0] = 0;
}

enum { OK = 0, BAD_PARAM = 3, NOT_SUPPORTED = 9 };

size_t cudnnGetVersion(void) { return 91000; }
const char *cudnnGetErrorString(int s) {
	switch (s) {
	case OK: return "CUDNN_STATUS_SUCCESS";
	case BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
	case NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
	}
	return "CUDNN_STATUS_UNKNOWN";
}

int cudnnCreate(uintptr_t *h) {
	logf_("cudnnCreate");
	*h = (uintptr_t)calloc(1, 16);
	return OK;
}
int cudnnDestroy(uintptr_t h) {
	logf_("cudnnDestroy");
	free((void *)h);
	return OK;
}
int cudnnSetStream(uintptr_t h, uintptr_t s) {
	(void)h;
	logf_("cudnnSetStream stream=%#lx", (unsigned long)s);
	return OK;
}

typedef struct {
	int format, dtype, n, c, h, w;
} tensor;
typedef struct {
	int padh, padw, u, v, dh, dw, mode, ctype, groups, math;
} conv;

int cudnnCreateTensorDescriptor(uintptr_t *d) {
	*d = (uintptr_t)calloc(1, sizeof(tensor));
	return OK;
}
int cudnnDestroyTensorDescriptor(uintptr_t d) {
	free((void *)d);
	return OK;
}
int cudnnSetTensor4dDescriptor(uintptr_t d, int format, int dtype, int n, int c, int h, int w) {
	logf_("cudnnSetTensor4dDescriptor format=%d dtype=%d n=%d c=%d h=%d w=%d", format, dtype, n, c, h, w);
	if (format != 1 || dtype != 0)
		return NOT_SUPPORTED;
	if (n < 1 || c < 1 || h < 1 || w < 1)
		return BAD_PARAM;
	*(tensor *)d = (tensor){format, dtype, n, c, h, w};
	return OK;
}
int cudnnCreateFilterDescriptor(uintptr_t *d) {
	*d = (uintptr_t)calloc(1, sizeof(tensor));
	return OK;
}
int cudnnDestroyFilterDescriptor(uintptr_t d) {
	free((void *)d);
	return OK;
}
int cudnnSetFilter4dDescriptor(uintptr_t d, int dtype, int format, int k, int c, int h, int w) {
	logf_("cudnnSetFilter4dDescriptor dtype=%d format=%d k=%d c=%d h=%d w=%d", dtype, format, k, c, h, w);
	if (format != 1 || dtype != 0)
		return NOT_SUPPORTED;
	*(tensor *)d = (tensor){format, dtype, k, c, h, w};
	return OK;
}
int cudnnCreateConvolutionDescriptor(uintptr_t *d) {
	conv *c = calloc(1, sizeof(conv));
	c->groups = 1;
	*d = (uintptr_t)c;
	return OK;
}
int cudnnDestroyConvolutionDescriptor(uintptr_t d) {
	free((void *)d);
	return OK;
}
int cudnnSetConvolution2dDescriptor(uintptr_t d, int padh, int padw, int u, int v, int dh, int dw, int mode, int ctype) {
	logf_("cudnnSetConvolution2dDescriptor pad=%d,%d stride=%d,%d dilation=%d,%d mode=%d compute=%d", padh, padw, u, v, dh,
	      dw, mode, ctype);
	if (dh != 1 || dw != 1 || mode != 1 || ctype != 0)
		return NOT_SUPPORTED;
	conv *c = (conv *)d;
	c->padh = padh, c->padw = padw, c->u = u, c->v = v, c->dh = dh, c->dw = dw, c->mode = mode, c->ctype = ctype;
	return OK;
}
int cudnnSetConvolutionGroupCount(uintptr_t d, int g) {
	logf_("cudnnSetConvolutionGroupCount groups=%d", g);
	((conv *)d)->groups = g;
	return OK;
}
int cudnnSetConvolutionMathType(uintptr_t d, int m) {
	logf_("cudnnSetConvolutionMathType math=%d", m);
	((conv *)d)->math = m;
	return OK;
}
int cudnnGetConvolution2dForwardOutputDim(uintptr_t cd, uintptr_t xd, uintptr_t wd, int *n, int *c, int *h, int *w) {
	conv *cv = (conv *)cd;
	tensor *x = (tensor *)xd, *f = (tensor *)wd;
	if (x->c != f->c * cv->groups)
		return BAD_PARAM;
	*n = x->n;
	*c = f->n;
	*h = (x->h + 2 * cv->padh - f->h) / cv->u + 1;
	*w = (x->w + 2 * cv->padw - f->w) / cv->v + 1;
	return OK;
}

typedef struct {
	int algo, status;
	float time;
	size_t memory;
	int determinism, math, reserved[3];
} perf;

static int nondeterministic;
/* fake_cudnn_nondeterministic(1) makes every algorithm non-deterministic */
void fake_cudnn_nondeterministic(int on) { nondeterministic = on; }

static int math_override = -1;
/* fake_cudnn_math(m) makes every algorithm report math type m (-1: the
 * descriptor's) */
void fake_cudnn_math(int m) { math_override = m; }

/* two algorithms: 1 (non-deterministic) and 2 (deterministic) */
static int algos(conv *c, int req, int *got, perf *p, const char *what) {
	logf_("%s requested=%d sizeof(perf)=%zu", what, req, sizeof(perf));
	if (req < 2)
		return BAD_PARAM;
	memset(p, 0, 2 * sizeof *p);
	int m = math_override >= 0 ? math_override : c->math;
	p[0] = (perf){1, 0, 0.1f, 128, 0, m, {0}};
	p[1] = (perf){2, 0, 0.2f, 256, !nondeterministic, m, {0}};
	*got = 2;
	return OK;
}

int cudnnGetConvolutionForwardAlgorithm_v7(uintptr_t h, uintptr_t x, uintptr_t w, uintptr_t cd, uintptr_t y, int req,
                                           int *got, perf *p) {
	return algos((conv *)cd, req, got, p, "cudnnGetConvolutionForwardAlgorithm_v7");
}
int cudnnGetConvolutionBackwardDataAlgorithm_v7(uintptr_t h, uintptr_t w, uintptr_t dy, uintptr_t cd, uintptr_t dx,
                                                int req, int *got, perf *p) {
	return algos((conv *)cd, req, got, p, "cudnnGetConvolutionBackwardDataAlgorithm_v7");
}
int cudnnGetConvolutionBackwardFilterAlgorithm_v7(uintptr_t h, uintptr_t x, uintptr_t dy, uintptr_t cd, uintptr_t dw,
                                                  int req, int *got, perf *p) {
	return algos((conv *)cd, req, got, p, "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
}
int cudnnGetConvolutionForwardWorkspaceSize(uintptr_t h, uintptr_t x, uintptr_t w, uintptr_t c, uintptr_t y, int algo,
                                            size_t *s) {
	*s = (size_t)algo * 128;
	return OK;
}
int cudnnGetConvolutionBackwardDataWorkspaceSize(uintptr_t h, uintptr_t w, uintptr_t dy, uintptr_t c, uintptr_t dx,
                                                 int algo, size_t *s) {
	*s = (size_t)algo * 128;
	return OK;
}
int cudnnGetConvolutionBackwardFilterWorkspaceSize(uintptr_t h, uintptr_t x, uintptr_t dy, uintptr_t c, uintptr_t dw,
                                                   int algo, size_t *s) {
	*s = (size_t)algo * 128;
	return OK;
}

/* geometry of one convolution call */
typedef struct {
	int n, h, w, c, k, r, s, oh, ow, g, cg, kg;
	conv *cv;
} geom;

static int mkgeom(geom *g, tensor *x, tensor *f, conv *cv, tensor *y) {
	g->n = x->n, g->h = x->h, g->w = x->w, g->c = x->c;
	g->k = f->n, g->r = f->h, g->s = f->w, g->cg = f->c, g->g = cv->groups, g->cv = cv;
	g->kg = g->k / g->g;
	g->oh = y->h, g->ow = y->w;
	if (g->c != g->cg * g->g || y->c != g->k || y->n != x->n)
		return BAD_PARAM;
	return OK;
}

#define XI(n, i, j, ch) ((((size_t)(n) * g->h + (i)) * g->w + (j)) * g->c + (ch))
#define YI(n, i, j, ch) ((((size_t)(n) * g->oh + (i)) * g->ow + (j)) * g->k + (ch))
#define WI(kk, i, j, ch) ((((size_t)(kk) * g->r + (i)) * g->s + (j)) * g->cg + (ch))

/* visit calls fn for every (output, tap, input channel) triple inside x */
typedef void (*visitor)(geom *g, size_t xi, size_t wi, size_t yi, const float *a, const float *b, double *acc);

static void visit(geom *g, visitor fn, const float *a, const float *b, double *acc) {
	for (int n = 0; n < g->n; n++)
		for (int oi = 0; oi < g->oh; oi++)
			for (int oj = 0; oj < g->ow; oj++)
				for (int kk = 0; kk < g->k; kk++) {
					int grp = kk / g->kg;
					for (int r = 0; r < g->r; r++) {
						int i = oi * g->cv->u - g->cv->padh + r;
						if (i < 0 || i >= g->h)
							continue;
						for (int s = 0; s < g->s; s++) {
							int j = oj * g->cv->v - g->cv->padw + s;
							if (j < 0 || j >= g->w)
								continue;
							for (int cc = 0; cc < g->cg; cc++)
								fn(g, XI(n, i, j, grp * g->cg + cc), WI(kk, r, s, cc), YI(n, oi, oj, kk), a, b, acc);
						}
					}
				}
}

static void fwd(geom *g, size_t xi, size_t wi, size_t yi, const float *x, const float *w, double *acc) {
	acc[yi] += (double)x[xi] * w[wi];
}
static void bwd_data(geom *g, size_t xi, size_t wi, size_t yi, const float *w, const float *dy, double *acc) {
	acc[xi] += (double)dy[yi] * w[wi];
}
static void bwd_filter(geom *g, size_t xi, size_t wi, size_t yi, const float *x, const float *dy, double *acc) {
	acc[wi] += (double)x[xi] * dy[yi];
}

static int finish(double *acc, size_t n, float alpha, float beta, float *out) {
	for (size_t i = 0; i < n; i++)
		out[i] = alpha * (float)acc[i] + (beta == 0 ? 0 : beta * out[i]);
	free(acc);
	return OK;
}

int cudnnConvolutionForward(uintptr_t h, const float *alpha, uintptr_t xd, const float *x, uintptr_t wd, const float *w,
                            uintptr_t cd, int algo, void *ws, size_t wsSize, const float *beta, uintptr_t yd, float *y) {
	logf_("cudnnConvolutionForward alpha=%g beta=%g algo=%d ws=%zu", (double)*alpha, (double)*beta, algo, wsSize);
	geom gg, *g = &gg;
	if (mkgeom(g, (tensor *)xd, (tensor *)wd, (conv *)cd, (tensor *)yd) || wsSize < (size_t)algo * 128 || (algo > 0 && !ws))
		return BAD_PARAM;
	size_t n = (size_t)g->n * g->oh * g->ow * g->k;
	double *acc = calloc(n, sizeof(double));
	visit(g, fwd, x, w, acc);
	return finish(acc, n, *alpha, *beta, y);
}

int cudnnConvolutionBackwardData(uintptr_t h, const float *alpha, uintptr_t wd, const float *w, uintptr_t dyd,
                                 const float *dy, uintptr_t cd, int algo, void *ws, size_t wsSize, const float *beta,
                                 uintptr_t dxd, float *dx) {
	logf_("cudnnConvolutionBackwardData alpha=%g beta=%g algo=%d ws=%zu", (double)*alpha, (double)*beta, algo, wsSize);
	geom gg, *g = &gg;
	if (mkgeom(g, (tensor *)dxd, (tensor *)wd, (conv *)cd, (tensor *)dyd) || wsSize < (size_t)algo * 128)
		return BAD_PARAM;
	size_t n = (size_t)g->n * g->h * g->w * g->c;
	double *acc = calloc(n, sizeof(double));
	visit(g, bwd_data, w, dy, acc);
	return finish(acc, n, *alpha, *beta, dx);
}

int cudnnConvolutionBackwardFilter(uintptr_t h, const float *alpha, uintptr_t xd, const float *x, uintptr_t dyd,
                                   const float *dy, uintptr_t cd, int algo, void *ws, size_t wsSize, const float *beta,
                                   uintptr_t dwd, float *dw) {
	logf_("cudnnConvolutionBackwardFilter alpha=%g beta=%g algo=%d ws=%zu", (double)*alpha, (double)*beta, algo, wsSize);
	geom gg, *g = &gg;
	if (mkgeom(g, (tensor *)xd, (tensor *)dwd, (conv *)cd, (tensor *)dyd) || wsSize < (size_t)algo * 128)
		return BAD_PARAM;
	size_t n = (size_t)g->k * g->r * g->s * g->cg;
	double *acc = calloc(n, sizeof(double));
	visit(g, bwd_filter, x, dy, acc);
	return finish(acc, n, *alpha, *beta, dw);
}

/* batch norm: only recorded (the doubles are what the marshalling test checks) */
int cudnnDeriveBNTensorDescriptor(uintptr_t d, uintptr_t x, int mode) {
	logf_("cudnnDeriveBNTensorDescriptor mode=%d", mode);
	tensor *t = (tensor *)x;
	*(tensor *)d = (tensor){t->format, t->dtype, 1, t->c, 1, 1};
	return OK;
}

int cudnnBatchNormalizationForwardTraining(uintptr_t h, int mode, const float *alpha, const float *beta, uintptr_t xd,
                                           const void *x, uintptr_t yd, void *y, uintptr_t bnd, const void *scale,
                                           const void *bias, double factor, void *rmean, void *rvar, double eps,
                                           void *smean, void *sinv) {
	logf_("cudnnBatchNormalizationForwardTraining mode=%d alpha=%g beta=%g x=%p y=%p scale=%p bias=%p factor=%.17g "
	      "rmean=%p rvar=%p eps=%.17g smean=%p sinv=%p",
	      mode, (double)*alpha, (double)*beta, x, y, scale, bias, factor, rmean, rvar, eps, smean, sinv);
	return OK;
}
