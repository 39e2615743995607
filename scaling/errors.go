package scaling

import (
	"errors"
	"fmt"
	"math"

	"github.com/effnas/effnas/fielderr"
)

// ErrBadOption marks an invalid scaling option.
var ErrBadOption = errors.New("invalid scaling option")

// badOption reports an invalid option: a *fielderr.Error scoped "scaling"
// and wrapping ErrBadOption.
func badOption(field string, v any, allowed string) error {
	return &fielderr.Error{Scope: "scaling", Field: field, Value: v, Allowed: allowed, Err: ErrBadOption}
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
