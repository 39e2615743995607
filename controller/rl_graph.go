package controller

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// policy is the controller network: a one-layer LSTM unrolled over the
// decisions, with a learned start input, one embedding table per decision
// (the chosen option of decision t is the input of step t+1) and one
// softmax output layer per decision.
//
// Gorgonia graphs (all float64, sharing the parameter tensors, which are
// updated in place):
//   - steps[t]: one LSTM step for a batch of MinibatchSize rows (input, h,
//     c -> h', c', logits_t); sampling runs them in turn, since every input
//     depends on the previous sample, and draws one batch of proposals at a
//     time;
//   - train: the whole unrolled network for a minibatch of B finished
//     trials, with the PPO loss and its symbolic gradient, run by a
//     TapeMachine once per PPO epoch.
//
// Adam is implemented here rather than with gorgonia's solver, whose
// moments are unexported and so could not be saved exactly.
type policy struct {
	cards  []int
	last   int // last decision with two or more options; later ones are fixed to 0
	h, e   int
	o      Options
	params []*param // fixed order: the state format and Adam depend on it
	adamT  int      // Adam step count (bias correction)

	// named parameters (also in params)
	start, wx, wh, b *param
	emb              []*param // emb[t] embeds the choice of decision t, t < last
	wo, bo           []*param

	steps []*stepGraph
	train *trainGraph
}

type param struct {
	name  string
	shape tensor.Shape
	w     *tensor.Dense // shared by every graph
	data  []float64     // backing array of w
	m, v  []float64     // Adam moments
}

// policyState is a decoded, validated parameter state, installed only when
// the whole controller state decoded.
type policyState struct {
	adamT   int
	w, m, v [][]float64
}

type stepGraph struct {
	g                 *G.ExprGraph
	vm                G.VM
	h, c, prev        *G.Node // inputs (prev is nil for t = 0)
	hOut, cOut, logit G.Value
	prevT             *tensor.Dense
}

// rows is the batch size of the sampling graphs.
func (p *policy) rows() int { return p.o.MinibatchSize }

type trainGraph struct {
	g               *G.ExprGraph
	vm              G.VM
	nodes           []*G.Node // parameter nodes, same order as policy.params
	h0, c0, ones    *G.Node
	actions         []*G.Node
	adv, oldLogp    *G.Node
	lossV           G.Value // loss of the last run (tests)
	actionT         []*tensor.Dense
	advT, oldT      *tensor.Dense
	h0T, c0T, onesT *tensor.Dense
}

func newPolicy(cards []int, o Options, rng *rand.Rand) (*policy, error) {
	p := &policy{cards: cards, h: o.HiddenSize, e: o.EmbeddingSize, o: o}
	H, E := p.h, p.e
	for t, k := range cards {
		if k >= 2 {
			p.last = t
		}
	}
	add := func(name string, shape ...int) *param {
		n := 1
		for _, s := range shape {
			n *= s
		}
		data := make([]float64, n)
		for i := range data {
			data[i] = (2*rng.Float64() - 1) * o.InitScale
		}
		pr := &param{
			name: name, shape: tensor.Shape(shape), data: data,
			w: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data)),
			m: make([]float64, n), v: make([]float64, n),
		}
		p.params = append(p.params, pr)
		return pr
	}
	p.start = add("start", 1, E)
	p.wx = add("lstm.wx", E, 4*H)
	p.wh = add("lstm.wh", H, 4*H)
	p.b = add("lstm.b", 1, 4*H)
	for t, k := range cards[:p.last+1] {
		if t < p.last {
			p.emb = append(p.emb, add(fmt.Sprintf("d%d.emb", t), k, E))
		}
		if k == 1 {
			// A decision with one option has log-probability 0 and no
			// output layer.
			p.wo, p.bo = append(p.wo, nil), append(p.bo, nil)
			continue
		}
		p.wo = append(p.wo, add(fmt.Sprintf("d%d.out.w", t), H, k))
		p.bo = append(p.bo, add(fmt.Sprintf("d%d.out.b", t), 1, k))
	}
	var err error
	for t := range cards[:p.last+1] {
		var s *stepGraph
		if s, err = p.buildStep(t); err != nil {
			return nil, err
		}
		p.steps = append(p.steps, s)
	}
	if p.train, err = p.buildTrain(); err != nil {
		return nil, err
	}
	return p, nil
}

// builder turns gorgonia's (node, error) results into panics caught by
// build, which keeps the graph code readable.
type builder struct{ g *G.ExprGraph }

func must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(buildError{err})
	}
	return n
}

type buildError struct{ err error }

func build(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			be, ok := r.(buildError)
			if !ok {
				panic(r)
			}
			err = be.err
		}
	}()
	return f()
}

func (b builder) input(name string, shape ...int) *G.Node {
	if len(shape) == 1 {
		return G.NewVector(b.g, G.Float64, G.WithShape(shape...), G.WithName(name))
	}
	return G.NewMatrix(b.g, G.Float64, G.WithShape(shape...), G.WithName(name))
}

func (b builder) param(p *param) *G.Node {
	return G.NewMatrix(b.g, G.Float64, G.WithShape(p.shape...), G.WithName(p.name), G.WithValue(p.w))
}

// cell is one LSTM step: gates = x·Wx + h·Wh + b, split as (i, f, g, o).
func (p *policy) cell(x, h, c, wx, wh, bias *G.Node) (h2, c2 *G.Node) {
	H := p.h
	gates := must(G.Add(must(G.Mul(x, wx)), must(G.Mul(h, wh))))
	gates = must(G.BroadcastAdd(gates, bias, nil, []byte{0}))
	part := func(k int) *G.Node { return must(G.Slice(gates, nil, G.S(k*H, (k+1)*H))) }
	ig := must(G.Sigmoid(part(0)))
	fg := must(G.Sigmoid(part(1)))
	gg := must(G.Tanh(part(2)))
	og := must(G.Sigmoid(part(3)))
	c2 = must(G.Add(must(G.HadamardProd(fg, c)), must(G.HadamardProd(ig, gg))))
	h2 = must(G.HadamardProd(og, must(G.Tanh(c2))))
	return h2, c2
}

func (p *policy) buildStep(t int) (*stepGraph, error) {
	s := &stepGraph{g: G.NewGraph()}
	err := build(func() error {
		b := builder{s.g}
		n := p.rows()
		s.h = b.input("h", n, p.h)
		s.c = b.input("c", n, p.h)
		var x *G.Node
		if t == 0 {
			// The start vector is the input of every row: prev = ones (n,1).
			s.prev = b.input("prev", n, 1)
			s.prevT = tensor.New(tensor.WithShape(n, 1), tensor.Of(tensor.Float64))
			x = must(G.Mul(s.prev, b.param(p.start)))
		} else {
			s.prev = b.input("prev", n, p.cards[t-1])
			s.prevT = tensor.New(tensor.WithShape(n, p.cards[t-1]), tensor.Of(tensor.Float64))
			x = must(G.Mul(s.prev, b.param(p.emb[t-1])))
		}
		h2, c2 := p.cell(x, s.h, s.c, b.param(p.wx), b.param(p.wh), b.param(p.b))
		G.Read(h2, &s.hOut)
		G.Read(c2, &s.cOut)
		if p.wo[t] != nil {
			logits := must(G.BroadcastAdd(must(G.Mul(h2, b.param(p.wo[t]))), b.param(p.bo[t]), nil, []byte{0}))
			G.Read(logits, &s.logit)
		}
		s.vm = G.NewTapeMachine(s.g)
		return nil
	})
	return s, err
}

// buildTrain builds the minibatch graph and the PPO loss
//
//	L = -mean_b min(r_b·A_b, clip(r_b, 1-ε, 1+ε)·A_b) - β·mean_b Σ_t H_t,b
//
// with r_b = exp(log π(a_b) - log π_old(a_b)) and H_t,b the entropy of the
// softmax of decision t. min and clip are written with Abs and Rectify
// (min(a,b) = (a+b-|a-b|)/2, clip(r) = r - relu(r-hi) + relu(lo-r)) so that
// their gradients are the usual ones.
func (p *policy) buildTrain() (*trainGraph, error) {
	B := p.o.MinibatchSize
	tg := &trainGraph{g: G.NewGraph()}
	err := build(func() error {
		b := builder{tg.g}
		for _, pr := range p.params {
			tg.nodes = append(tg.nodes, b.param(pr))
		}
		node := func(pr *param) *G.Node {
			for i, q := range p.params {
				if q == pr {
					return tg.nodes[i]
				}
			}
			panic(buildError{fmt.Errorf("unknown parameter %s", pr.name)})
		}
		tg.h0, tg.c0 = b.input("h0", B, p.h), b.input("c0", B, p.h)
		tg.ones = b.input("ones", B, 1)
		tg.adv, tg.oldLogp = b.input("adv", B), b.input("old_logp", B)
		tg.h0T = tensor.New(tensor.WithShape(B, p.h), tensor.Of(tensor.Float64))
		tg.c0T = tensor.New(tensor.WithShape(B, p.h), tensor.Of(tensor.Float64))
		tg.onesT = tensor.New(tensor.WithShape(B, 1), tensor.Of(tensor.Float64))
		for i := range tg.onesT.Float64s() {
			tg.onesT.Float64s()[i] = 1
		}
		tg.advT = tensor.New(tensor.WithShape(B), tensor.Of(tensor.Float64))
		tg.oldT = tensor.New(tensor.WithShape(B), tensor.Of(tensor.Float64))

		wx, wh, bias := node(p.wx), node(p.wh), node(p.b)
		x := must(G.Mul(tg.ones, node(p.start)))
		h, c := tg.h0, tg.c0
		var logp, ent *G.Node
		for t, k := range p.cards[:p.last+1] {
			a := b.input(fmt.Sprintf("action%d", t), B, k)
			tg.actions = append(tg.actions, a)
			tg.actionT = append(tg.actionT, tensor.New(tensor.WithShape(B, k), tensor.Of(tensor.Float64)))
			h, c = p.cell(x, h, c, wx, wh, bias)
			if t < p.last {
				x = must(G.Mul(a, node(p.emb[t])))
			}
			if k == 1 {
				continue
			}
			logits := must(G.BroadcastAdd(must(G.Mul(h, node(p.wo[t]))), node(p.bo[t]), nil, []byte{0}))
			ls := must(G.LogSoftMax(logits))
			lp := must(G.Sum(must(G.HadamardProd(ls, a)), 1))
			en := must(G.Sum(must(G.HadamardProd(must(G.Exp(ls)), ls)), 1)) // = -entropy
			if logp == nil {
				logp, ent = lp, en
			} else {
				logp, ent = must(G.Add(logp, lp)), must(G.Add(ent, en))
			}
		}
		eps := p.o.ClipEpsilon
		ratio := must(G.Exp(must(G.Sub(logp, tg.oldLogp))))
		hi, lo := G.NewConstant(1+eps, G.WithName("clip_hi")), G.NewConstant(1-eps, G.WithName("clip_lo"))
		clipped := must(G.Sub(ratio, must(G.Rectify(must(G.Sub(ratio, hi))))))
		clipped = must(G.Add(clipped, must(G.Rectify(must(G.Sub(lo, ratio))))))
		s1 := must(G.HadamardProd(ratio, tg.adv))
		s2 := must(G.HadamardProd(clipped, tg.adv))
		half := G.NewConstant(0.5, G.WithName("half"))
		surr := must(G.Mul(must(G.Sub(must(G.Add(s1, s2)), must(G.Abs(must(G.Sub(s1, s2)))))), half))
		loss := must(G.Neg(must(G.Mean(surr))))
		if w := p.o.EntropyWeight; w > 0 {
			// ent holds -Σ_t H_t, so adding w·mean(ent) subtracts the bonus.
			wn := G.NewConstant(w, G.WithName("entropy_weight"))
			loss = must(G.Add(loss, must(G.Mul(must(G.Mean(ent)), wn))))
		}
		G.Read(loss, &tg.lossV)

		if _, err := G.Grad(loss, tg.nodes...); err != nil {
			return err
		}
		tg.vm = G.NewTapeMachine(tg.g, G.BindDualValues(tg.nodes...))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tg, nil
}

// sample runs the LSTM over the decisions for up to rows() decision lists
// at once. With choose != nil, decision t of row r is choose(r, logits) and
// is written into ds[r]; with choose == nil, ds is given (teacher forcing).
// It returns log π(ds[r]) for every row.
func (p *policy) sample(ds [][]int, choose func(r int, logits []float64) int) ([]float64, error) {
	n := p.rows()
	if len(ds) > n {
		return nil, fmt.Errorf("%d rows, sampling graphs hold %d", len(ds), n)
	}
	h := tensor.New(tensor.WithShape(n, p.h), tensor.Of(tensor.Float64))
	c := tensor.New(tensor.WithShape(n, p.h), tensor.Of(tensor.Float64))
	logp := make([]float64, len(ds))
	for t, s := range p.steps {
		pv := s.prevT.Float64s()
		clear(pv)
		for r, d := range ds {
			if t == 0 {
				pv[r] = 1
			} else {
				pv[r*p.cards[t-1]+d[t-1]] = 1
			}
		}
		for _, l := range []struct {
			n *G.Node
			v *tensor.Dense
		}{{s.h, h}, {s.c, c}, {s.prev, s.prevT}} {
			if err := G.Let(l.n, l.v); err != nil {
				return nil, err
			}
		}
		if err := s.vm.RunAll(); err != nil {
			return nil, err
		}
		// Copy the outputs out before Reset hands the registers back.
		h = s.hOut.(*tensor.Dense).Clone().(*tensor.Dense)
		c = s.cOut.(*tensor.Dense).Clone().(*tensor.Dense)
		if k := p.cards[t]; k >= 2 {
			logits := s.logit.(*tensor.Dense).Float64s()
			for r, d := range ds {
				row := logits[r*k : (r+1)*k]
				if choose != nil {
					d[t] = choose(r, row)
				}
				logp[r] += logSoftmaxAt(row, d[t])
			}
		} else {
			for _, d := range ds {
				d[t] = 0
			}
		}
		s.vm.Reset()
	}
	for _, d := range ds {
		for t := p.last + 1; t < len(d); t++ {
			d[t] = 0
		}
	}
	return logp, nil
}

// update runs PPOEpochs Adam steps of the PPO loss on a full minibatch.
func (p *policy) update(batch []rlTrial) error {
	if err := p.loadBatch(batch); err != nil {
		return err
	}
	for range p.o.PPOEpochs {
		if _, err := p.runTrain(); err != nil {
			return err
		}
		if err := p.adamStep(); err != nil {
			return err
		}
	}
	return nil
}

// loadBatch writes a minibatch into the training graph's input tensors.
func (p *policy) loadBatch(batch []rlTrial) error {
	tg := p.train
	if len(batch) != p.o.MinibatchSize {
		return fmt.Errorf("minibatch of %d trials, graph built for %d", len(batch), p.o.MinibatchSize)
	}
	for t, k := range p.cards[:p.last+1] {
		a := tg.actionT[t].Float64s()
		clear(a)
		for i, tr := range batch {
			a[i*k+tr.decisions[t]] = 1
		}
	}
	adv, old := tg.advT.Float64s(), tg.oldT.Float64s()
	for i, tr := range batch {
		adv[i], old[i] = tr.adv, tr.logp
	}
	return nil
}

// runTrain runs the training machine once (forward and backward): the
// gradients are added to the parameters' gradient tensors. It returns the
// loss.
func (p *policy) runTrain() (float64, error) {
	tg := p.train
	defer tg.vm.Reset()
	bind := func(n *G.Node, v *tensor.Dense) error { return G.Let(n, v) }
	for _, l := range []struct {
		n *G.Node
		v *tensor.Dense
	}{{tg.h0, tg.h0T}, {tg.c0, tg.c0T}, {tg.ones, tg.onesT}, {tg.adv, tg.advT}, {tg.oldLogp, tg.oldT}} {
		if err := bind(l.n, l.v); err != nil {
			return 0, err
		}
	}
	for t, a := range tg.actions {
		if err := bind(a, tg.actionT[t]); err != nil {
			return 0, err
		}
	}
	if err := tg.vm.RunAll(); err != nil {
		return 0, err
	}
	loss, ok := tg.lossV.Data().(float64)
	if !ok {
		return 0, fmt.Errorf("loss is %T", tg.lossV.Data())
	}
	return loss, nil
}

const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

// adamStep applies one Adam step (Kingma & Ba, with bias correction) from
// the gradients the training machine accumulated, then zeroes them.
func (p *policy) adamStep() error {
	p.adamT++
	c1 := 1 - math.Pow(adamBeta1, float64(p.adamT))
	c2 := 1 - math.Pow(adamBeta2, float64(p.adamT))
	lr := p.o.LearningRate
	for i, pr := range p.params {
		n := p.train.nodes[i]
		gv, err := n.Grad()
		if err != nil {
			return fmt.Errorf("gradient of %s: %w", pr.name, err)
		}
		gd, ok := gv.(*tensor.Dense)
		if !ok || gd.Size() != len(pr.data) {
			return fmt.Errorf("gradient of %s: unexpected value %T %v", pr.name, gv, gv.Shape())
		}
		if wv, ok := n.Value().(*tensor.Dense); !ok || &wv.Float64s()[0] != &pr.data[0] {
			return fmt.Errorf("parameter %s: the training graph does not share the weight tensor", pr.name)
		}
		g := gd.Float64s()
		for j, gj := range g {
			pr.m[j] = adamBeta1*pr.m[j] + (1-adamBeta1)*gj
			pr.v[j] = adamBeta2*pr.v[j] + (1-adamBeta2)*gj*gj
			pr.data[j] -= lr * (pr.m[j] / c1) / (math.Sqrt(pr.v[j]/c2) + adamEps)
		}
		clear(g)
	}
	return nil
}

func (p *policy) writeState(e *encoder) {
	e.int(p.adamT)
	e.length(len(p.params))
	for _, pr := range p.params {
		e.f64s(pr.data)
		e.f64s(pr.m)
		e.f64s(pr.v)
	}
}

func (p *policy) readState(d *decoder) *policyState {
	s := &policyState{adamT: d.int()}
	if d.err == nil && s.adamT < 0 {
		d.fail("negative Adam step %d", s.adamT)
	}
	if n := d.length(1); d.err == nil && n != len(p.params) {
		d.fail("%d parameters, policy has %d", n, len(p.params))
	}
	for _, pr := range p.params {
		for _, dst := range []*[][]float64{&s.w, &s.m, &s.v} {
			v := d.f64s()
			if d.err != nil {
				return nil
			}
			if len(v) != len(pr.data) {
				d.fail("parameter %s has %d values, want %d", pr.name, len(v), len(pr.data))
				return nil
			}
			for _, x := range v {
				if !finite(x) {
					d.fail("parameter %s holds %v", pr.name, x)
					return nil
				}
			}
			*dst = append(*dst, v)
		}
	}
	return s
}

// install copies a decoded state into the shared tensors.
func (p *policy) install(s *policyState) {
	p.adamT = s.adamT
	for i, pr := range p.params {
		copy(pr.data, s.w[i])
		copy(pr.m, s.m[i])
		copy(pr.v, s.v[i])
	}
}
