/*
 * A fake libcublas for tests: handles, stream and math mode are recorded;
 * cublasSgemm_v2 and cublasSgemmStridedBatched compute the column-major
 * GEMM on host memory (the fake driver's device memory) with plain loops,
 * so that the row-major mapping of package cuda can be checked against the
 * trainer's CPU GEMM. Every call is logged (fake_cublas_log).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int fake_cublaslt_loaded(void);

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

const char *fake_cublas_log(void) { return logbuf ? logbuf : ""; }
void fake_cublas_log_reset(void) {
	loglen = 0;
	if (logbuf)
		logbuf[0] = 0;
}

typedef struct {
	uintptr_t stream;
	int mode;
} handle;

int cublasCreate_v2(uintptr_t *h) {
	logf_("cublasCreate_v2 lt=%d", fake_cublaslt_loaded());
	*h = (uintptr_t)calloc(1, sizeof(handle));
	return 0;
}
int cublasDestroy_v2(uintptr_t h) {
	logf_("cublasDestroy_v2");
	free((void *)h);
	return 0;
}
int cublasGetVersion_v2(uintptr_t h, int *v) {
	(void)h;
	*v = 130100;
	return 0;
}
int cublasGetProperty(int kind, int *v) {
	*v = kind == 0 ? 13 : kind == 1 ? 1 : 0;
	return 0;
}
int cublasSetStream_v2(uintptr_t h, uintptr_t s) {
	logf_("cublasSetStream_v2 stream=%#lx", (unsigned long)s);
	((handle *)h)->stream = s;
	return 0;
}
int cublasSetMathMode(uintptr_t h, int mode) {
	logf_("cublasSetMathMode mode=%d", mode);
	((handle *)h)->mode = mode;
	return 0;
}
const char *cublasGetStatusName(int s) {
	switch (s) {
	case 0: return "CUBLAS_STATUS_SUCCESS";
	case 7: return "CUBLAS_STATUS_INVALID_VALUE";
	}
	return "CUBLAS_STATUS_UNKNOWN";
}
const char *cublasGetStatusString(int s) {
	switch (s) {
	case 0: return "success";
	case 7: return "an invalid numeric value was used as an argument";
	}
	return "unknown error";
}

/* column-major: op(A) m x k, op(B) k x n, C m x n */
static void gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                 int ldb, float beta, float *c, int ldc) {
	for (int j = 0; j < n; j++)
		for (int i = 0; i < m; i++) {
			double s = 0;
			for (int p = 0; p < k; p++) {
				float av = ta ? a[p + (size_t)i * lda] : a[i + (size_t)p * lda];
				float bv = tb ? b[j + (size_t)p * ldb] : b[p + (size_t)j * ldb];
				s += (double)av * bv;
			}
			float *cij = &c[i + (size_t)j * ldc];
			*cij = alpha * (float)s + (beta == 0 ? 0 : beta * *cij);
		}
}

static int bad(int ta, int tb, int m, int n, int k, int lda, int ldb, int ldc) {
	if (m < 0 || n < 0 || k < 0 || (ta != 0 && ta != 1) || (tb != 0 && tb != 1))
		return 1;
	if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m)
		return 1;
	return 0;
}

int cublasSgemm_v2(uintptr_t h, int ta, int tb, int m, int n, int k, const float *alpha, const float *a, int lda,
                   const float *b, int ldb, const float *beta, float *c, int ldc) {
	logf_("cublasSgemm_v2 ta=%d tb=%d m=%d n=%d k=%d alpha=%.9g a=%p lda=%d b=%p ldb=%d beta=%.9g c=%p ldc=%d mode=%d",
	      ta, tb, m, n, k, (double)*alpha, (void *)a, lda, (void *)b, ldb, (double)*beta, (void *)c, ldc, ((handle *)h)->mode);
	if (bad(ta, tb, m, n, k, lda, ldb, ldc))
		return 7;
	gemm(ta, tb, m, n, k, *alpha, a, lda, b, ldb, *beta, c, ldc);
	return 0;
}

int cublasSgemmStridedBatched(uintptr_t h, int ta, int tb, int m, int n, int k, const float *alpha, const float *a,
                              int lda, long long sa, const float *b, int ldb, long long sb, const float *beta,
                              float *c, int ldc, long long sc, int batch) {
	logf_("cublasSgemmStridedBatched ta=%d tb=%d m=%d n=%d k=%d alpha=%.9g lda=%d sa=%lld ldb=%d sb=%lld beta=%.9g ldc=%d sc=%lld batch=%d mode=%d",
	      ta, tb, m, n, k, (double)*alpha, lda, sa, ldb, sb, (double)*beta, ldc, sc, batch, ((handle *)h)->mode);
	if (bad(ta, tb, m, n, k, lda, ldb, ldc) || batch < 0)
		return 7;
	for (int i = 0; i < batch; i++)
		gemm(ta, tb, m, n, k, *alpha, a + i * sa, lda, b + i * sb, ldb, *beta, c + i * sc, ldc);
	return 0;
}
