package searchspace

import (
	"fmt"
	"math/rand/v2"
)

// SampleArch draws one architecture of the space from seed alone, named
// "sample-SEED": the same space and seed give the same architecture.
func (s Space) SampleArch(seed uint64) (Arch, error) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	a, err := s.Decode(s.Sample(r))
	if err != nil {
		return Arch{}, err
	}
	a.Name = fmt.Sprintf("sample-%d", seed)
	return a, nil
}
