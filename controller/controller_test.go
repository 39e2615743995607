package controller

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/effnas/effnas/fielderr"
)

// testOptions keeps the rl controller small so that the generic tests run
// fast; minibatch 5 makes PPO updates happen within a few rounds.
var testOptions = Options{HiddenSize: 8, EmbeddingSize: 6, MinibatchSize: 5, LearningRate: 0.01, PopulationSize: 6, TournamentSize: 3}

var testCards = []int{2, 3, 1, 4, 2, 3}

func newTest(t testing.TB, name string, cards []int, seed uint64, o Options) Controller {
	t.Helper()
	c, err := New(name, cards, seed, o)
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	if c.Name() != name {
		t.Fatalf("Name() = %q, want %q", c.Name(), name)
	}
	return c
}

// driver runs propose/observe rounds with up to `parallel` trials in flight,
// observing the oldest first, with rewards from a deterministic function of
// the decisions and the round.
type driver struct {
	c        Controller
	inflight [][]int
	parallel int
	round    int
}

func testReward(d []int, round int) float64 {
	r := float64(round%7) * 0.01
	for i, v := range d {
		if v == i%3 {
			r += 0.1
		}
	}
	return r
}

// step proposes until `parallel` trials are in flight, then observes one.
// It returns the proposals made.
func (dr *driver) step(t testing.TB) [][]int {
	t.Helper()
	var out [][]int
	for len(dr.inflight) < dr.parallel {
		d, err := dr.c.Propose()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
		dr.inflight = append(dr.inflight, d)
	}
	d := dr.inflight[0]
	dr.inflight = dr.inflight[1:]
	reward := testReward(d, dr.round)
	if dr.round%11 == 3 {
		reward = 0 // a failed trial
	}
	if err := dr.c.Observe(d, reward); err != nil {
		t.Fatal(err)
	}
	dr.round++
	return out
}

func (dr *driver) run(t testing.TB, rounds int) [][]int {
	var out [][]int
	for range rounds {
		out = append(out, dr.step(t)...)
	}
	return out
}

func TestNewErrors(t *testing.T) {
	_, err := New("bayes", testCards, 1, Options{})
	if !errors.Is(err, ErrUnknownStrategy) {
		t.Fatalf("unknown name: got %v", err)
	}
	for _, n := range []string{"evolution", "random", "rl", "bayes"} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not mention %q", err, n)
		}
	}
	cases := []struct {
		cards []int
		o     Options
		field string
	}{
		{nil, Options{}, "cardinalities"},
		{[]int{2, 0}, Options{}, "cardinalities[1]"},
		{testCards, Options{PopulationSize: 1}, "PopulationSize"},
		{testCards, Options{PopulationSize: 10, TournamentSize: 11}, "TournamentSize"},
		{testCards, Options{TournamentSize: 21}, "TournamentSize"},
		{testCards, Options{HiddenSize: -1}, "HiddenSize"},
		{testCards, Options{MinibatchSize: -5}, "MinibatchSize"},
		{testCards, Options{LearningRate: -0.1}, "LearningRate"},
		{testCards, Options{LearningRate: math.NaN()}, "LearningRate"},
		{testCards, Options{ClipEpsilon: 1}, "ClipEpsilon"},
		{testCards, Options{BaselineDecay: 1.5}, "BaselineDecay"},
		{testCards, Options{EntropyWeight: math.Inf(1)}, "EntropyWeight"},
		{testCards, Options{Budget: -3}, "Budget"},
	}
	for _, name := range Names() {
		for _, tc := range cases {
			_, err := New(name, tc.cards, 1, tc.o)
			var oe *fielderr.Error
			if !errors.As(err, &oe) || oe.Field != tc.field {
				t.Errorf("%s %v %+v: got %v, want a *fielderr.Error on %s", name, tc.cards, tc.o, err, tc.field)
			} else if !strings.Contains(err.Error(), tc.field) || oe.Allowed == "" {
				t.Errorf("unclear error %q", err)
			}
		}
	}
	if _, err := New(NameRL, []int{1, 1}, 1, Options{}); err == nil {
		t.Error("rl accepted a space without any choice")
	}
	for _, name := range []string{NameRandom, NameEvolution} {
		c := newTest(t, name, []int{1, 1}, 1, Options{})
		for range 30 {
			d, err := c.Propose()
			if err != nil || d[0] != 0 || d[1] != 0 {
				t.Fatalf("%s on a one-point space: %v %v", name, d, err)
			}
			if err := c.Observe(d, 1); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestOptionDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.PopulationSize != 20 || o.TournamentSize != 5 || o.HiddenSize != 100 || o.EmbeddingSize != 100 ||
		o.LearningRate != 0.00035 || o.MinibatchSize != 20 || o.PPOEpochs != 4 || o.ClipEpsilon != 0.2 ||
		o.EntropyWeight != 1e-5 || o.BaselineDecay != 0.95 || o.InitScale != 0.1 {
		t.Errorf("defaults: %+v", o)
	}
	for budget, p := range map[int]int{100: 20, 300: 30, 1000: 100, 20000: 100} {
		if got := (Options{Budget: budget}).withDefaults(); got.PopulationSize != p || got.TournamentSize != p/4 {
			t.Errorf("Budget %d: P=%d S=%d, want %d, %d", budget, got.PopulationSize, got.TournamentSize, p, p/4)
		}
	}
	if o := (Options{NoEntropyBonus: true, EntropyWeight: 3}).withDefaults(); o.EntropyWeight != 0 {
		t.Errorf("NoEntropyBonus: %v", o.EntropyWeight)
	}
}

func TestProposalsValid(t *testing.T) {
	for _, name := range Names() {
		c := newTest(t, name, testCards, 3, testOptions)
		dr := &driver{c: c, parallel: 3}
		for _, d := range dr.run(t, 60) {
			if err := checkDecisions(testCards, d); err != nil {
				t.Fatalf("%s proposed %v: %v", name, d, err)
			}
		}
	}
}

func TestObserveValidation(t *testing.T) {
	for _, name := range Names() {
		c := newTest(t, name, testCards, 3, testOptions)
		before, _ := c.State()
		for _, tc := range []struct {
			d []int
			r float64
		}{
			{[]int{0, 0, 0}, 1},
			{[]int{0, 0, 0, 0, 0, 3}, 1},
			{[]int{0, 0, 1, 0, 0, 0}, 1},
			{[]int{-1, 0, 0, 0, 0, 0}, 1},
			{[]int{0, 0, 0, 0, 0, 0}, math.NaN()},
			{[]int{0, 0, 0, 0, 0, 0}, math.Inf(-1)},
		} {
			if err := c.Observe(tc.d, tc.r); err == nil {
				t.Errorf("%s accepted %v, %v", name, tc.d, tc.r)
			}
		}
		if after, _ := c.State(); !bytes.Equal(before, after) {
			t.Errorf("%s: rejected observations changed the state", name)
		}
		// An architecture that was never proposed is accepted.
		if err := c.Observe([]int{1, 2, 0, 3, 1, 2}, 0.5); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDeterminism(t *testing.T) {
	for _, name := range Names() {
		a := (&driver{c: newTest(t, name, testCards, 42, testOptions), parallel: 4}).run(t, 40)
		b := (&driver{c: newTest(t, name, testCards, 42, testOptions), parallel: 4}).run(t, 40)
		c := (&driver{c: newTest(t, name, testCards, 43, testOptions), parallel: 4}).run(t, 40)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s: same seed, different proposals", name)
		}
		if fmt.Sprint(a) == fmt.Sprint(c) {
			t.Errorf("%s: different seeds, same proposals", name)
		}
	}
}

func TestStateRestoreExact(t *testing.T) {
	for _, name := range Names() {
		for _, k := range []int{0, 1, 7, 23} {
			orig := &driver{c: newTest(t, name, testCards, 5, testOptions), parallel: 3}
			orig.run(t, k)
			if k > 0 {
				// A proposal that is never observed (besides the ones in
				// flight; for rl, a partly used sample batch).
				if _, err := orig.c.Propose(); err != nil {
					t.Fatal(err)
				}
			}
			state, err := orig.c.State()
			if err != nil {
				t.Fatal(err)
			}
			inflight := append([][]int(nil), orig.inflight...)
			want := orig.run(t, 25)
			wantState, _ := orig.c.State()

			fresh := newTest(t, name, testCards, 999, testOptions)
			if err := fresh.Restore(state); err != nil {
				t.Fatalf("%s k=%d: %v", name, k, err)
			}
			if again, _ := fresh.State(); !bytes.Equal(again, state) {
				t.Fatalf("%s k=%d: State after Restore differs from the restored state", name, k)
			}
			rest := &driver{c: fresh, parallel: 3, inflight: inflight, round: orig.round - 25}
			got := rest.run(t, 25)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s k=%d: restored controller proposes\n%v\nwant\n%v", name, k, got, want)
			}
			if gotState, _ := fresh.State(); !bytes.Equal(gotState, wantState) {
				t.Fatalf("%s k=%d: states diverged after restore", name, k)
			}
		}
	}
}

func TestRestoreRejectsBadState(t *testing.T) {
	for _, name := range Names() {
		c := newTest(t, name, testCards, 5, testOptions)
		(&driver{c: c, parallel: 3}).run(t, 12)
		good, err := c.State()
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		bad := [][]byte{nil, {}, []byte("EFNC"), []byte("garbage garbage garbage")}
		for range 20 {
			b := make([]byte, r.IntN(200))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			bad = append(bad, b)
		}
		// every truncation (sampled for long states) and trailing bytes
		step := max(1, len(good)/300)
		for n := 0; n < len(good); n += step {
			bad = append(bad, good[:n])
		}
		bad = append(bad, append(append([]byte(nil), good...), 0))
		// corrupt header fields
		for _, i := range []int{0, 4, 5, 6} {
			b := append([]byte(nil), good...)
			b[i] ^= 0xff
			bad = append(bad, b)
		}
		// states of other strategies, cardinalities and options
		for _, other := range Names() {
			if other == name {
				continue
			}
			s, _ := newTest(t, other, testCards, 5, testOptions).State()
			bad = append(bad, s)
		}
		s, _ := newTest(t, name, []int{2, 3, 1, 4, 2, 4}, 5, testOptions).State()
		bad = append(bad, s)
		o := testOptions
		o.PopulationSize, o.HiddenSize, o.MinibatchSize = 7, 9, 4
		s, _ = newTest(t, name, testCards, 5, o).State()
		if name != NameRandom { // random has no options
			bad = append(bad, s)
		}

		for i, b := range bad {
			err := func() (err error) {
				defer func() {
					if p := recover(); p != nil {
						err = fmt.Errorf("panic: %v", p)
					}
				}()
				return c.Restore(b)
			}()
			if err == nil || !errors.Is(err, ErrBadState) {
				t.Fatalf("%s: bad state %d (%d bytes) gave %v", name, i, len(b), err)
			}
		}
		if after, _ := c.State(); !bytes.Equal(after, good) {
			t.Fatalf("%s: failed restores changed the state", name)
		}
	}
}

// Bit flips anywhere in a state give either an error or a controller that
// works; never a panic.
func FuzzRestore(f *testing.F) {
	for _, name := range Names() {
		c, _ := New(name, testCards, 5, testOptions)
		(&driver{c: c, parallel: 2}).run(f, 8)
		s, _ := c.State()
		f.Add(name, s)
	}
	f.Fuzz(func(t *testing.T, name string, state []byte) {
		if _, ok := registry[name]; !ok {
			return
		}
		c, _ := New(name, testCards, 5, testOptions)
		if c.Restore(state) != nil {
			return
		}
		(&driver{c: c, parallel: 2}).run(t, 6)
	})
}

func TestEvolutionMechanics(t *testing.T) {
	cards := []int{2, 3, 4, 2, 2}
	c := newTest(t, NameEvolution, cards, 9, Options{PopulationSize: 8, TournamentSize: 3}).(*evolutionController)
	pool := map[string]bool{}
	// Several proposals before any observation are fine.
	for range 5 {
		d, err := c.Propose()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Observe(d, testReward(d, 0)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		d, err := c.Propose()
		if err != nil {
			t.Fatal(err)
		}
		if len(c.pop) == c.p {
			diffs := 0
			for _, m := range c.pop {
				pool[fmt.Sprint(m.decisions)] = true
				n := 0
				for j := range d {
					if d[j] != m.decisions[j] {
						n++
					}
				}
				if n == 1 {
					diffs++
				}
			}
			if diffs == 0 {
				t.Fatalf("child %v is not a one-decision mutation of a population member", d)
			}
		}
		if err := c.Observe(d, testReward(d, i)); err != nil {
			t.Fatal(err)
		}
		if len(c.pop) > c.p {
			t.Fatalf("population grew to %d", len(c.pop))
		}
		if last := c.pop[len(c.pop)-1]; fmt.Sprint(last.decisions) != fmt.Sprint(d) {
			t.Fatal("the newest observation is not at the end of the queue")
		}
	}
}

func TestRLMechanics(t *testing.T) {
	for _, mb := range []int{1, 3} {
		o := testOptions
		o.MinibatchSize = mb
		c := newTest(t, NameRL, testCards, 11, o).(*rlController)
		w0 := append([]float64(nil), c.net.params[len(c.net.params)-1].data...)
		// Propose a few, observe them out of order and add one unproposed.
		var ds [][]int
		for range 4 {
			d, err := c.Propose()
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d)
		}
		if len(c.pending) != 4 {
			t.Fatalf("%d pending", len(c.pending))
		}
		for _, i := range []int{2, 0, 3, 1} {
			if err := c.Observe(ds[i], float64(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Observe([]int{1, 1, 0, 1, 1, 1}, 2); err != nil {
			t.Fatal(err)
		}
		if len(c.pending) != 0 || c.observed != 5 || c.updates != 5/mb || len(c.batch) != 5%mb {
			t.Fatalf("pending %d observed %d updates %d batch %d", len(c.pending), c.observed, c.updates, len(c.batch))
		}
		if c.updates > 0 && len(c.queue) != 0 {
			t.Fatal("sample queue kept across a policy update")
		}
		w1 := c.net.params[len(c.net.params)-1].data
		if fmt.Sprint(w0) == fmt.Sprint(w1) {
			t.Fatal("PPO updates did not change the output layer")
		}
		// The baseline follows the documented EMA, started at the first reward.
		want := 2.0
		for _, r := range []float64{0, 3, 1, 2} {
			want = 0.95*want + 0.05*r
		}
		if math.Abs(c.baseline-want) > 1e-12 {
			t.Fatalf("baseline %v, want %v", c.baseline, want)
		}
	}
}
