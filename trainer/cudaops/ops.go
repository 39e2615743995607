package cudaops

import (
	"fmt"

	"github.com/effnas/effnas/trainer/cuda"
	"github.com/effnas/effnas/trainer/ops"
)

// The wrappers below queue the device counterparts of the trainer's ops
// (package trainer/ops) on c's stream. Sizes are explicit; buffers may be
// larger than needed (arena slices) but never smaller, and outputs must
// not overlap inputs. Every output is overwritten completely.

// need checks that each buffer holds at least its count of 4-byte elements.
func need(op string, bufs ...any) error {
	for i := 0; i+2 < len(bufs); i += 3 {
		name, b, n := bufs[i].(string), bufs[i+1].(cuda.Buffer), bufs[i+2].(int)
		if n < 0 || b.Len() < n {
			return fmt.Errorf("cudaops.%s: %s needs %d elements, its buffer holds %d", op, name, n, b.Len())
		}
	}
	return nil
}

func positive(op string, vals ...int) error {
	for _, v := range vals {
		if v < 1 {
			return fmt.Errorf("cudaops.%s: sizes must be positive, got %v", op, vals)
		}
	}
	return nil
}

// ---- activations ----

// SiLU: y = x*sigmoid(x) over n elements.
func (k *Kernels) SiLU(c *cuda.Ctx, y, x cuda.Buffer, n int) error {
	if err := need("SiLU", "y", y, n, "x", x, n); err != nil {
		return err
	}
	return k.launchN(c, "silu_fwd", n, cuda.BufArg(y), cuda.BufArg(x))
}

// SiLUGrad: dx = gy*silu'(x).
func (k *Kernels) SiLUGrad(c *cuda.Ctx, dx, x, gy cuda.Buffer, n int) error {
	if err := need("SiLUGrad", "dx", dx, n, "x", x, n, "gy", gy, n); err != nil {
		return err
	}
	return k.launchN(c, "silu_bwd", n, cuda.BufArg(dx), cuda.BufArg(x), cuda.BufArg(gy))
}

// Sigmoid: y = 1/(1+exp(-x)).
func (k *Kernels) Sigmoid(c *cuda.Ctx, y, x cuda.Buffer, n int) error {
	if err := need("Sigmoid", "y", y, n, "x", x, n); err != nil {
		return err
	}
	return k.launchN(c, "sigmoid_fwd", n, cuda.BufArg(y), cuda.BufArg(x))
}

// SigmoidGrad: dx = gy*y*(1-y) from the forward output y.
func (k *Kernels) SigmoidGrad(c *cuda.Ctx, dx, y, gy cuda.Buffer, n int) error {
	if err := need("SigmoidGrad", "dx", dx, n, "y", y, n, "gy", gy, n); err != nil {
		return err
	}
	return k.launchN(c, "sigmoid_bwd", n, cuda.BufArg(dx), cuda.BufArg(y), cuda.BufArg(gy))
}

// ---- elementwise structure ----

// Add: y = a + b (the residual connection; its gradient passes through).
func (k *Kernels) Add(c *cuda.Ctx, y, a, b cuda.Buffer, n int) error {
	if err := need("Add", "y", y, n, "a", a, n, "b", b, n); err != nil {
		return err
	}
	return k.launchN(c, "add", n, cuda.BufArg(y), cuda.BufArg(a), cuda.BufArg(b))
}

// Mul: y = a * b elementwise (gorgonia.HadamardProd: the dropout mask and
// its gradient).
func (k *Kernels) Mul(c *cuda.Ctx, y, a, b cuda.Buffer, n int) error {
	if err := need("Mul", "y", y, n, "a", a, n, "b", b, n); err != nil {
		return err
	}
	return k.launchN(c, "mul", n, cuda.BufArg(y), cuda.BufArg(a), cuda.BufArg(b))
}

// BiasAdd: y = x + b for x (rows, ch), b (ch).
func (k *Kernels) BiasAdd(c *cuda.Ctx, y, x, b cuda.Buffer, rows, ch int) error {
	n := rows * ch
	if err := need("BiasAdd", "y", y, n, "x", x, n, "b", b, ch); err != nil {
		return err
	}
	return k.launchN(c, "bias_add", n, cuda.BufArg(y), cuda.BufArg(x), cuda.BufArg(b), cuda.IntArg(ch))
}

// SampleScale: sample s of x (samples, per) times m[s], 0 exactly where m
// is 0 (drop-connect; the same call applies the mask to the gradient).
func (k *Kernels) SampleScale(c *cuda.Ctx, y, x, m cuda.Buffer, samples, per int) error {
	n := samples * per
	if err := need("SampleScale", "y", y, n, "x", x, n, "m", m, samples); err != nil {
		return err
	}
	return k.launchN(c, "sample_scale", n, cuda.BufArg(y), cuda.BufArg(x), cuda.BufArg(m), cuda.IntArg(per))
}

// ChannelScale: y (n,hw,ch) = x * s (n,ch) broadcast over the pixels, the
// squeeze-excite gate; its input gradient is ChannelScale(gy, s).
func (k *Kernels) ChannelScale(c *cuda.Ctx, y, x, s cuda.Buffer, n, hw, ch int) error {
	t := n * hw * ch
	if err := need("ChannelScale", "y", y, t, "x", x, t, "s", s, n*ch); err != nil {
		return err
	}
	return k.launchN(c, "chan_scale", t, cuda.BufArg(y), cuda.BufArg(x), cuda.BufArg(s), cuda.IntArg(hw*ch), cuda.IntArg(ch))
}

// ChannelScaleGradS: ds (n,ch) = the sum over pixels of x*gy.
func (k *Kernels) ChannelScaleGradS(c *cuda.Ctx, ds, x, gy cuda.Buffer, n, hw, ch int) error {
	t := n * hw * ch
	if err := need("ChannelScaleGradS", "ds", ds, n*ch, "x", x, t, "gy", gy, t); err != nil {
		return err
	}
	return k.launch(c, "chan_scale_grad", cuda.Dim3{X: (ch + 31) / 32, Y: n, Z: 1}, cuda.Dim3{X: 32, Y: 8, Z: 1},
		cuda.BufArg(ds), cuda.BufArg(x), cuda.BufArg(gy), cuda.IntArg(hw), cuda.IntArg(ch), cuda.DoubleArg(1))
}

// GlobalAvgPool: y (n,ch) = the mean of x (n,hw,ch) over the pixels.
func (k *Kernels) GlobalAvgPool(c *cuda.Ctx, y, x cuda.Buffer, n, hw, ch int) error {
	if err := need("GlobalAvgPool", "y", y, n*ch, "x", x, n*hw*ch); err != nil {
		return err
	}
	if err := positive("GlobalAvgPool", n, hw, ch); err != nil {
		return err
	}
	return k.launch(c, "gap_fwd", cuda.Dim3{X: (ch + 31) / 32, Y: n, Z: 1}, cuda.Dim3{X: 32, Y: 8, Z: 1},
		cuda.BufArg(y), cuda.BufArg(x), cuda.IntArg(hw), cuda.IntArg(ch), cuda.DoubleArg(1/float64(hw)))
}

// GlobalAvgPoolGrad: dx (n,hw,ch) = gy (n,ch) / hw.
func (k *Kernels) GlobalAvgPoolGrad(c *cuda.Ctx, dx, gy cuda.Buffer, n, hw, ch int) error {
	t := n * hw * ch
	if err := need("GlobalAvgPoolGrad", "dx", dx, t, "gy", gy, n*ch); err != nil {
		return err
	}
	return k.launchN(c, "gap_bwd", t, cuda.BufArg(dx), cuda.BufArg(gy), cuda.IntArg(hw*ch), cuda.IntArg(ch), cuda.FloatArg(1/float32(hw)))
}

// ---- reductions over rows ----

// parts is how many row ranges a reduction over rows splits into: a
// function of the size only, so results are bit-identical run to run.
func parts(rows int) int { return min(256, max(1, (rows+511)/512)) }

// ColumnSum: out (ch) = the sum over rows of x (rows, ch) (the bias and
// BatchNorm beta gradient).
func (k *Kernels) ColumnSum(c *cuda.Ctx, out, x cuda.Buffer, rows, ch int) error {
	if err := need("ColumnSum", "out", out, ch, "x", x, rows*ch); err != nil {
		return err
	}
	if err := positive("ColumnSum", rows, ch); err != nil {
		return err
	}
	p := parts(rows)
	part, err := k.scratchFor(c, p*ch)
	if err != nil {
		return err
	}
	if err := k.launch(c, "col_sum_part", cuda.Dim3{X: (ch + 31) / 32, Y: p, Z: 1}, cuda.Dim3{X: 32, Y: 8, Z: 1},
		cuda.BufArg(part), cuda.BufArg(x), cuda.IntArg(rows), cuda.IntArg(ch)); err != nil {
		return err
	}
	return k.launchN(c, "col_sum_final", ch, cuda.BufArg(out), cuda.BufArg(part), cuda.IntArg(p))
}

// ---- depthwise convolution ----

// DWGeom is a depthwise convolution of x (N,H,W,C) with w (KH,KW,C),
// stride Stride and TF "same" padding (ops.SamePadding).
type DWGeom struct{ N, H, W, C, KH, KW, Stride int }

// Out returns the output size and the padding before (top, left).
func (g DWGeom) Out() (oh, ow, padT, padL int) {
	oh, padT, _ = ops.SamePadding(g.H, g.KH, g.Stride)
	ow, padL, _ = ops.SamePadding(g.W, g.KW, g.Stride)
	return
}

func (g DWGeom) args() []cuda.Arg {
	oh, ow, pt, pl := g.Out()
	return []cuda.Arg{cuda.IntArg(g.H), cuda.IntArg(g.W), cuda.IntArg(g.C), cuda.IntArg(g.KH), cuda.IntArg(g.KW),
		cuda.IntArg(g.Stride), cuda.IntArg(oh), cuda.IntArg(ow), cuda.IntArg(pt), cuda.IntArg(pl)}
}

func (g DWGeom) sizes(op string) (nx, nw, ny int, err error) {
	if err := positive(op, g.N, g.H, g.W, g.C, g.KH, g.KW, g.Stride); err != nil {
		return 0, 0, 0, err
	}
	oh, ow, _, _ := g.Out()
	return g.N * g.H * g.W * g.C, g.KH * g.KW * g.C, g.N * oh * ow * g.C, nil
}

// DepthwiseForward: y (N,OH,OW,C) = depthwise(x, w).
func (k *Kernels) DepthwiseForward(c *cuda.Ctx, y, x, w cuda.Buffer, g DWGeom) error {
	nx, nw, ny, err := g.sizes("DepthwiseForward")
	if err != nil {
		return err
	}
	if err := need("DepthwiseForward", "y", y, ny, "x", x, nx, "w", w, nw); err != nil {
		return err
	}
	return k.launchN(c, "dw_fwd", ny, append([]cuda.Arg{cuda.BufArg(y), cuda.BufArg(x), cuda.BufArg(w)}, g.args()...)...)
}

// DepthwiseGradX: dx (N,H,W,C), gathered per input pixel.
func (k *Kernels) DepthwiseGradX(c *cuda.Ctx, dx, w, gy cuda.Buffer, g DWGeom) error {
	nx, nw, ny, err := g.sizes("DepthwiseGradX")
	if err != nil {
		return err
	}
	if err := need("DepthwiseGradX", "dx", dx, nx, "w", w, nw, "gy", gy, ny); err != nil {
		return err
	}
	return k.launchN(c, "dw_bwd_x", nx, append([]cuda.Arg{cuda.BufArg(dx), cuda.BufArg(w), cuda.BufArg(gy)}, g.args()...)...)
}

// DepthwiseGradW: dw (KH,KW,C), each tap summed over the batch's output
// pixels in fixed parts, then the parts in order.
func (k *Kernels) DepthwiseGradW(c *cuda.Ctx, dw, x, gy cuda.Buffer, g DWGeom) error {
	nx, nw, ny, err := g.sizes("DepthwiseGradW")
	if err != nil {
		return err
	}
	if err := need("DepthwiseGradW", "dw", dw, nw, "x", x, nx, "gy", gy, ny); err != nil {
		return err
	}
	p := parts(ny / g.C)
	part, err := k.scratchFor(c, p*nw)
	if err != nil {
		return err
	}
	args := append([]cuda.Arg{cuda.BufArg(part), cuda.BufArg(x), cuda.BufArg(gy), cuda.IntArg(g.N)}, g.args()...)
	if err := k.launch(c, "dw_bwd_w_part", cuda.Dim3{X: (g.C + 31) / 32, Y: g.KH * g.KW, Z: p}, cuda.Dim3{X: 32, Y: 8, Z: 1}, args...); err != nil {
		return err
	}
	return k.launchN(c, "col_sum_final", nw, cuda.BufArg(dw), cuda.BufArg(part), cuda.IntArg(p))
}

// ---- loss ----

// OneHot writes soft targets t (n,classes) for int32 labels as
// trainer/data.OneHot does: 1-eps+eps/K at the label, eps/K elsewhere.
func (k *Kernels) OneHot(c *cuda.Ctx, t, labels cuda.Buffer, n, classes int, eps float64) error {
	if err := need("OneHot", "targets", t, n*classes, "labels", labels, n); err != nil {
		return err
	}
	off := float32(eps / float64(classes))
	on := float32(1-eps) + off
	return k.launchN(c, "one_hot", n*classes, cuda.BufArg(t), cuda.BufArg(labels), cuda.IntArg(classes), cuda.FloatArg(on), cuda.FloatArg(off))
}

// SoftmaxCrossEntropy: loss (1 float) = the mean over the n rows of
// -sum_k t*log(softmax(z)) for logits z and targets t (n,classes), and dz =
// (softmax(z)*sum(t) - t)*g/n, the gradient for an output gradient g, as
// ops.SoftmaxCrossEntropy.
func (k *Kernels) SoftmaxCrossEntropy(c *cuda.Ctx, loss, dz, z, t cuda.Buffer, n, classes int, g float64) error {
	if err := need("SoftmaxCrossEntropy", "loss", loss, 1, "dz", dz, n*classes, "z", z, n*classes, "targets", t, n*classes); err != nil {
		return err
	}
	if err := positive("SoftmaxCrossEntropy", n, classes); err != nil {
		return err
	}
	rows, err := k.scratchFor(c, n)
	if err != nil {
		return err
	}
	if err := k.launch(c, "softmax_ce", cuda.D1(n), cuda.D1(256), cuda.BufArg(dz), cuda.BufArg(rows), cuda.BufArg(z), cuda.BufArg(t),
		cuda.IntArg(classes), cuda.DoubleArg(g/float64(n))); err != nil {
		return err
	}
	return k.launch(c, "mean_final", cuda.D1(1), cuda.D1(1), cuda.BufArg(loss), cuda.BufArg(rows), cuda.IntArg(n))
}

// Argmax: out (n int32) = the index of the largest logit of each row (the
// first on ties).
func (k *Kernels) Argmax(c *cuda.Ctx, out, z cuda.Buffer, n, classes int) error {
	if err := need("Argmax", "out", out, n, "z", z, n*classes); err != nil {
		return err
	}
	return k.launchN(c, "argmax_rows", n, cuda.BufArg(out), cuda.BufArg(z), cuda.IntArg(classes))
}

// ---- optimizer ----

// RMSProp holds the hyper-parameters of an RMSProp step.
type RMSProp struct {
	LR, Decay, Momentum, Eps float32
	// WeightDecay adds WeightDecay*w to the gradient (0 for parameters
	// that do not decay).
	WeightDecay float32
	// Torch selects PyTorch's form, lr*g/(sqrt(ms)+eps), which the CPU
	// trainer uses; the default is the official TF form,
	// lr*g/sqrt(ms+eps).
	Torch bool
	// Guard, when set, is one float (the step's loss): the step changes
	// nothing when it is NaN or infinite.
	Guard cuda.Buffer
}

// RMSPropStep updates n parameters w in place from gradients g with the
// mean square ms and momentum mom: ms = decay*ms + (1-decay)*g^2;
// mom = momentum*mom + lr*g/denominator; w -= mom.
func (k *Kernels) RMSPropStep(c *cuda.Ctx, w, g, ms, mom cuda.Buffer, n int, p RMSProp) error {
	if err := need("RMSPropStep", "w", w, n, "g", g, n, "ms", ms, n, "mom", mom, n); err != nil {
		return err
	}
	name := "rmsprop_tf"
	if p.Torch {
		name = "rmsprop_torch"
	}
	return k.launchN(c, name, n, cuda.BufArg(w), cuda.BufArg(g), cuda.BufArg(ms), cuda.BufArg(mom),
		cuda.FloatArg(p.LR), cuda.FloatArg(p.Decay), cuda.FloatArg(p.Momentum), cuda.FloatArg(p.Eps), cuda.FloatArg(p.WeightDecay), cuda.BufArg(p.Guard))
}

// Adam holds the hyper-parameters of an Adam step.
type Adam struct {
	// Step is lr*sqrt(1-beta2^t)/(1-beta1^t), the learning rate with both
	// bias corrections of step t, computed on the host in float64 as the
	// trainer's solver does.
	Step, Beta1, Beta2, Eps float32
	// WeightDecay adds WeightDecay*w to the gradient.
	WeightDecay float32
	// Guard as in RMSProp.
	Guard cuda.Buffer
}

// AdamStep updates n parameters w in place from gradients g with the
// first and second moments m1 and m2: m1 = b1*m1 + (1-b1)*g; m2 = b2*m2 +
// (1-b2)*g^2; w -= step*m1/(sqrt(m2)+eps).
func (k *Kernels) AdamStep(c *cuda.Ctx, w, g, m1, m2 cuda.Buffer, n int, p Adam) error {
	if err := need("AdamStep", "w", w, n, "g", g, n, "m1", m1, n, "m2", m2, n); err != nil {
		return err
	}
	return k.launchN(c, "adam_step", n, cuda.BufArg(w), cuda.BufArg(g), cuda.BufArg(m1), cuda.BufArg(m2),
		cuda.FloatArg(p.Step), cuda.FloatArg(p.Beta1), cuda.FloatArg(p.Beta2), cuda.FloatArg(p.Eps), cuda.FloatArg(p.WeightDecay), cuda.BufArg(p.Guard))
}

// SGD holds the hyper-parameters of a step of SGD with momentum.
type SGD struct {
	LR, Momentum, WeightDecay float32
	// Guard as in RMSProp.
	Guard cuda.Buffer
}

// SGDStep updates n parameters w in place from gradients g with momentum
// mom: mom = momentum*mom + g; w -= lr*mom.
func (k *Kernels) SGDStep(c *cuda.Ctx, w, g, mom cuda.Buffer, n int, p SGD) error {
	if err := need("SGDStep", "w", w, n, "g", g, n, "mom", mom, n); err != nil {
		return err
	}
	return k.launchN(c, "sgd_step", n, cuda.BufArg(w), cuda.BufArg(g), cuda.BufArg(mom),
		cuda.FloatArg(p.LR), cuda.FloatArg(p.Momentum), cuda.FloatArg(p.WeightDecay), cuda.BufArg(p.Guard))
}

// ---- layout ----

// Transpose: dst (cols, rows) = src (rows, cols)^T.
func (k *Kernels) Transpose(c *cuda.Ctx, dst, src cuda.Buffer, rows, cols int) error {
	if err := need("Transpose", "dst", dst, rows*cols, "src", src, rows*cols); err != nil {
		return err
	}
	return k.launchN(c, "transpose2d", rows*cols, cuda.BufArg(dst), cuda.BufArg(src), cuda.IntArg(rows), cuda.IntArg(cols))
}
