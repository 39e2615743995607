package searchspace

import (
	"reflect"
	"testing"
)

func TestSampleArchFromSeed(t *testing.T) {
	sp := DefaultSpace()
	a, err := sp.SampleArch(7)
	if err != nil {
		t.Fatal(err)
	}
	again, err := sp.SampleArch(7)
	if err != nil || !reflect.DeepEqual(a, again) {
		t.Fatalf("seed 7 twice: %v\n%+v\n%+v", err, a, again)
	}
	if a.Name != "sample-7" {
		t.Errorf("name %q", a.Name)
	}
	if err := a.Validate(); err != nil {
		t.Error(err)
	}
	differ := false
	for seed := uint64(1); seed <= 5; seed++ {
		b, err := sp.SampleArch(seed)
		if err != nil {
			t.Fatal(err)
		}
		b.Name = a.Name
		differ = differ || !reflect.DeepEqual(a.Stages, b.Stages)
	}
	if !differ {
		t.Error("seeds 1..5 all give seed 7's architecture")
	}
}
