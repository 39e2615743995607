package trainer

import (
	"math"
	"testing"

	"gorgonia.org/tensor"
)

// Two RMSProp steps computed by hand with TensorFlow's update (epsilon
// inside the square root): rho 0.9, momentum 0.9, eps 1e-3, lr 0.1.
//
//	g = 0.5:   ms = 0.025,   mom = 0.1*0.5/sqrt(0.026)            = 0.310086836, w = 0.689913164
//	g = -0.25: ms = 0.02875, mom = 0.9*0.310086836 - 0.025/sqrt(0.02975) = 0.134135394, w = 0.555777770
//
// With the epsilon outside (PyTorch), the first step would be
// 0.05/(sqrt(0.025)+0.001) = 0.314243, not 0.310087. A decaying kernel
// (weight decay 0.01, w = 2) adds 0.01*2 to its gradient first.
func TestRMSPropStep(t *testing.T) {
	bias := &Param{Name: "b", Kind: KindBias, Value: tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{1}))}
	kernel := &Param{Name: "w", Kind: KindConv, Value: tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{2}))}
	o, err := newSolver(Settings{Optimizer: RMSProp, Momentum: 0.9, RMSDecay: 0.9, Epsilon: 1e-3, WeightDecay: 0.01}, []*Param{bias, kernel})
	if err != nil {
		t.Fatal(err)
	}
	near := func(step string, got float32, want float64) {
		if math.Abs(float64(got)-want) > 1e-6 {
			t.Errorf("%s: %.9f, want %.9f", step, got, want)
		}
	}
	grads := [][]float32{{0.5}, {0.5}}
	o.step(0.1, grads)
	near("bias, step 1", bias.Value.Data().([]float32)[0], 0.689913164)
	near("momentum, step 1", o.slot1[0][0], 0.310086836)
	near("kernel with weight decay", kernel.Value.Data().([]float32)[0], 1.689462295)
	if grads[0][0] != 0 || grads[1][0] != 0 {
		t.Errorf("gradients not cleared: %v", grads)
	}
	grads[0][0] = -0.25
	o.step(0.1, grads)
	near("bias, step 2", bias.Value.Data().([]float32)[0], 0.555777770)
	near("mean square, step 2", o.slot2[0][0], 0.02875)
}
