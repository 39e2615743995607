package ops

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// refMoments returns per-channel mean and biased variance of x (rows, c).
func refMoments(x []float64, c int) (mean, vari []float64) {
	rows := len(x) / c
	mean, vari = make([]float64, c), make([]float64, c)
	for r := 0; r < rows; r++ {
		for i := 0; i < c; i++ {
			mean[i] += x[r*c+i] / float64(rows)
		}
	}
	for r := 0; r < rows; r++ {
		for i := 0; i < c; i++ {
			d := x[r*c+i] - mean[i]
			vari[i] += d * d / float64(rows)
		}
	}
	return mean, vari
}

func TestBatchNormTrainingStep(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	const c = 3
	x := randDense(rng, -2, 3, 4, 2, 2, c)
	gamma := vec([]int{c}, []float64{1, 2, 0.5})
	beta := vec([]int{c}, []float64{0, -1, 3})
	bn, err := NewBatchNorm(c, DefaultBNMomentum, DefaultBNEpsilon)
	if err != nil {
		t.Fatal(err)
	}
	if !bn.Training || bn.Recalibrate {
		t.Fatal("a new layer must be in training mode")
	}
	y := f64s(mustDo(t, bnOp{bn: bn, dims: 4}, x, gamma, beta))
	mu, vb := refMoments(f64s(x), c)
	m := 16.0
	for i, v := range f64s(x) {
		ch := i % c
		want := f64s(gamma)[ch]*(v-mu[ch])/math.Sqrt(vb[ch]+1e-3) + f64s(beta)[ch]
		if math.Abs(y[i]-want) > 1e-12 {
			t.Fatalf("output %d: %v, want %v", i, y[i], want)
		}
	}
	rm, rv := bn.Stats()
	for i := 0; i < c; i++ {
		wantM := 0.9*0 + 0.1*mu[i]
		wantV := 0.9*1 + 0.1*vb[i]*m/(m-1)
		if math.Abs(rm[i]-wantM) > 1e-15 || math.Abs(rv[i]-wantV) > 1e-15 {
			t.Errorf("channel %d after one step: running (%v, %v), want (%v, %v)", i, rm[i], rv[i], wantM, wantV)
		}
	}
	mustDo(t, bnOp{bn: bn, dims: 4}, x, gamma, beta)
	rm, _ = bn.Stats()
	for i := 0; i < c; i++ {
		if want := 0.9*0.1*mu[i] + 0.1*mu[i]; math.Abs(rm[i]-want) > 1e-15 {
			t.Errorf("channel %d after two steps: mean %v, want %v", i, rm[i], want)
		}
	}
	// float32 agrees
	bn32, _ := NewBatchNorm(c, DefaultBNMomentum, DefaultBNEpsilon)
	checkF32(t, "bn", mustDo(t, bnOp{bn: bn32, dims: 4}, toF32(x), toF32(gamma), toF32(beta)), y, 1e-5)
}

func TestBatchNormEvalUsesRunningStats(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	const c = 2
	bn, _ := NewBatchNorm(c, DefaultBNMomentum, DefaultBNEpsilon)
	mean, vari := []float64{0.5, -1}, []float64{4, 0.25}
	if err := bn.SetStats(mean, vari); err != nil {
		t.Fatal(err)
	}
	bn.Training = false
	x := randDense(rng, -2, 2, 5, c)
	gamma, beta := vec([]int{c}, []float64{2, 3}), vec([]int{c}, []float64{1, 0})
	y := f64s(mustDo(t, bnOp{bn: bn, dims: 2}, x, gamma, beta))
	for i, v := range f64s(x) {
		ch := i % c
		want := f64s(gamma)[ch]*(v-mean[ch])/math.Sqrt(vari[ch]+1e-3) + f64s(beta)[ch]
		if math.Abs(y[i]-want) > 1e-12 {
			t.Fatalf("eval output %d: %v, want %v", i, y[i], want)
		}
	}
	if m, v := bn.Stats(); maxAbsDiff(m, mean) != 0 || maxAbsDiff(v, vari) != 0 {
		t.Errorf("eval changed the statistics: %v %v", m, v)
	}
	// Stats returns copies; SetStats validates.
	m, _ := bn.Stats()
	m[0] = 99
	if m2, _ := bn.Stats(); m2[0] != 0.5 {
		t.Error("Stats exposes internal storage")
	}
	if err := bn.SetStats([]float64{1}, []float64{1}); err == nil {
		t.Error("SetStats accepted a wrong length")
	}
	if err := bn.SetStats([]float64{0, 0}, []float64{1, -1}); err == nil {
		t.Error("SetStats accepted a negative variance")
	}
}

func TestBatchNormRecalibration(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	const c = 3
	bn, _ := NewBatchNorm(c, DefaultBNMomentum, DefaultBNEpsilon)
	gamma, beta := vec([]int{c}, []float64{1, 1, 1}), vec([]int{c}, []float64{0, 0, 0})
	mustDo(t, bnOp{bn: bn, dims: 4}, randDense(rng, 5, 9, 2, 3, 3, c), gamma, beta) // some training history
	bn.ResetStats()
	if m, v := bn.Stats(); maxAbsDiff(m, []float64{0, 0, 0}) != 0 || maxAbsDiff(v, []float64{1, 1, 1}) != 0 {
		t.Fatalf("ResetStats: %v %v", m, v)
	}
	bn.Recalibrate = true
	sumM, sumV := make([]float64, c), make([]float64, c)
	const batches = 3
	for b := 0; b < batches; b++ {
		x := randDense(rng, float64(-b), float64(2*b+1), 2, 3, 3, c)
		y := f64s(mustDo(t, bnOp{bn: bn, dims: 4}, x, gamma, beta))
		mu, vb := refMoments(f64s(x), c)
		for i := 0; i < c; i++ {
			sumM[i] += mu[i] / batches
			sumV[i] += vb[i] * 18 / 17 / batches
		}
		// normalised with the batch statistics
		if ym, _ := refMoments(y, c); math.Abs(ym[0]) > 1e-12 {
			t.Errorf("recalibration output not batch-normalised: mean %v", ym)
		}
	}
	if n := bn.RecalibrationBatches(); n != batches {
		t.Errorf("RecalibrationBatches = %d, want %d", n, batches)
	}
	m, v := bn.Stats()
	if maxAbsDiff(m, sumM) > 1e-14 || maxAbsDiff(v, sumV) > 1e-14 {
		t.Errorf("recalibrated stats (%v, %v), want cumulative averages (%v, %v)", m, v, sumM, sumV)
	}
}

// bnGraph builds cost = sum(bn(x) ⊙ R) with gradients for x, gamma, beta.
func bnGraph(t *testing.T, bn *BatchNorm, xv *tensor.Dense) (*G.ExprGraph, G.Nodes) {
	g := G.NewGraph()
	c := bn.Channels()
	x := G.NewTensor(g, tensor.Float64, xv.Dims(), G.WithShape(xv.Shape()...), G.WithName("x"), G.WithValue(xv))
	gamma := G.NewVector(g, tensor.Float64, G.WithShape(c), G.WithName("gamma"), G.WithInit(G.Ones()))
	beta := G.NewVector(g, tensor.Float64, G.WithShape(c), G.WithName("beta"), G.WithInit(G.Zeroes()))
	y, err := bn.Apply(x, gamma, beta)
	if err != nil {
		t.Fatal(err)
	}
	r := G.NewTensor(g, tensor.Float64, xv.Dims(), G.WithShape(xv.Shape()...), G.WithName("R"),
		G.WithValue(randDense(rand.New(rand.NewSource(1)), -1, 1, xv.Shape()...)))
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(y, r))))
	params := G.Nodes{x, gamma, beta}
	if _, err := G.Grad(cost, params...); err != nil {
		t.Fatal(err)
	}
	return g, params
}

func TestBatchNormUpdatesOncePerRun(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	xv := randDense(rng, -1, 3, 2, 3, 3, 2)
	bn, _ := NewBatchNorm(2, DefaultBNMomentum, DefaultBNEpsilon)
	g, params := bnGraph(t, bn, xv)
	m := G.NewTapeMachine(g, G.BindDualValues(params...))
	defer m.Close()
	mu, _ := refMoments(f64s(xv), 2)
	for run, factor := range []float64{0.1, 0.19, 0.271} {
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		rm, _ := bn.Stats()
		for i := range rm {
			if want := factor * mu[i]; math.Abs(rm[i]-want) > 1e-14 {
				t.Fatalf("run %d channel %d: running mean %v, want %v (one update per run)", run+1, i, rm[i], want)
			}
		}
	}
}

func TestBatchNormSurvivesMachines(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	xv := randDense(rng, -1, 3, 2, 3, 3, 2)
	bn, _ := NewBatchNorm(2, DefaultBNMomentum, DefaultBNEpsilon)
	g, params := bnGraph(t, bn, xv)
	m1 := G.NewTapeMachine(g, G.BindDualValues(params...))
	if err := m1.RunAll(); err != nil {
		t.Fatal(err)
	}
	m1.Close()
	before, beforeV := bn.Stats()
	m2 := G.NewTapeMachine(g, G.BindDualValues(params...))
	m3 := G.NewTapeMachine(g, G.EvalMode())
	m2.Close()
	m3.Close()
	after, afterV := bn.Stats()
	if maxAbsDiff(before, after) != 0 || maxAbsDiff(beforeV, afterV) != 0 {
		t.Errorf("building machines changed the statistics: %v %v -> %v %v", before, beforeV, after, afterV)
	}
	if !bn.Training {
		t.Error("building machines changed the training flag")
	}
	if before[0] == 0 {
		t.Error("the first run did not update the statistics")
	}
	// an evaluation run leaves them alone too
	bn.Training = false
	m4 := G.NewTapeMachine(g, G.BindDualValues(params...))
	defer m4.Close()
	if err := m4.RunAll(); err != nil {
		t.Fatal(err)
	}
	if after2, _ := bn.Stats(); maxAbsDiff(before, after2) != 0 {
		t.Errorf("an eval run changed the statistics")
	}
}

func TestTwoBatchNormsStaySeparate(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(2, 2, 2, 3), G.WithName("x"),
		G.WithValue(randDense(rand.New(rand.NewSource(6)), 0, 1, 2, 2, 2, 3)))
	gamma := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("gamma"), G.WithInit(G.Ones()))
	beta := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("beta"), G.WithInit(G.Zeroes()))
	bn1, _ := NewBatchNorm(3, DefaultBNMomentum, DefaultBNEpsilon)
	bn2, _ := NewBatchNorm(3, DefaultBNMomentum, DefaultBNEpsilon)
	y1, err := bn1.Apply(x, gamma, beta)
	if err != nil {
		t.Fatal(err)
	}
	y2, err := bn2.Apply(x, gamma, beta)
	if err != nil {
		t.Fatal(err)
	}
	if y1 == y2 || y1.ID() == y2.ID() {
		t.Fatal("two BatchNorm layers on the same input were merged into one node")
	}
	if y1.Op().Hashcode() == y2.Op().Hashcode() {
		t.Error("two BatchNorm layers hash alike")
	}
	// the same holds with different dims/stride attributes for stateless ops
	c1, _ := DepthwiseConv2D(x, G.NewTensor(g, tensor.Float64, 3, G.WithShape(3, 3, 3), G.WithName("w"), G.WithInit(G.Ones())), 1)
	c2, _ := DepthwiseConv2D(x, g.ByName("w")[0], 2)
	if c1 == c2 {
		t.Error("depthwise convolutions with strides 1 and 2 were merged")
	}
	bn2.Training = false
	sum := G.Must(G.Add(G.Must(G.Sum(y1)), G.Must(G.Sum(y2))))
	m := G.NewTapeMachine(g)
	defer m.Close()
	_ = sum
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	m1, _ := bn1.Stats()
	m2, _ := bn2.Stats()
	if m1[0] == 0 || m2[0] != 0 {
		t.Errorf("layers share state: bn1 mean %v, bn2 (eval) mean %v", m1, m2)
	}
}
