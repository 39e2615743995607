package ops

import (
	"fmt"
	"math"
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

// convLayers are the k×k convolutions of bench-dw and bench-fused at batch
// 64 on 28x28 inputs: input (H=W, Cin), kernel, Cout, stride.
var convLayers = []struct{ hw, cin, k, cout, s int }{
	{28, 16, 3, 16, 1},  // s1 fused
	{28, 16, 3, 64, 2},  // s2b1 fused expand
	{14, 32, 3, 128, 1}, // s2b2 fused expand
	{14, 32, 3, 128, 2}, // fused s3b1 expand
	{7, 48, 3, 192, 1},  // fused s3b2 expand
	{7, 48, 3, 288, 1},  // fused s4b1 expand
	{7, 64, 3, 384, 1},  // fused s4b2 expand
}

// BenchmarkConvPasses times each pass (forward, input gradient, weight
// gradient) of convLayers on float32 with outputs allocated once,
// reporting GFLOP/s at 2 FLOP per multiply-add.
func BenchmarkConvPasses(b *testing.B) {
	for _, l := range convLayers {
		g := newConvGeom(64, l.hw, l.hw, l.cin, l.k, l.k, l.cout, l.s)
		rng := rand.New(rand.NewSource(1))
		x := sl[float32](normal32(rng, 1, g.n, g.h, g.w, g.cin))
		w := sl[float32](normal32(rng, 0.1, l.k, l.k, l.cin, l.cout))
		gy := sl[float32](normal32(rng, 1, g.n, g.oh, g.ow, g.cout))
		y, dx, dw := make([]float32, len(gy)), make([]float32, len(x)), make([]float32, len(w))
		macs := float64(g.n*g.rowsPerSample) * float64(g.kkc()*g.cout)
		name := fmt.Sprintf("%dx%dx%d-k%d-%d-s%d", g.n, l.hw, l.cin, l.k, l.cout, l.s)
		for _, pass := range []struct {
			name string
			run  func()
		}{
			{"fwd", func() { convForward(g, x, w, y) }},
			{"dX", func() { convGradX(g, w, gy, dx) }},
			{"dW", func() { convGradW(g, x, gy, dw) }},
		} {
			b.Run(name+"/"+pass.name, func(b *testing.B) {
				pass.run()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					pass.run()
				}
				b.ReportMetric(2*macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkBNSiLUPasses times BatchNorm+SiLU forward (moments, apply) and
// backward (gradient at the SiLU input with the sums, input gradient) on
// float32 activations of bench-dw's shapes, outputs allocated once.
func BenchmarkBNSiLUPasses(b *testing.B) {
	for _, s := range [][4]int{{64, 28, 28, 16}, {64, 14, 14, 128}, {64, 7, 7, 384}, {64, 14, 14, 32}} {
		rng := rand.New(rand.NewSource(1))
		c := s[3]
		x := sl[float32](normal32(rng, 1, s[:]...))
		gy := sl[float32](normal32(rng, 1, s[:]...))
		gamma, beta := sl[float32](normal32(rng, 1, c)), sl[float32](normal32(rng, 1, c))
		y, gz, dx := make([]float32, len(x)), make([]float32, len(x)), make([]float32, len(x))
		name := fmt.Sprintf("%dx%dx%dx%d", s[0], s[1], s[2], s[3])
		b.Run(name+"/fwd", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				mean, vari := moments(c, x)
				bnApplySiLU(c, DefaultBNEpsilon, mean, vari, x, gamma, beta, y)
			}
			b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
		})
		b.Run(name+"/bwd", func(b *testing.B) {
			mean, vari := moments(c, x)
			inv := make([]float64, c)
			for i, v := range vari {
				inv[i] = 1 / math.Sqrt(v+DefaultBNEpsilon)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				scale, shift := bnSiLUScaleShift(mean, inv, gamma, beta)
				sg, sgx := bnSiLUGradSums32(c, mean, inv, x, gy, gz, scale, shift)
				bnGradX(c, true, mean, inv, sg, sgx, x, gamma, gz, dx)
			}
			b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
		})
	}
}

// BenchmarkDepthwisePasses times each pass of bench-dw's depthwise layers
// (3x3, batch 64) on float32 with outputs allocated once.
func BenchmarkDepthwisePasses(b *testing.B) {
	for _, l := range []struct{ hw, c, s int }{{14, 128, 2}, {7, 192, 1}, {7, 288, 1}, {7, 384, 1}} {
		g := newConvGeom(64, l.hw, l.hw, l.c, 3, 3, l.c, l.s)
		rng := rand.New(rand.NewSource(1))
		x := sl[float32](normal32(rng, 1, g.n, g.h, g.w, g.cin))
		w := sl[float32](normal32(rng, 0.1, 3, 3, l.c))
		gy := sl[float32](normal32(rng, 1, g.n, g.oh, g.ow, g.cin))
		y, dx, dw := make([]float32, len(gy)), make([]float32, len(x)), make([]float32, len(w))
		name := fmt.Sprintf("%dx%dx%d-s%d", g.n, l.hw, l.c, l.s)
		for _, pass := range []struct {
			name string
			run  func()
		}{
			{"fwd", func() { dwForward(g, x, w, y) }},
			{"dX", func() { dwGradX(g, w, gy, dx) }},
			{"dW", func() { dwGradW(g, x, gy, dw) }},
		} {
			b.Run(name+"/"+pass.name, func(b *testing.B) {
				pass.run()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					pass.run()
				}
			})
		}
	}
}
