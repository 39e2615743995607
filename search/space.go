package search

import (
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer/data"
)

// SpaceOf returns the space a search with options o searches, the space of
// NewProxy(o), without building the evaluator: the space file when o names
// one; otherwise, for "synthetic", searchspace.DefaultSpace(), and for
// "train", ProxySpace fitted to the dataset (of which only the test split
// is read, for its image size, channels and classes).
func SpaceOf(o ProxyOptions) (searchspace.Space, error) {
	name, err := evaluatorName(o)
	if err != nil {
		return searchspace.Space{}, err
	}
	switch {
	case o.SpaceFile != "":
		return searchspace.LoadSpace(o.SpaceFile)
	case name == "synthetic":
		return searchspace.DefaultSpace(), nil
	}
	dataset := o.Dataset
	if dataset == "" {
		dataset = defaultDataset
	}
	ds, err := data.Load(dataset, data.Test, data.Options{Dir: o.DataDir})
	if err != nil {
		return searchspace.Space{}, err
	}
	return ProxySpace(ds, o)
}
