package trainer

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer/kernels"
	"gorgonia.org/tensor"
)

// TestStepsBitIdenticalAcrossThreads trains bench-dw and bench-fused for a
// few steps from one seed with GOMAXPROCS 1, 2 and 3 on the active kernel
// backend and expects bit-identical losses and parameters: every parallel
// split in the kernels and ops depends on the problem, never on the number
// of threads.
func TestStepsBitIdenticalAcrossThreads(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two networks three times")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, arch := range []string{"bench-dw", "bench-fused"} {
		var first []float64
		var firstParams []uint32
		for _, procs := range []int{1, 2, 3} {
			runtime.GOMAXPROCS(procs)
			losses, params := trainSteps(t, arch, 3)
			if first == nil {
				first, firstParams = losses, params
				continue
			}
			for i := range losses {
				if losses[i] != first[i] {
					t.Fatalf("%s, kernels %s, GOMAXPROCS %d: loss %d is %v, with 1 thread %v", arch, kernels.Backend(), procs, i, losses[i], first[i])
				}
			}
			for i := range params {
				if params[i] != firstParams[i] {
					t.Fatalf("%s, kernels %s, GOMAXPROCS %d: parameter value %d differs from the 1-thread run", arch, kernels.Backend(), procs, i)
				}
			}
		}
	}
}

// trainSteps runs n training steps of arch (batch 16, 28x28x1, seed 1) and
// returns the losses and the parameters' bits after them.
func trainSteps(t *testing.T, arch string, n int) ([]float64, []uint32) {
	t.Helper()
	a, err := searchspace.Reference(arch)
	if err != nil {
		t.Fatal(err)
	}
	a = a.WithInput(28, 1, 10, false)
	net, err := NewNet(a, tensor.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 16
	st, err := newStepper(net, batch, 28, Settings{Seed: 1}.withDefaults(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	r := rand.New(rand.NewPCG(3, 4))
	var losses []float64
	for s := 0; s < n; s++ {
		for i := range st.x {
			st.x[i] = float32(r.NormFloat64())
		}
		clear(st.y)
		for i := 0; i < batch; i++ {
			st.y[i*10+r.IntN(10)] = 1
		}
		loss, err := st.step(0.01)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, loss)
	}
	var bits []uint32
	for _, p := range net.Params {
		for _, v := range p.Value.Data().([]float32) {
			bits = append(bits, math.Float32bits(v))
		}
	}
	return losses, bits
}
