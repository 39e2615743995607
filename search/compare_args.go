package search

import (
	"strings"

	"github.com/effnas/effnas/controller"
)

// ControllerList splits a comma-separated list of strategies, as "nas
// compare --controllers" takes it, and checks that each is a registered
// strategy.
func ControllerList(list string) ([]string, error) {
	names := strings.Split(list, ",")
	for _, n := range names {
		if err := controller.Known(n); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// SeedRange returns the seeds 1, 2, ..., n of a comparison.
func SeedRange(n int) []uint64 {
	seeds := make([]uint64, 0, max(n, 0))
	for i := 1; i <= n; i++ {
		seeds = append(seeds, uint64(i))
	}
	return seeds
}
