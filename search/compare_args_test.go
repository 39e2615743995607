package search

import (
	"reflect"
	"strings"
	"testing"
)

func TestControllerList(t *testing.T) {
	got, err := ControllerList("random,evolution,rl")
	if err != nil || !reflect.DeepEqual(got, []string{"random", "evolution", "rl"}) {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"random,genetic", "", "random,"} {
		if got, err := ControllerList(bad); err == nil || got != nil {
			t.Errorf("%q: %v, %v", bad, got, err)
		}
	}
	if _, err := ControllerList("genetic"); err == nil || !strings.Contains(err.Error(), "genetic") {
		t.Errorf("the error does not name the strategy: %v", err)
	}
}

func TestSeedRange(t *testing.T) {
	if got := SeedRange(3); !reflect.DeepEqual(got, []uint64{1, 2, 3}) {
		t.Errorf("3: %v", got)
	}
	if got := SeedRange(0); len(got) != 0 {
		t.Errorf("0: %v", got)
	}
}
