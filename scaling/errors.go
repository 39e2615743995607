package scaling

import (
	"errors"
	"fmt"
	"math"
)

// ErrBadOption marks an invalid scaling option.
var ErrBadOption = errors.New("invalid scaling option")

// OptionError names a bad option: the field, its value and what is allowed.
type OptionError struct {
	Field   string
	Value   any
	Allowed string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("scaling: %s = %v: %s", e.Field, e.Value, e.Allowed)
}

func (e *OptionError) Unwrap() error { return ErrBadOption }

func badOption(field string, v any, allowed string) error {
	return &OptionError{Field: field, Value: v, Allowed: allowed}
}

// checkFloat requires a finite v in [lo, hi].
func checkFloat(field string, v, lo, hi float64, note string) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < lo || v > hi {
		return badOption(field, v, fmt.Sprintf("want a finite number in [%g, %g]%s", lo, hi, note))
	}
	return nil
}

// checkInt requires v in [lo, hi].
func checkInt(field string, v, lo, hi int, note string) error {
	if v < lo || v > hi {
		return badOption(field, v, fmt.Sprintf("want an integer in [%d, %d]%s", lo, hi, note))
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
