package trainer

import (
	"math/rand/v2"
	"testing"

	"github.com/effnas/effnas/searchspace"
	"gorgonia.org/tensor"
)

// BenchmarkTrainStep times one training step (forward, backward, RMSProp
// update) of the reference benchmark networks at batch 64, the PyTorch
// anchor's configuration. It reports ms/step, GFLOP/s at 6 FLOP per
// multiply-add, and allocations per step. Run with
//
//	go test -run '^$' -bench TrainStep -benchtime 20x ./trainer/
func BenchmarkTrainStep(b *testing.B) {
	cases := []struct {
		name, arch     string
		size, channels int
	}{
		{"bench-dw-28", "bench-dw", 28, 1},
		{"bench-dw-32x3", "bench-dw", 32, 3},
		{"bench-fused-28", "bench-fused", 28, 1},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			a, err := searchspace.Reference(c.arch)
			if err != nil {
				b.Fatal(err)
			}
			a = a.WithInput(c.size, c.channels, 10, false)
			net, err := NewNet(a, tensor.Float32, 1)
			if err != nil {
				b.Fatal(err)
			}
			const batch = 64
			st, err := newStepper(net, batch, c.size, Settings{Seed: 1}.withDefaults(), 1, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer st.close()
			r := rand.New(rand.NewPCG(1, 2))
			for i := range st.x {
				st.x[i] = float32(r.NormFloat64())
			}
			for i := 0; i < batch; i++ {
				st.y[i*10+r.IntN(10)] = 1
			}
			net.SetBNMode(true, false)
			for i := 0; i < 3; i++ { // warm-up: buffers, GEMM workers
				if _, err := st.step(1e-6); err != nil {
					b.Fatal(err)
				}
			}
			acc, _ := a.Count(c.size, 0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := st.step(1e-6); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec*1e3, "ms/step")
			b.ReportMetric(6*float64(acc.Total.MACs)*batch/sec/1e9, "GFLOP/s")
		})
	}
}
