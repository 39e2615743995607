package searchspace

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
)

// StageChoices lists the options searched for one stage. An empty list keeps
// the backbone's value for that field. Channels and strides are never
// searched: they come from the backbone, as in the EfficientNetV2 search.
type StageChoices struct {
	Blocks  []BlockType `json:"blocks,omitempty"`
	Kernels []int       `json:"kernels,omitempty"`
	Expands []int       `json:"expands,omitempty"`
	Repeats []int       `json:"repeats,omitempty"`
	// SE lists squeeze-excite ratios to search. When empty, the ratio
	// follows the block type (Space.MBConvSE or Space.FusedSE).
	SE []float64 `json:"se,omitempty"`
}

// Space is a backbone plus per-stage choices.
type Space struct {
	Name     string
	Backbone Arch
	Stages   []StageChoices
	// MBConvSE and FusedSE are the squeeze-excite ratios of MBConv and
	// Fused-MBConv stages whose SE is not searched: 0.25 and 0 in the
	// published EfficientNetV2 models.
	MBConvSE float64
	FusedSE  float64
}

// Decision is one choice a controller makes, in order.
type Decision struct {
	Stage   int      `json:"stage"` // 1-based
	Field   string   `json:"field"` // block, kernel, expand, repeats or se
	Options []string `json:"options"`
}

// NewSpace builds the EfficientNetV2 space over a backbone: per stage op
// {MBConv, Fused-MBConv} x kernel {3, 5} x expansion {1, 4, 6} x repeats
// {base-1, base, base+1} (at least 1). With searchSE the squeeze-excite ratio
// {0, 0.25} is a choice of every stage too; otherwise it is 0.25 on MBConv
// stages and none on Fused-MBConv stages, as in the published models.
func NewSpace(backbone Arch, searchSE bool) Space {
	s := Space{Name: "effnetv2", Backbone: backbone.Clone(), MBConvSE: 0.25}
	for _, st := range backbone.Stages {
		c := StageChoices{
			Blocks:  []BlockType{MBConv, FusedMBConv},
			Kernels: []int{3, 5},
			Expands: []int{1, 4, 6},
		}
		for _, r := range []int{st.Repeats - 1, st.Repeats, st.Repeats + 1} {
			if r >= 1 && !slices.Contains(c.Repeats, r) {
				c.Repeats = append(c.Repeats, r)
			}
		}
		if searchSE {
			c.SE = []float64{0, 0.25}
		}
		s.Stages = append(s.Stages, c)
	}
	return s
}

// DefaultSpace is the EfficientNetV2 space over the efficientnetv2-b0 backbone.
func DefaultSpace() Space {
	b, err := Reference("efficientnetv2-b0")
	if err != nil {
		panic(err) // the built-in table is tested
	}
	return NewSpace(b, false)
}

// Validate checks the space; errors name the stage and field.
func (s Space) Validate() error {
	if err := s.Backbone.Validate(); err != nil {
		return fmt.Errorf("backbone: %w", err)
	}
	if len(s.Stages) != len(s.Backbone.Stages) {
		return fieldError(0, "stages", len(s.Stages),
			fmt.Sprintf("want one entry per backbone stage (%d)", len(s.Backbone.Stages)))
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"mbconv_se", s.MBConvSE}, {"fused_se", s.FusedSE}} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return fieldError(0, r.name, r.v, "want a ratio in [0, 1]")
		}
	}
	for i, c := range s.Stages {
		n := i + 1
		if err := noDup(n, "blocks", c.Blocks); err != nil {
			return err
		}
		for _, b := range c.Blocks {
			if b != MBConv && b != FusedMBConv {
				return fieldError(n, "blocks", int(b), "want mbconv or fused_mbconv")
			}
		}
		for _, f := range []struct {
			name   string
			vals   []int
			lo, hi int
			odd    bool
		}{{"kernels", c.Kernels, 1, MaxKernel, true}, {"expands", c.Expands, 1, MaxExpand, false}, {"repeats", c.Repeats, 1, MaxRepeats, false}} {
			if err := noDup(n, f.name, f.vals); err != nil {
				return err
			}
			for _, v := range f.vals {
				if v < f.lo || v > f.hi || (f.odd && v%2 == 0) {
					kind := "an integer"
					if f.odd {
						kind = "an odd integer"
					}
					return fieldError(n, f.name, v, fmt.Sprintf("want %s in [%d, %d]", kind, f.lo, f.hi))
				}
			}
		}
		if err := noDup(n, "se", c.SE); err != nil {
			return err
		}
		for _, v := range c.SE {
			if math.IsNaN(v) || v < 0 || v > 1 {
				return fieldError(n, "se", v, "want ratios in [0, 1]")
			}
		}
	}
	return nil
}

func noDup[T comparable](stage int, field string, vals []T) error {
	for i, v := range vals {
		if slices.Contains(vals[:i], v) {
			return fieldError(stage, field, v, "listed twice; want distinct options")
		}
	}
	return nil
}

// Decisions lists what a controller chooses, in order: for each stage its
// block type, kernel, expansion, repeats and (when searched) SE ratio, each
// only when it has more than one option.
func (s Space) Decisions() []Decision {
	var out []Decision
	for i, c := range s.Stages {
		add := func(field string, opts []string) {
			if len(opts) > 1 {
				out = append(out, Decision{Stage: i + 1, Field: field, Options: opts})
			}
		}
		add("block", labels(c.Blocks, BlockType.String))
		add("kernel", labels(c.Kernels, strconv.Itoa))
		add("expand", labels(c.Expands, strconv.Itoa))
		add("repeats", labels(c.Repeats, strconv.Itoa))
		add("se", labels(c.SE, func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }))
	}
	return out
}

func labels[T any](vals []T, f func(T) string) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = f(v)
	}
	return out
}

// Cardinalities is the number of options of each decision, in order.
func (s Space) Cardinalities() []int {
	ds := s.Decisions()
	out := make([]int, len(ds))
	for i, d := range ds {
		out[i] = len(d.Options)
	}
	return out
}

// Size is the number of distinct decision lists.
func (s Space) Size() *big.Int {
	n := big.NewInt(1)
	for _, c := range s.Cardinalities() {
		n.Mul(n, big.NewInt(int64(c)))
	}
	return n
}

// Decode turns decisions into an architecture: the backbone with each
// stage's chosen block type, kernel, expansion, repeats and SE ratio.
func (s Space) Decode(decisions []int) (Arch, error) {
	card := s.Cardinalities()
	if len(decisions) != len(card) {
		return Arch{}, fmt.Errorf("%w: got %d decisions, the space has %d", ErrInvalid, len(decisions), len(card))
	}
	a := s.Backbone.Clone()
	a.Name = ""
	k := 0
	pick := func(n int) (int, error) {
		if n <= 1 {
			return 0, nil
		}
		d := decisions[k]
		if d < 0 || d >= n {
			return 0, fmt.Errorf("%w: decision %d = %d, want an option in [0, %d]", ErrInvalid, k+1, d, n-1)
		}
		k++
		return d, nil
	}
	for i, c := range s.Stages {
		st := &a.Stages[i]
		var err error
		var j int
		if j, err = pick(len(c.Blocks)); err != nil {
			return Arch{}, err
		} else if len(c.Blocks) > 0 {
			st.Block = c.Blocks[j]
		}
		if j, err = pick(len(c.Kernels)); err != nil {
			return Arch{}, err
		} else if len(c.Kernels) > 0 {
			st.Kernel = c.Kernels[j]
		}
		if j, err = pick(len(c.Expands)); err != nil {
			return Arch{}, err
		} else if len(c.Expands) > 0 {
			st.Expand = c.Expands[j]
		}
		if j, err = pick(len(c.Repeats)); err != nil {
			return Arch{}, err
		} else if len(c.Repeats) > 0 {
			st.Repeats = c.Repeats[j]
		}
		if j, err = pick(len(c.SE)); err != nil {
			return Arch{}, err
		} else if len(c.SE) > 0 {
			st.SE = c.SE[j]
		} else if st.Block == FusedMBConv {
			st.SE = s.FusedSE
		} else {
			st.SE = s.MBConvSE
		}
	}
	return a, a.Validate()
}

// Encode finds the decisions that give an architecture; it fails when the
// architecture is not in the space.
func (s Space) Encode(a Arch) ([]int, error) {
	if len(a.Stages) != len(s.Stages) {
		return nil, fmt.Errorf("%w: architecture has %d stages, the space %d", ErrInvalid, len(a.Stages), len(s.Stages))
	}
	var out []int
	for i, c := range s.Stages {
		st := a.Stages[i]
		b := s.Backbone.Stages[i]
		if st.In != b.In || st.Out != b.Out || st.Stride != b.Stride {
			return nil, fieldError(i+1, "in/out/stride", fmt.Sprintf("%d/%d/%d", st.In, st.Out, st.Stride),
				fmt.Sprintf("the space fixes them to the backbone's %d/%d/%d", b.In, b.Out, b.Stride))
		}
		if err := choose(&out, i+1, "block", c.Blocks, st.Block, b.Block); err != nil {
			return nil, err
		}
		if err := choose(&out, i+1, "kernel", c.Kernels, st.Kernel, b.Kernel); err != nil {
			return nil, err
		}
		if err := choose(&out, i+1, "expand", c.Expands, st.Expand, b.Expand); err != nil {
			return nil, err
		}
		if err := choose(&out, i+1, "repeats", c.Repeats, st.Repeats, b.Repeats); err != nil {
			return nil, err
		}
		se := s.MBConvSE
		if st.Block == FusedMBConv {
			se = s.FusedSE
		}
		if err := choose(&out, i+1, "se", c.SE, st.SE, se); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func choose[T comparable](out *[]int, stage int, field string, opts []T, v, fixed T) error {
	if len(opts) == 0 {
		if v != fixed {
			return fieldError(stage, field, v, fmt.Sprintf("the space fixes it to %v", fixed))
		}
		return nil
	}
	j := slices.Index(opts, v)
	if j < 0 {
		return fieldError(stage, field, v, fmt.Sprintf("not an option of the space %v", opts))
	}
	if len(opts) > 1 {
		*out = append(*out, j)
	}
	return nil
}

// Sample draws decisions uniformly.
func (s Space) Sample(r *rand.Rand) []int {
	card := s.Cardinalities()
	out := make([]int, len(card))
	for i, n := range card {
		out[i] = r.IntN(n)
	}
	return out
}

// Mutate returns a copy of decisions with exactly one decision changed to a
// different option, both chosen uniformly.
func (s Space) Mutate(decisions []int, r *rand.Rand) []int {
	return MutateDecisions(decisions, s.Cardinalities(), r)
}

// MutateDecisions changes exactly one decision (among those with more than
// one option) to a different option.
func MutateDecisions(decisions, card []int, r *rand.Rand) []int {
	out := slices.Clone(decisions)
	var free []int
	for i, n := range card {
		if n > 1 {
			free = append(free, i)
		}
	}
	if len(free) == 0 {
		return out
	}
	i := free[r.IntN(len(free))]
	d := r.IntN(card[i] - 1)
	if d >= out[i] {
		d++
	}
	out[i] = d
	return out
}

type spaceJSON struct {
	Format   string          `json:"format"`
	Version  int             `json:"version"`
	Name     string          `json:"name,omitempty"`
	Backbone json.RawMessage `json:"backbone"`
	MBConvSE float64         `json:"mbconv_se"`
	FusedSE  float64         `json:"fused_se"`
	Stages   []StageChoices  `json:"stages"`
}

// MarshalJSON writes the versioned form.
func (s Space) MarshalJSON() ([]byte, error) {
	bb, err := json.Marshal(s.Backbone)
	if err != nil {
		return nil, err
	}
	return json.Marshal(spaceJSON{Format: SpaceFormat, Version: SpaceVersion, Name: s.Name, Backbone: bb,
		MBConvSE: s.MBConvSE, FusedSE: s.FusedSE, Stages: s.Stages})
}

// UnmarshalJSON reads the versioned form strictly.
func (s *Space) UnmarshalJSON(data []byte) error {
	var j spaceJSON
	if err := strictUnmarshal(data, &j); err != nil {
		return err
	}
	if j.Format != SpaceFormat {
		return fmt.Errorf("%w: format = %q, want %q", ErrFormat, j.Format, SpaceFormat)
	}
	if j.Version < 1 || j.Version > SpaceVersion {
		return fmt.Errorf("%w: version = %d, this program reads versions 1 to %d", ErrFormat, j.Version, SpaceVersion)
	}
	if len(j.Backbone) == 0 {
		return fieldError(0, "backbone", "missing", "want an architecture document")
	}
	var bb Arch
	if err := bb.UnmarshalJSON(j.Backbone); err != nil {
		return fmt.Errorf("backbone: %w", err)
	}
	*s = Space{Name: j.Name, Backbone: bb, Stages: j.Stages, MBConvSE: j.MBConvSE, FusedSE: j.FusedSE}
	return nil
}

// DecodeSpace reads and validates a space document.
func DecodeSpace(data []byte) (Space, error) {
	var s Space
	if err := s.UnmarshalJSON(data); err != nil {
		return Space{}, err
	}
	return s, s.Validate()
}

// LoadSpace reads a space file; errors start with the file name.
func LoadSpace(path string) (Space, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Space{}, err
	}
	s, err := DecodeSpace(data)
	if err != nil {
		return Space{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// EncodeSpace writes a space as indented JSON with a final newline.
func EncodeSpace(s Space) ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
