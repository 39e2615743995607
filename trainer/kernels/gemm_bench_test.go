package kernels

import (
	"fmt"
	"math/rand"
	"testing"
)

// netLayers are the conv GEMMs of one training step of the reference network
// (M x K x N of the forward pass; batch 64, 28x28 input).
var netLayers = [][3]int{
	{50176, 12, 16},   // stem 3x3 (K=9 padded to 12)
	{50176, 144, 16},  // s1 fused3x3 16-16
	{12544, 144, 64},  // s2b1 fused3x3/2 16-64
	{12544, 64, 32},   // s2b1 proj
	{12544, 288, 128}, // s2b2 fused3x3 32-128
	{12544, 128, 32},  // s2b2 proj
	{12544, 32, 128},  // s3b1 expand
	{3136, 128, 48},   // s3b1 proj
	{3136, 48, 192},   // s3b2 expand
	{3136, 192, 48},   // s3b2 proj
	{3136, 48, 288},   // s4b1 expand
	{3136, 288, 64},   // s4b1 proj
	{3136, 64, 384},   // s4b2 expand
	{3136, 384, 64},   // s4b2 proj
	{3136, 64, 256},   // head
}

// benchGemm times one GEMM with buffers allocated once, reporting GFLOP/s.
func benchGemm(b *testing.B, transA, transB bool, m, n, k int) {
	rng := rand.New(rand.NewSource(1))
	a := randSlice(rng, m*k)
	bb := randSlice(rng, k*n)
	c := make([]float32, m*n)
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	Gemm(transA, transB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	c0, c1 := chunksDone[0].Load(), chunksDone[1].Load()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Gemm(transA, transB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	// The helpers' share of the chunks of threaded calls (0.5: an even split
	// between two goroutines; absent when the call stays on one).
	if d0, d1 := chunksDone[0].Load()-c0, chunksDone[1].Load()-c1; d0+d1 > 0 {
		b.ReportMetric(float64(d1)/float64(d0+d1), "helper-share")
	}
}

// BenchmarkGemm runs the forward (M x K x N, NN), input-gradient (M x N x K,
// NN) and weight-gradient (K x M x N, A^T*B) GEMM of each layer on the active
// backend (named in the benchmark; force one with EFFNAS_KERNELS). Use -cpu
// 1,2 to compare goroutine counts.
func BenchmarkGemm(b *testing.B) {
	be := Backend()
	for _, l := range netLayers {
		M, K, N := l[0], l[1], l[2]
		b.Run(fmt.Sprintf("%s/fwd/%dx%dx%d", be, M, K, N), func(b *testing.B) { benchGemm(b, false, false, M, N, K) })
		b.Run(fmt.Sprintf("%s/dX/%dx%dx%d", be, M, N, K), func(b *testing.B) { benchGemm(b, false, false, M, K, N) })
		b.Run(fmt.Sprintf("%s/dW/%dx%dx%d", be, K, M, N), func(b *testing.B) { benchGemm(b, true, false, K, N, M) })
	}
}

// BenchmarkGemmSquare covers square sizes and the transposed-B case.
func BenchmarkGemmSquare(b *testing.B) {
	be := Backend()
	for _, s := range []int{64, 256, 512, 1024} {
		b.Run(fmt.Sprintf("%s/NN/%d", be, s), func(b *testing.B) { benchGemm(b, false, false, s, s, s) })
		b.Run(fmt.Sprintf("%s/NT/%d", be, s), func(b *testing.B) { benchGemm(b, false, true, s, s, s) })
	}
}

// BenchmarkGemmGoOld runs BenchmarkGemm's shapes on the go backend with its
// earlier 4x4 micro-kernel; run it with BenchmarkGemm under
// EFFNAS_KERNELS=go for a same-run ratio.
func BenchmarkGemmGoOld(b *testing.B) {
	if Backend() != "go" {
		b.Skip("set EFFNAS_KERNELS=go")
	}
	testGoTile = &goTileOld
	defer func() { testGoTile = nil }()
	for _, l := range netLayers {
		M, K, N := l[0], l[1], l[2]
		b.Run(fmt.Sprintf("goold/fwd/%dx%dx%d", M, K, N), func(b *testing.B) { benchGemm(b, false, false, M, N, K) })
		b.Run(fmt.Sprintf("goold/dX/%dx%dx%d", M, N, K), func(b *testing.B) { benchGemm(b, false, false, M, K, N) })
		b.Run(fmt.Sprintf("goold/dW/%dx%dx%d", K, M, N), func(b *testing.B) { benchGemm(b, true, false, K, N, M) })
	}
}

// BenchmarkGemmAll runs each of BenchmarkGemm's shapes on every backend of
// this machine but ref, and on the go backend with its earlier micro-kernel
// (goold), one after the other per shape, for same-run ratios between
// backends.
func BenchmarkGemmAll(b *testing.B) {
	defer SetBackend(Backend())
	var bes []string
	for _, be := range Backends() {
		if be != "ref" {
			bes = append(bes, be)
		}
	}
	bes = append(bes, "goold")
	for _, l := range netLayers {
		M, K, N := l[0], l[1], l[2]
		for _, pass := range []struct {
			name    string
			tA      bool
			m, n, k int
		}{{"fwd", false, M, N, K}, {"dX", false, M, K, N}, {"dW", true, K, N, M}} {
			for _, be := range bes {
				b.Run(fmt.Sprintf("%s/%dx%dx%d/%s", pass.name, pass.m, pass.k, pass.n, be), func(b *testing.B) {
					if be == "goold" {
						must2(b, SetBackend("go"))
						testGoTile = &goTileOld
						defer func() { testGoTile = nil }()
					} else {
						must2(b, SetBackend(be))
					}
					benchGemm(b, pass.tA, false, pass.m, pass.n, pass.k)
				})
			}
		}
	}
}
