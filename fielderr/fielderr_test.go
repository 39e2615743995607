package fielderr

import (
	"errors"
	"fmt"
	"testing"
)

var errBad = errors.New("bad input")

func TestMessage(t *testing.T) {
	for _, c := range []struct {
		e    *Error
		want string
	}{
		{&Error{Field: "stride", Value: 4, Allowed: "want 1 or 2"}, "stride = 4: want 1 or 2"},
		{&Error{Scope: "stage 3", Field: "stride", Value: 4, Allowed: "want 1 or 2"}, "stage 3: stride = 4: want 1 or 2"},
		{&Error{Scope: "reward", Field: "kind", Value: `"x"`, Allowed: "want effnetv2"}, `reward: kind = "x": want effnetv2`},
		{&Error{Field: "cardinalities", Value: []int{1, 1}, Allowed: "want two options"}, "cardinalities = [1 1]: want two options"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.e, got, c.want)
		}
	}
}

func TestAsAndIs(t *testing.T) {
	err := fmt.Errorf("loading x.json: %w", &Error{Scope: "stage 2", Field: "kernel", Value: 4, Allowed: "want an odd size", Err: errBad})
	var fe *Error
	if !errors.As(err, &fe) || fe.Field != "kernel" || fe.Value != 4 || fe.Scope != "stage 2" {
		t.Fatalf("errors.As: %v %+v", err, fe)
	}
	if !errors.Is(err, errBad) {
		t.Fatal("errors.Is does not reach the sentinel")
	}
	if errors.Unwrap(&Error{Field: "f"}) != nil {
		t.Fatal("an error without a sentinel unwraps to something")
	}
}
