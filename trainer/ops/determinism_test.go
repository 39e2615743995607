package ops

import (
	"math"
	"math/rand"
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestReductionsDeterministic runs every op that sums over the batch or over
// pixels (weight gradients, BatchNorm moments and gradients, channel sums,
// pooling, im2col convolutions) several times with GOMAXPROCS 1, 2 and 4 on
// float32 tensors large enough for several parts and split-K GEMMs, and
// expects bit-identical results.
func TestReductionsDeterministic(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	rng := rand.New(rand.NewSource(11))
	const n, h, w, c, c2 = 16, 14, 14, 32, 64
	x := normal32(rng, 1, n, h, w, c)
	gy1 := normal32(rng, 1, n, h, w, c2)
	gy2 := normal32(rng, 1, n, h/2, w/2, c2)
	gyd := normal32(rng, 1, n, h, w, c)
	gyd2 := normal32(rng, 1, n, h/2, w/2, c)
	w1, w3 := normal32(rng, 0.1, 1, 1, c, c2), normal32(rng, 0.1, 3, 3, c, c2)
	wd := normal32(rng, 0.1, 3, 3, c)
	gamma := normal32(rng, 1, c)
	bn, _ := NewBatchNorm(c, DefaultBNMomentum, DefaultBNEpsilon)
	bn2, _ := NewBatchNorm(c, DefaultBNMomentum, DefaultBNEpsilon)
	x2 := normal32(rng, 1, 256, c)
	cases := []opCase{
		{convGradWOp{f: fullConv, stride: 1, wShape: tensor.Shape{1, 1, c, c2}}, []G.Value{x, gy1}},
		{convGradWOp{f: fullConv, stride: 1, wShape: tensor.Shape{3, 3, c, c2}}, []G.Value{x, gy1}},
		{convGradWOp{f: fullConv, stride: 2, wShape: tensor.Shape{3, 3, c, c2}}, []G.Value{x, gy2}},
		{convGradXOp{f: fullConv, stride: 1, xShape: tensor.Shape{n, h, w, c}}, []G.Value{w3, gy1}},
		{convGradXOp{f: fullConv, stride: 2, xShape: tensor.Shape{n, h, w, c}}, []G.Value{w3, gy2}},
		{convGradXOp{f: fullConv, stride: 1, xShape: tensor.Shape{n, h, w, c}}, []G.Value{w1, gy1}},
		{convOp{f: fullConv, stride: 1}, []G.Value{x, w3}},
		{convOp{f: fullConv, stride: 1}, []G.Value{x, w1}},
		{convGradWOp{f: depthwiseConv, stride: 1, wShape: tensor.Shape{3, 3, c}}, []G.Value{x, gyd}},
		{convGradWOp{f: depthwiseConv, stride: 2, wShape: tensor.Shape{3, 3, c}}, []G.Value{x, gyd2}},
		{convGradXOp{f: depthwiseConv, stride: 2, xShape: tensor.Shape{n, h, w, c}}, []G.Value{wd, gyd2}},
		{chanSumOp{dims: 4}, []G.Value{gyd}},
		{chanSumOp{dims: 2}, []G.Value{x2}},
		{bnOp{bn: bn, dims: 4}, []G.Value{x, gamma, gamma}},
		{bnGradXOp{bn: bn, dims: 4}, []G.Value{x, gamma, gyd}},
		{bnGradGammaOp{bn: bn, dims: 4}, []G.Value{x, gyd}},
		{bnGradXOp{bn: bn2, dims: 2}, []G.Value{x2, gamma, x2}},
		{csGradSOp{}, []G.Value{x, gyd}},
		{gapOp{}, []G.Value{x}},
	}
	for _, cs := range cases {
		var first []float32
		for _, procs := range []int{1, 2, 4} {
			runtime.GOMAXPROCS(procs)
			for rep := 0; rep < 3; rep++ {
				got := mustDo(t, cs.op, cs.in...).Data().([]float32)
				if first == nil {
					first = append([]float32(nil), got...)
					continue
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
						t.Fatalf("%v: GOMAXPROCS %d, run %d: element %d is %v, first run %v", cs.op, procs, rep, i, got[i], first[i])
					}
				}
			}
		}
	}
}
