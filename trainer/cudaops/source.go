package cudaops

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/effnas/effnas/trainer/cuda"
)

// param is one kernel parameter: a C type and a name.
type param struct {
	typ, name string
}

// kind is the argument kind a launch passes for p.
func (p param) kind() cuda.ArgKind {
	switch {
	case strings.HasSuffix(p.typ, "*"):
		return cuda.ArgPtr
	case p.typ == "int":
		return cuda.ArgInt32
	case p.typ == "float":
		return cuda.ArgFloat32
	case p.typ == "double":
		return cuda.ArgFloat64
	case p.typ == "long long":
		return cuda.ArgInt64
	}
	panic("cudaops: unknown parameter type " + p.typ)
}

// sig is the emulator's letter for p ('p', 'i', 'f', 'd', 'l').
func (p param) sig() byte {
	return map[cuda.ArgKind]byte{cuda.ArgPtr: 'p', cuda.ArgInt32: 'i', cuda.ArgFloat32: 'f', cuda.ArgFloat64: 'd', cuda.ArgInt64: 'l'}[p.kind()]
}

// kernel is one __global__ function of the module.
type kernel struct {
	name   string
	params []param
	body   string
}

// parseParams parses "float* y, const float* x, int n".
func parseParams(s string) []param {
	var out []param
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		i := strings.LastIndexAny(f, " *")
		out = append(out, param{typ: strings.TrimSpace(f[:i+1]), name: f[i+1:]})
	}
	return out
}

func k(name, params, body string) kernel {
	return kernel{name: name, params: parseParams(params), body: body}
}

// elementwise is a grid-stride loop over i in [0, n) running stmt.
func elementwise(name, params, stmt string) kernel {
	return k(name, params+", int n", `
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
		`+stmt+`
	}`)
}

// colReduce sums per channel over rows: grid (ceil(c/32), parts), block
// (32, 8). Part p sums rows [p*rows/parts, (p+1)*rows/parts); lane ty of
// the block takes every 8th row from lo+ty, in order, in double; the lanes
// are added in order. out1 (and out2 when two) get part p's sums at
// [p*c + ch]. pre runs once per thread before the loop (ch < c); body sees
// r (the row), idx = r*c+ch and adds to s1 (and s2). Deterministic:
// nothing depends on scheduling.
func colReduce(name, params string, two bool, pre, body string) kernel {
	store := "out1[(long long)p * c + ch] = t1;"
	shared := "__shared__ double sh1[8][32];\n\tsh1[ty][tx] = s1;"
	sum := "t1 += sh1[j][tx];"
	if two {
		store += " out2[(long long)p * c + ch] = t2;"
		shared += "\n\t__shared__ double sh2[8][32];\n\tsh2[ty][tx] = s2;"
		sum += " t2 += sh2[j][tx];"
	}
	return k(name, params, `
	int tx = threadIdx.x, ty = threadIdx.y;
	int ch = blockIdx.x * 32 + tx;
	int p = blockIdx.y, parts = gridDim.y;
	long long lo = (long long)rows * p / parts, hi = (long long)rows * (p + 1) / parts;
	double s1 = 0.0, s2 = 0.0;
	if (ch < c) {
		`+pre+`
		for (long long r = lo + ty; r < hi; r += 8) {
			long long idx = r * c + ch;
			`+body+`
		}
	}
	`+shared+`
	__syncthreads();
	if (ty == 0 && ch < c) {
		double t1 = 0.0, t2 = 0.0;
		for (int j = 0; j < 8; j++) { `+sum+` }
		`+store+`
	}
	(void)s2;`)
}

// sampleReduce sums per (sample, channel) over the pixels of x (n, hw, c):
// grid (ceil(c/32), n), block (32, 8), lanes as in colReduce; out[b*c+ch]
// = (float)(sum * scale).
func sampleReduce(name, params, term string) kernel {
	return k(name, params, `
	int tx = threadIdx.x, ty = threadIdx.y;
	int ch = blockIdx.x * 32 + tx;
	int b = blockIdx.y;
	double s = 0.0;
	if (ch < c) {
		for (int q = ty; q < hw; q += 8) {
			long long idx = ((long long)b * hw + q) * c + ch;
			s += `+term+`;
		}
	}
	__shared__ double sh[8][32];
	sh[ty][tx] = s;
	__syncthreads();
	if (ty == 0 && ch < c) {
		double t = 0.0;
		for (int j = 0; j < 8; j++) t += sh[j][tx];
		out[(long long)b * c + ch] = (float)(t * scale);
	}`)
}

// decode writes the NHWC coordinates of flat index i of an (n, h, w, c)
// tensor into b, y, x, ch (declared).
func decode(i, h, w, c, b, y, x, ch string) string {
	return fmt.Sprintf("int %s = (int)(%s %% %s); long long t_ = %s / %s;\n\t\tint %s = (int)(t_ %% %s); t_ /= %s;\n\t\tint %s = (int)(t_ %% %s); int %s = (int)(t_ / %s);",
		ch, i, c, i, c, x, w, w, y, h, b, h)
}

const dwGeom = "int n, int ih, int iw, int c, int kh, int kw, int stride, int oh, int ow, int padT, int padL"

// skipUnlessFinite ends an optimizer kernel without touching anything
// when its guard (the step's loss, when given) is NaN or infinite: the
// trainer queues the update before it reads the loss, and a diverged
// step must leave the weights as they were, as on the CPU.
const skipUnlessFinite = "if (guard && !(guard[0] - guard[0] == 0.0f)) break;\n\t\t"

// rmsprop is the RMSProp update; denom is the divisor of lr*g.
func rmsprop(name, denom string) kernel {
	return elementwise(name, "float* w, const float* g, float* ms, float* mom, float lr, float rho, float momentum, float eps, float wd, const float* guard", skipUnlessFinite+`float gj = g[i];
		if (wd != 0.0f) gj += wd * w[i];
		float m2 = rho * ms[i] + (1.0f - rho) * gj * gj;
		ms[i] = m2;
		float mo = momentum * mom[i] + lr * gj / (`+denom+`);
		mom[i] = mo;
		w[i] -= mo;`)
}

// kernels is the launch table: every kernel of the module.
var kernels = []kernel{
	// activations
	elementwise("silu_fwd", "float* y, const float* x", "float v = x[i]; y[i] = v * sigmoidf_(v);"),
	elementwise("silu_bwd", "float* dx, const float* x, const float* gy",
		"float v = x[i]; float s = sigmoidf_(v); dx[i] = gy[i] * s * (1.0f + v * (1.0f - s));"),
	elementwise("sigmoid_fwd", "float* y, const float* x", "y[i] = sigmoidf_(x[i]);"),
	elementwise("sigmoid_bwd", "float* dx, const float* y, const float* gy", "float v = y[i]; dx[i] = gy[i] * v * (1.0f - v);"),

	// residual add, bias, drop-connect mask, squeeze-excite gate and pool
	elementwise("add", "float* y, const float* a, const float* b", "y[i] = a[i] + b[i];"),
	elementwise("mul", "float* y, const float* a, const float* b", "y[i] = a[i] * b[i];"),
	elementwise("bias_add", "float* y, const float* x, const float* b, int c", "y[i] = x[i] + b[i % c];"),
	elementwise("sample_scale", "float* y, const float* x, const float* m, int per",
		"float s = m[i / per]; y[i] = s == 0.0f ? 0.0f : x[i] * s;"),
	elementwise("chan_scale", "float* y, const float* x, const float* s, int hwc, int c",
		"y[i] = x[i] * s[(i / hwc) * c + i % c];"),
	elementwise("gap_bwd", "float* dx, const float* gy, int hwc, int c, float inv",
		"dx[i] = gy[(i / hwc) * c + i % c] * inv;"),
	sampleReduce("gap_fwd", "float* out, const float* x, int hw, int c, double scale", "(double)x[idx]"),
	sampleReduce("chan_scale_grad", "float* out, const float* x, const float* gy, int hw, int c, double scale", "(double)x[idx] * gy[idx]"),

	// reductions over rows: bias gradient, batch-norm statistics and
	// gradient sums, and the sum over parts
	colReduce("col_sum_part", "double* out1, const float* x, int rows, int c", false, "", "s1 += x[idx];"),
	colReduce("bn_stats_part", "double* out1, double* out2, const float* x, int rows, int c", true,
		"double k = x[ch];", "double d = (double)x[idx] - k; s1 += d; s2 += d * d;"),
	colReduce("bn_grad_part", "double* out1, double* out2, const float* g, const float* x, const double* mean, int rows, int c", true,
		"double m = mean[ch];", "double gv = g[idx]; s1 += gv; s2 += gv * ((double)x[idx] - m);"),
	colReduce("bn_silu_grad_part", "double* out1, double* out2, float* gz, const float* gy, const float* x, const float* scale, const float* shift, const double* mean, int rows, int c", true,
		"double m = mean[ch]; float sc = scale[ch], sh = shift[ch];",
		"float z = fmaf(x[idx], sc, sh); float s = sigmoidf_(z); float g = gy[idx] * s * (1.0f + z * (1.0f - s)); gz[idx] = g; s1 += g; s2 += (double)g * ((double)x[idx] - m);"),
	elementwise("col_sum_final", "float* out, const double* part, int parts",
		"double s = 0.0; for (int p = 0; p < parts; p++) s += part[(long long)p * n + i]; out[i] = (float)s;"),

	// batch norm: statistics and running update, affine (+SiLU), gradient
	elementwise("bn_stats_final", "double* mean, double* inv, float* scale, float* shift, double* rmean, double* rvar, const double* part1, const double* part2, const float* x, const float* gamma, const float* beta, int parts, int rows, double eps, double momentum, int recal", `
		double s1 = 0.0, s2 = 0.0;
		for (int p = 0; p < parts; p++) { s1 += part1[(long long)p * n + i]; s2 += part2[(long long)p * n + i]; }
		double d = s1 / rows, m = (double)x[i] + d;
		double v = s2 / rows - d * d;
		if (v < 0.0) v = 0.0;
		double iv = 1.0 / sqrt(v + eps);
		mean[i] = m; inv[i] = iv;
		double sc = (double)gamma[i] * iv;
		scale[i] = (float)sc; shift[i] = (float)((double)beta[i] - m * sc);
		double corr = rows > 1 ? (double)rows / (rows - 1) : 1.0;
		if (recal > 0) {
			double f = 1.0 / recal;
			rmean[i] += (m - rmean[i]) * f;
			rvar[i] += (v * corr - rvar[i]) * f;
		} else {
			rmean[i] = momentum * rmean[i] + (1.0 - momentum) * m;
			rvar[i] = momentum * rvar[i] + (1.0 - momentum) * v * corr;
		}`),
	elementwise("bn_eval_coef", "float* scale, float* shift, const double* rmean, const double* rvar, const float* gamma, const float* beta, double eps", `
		double sc = (double)gamma[i] / sqrt(rvar[i] + eps);
		scale[i] = (float)sc; shift[i] = (float)((double)beta[i] - rmean[i] * sc);`),
	elementwise("bn_apply", "float* y, const float* x, const float* scale, const float* shift, int c",
		"int ch = (int)(i % c); y[i] = fmaf(x[i], scale[ch], shift[ch]);"),
	elementwise("bn_apply_silu", "float* y, const float* x, const float* scale, const float* shift, int c",
		"int ch = (int)(i % c); float z = fmaf(x[i], scale[ch], shift[ch]); y[i] = z * sigmoidf_(z);"),
	elementwise("bn_grad_final", "float* k, float* kb, float* cst, float* dgamma, float* dbeta, const double* part1, const double* part2, const double* mean, const double* inv, const float* gamma, int parts, int rows", `
		double sg = 0.0, sgx = 0.0;
		for (int p = 0; p < parts; p++) { sg += part1[(long long)p * n + i]; sgx += part2[(long long)p * n + i]; }
		sgx *= inv[i];
		dgamma[i] = (float)sgx; dbeta[i] = (float)sg;
		double kk = (double)gamma[i] * inv[i], a = sg / rows, b = sgx / rows * inv[i];
		k[i] = (float)kk; kb[i] = (float)(-kk * b); cst[i] = (float)(kk * (b * mean[i] - a));`),
	elementwise("bn_grad_x", "float* dx, const float* g, const float* x, const float* k, const float* kb, const float* cst, int c",
		"int ch = (int)(i % c); dx[i] = g[i] * k[ch] + x[i] * kb[ch] + cst[ch];"),

	// depthwise convolution, NHWC, HWC weights, TF "same" padding
	elementwise("dw_fwd", "float* y, const float* x, const float* w, "+dwGeomNoN, `
		`+decode("i", "oh", "ow", "c", "b", "oy", "ox", "ch")+`
		float acc = 0.0f;
		for (int ky = 0; ky < kh; ky++) {
			int iy = oy * stride - padT + ky;
			if (iy < 0 || iy >= ih) continue;
			for (int kx = 0; kx < kw; kx++) {
				int ix = ox * stride - padL + kx;
				if (ix < 0 || ix >= iw) continue;
				acc = fmaf(x[(((long long)b * ih + iy) * iw + ix) * c + ch], w[(ky * kw + kx) * c + ch], acc);
			}
		}
		y[i] = acc;`),
	elementwise("dw_bwd_x", "float* dx, const float* w, const float* gy, "+dwGeomNoN, `
		`+decode("i", "ih", "iw", "c", "b", "iy", "ix", "ch")+`
		float acc = 0.0f;
		for (int ky = 0; ky < kh; ky++) {
			int ny = iy + padT - ky;
			if (ny < 0 || ny % stride != 0 || ny / stride >= oh) continue;
			int oy = ny / stride;
			for (int kx = 0; kx < kw; kx++) {
				int nx = ix + padL - kx;
				if (nx < 0 || nx % stride != 0 || nx / stride >= ow) continue;
				acc = fmaf(gy[(((long long)b * oh + oy) * ow + nx / stride) * c + ch], w[(ky * kw + kx) * c + ch], acc);
			}
		}
		dx[i] = acc;`),
	k("dw_bwd_w_part", "double* out, const float* x, const float* gy, "+dwGeom, `
	int tx = threadIdx.x, ty = threadIdx.y;
	int ch = blockIdx.x * 32 + tx;
	int tap = blockIdx.y, ky = tap / kw, kx = tap % kw;
	int p = blockIdx.z, parts = gridDim.z;
	long long q0 = (long long)n * oh * ow;
	long long lo = q0 * p / parts, hi = q0 * (p + 1) / parts;
	double s = 0.0;
	if (ch < c) {
		for (long long q = lo + ty; q < hi; q += 8) {
			long long t_ = q;
			int ox = (int)(t_ % ow); t_ /= ow;
			int oy = (int)(t_ % oh); int b = (int)(t_ / oh);
			int iy = oy * stride - padT + ky, ix = ox * stride - padL + kx;
			if (iy >= 0 && iy < ih && ix >= 0 && ix < iw)
				s += (double)gy[q * c + ch] * x[(((long long)b * ih + iy) * iw + ix) * c + ch];
		}
	}
	__shared__ double sh[8][32];
	sh[ty][tx] = s;
	__syncthreads();
	if (ty == 0 && ch < c) {
		double t = 0.0;
		for (int j = 0; j < 8; j++) t += sh[j][tx];
		out[((long long)p * kh * kw + tap) * c + ch] = t;
	}`),

	// layout helpers for cuDNN: 2-D transpose, NHWC zero padding and crop
	elementwise("transpose2d", "float* dst, const float* src, int rows, int cols",
		"long long j = i / rows, r = i % rows; dst[i] = src[r * cols + j];"),
	elementwise("pad_nhwc", "float* dst, const float* src, int h, int w, int c, int hp, int wp", `
		`+decode("i", "hp", "wp", "c", "b", "yy", "xx", "ch")+`
		dst[i] = (yy < h && xx < w) ? src[(((long long)b * h + yy) * w + xx) * c + ch] : 0.0f;`),
	elementwise("crop_nhwc", "float* dst, const float* src, int h, int w, int c, int hs, int ws", `
		`+decode("i", "h", "w", "c", "b", "yy", "xx", "ch")+`
		dst[i] = src[(((long long)b * hs + yy) * ws + xx) * c + ch];`),

	// loss: soft targets (one-hot, smoothed or mixed), softmax
	// cross-entropy per row with its gradient, and the batch mean
	elementwise("one_hot", "float* t, const int* labels, int k, float on, float off",
		"t[i] = (i % k) == labels[i / k] ? on : off;"),
	k("softmax_ce", "float* dz, double* rowloss, const float* z, const float* tg, int k, double gscale", `
	int row = blockIdx.x, t = threadIdx.x, nt = blockDim.x;
	const float *zr = z + (long long)row * k;
	const float *tr = tg + (long long)row * k;
	float *dr = dz + (long long)row * k;
	__shared__ double red[256];
	double mx = -3.402823466e38;
	for (int j = t; j < k; j += nt) if (zr[j] > mx) mx = zr[j];
	red[t] = mx;
	__syncthreads();
	for (int s = nt / 2; s > 0; s /= 2) {
		if (t < s && red[t + s] > red[t]) red[t] = red[t + s];
		__syncthreads();
	}
	mx = red[0];
	__syncthreads();
	double se = 0.0;
	for (int j = t; j < k; j += nt) se += exp((double)zr[j] - mx);
	red[t] = se;
	__syncthreads();
	for (int s = nt / 2; s > 0; s /= 2) {
		if (t < s) red[t] += red[t + s];
		__syncthreads();
	}
	double lse = mx + log(red[0]);
	__syncthreads();
	double ls = 0.0;
	for (int j = t; j < k; j += nt) if (tr[j] != 0.0f) ls += (double)tr[j] * (lse - zr[j]);
	red[t] = ls;
	__syncthreads();
	for (int s = nt / 2; s > 0; s /= 2) {
		if (t < s) red[t] += red[t + s];
		__syncthreads();
	}
	if (t == 0) rowloss[row] = red[0];
	__syncthreads();
	double st = 0.0;
	for (int j = t; j < k; j += nt) st += tr[j];
	red[t] = st;
	__syncthreads();
	for (int s = nt / 2; s > 0; s /= 2) {
		if (t < s) red[t] += red[t + s];
		__syncthreads();
	}
	st = red[0];
	for (int j = t; j < k; j += nt) dr[j] = (float)((exp((double)zr[j] - lse) * st - tr[j]) * gscale);`),
	k("mean_final", "float* out, const double* v, int n",
		"\tif (blockIdx.x == 0 && threadIdx.x == 0) { double s = 0.0; for (int i = 0; i < n; i++) s += v[i]; out[0] = (float)(s / n); }"),
	elementwise("argmax_rows", "int* out, const float* z, int k", `
		const float *zr = z + i * k;
		int best = 0;
		for (int j = 1; j < k; j++) if (zr[j] > zr[best]) best = j;
		out[i] = best;`),

	// optimizer: RMSProp, official TF form (epsilon inside the square
	// root) and PyTorch's (outside)
	rmsprop("rmsprop_tf", "sqrtf(m2 + eps)"),
	rmsprop("rmsprop_torch", "sqrtf(m2) + eps"),
	// Adam (the bias corrections folded into step on the host) and SGD
	// with momentum, as the trainer's solvers
	elementwise("adam_step", "float* w, const float* g, float* m1, float* m2, float step, float b1, float b2, float eps, float wd, const float* guard", skipUnlessFinite+`float gj = g[i];
		if (wd != 0.0f) gj += wd * w[i];
		float a = b1 * m1[i] + (1.0f - b1) * gj;
		float v = b2 * m2[i] + (1.0f - b2) * gj * gj;
		m1[i] = a;
		m2[i] = v;
		w[i] -= step * a / (sqrtf(v) + eps);`),
	elementwise("sgd_step", "float* w, const float* g, float* mom, float lr, float momentum, float wd, const float* guard", skipUnlessFinite+`float gj = g[i];
		if (wd != 0.0f) gj += wd * w[i];
		float m = momentum * mom[i] + gj;
		mom[i] = m;
		w[i] -= lr * m;`),
}

// dwGeomNoN is dwGeom without n (the elementwise kernels get n, the
// element count, as their last parameter; the batch size follows from it).
const dwGeomNoN = "int ih, int iw, int c, int kh, int kw, int stride, int oh, int ow, int padT, int padL"

const prelude = `// effnas device kernels (generated by package cudaops; do not edit).
// Float32 tensors, NHWC activations, HWC depthwise weights. Compiled by
// NVRTC as CUDA C++; with -DEFFNAS_EMULATE the same text compiles as C
// for the CPU emulator of the tests (no C++-only constructs).
#ifndef EFFNAS_EMULATE
#define EXTERN_C extern "C"
#endif

// sigmoidf_ is the stable logistic function of trainer/ops (sigmoid32).
static __device__ __forceinline__ float sigmoidf_(float x) {
	if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
	float e = expf(x);
	return e / (1.0f + e);
}
`

var (
	sourceOnce sync.Once
	sourceText string
	kernelByID map[string]*kernel
)

// Source returns the CUDA C source of every kernel, generated once from
// the launch table: the kernels, then (for the CPU emulator only) one
// trampoline and signature per kernel.
func Source() string {
	sourceOnce.Do(func() {
		var b strings.Builder
		b.WriteString(prelude)
		kernelByID = map[string]*kernel{}
		for i := range kernels {
			kn := &kernels[i]
			kernelByID[kn.name] = kn
			fmt.Fprintf(&b, "\nEXTERN_C __global__ void %s(%s) {%s\n}\n", kn.name, cParams(kn.params), kn.body)
		}
		b.WriteString("\n#ifdef EFFNAS_EMULATE\n")
		for _, kn := range kernels {
			var args []string
			sig := make([]byte, len(kn.params))
			for j, p := range kn.params {
				args = append(args, fmt.Sprintf("*(%s *)p[%d]", p.typ, j))
				sig[j] = p.sig()
			}
			fmt.Fprintf(&b, "void emu_%s(void **p) { %s(%s); }\nconst char *emu_sig_%s = %q;\n", kn.name, kn.name, strings.Join(args, ", "), kn.name, sig)
		}
		b.WriteString("#endif\n")
		sourceText = b.String()
	})
	return sourceText
}

func cParams(ps []param) string {
	var s []string
	for _, p := range ps {
		t := p.typ
		if strings.HasSuffix(t, "*") {
			t += " __restrict__"
		}
		s = append(s, t+" "+p.name)
	}
	return strings.Join(s, ", ")
}

// KernelNames lists the kernels of the module, sorted.
func KernelNames() []string {
	out := make([]string, len(kernels))
	for i, kn := range kernels {
		out[i] = kn.name
	}
	sort.Strings(out)
	return out
}
