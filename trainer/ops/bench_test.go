package ops

import (
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
)

// Benchmarks of forward + both gradients on MBConv-sized float32 tensors
// (batch 32, 16x16). Run with: go test -run '^$' -bench . ./trainer/ops/

func benchOps(b *testing.B, fwd kernel, grads []kernel, fin []G.Value, gin [][]G.Value) {
	b.Helper()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := opOf(fwd).Do(fin...); err != nil {
			b.Fatal(err)
		}
		for j, g := range grads {
			if _, err := opOf(g).Do(gin[j]...); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkConv3x3(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	x, w := normal32(rng, 1, 32, 16, 16, 32), normal32(rng, 0.1, 3, 3, 32, 64)
	gy := normal32(rng, 1, 32, 16, 16, 64)
	benchOps(b, convOp{f: fullConv, stride: 1},
		[]kernel{convGradXOp{f: fullConv, stride: 1, xShape: x.Shape()}, convGradWOp{f: fullConv, stride: 1, wShape: w.Shape()}},
		[]G.Value{x, w}, [][]G.Value{{w, gy}, {x, gy}})
}

func BenchmarkConv1x1(b *testing.B) {
	rng := rand.New(rand.NewSource(2))
	x, w := normal32(rng, 1, 32, 16, 16, 128), normal32(rng, 0.1, 1, 1, 128, 32)
	gy := normal32(rng, 1, 32, 16, 16, 32)
	benchOps(b, convOp{f: fullConv, stride: 1},
		[]kernel{convGradXOp{f: fullConv, stride: 1, xShape: x.Shape()}, convGradWOp{f: fullConv, stride: 1, wShape: w.Shape()}},
		[]G.Value{x, w}, [][]G.Value{{w, gy}, {x, gy}})
}

func BenchmarkDepthwise3x3(b *testing.B) {
	rng := rand.New(rand.NewSource(3))
	x, w := normal32(rng, 1, 32, 16, 16, 128), normal32(rng, 0.1, 3, 3, 128)
	gy := normal32(rng, 1, 32, 16, 16, 128)
	benchOps(b, convOp{f: depthwiseConv, stride: 1},
		[]kernel{convGradXOp{f: depthwiseConv, stride: 1, xShape: x.Shape()}, convGradWOp{f: depthwiseConv, stride: 1, wShape: w.Shape()}},
		[]G.Value{x, w}, [][]G.Value{{w, gy}, {x, gy}})
}

func BenchmarkSiLU(b *testing.B) {
	rng := rand.New(rand.NewSource(4))
	x, gy := normal32(rng, 1, 32, 16, 16, 128), normal32(rng, 1, 32, 16, 16, 128)
	benchOps(b, unaryOp{kind: kSiLU, dims: 4}, []kernel{unaryOp{kind: kSiLUGrad, dims: 4}},
		[]G.Value{x}, [][]G.Value{{x, gy}})
}

func BenchmarkBatchNorm(b *testing.B) {
	rng := rand.New(rand.NewSource(5))
	x, gy := normal32(rng, 1, 32, 16, 16, 128), normal32(rng, 1, 32, 16, 16, 128)
	gamma, beta := filled32(1, 128), filled32(0, 128)
	bn, _ := NewBatchNorm(128, DefaultBNMomentum, DefaultBNEpsilon)
	benchOps(b, bnOp{bn: bn, dims: 4},
		[]kernel{bnGradXOp{bn: bn, dims: 4}, bnGradGammaOp{bn: bn, dims: 4}, chanSumOp{dims: 4}},
		[]G.Value{x, gamma, beta}, [][]G.Value{{x, gamma, gy}, {x, gy}, {gy}})
}
