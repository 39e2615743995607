package ops

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestBatchNormSiLUMatchesUnfused runs the fused op and BatchNorm followed
// by SiLU (the simple reference) in float32 on one graph, forward and
// backward, and compares outputs and gradients.
func TestBatchNormSiLUMatchesUnfused(t *testing.T) {
	for _, shape := range [][]int{{4, 6, 6, 24}, {3, 5, 5, 7}, {9, 40}} {
		for _, training := range []bool{true, false} {
			c := shape[len(shape)-1]
			rng := rand.New(rand.NewSource(int64(c)))
			f32 := func(lo, hi float64, sh ...int) *tensor.Dense {
				d := randDense(rng, lo, hi, sh...)
				out := make([]float32, d.Shape().TotalSize())
				for i, v := range d.Data().([]float64) {
					out[i] = float32(v)
				}
				return tensor.New(tensor.WithShape(sh...), tensor.WithBacking(out))
			}
			xv, gv, bv, wv := f32(-2, 2, shape...), f32(0.5, 1.5, c), f32(-1, 1, c), f32(-1, 1, shape...)
			var outs [2][]float32
			var grads [2][3][]float32
			for k, fused := range []bool{true, false} {
				bn, _ := NewBatchNorm(c, DefaultBNMomentum, DefaultBNEpsilon)
				bn.Training = training
				g := G.NewGraph()
				x := G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithValue(xv.Clone()), G.WithName("x"))
				gm := G.NewVector(g, tensor.Float32, G.WithShape(c), G.WithValue(gv.Clone()), G.WithName("g"))
				bt := G.NewVector(g, tensor.Float32, G.WithShape(c), G.WithValue(bv.Clone()), G.WithName("b"))
				w := G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithValue(wv.Clone()), G.WithName("w"))
				var y *G.Node
				var err error
				if fused {
					y, err = bn.ApplySiLU(x, gm, bt)
				} else if y, err = bn.Apply(x, gm, bt); err == nil {
					y, err = SiLU(y)
				}
				if err != nil {
					t.Fatal(err)
				}
				var yv G.Value
				G.Read(y, &yv)
				loss := G.Must(G.Sum(G.Must(G.HadamardProd(y, w))))
				if _, err := G.Grad(loss, x, gm, bt); err != nil {
					t.Fatal(err)
				}
				vm := G.NewTapeMachine(g)
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				outs[k] = append([]float32(nil), yv.Data().([]float32)...)
				for i, n := range []*G.Node{x, gm, bt} {
					gr, err := n.Grad()
					if err != nil {
						t.Fatal(err)
					}
					grads[k][i] = append([]float32(nil), gr.Data().([]float32)...)
				}
				vm.Close()
			}
			cmp := func(what string, a, b []float32, tol float64) {
				scale := 0.0
				for _, v := range b {
					scale = math.Max(scale, math.Abs(float64(v)))
				}
				for i := range a {
					if d := math.Abs(float64(a[i] - b[i])); d > tol*math.Max(1, scale) {
						t.Fatalf("%v training=%v %s[%d]: fused %v, unfused %v", shape, training, what, i, a[i], b[i])
					}
				}
			}
			cmp("y", outs[0], outs[1], 1e-5)
			for i, name := range []string{"dx", "dgamma", "dbeta"} {
				cmp(name, grads[0][i], grads[1][i], 1e-4)
			}
		}
	}
}

// TestBNSiLUGradSumsMatchesSeparate checks the one-pass gz and gradient
// sums against the separate kernels (bit for bit: same arithmetic).
func TestBNSiLUGradSumsMatchesSeparate(t *testing.T) {
	for _, shape := range [][]int{{8, 9, 9, 16}, {300, 5}, {3, 130}} {
		c := shape[len(shape)-1]
		n := 1
		for _, v := range shape {
			n *= v
		}
		rng := rand.New(rand.NewSource(int64(n)))
		x, gy := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], gy[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		gamma, beta := make([]float32, c), make([]float32, c)
		for i := range gamma {
			gamma[i], beta[i] = float32(0.5+rng.Float64()), float32(rng.Float64()-0.5)
		}
		mean, vari := moments(c, x)
		inv := make([]float64, c)
		for i, v := range vari {
			inv[i] = 1 / math.Sqrt(v+DefaultBNEpsilon)
		}
		scale, shift := bnSiLUScaleShift(mean, inv, gamma, beta)
		gz1, gz2 := make([]float32, n), make([]float32, n)
		sg1, sgx1 := bnSiLUGradSums32(c, mean, inv, x, gy, gz1, scale, shift)
		bnSiLUGrad(c, mean, inv, x, gamma, beta, gy, gz2)
		sg2, sgx2 := bnGradSums(c, mean, inv, x, gz2)
		for i := range gz1 {
			if gz1[i] != gz2[i] {
				t.Fatalf("%v gz[%d] %v vs %v", shape, i, gz1[i], gz2[i])
			}
		}
		for i := range sg1 {
			if sg1[i] != sg2[i] || sgx1[i] != sgx2[i] {
				t.Fatalf("%v sums[%d] %v %v vs %v %v", shape, i, sg1[i], sgx1[i], sg2[i], sgx2[i])
			}
		}
	}
}

// TestAddIntoMatchesLoop checks the chunked, parallel add against a plain
// loop, also in place.
func TestAddIntoMatchesLoop(t *testing.T) {
	defer func(g int) { elemGrain = g }(elemGrain)
	elemGrain = 100
	for _, n := range []int{1, 17, 2048, 5000} {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = float32(i)*0.5, float32(n-i)*0.25
		}
		want := make([]float32, n)
		for i := range want {
			want[i] = a[i] + b[i]
		}
		got := make([]float32, n)
		addInto(got, a, b)
		inA := append([]float32(nil), a...)
		addInto(inA, inA, b)
		inB := append([]float32(nil), b...)
		addInto(inB, a, inB)
		for i := range want {
			if got[i] != want[i] || inA[i] != want[i] || inB[i] != want[i] {
				t.Fatalf("n=%d [%d]: %v %v %v, want %v", n, i, got[i], inA[i], inB[i], want[i])
			}
		}
	}
}

// TestMoments32Accuracy compares the one-pass float32 moments with float64
// two-pass sums, also for channels far from zero mean.
func TestMoments32Accuracy(t *testing.T) {
	for _, c := range []int{3, 16, 130} {
		for _, off := range []float64{0, 100, -3000} {
			rows := 5000
			rng := rand.New(rand.NewSource(int64(c)))
			x := make([]float32, rows*c)
			for r := 0; r < rows; r++ {
				for i := 0; i < c; i++ {
					x[r*c+i] = float32(off*float64(i%3) + (1+float64(i%5))*rng.NormFloat64() + float64(r%7)*0.1)
				}
			}
			mean, vari := moments32(c, x)
			for i := 0; i < c; i++ {
				m, v := 0.0, 0.0
				for r := 0; r < rows; r++ {
					m += float64(x[r*c+i])
				}
				m /= float64(rows)
				for r := 0; r < rows; r++ {
					d := float64(x[r*c+i]) - m
					v += d * d
				}
				v /= float64(rows)
				if math.Abs(mean[i]-m) > 1e-6*math.Max(1, math.Abs(m)) || math.Abs(vari[i]-v) > 1e-5*v {
					t.Fatalf("c=%d off=%v channel %d: mean %v var %v, want %v %v", c, off, i, mean[i], vari[i], m, v)
				}
			}
		}
	}
}
