package controller

import (
	"errors"
	"slices"
	"testing"

	"github.com/effnas/effnas/fielderr"
)

func TestWindowNeed(t *testing.T) {
	for _, c := range []struct {
		w    Window
		t    int
		need int
	}{
		{Window{}, 1, 0}, {Window{}, 500, 0},
		{Window{Size: 1}, 1, 0}, {Window{Size: 1}, 2, 1}, {Window{Size: 1}, 9, 8},
		{Window{Size: 8}, 8, 0}, {Window{Size: 8}, 9, 1}, {Window{Size: 8}, 20, 12},
		{Window{Size: 10, Rounds: true}, 1, 0}, {Window{Size: 10, Rounds: true}, 10, 0},
		{Window{Size: 10, Rounds: true}, 11, 10}, {Window{Size: 10, Rounds: true}, 20, 10}, {Window{Size: 10, Rounds: true}, 21, 20},
	} {
		if got := c.w.Need(c.t); got != c.need {
			t.Errorf("%v: Need(%d) = %d, want %d", c.w, c.t, got, c.need)
		}
	}
}

func TestDefaultWindow(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
		want Window
	}{
		{NameRL, Options{}, Window{Size: DefaultMinibatchSize, Rounds: true}},
		{NameRL, Options{MinibatchSize: 10}, Window{Size: 10, Rounds: true}},
		{NameRandom, Options{}, Window{}},
		{NameEvolution, Options{Budget: 1000}, Window{Size: DefaultEvolutionWindow}},
	} {
		if got, err := DefaultWindow(c.name, c.o); err != nil || got != c.want {
			t.Errorf("%s %+v: %v %v, want %v", c.name, c.o, got, err, c.want)
		}
	}
	if _, err := DefaultWindow("bogus", Options{}); !errors.Is(err, ErrUnknownStrategy) {
		t.Errorf("unknown strategy: %v", err)
	}
	var fe *fielderr.Error
	if _, err := DefaultWindow(NameRL, Options{LearningRate: -1}); !errors.As(err, &fe) || fe.Field != "LearningRate" {
		t.Errorf("bad option: %v", err)
	}
}

// The rl window's claim: proposing a minibatch round at once, observing it,
// and so on gives exactly the proposals of proposing and observing one
// trial at a time.
func TestRLRoundsEqualSequential(t *testing.T) {
	o := testOptions
	reward := func(d []int) float64 {
		r := 0.1
		for i, x := range d {
			r += 0.1 * float64(x*(i+1)%3)
		}
		return r
	}
	const n = 23 // four full rounds of 5 and a partial one
	seq := newTest(t, NameRL, testCards, 7, o)
	var want [][]int
	for range n {
		d, err := seq.Propose()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, d)
		if err := seq.Observe(d, reward(d)); err != nil {
			t.Fatal(err)
		}
	}
	w, err := DefaultWindow(NameRL, o)
	if err != nil {
		t.Fatal(err)
	}
	rounds := newTest(t, NameRL, testCards, 7, o)
	var got [][]int
	observed := 0
	for len(got) < n || observed < n {
		if len(got) < n && w.Need(len(got)+1) <= observed {
			d, err := rounds.Propose()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, d)
			continue
		}
		if err := rounds.Observe(got[observed], reward(got[observed])); err != nil {
			t.Fatal(err)
		}
		observed++
	}
	if !slices.EqualFunc(want, got, slices.Equal) {
		t.Fatalf("rounds of %d gave other proposals than one at a time", w.Size)
	}
	a, _ := seq.State()
	b, _ := rounds.State()
	if string(a) != string(b) {
		t.Fatal("rounds end in another controller state than one at a time")
	}
}
