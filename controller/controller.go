package controller

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/effnas/effnas/fielderr"
)

// Controller proposes architectures (decision lists) and learns from their
// rewards. Every strategy of this package implements it.
//
// A decision list has one entry per decision of the search space, in the
// order of the cardinalities given to New; entry i is the chosen option
// index, in [0, cardinalities[i]).
//
// Controllers are not safe for concurrent use: the search loop calls them
// from one goroutine, in a deterministic order.
type Controller interface {
	// Name is the registry name of the strategy ("rl", "random", "evolution").
	Name() string

	// Propose returns a new decision list. It may be called any number of
	// times before the corresponding trials are observed. The returned
	// slice belongs to the caller.
	Propose() ([]int, error)

	// Observe reports the reward of a finished trial. Trials may be
	// reported in any order relative to Propose, but the same sequence of
	// calls gives the same sequence of proposals. The decision list must
	// be valid (right length, options in range) and the reward finite;
	// otherwise Observe returns an error and changes nothing.
	//
	// A failed trial (crash, divergence, out of memory) is reported with
	// reward 0, the floor of the search reward ACC·S^w·P^v: it is an
	// ordinary, very bad observation for every strategy.
	//
	// Observing a decision list that this controller did not propose is
	// allowed (e.g. a hand-written seed architecture); see each strategy
	// for how it is used.
	Observe(decisions []int, reward float64) error

	// State serialises the complete controller state (RNG included), so
	// that a controller restored from it behaves exactly as this one.
	State() ([]byte, error)

	// Restore replaces the state with one produced by State of a
	// controller built with the same name, cardinalities and options (the
	// seed does not matter: the RNG state is restored). Invalid or
	// incompatible input gives an error and leaves the controller
	// unchanged.
	Restore(state []byte) error
}

// Strategy names accepted by New.
const (
	NameRL        = "rl"
	NameRandom    = "random"
	NameEvolution = "evolution"
)

// Names returns the registered strategy names, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

type constructor func(cards []int, seed uint64, opts Options) (Controller, error)

var registry = map[string]constructor{
	NameRL:        newRL,
	NameRandom:    newRandom,
	NameEvolution: newEvolution,
}

// ErrUnknownStrategy is wrapped by the error New returns for a name that is
// not registered.
var ErrUnknownStrategy = errors.New("controller: unknown strategy")

// ErrBadState is wrapped by every error Restore returns.
var ErrBadState = errors.New("controller: invalid state")

// badOption reports an invalid option or argument as a *fielderr.Error
// scoped "controller".
func badOption(field string, v any, allowed string) error {
	return &fielderr.Error{Scope: "controller", Field: field, Value: v, Allowed: allowed}
}

// Known returns nil for the name of a registered strategy, else an error
// wrapping ErrUnknownStrategy that lists the names.
func Known(name string) error {
	if _, ok := registry[name]; !ok {
		return fmt.Errorf("%w %q (allowed: %s)", ErrUnknownStrategy, name, strings.Join(Names(), ", "))
	}
	return nil
}

// New builds the controller registered under name for a search space with
// the given decision cardinalities (each >= 1), seeded with seed. The zero
// Options selects the documented defaults.
func New(name string, cardinalities []int, seed uint64, opts Options) (Controller, error) {
	if err := Known(name); err != nil {
		return nil, err
	}
	ctor := registry[name]
	if len(cardinalities) == 0 {
		return nil, badOption("cardinalities", "[]", "want at least one decision")
	}
	for i, c := range cardinalities {
		if c < 1 {
			return nil, badOption(fmt.Sprintf("cardinalities[%d]", i), c, "want >= 1")
		}
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return ctor(append([]int(nil), cardinalities...), seed, opts)
}

// Options tunes the strategies. The zero value of every field selects the
// default written next to it; fields of other strategies are validated but
// ignored.
type Options struct {
	// Budget is the expected number of trials of the whole search; 0 means
	// unknown. Only the evolution defaults depend on it.
	Budget int

	// PopulationSize is the evolution population P (>= 2). Default: 20
	// when Budget is 0, else Budget/10 clamped to [20, 100] (Real et al.
	// 2019 use P=100 for 20k trials; small budgets need a small P to leave
	// room for selection).
	PopulationSize int
	// TournamentSize is the evolution sample size S, 1 <= S <= P.
	// Default: max(2, P/4) (S/P = 25/100 as in Real et al. 2019).
	TournamentSize int

	// HiddenSize is the LSTM width of the rl controller. Default 100
	// (NASNet App. A).
	HiddenSize int
	// EmbeddingSize is the width of the per-decision choice embeddings fed
	// back into the LSTM. Default: HiddenSize.
	EmbeddingSize int
	// LearningRate of Adam. Default 0.00035 (NASNet App. A).
	LearningRate float64
	// MinibatchSize is the number of finished trials per PPO update.
	// Default 20 (NASNet App. A); any value >= 1 works.
	MinibatchSize int
	// PPOEpochs is the number of gradient steps over each minibatch.
	// Default 4.
	PPOEpochs int
	// ClipEpsilon is the PPO ratio clip ε, in (0, 1). Default 0.2.
	ClipEpsilon float64
	// EntropyWeight is the weight of the entropy bonus. Default 1e-5
	// (NASNet App. A); set NoEntropyBonus for 0.
	EntropyWeight float64
	// NoEntropyBonus disables the entropy bonus.
	NoEntropyBonus bool
	// BaselineDecay is the decay of the exponential moving-average reward
	// baseline, in (0, 1). Default 0.95 (NASNet App. A).
	BaselineDecay float64
	// InitScale is the half-width of the uniform weight initialisation.
	// Default 0.1 (NASNet App. A).
	InitScale float64
}

// Default values of Options.
const (
	DefaultPopulationSize = 20
	DefaultHiddenSize     = 100
	DefaultLearningRate   = 0.00035
	DefaultMinibatchSize  = 20
	DefaultPPOEpochs      = 4
	DefaultClipEpsilon    = 0.2
	DefaultEntropyWeight  = 1e-5
	DefaultBaselineDecay  = 0.95
	DefaultInitScale      = 0.1
)

func (o Options) validate() error {
	posInt := func(field string, v, lo int) error {
		if v != 0 && v < lo {
			return badOption(field, v, fmt.Sprintf("want >= %d, or 0 for the default", lo))
		}
		return nil
	}
	for _, c := range []struct {
		f     string
		v, lo int
	}{
		{"Budget", o.Budget, 1},
		{"PopulationSize", o.PopulationSize, 2},
		{"TournamentSize", o.TournamentSize, 1},
		{"HiddenSize", o.HiddenSize, 1},
		{"EmbeddingSize", o.EmbeddingSize, 1},
		{"MinibatchSize", o.MinibatchSize, 1},
		{"PPOEpochs", o.PPOEpochs, 1},
	} {
		if err := posInt(c.f, c.v, c.lo); err != nil {
			return err
		}
	}
	if o.TournamentSize > 0 {
		if p := o.withDefaults().PopulationSize; o.TournamentSize > p {
			return badOption("TournamentSize", o.TournamentSize, fmt.Sprintf("want <= PopulationSize (%d)", p))
		}
	}
	posFloat := func(field string, v, hi float64, open bool) error {
		bad := math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || (hi > 0 && (v > hi || (open && v == hi)))
		if bad {
			allowed := "want > 0, or 0 for the default"
			if hi > 0 {
				allowed = fmt.Sprintf("want a number in (0, %g), or 0 for the default", hi)
			}
			return badOption(field, v, allowed)
		}
		return nil
	}
	for _, c := range []struct {
		f    string
		v    float64
		hi   float64
		open bool
	}{
		{"LearningRate", o.LearningRate, 0, false},
		{"ClipEpsilon", o.ClipEpsilon, 1, true},
		{"EntropyWeight", o.EntropyWeight, 0, false},
		{"BaselineDecay", o.BaselineDecay, 1, true},
		{"InitScale", o.InitScale, 0, false},
	} {
		if err := posFloat(c.f, c.v, c.hi, c.open); err != nil {
			return err
		}
	}
	return nil
}

// WithDefaults returns o with every zero field replaced by its default:
// the options a controller built with o uses (when o is valid).
func (o Options) WithDefaults() Options { return o.withDefaults() }

// withDefaults returns o with every zero field replaced by its default.
func (o Options) withDefaults() Options {
	if o.PopulationSize == 0 {
		o.PopulationSize = DefaultPopulationSize
		if o.Budget > 0 {
			o.PopulationSize = min(max(o.Budget/10, 20), 100)
		}
	}
	if o.TournamentSize == 0 {
		o.TournamentSize = min(max(2, o.PopulationSize/4), o.PopulationSize)
	}
	if o.HiddenSize == 0 {
		o.HiddenSize = DefaultHiddenSize
	}
	if o.EmbeddingSize == 0 {
		o.EmbeddingSize = o.HiddenSize
	}
	if o.LearningRate == 0 {
		o.LearningRate = DefaultLearningRate
	}
	if o.MinibatchSize == 0 {
		o.MinibatchSize = DefaultMinibatchSize
	}
	if o.PPOEpochs == 0 {
		o.PPOEpochs = DefaultPPOEpochs
	}
	if o.ClipEpsilon == 0 {
		o.ClipEpsilon = DefaultClipEpsilon
	}
	if o.NoEntropyBonus {
		o.EntropyWeight = 0
	} else if o.EntropyWeight == 0 {
		o.EntropyWeight = DefaultEntropyWeight
	}
	if o.BaselineDecay == 0 {
		o.BaselineDecay = DefaultBaselineDecay
	}
	if o.InitScale == 0 {
		o.InitScale = DefaultInitScale
	}
	return o
}

// newRNG returns the seeded PCG source and generator used by every strategy.
// The second PCG word is derived from the seed so that nearby seeds give
// unrelated streams.
func newRNG(seed uint64) (*rand.PCG, *rand.Rand) {
	src := rand.NewPCG(seed, splitmix(seed^0x9e3779b97f4a7c15))
	return src, rand.New(src)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// checkObservation validates a decision list and reward against cards.
func checkObservation(cards, decisions []int, reward float64) error {
	if err := checkDecisions(cards, decisions); err != nil {
		return err
	}
	if math.IsNaN(reward) || math.IsInf(reward, 0) {
		return badOption("reward", reward, "want a finite number (0 for a failed trial)")
	}
	return nil
}

func checkDecisions(cards, decisions []int) error {
	if len(decisions) != len(cards) {
		return badOption("len(decisions)", len(decisions), fmt.Sprintf("want %d, one per decision", len(cards)))
	}
	for i, d := range decisions {
		if d < 0 || d >= cards[i] {
			return badOption(fmt.Sprintf("decisions[%d]", i), d, fmt.Sprintf("want an option index in [0, %d)", cards[i]))
		}
	}
	return nil
}

func uniformDecisions(rng *rand.Rand, cards []int) []int {
	d := make([]int, len(cards))
	for i, c := range cards {
		d[i] = rng.IntN(c)
	}
	return d
}
