package trainer

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestZZParts(t *testing.T) {
	for _, arch := range []string{"bench-dw", "bench-fused"} {
		a, _ := searchspace.Reference(arch)
		a = a.WithInput(28, 1, 10, false)
		net, _ := NewNet(a, tensor.Float32, 1)
		st, _ := newStepper(net, 64, 28, Settings{Seed: 1}.withDefaults(), 1, nil)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range st.x {
			st.x[i] = float32(r.NormFloat64())
		}
		for i := 0; i < 64; i++ {
			st.y[i*10+r.IntN(10)] = 1
		}
		for i := 0; i < 3; i++ {
			st.step(1e-6)
		}
		var run, sol, total time.Duration
		const N = 20
		ops.SetTiming(true)
		ops.ResetTimings()
		for i := 0; i < N; i++ {
			t0 := time.Now()
			G.Let(st.gr.X, st.xt)
			G.Let(st.gr.Y, st.yt)
			if st.drop != nil {
				fillMask(st.drop.Data().([]float32), 0.8, st.rng)
				G.Let(st.gr.DropMask, st.drop)
			}
			t1 := time.Now()
			st.vm.RunAll()
			t2 := time.Now()
			for i, n := range st.gr.Params {
				g, _ := n.Grad()
				st.grads[i] = g.Data().([]float32)
			}
			st.solver.step(1e-6, st.grads)
			t3 := time.Now()
			st.vm.Reset()
			run += t2.Sub(t1)
			sol += t3.Sub(t2)
			total += time.Since(t0)
		}
		var opsT time.Duration
		for _, o := range ops.Timings() {
			opsT += o.Total
		}
		ops.SetTiming(false)
		t.Logf("%s: total %.1f ms, RunAll %.1f (our ops %.1f), solver %.2f ms", arch, float64(total.Microseconds())/1e3/N, float64(run.Microseconds())/1e3/N, float64(opsT.Microseconds())/1e3/N, float64(sol.Microseconds())/1e3/N)
		st.close()
	}
}
