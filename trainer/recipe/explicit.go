package recipe

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/trainer"
)

// The trainer reads a zero in Budget or Progressive as "the default". A
// command line fills in every value, so a zero there was typed and cannot
// be what was meant: CheckExplicitBudget and CheckExplicitSchedule refuse
// it, as field errors (fielderr.Error) named as the checkpoint names the
// fields ("epochs", "min_image_size").

// CheckExplicitBudget checks a budget whose epochs and batch were given.
func CheckExplicitBudget(b trainer.Budget) error {
	switch {
	case !(b.Epochs > 0) || math.IsInf(b.Epochs, 0):
		return &fielderr.Error{Field: "epochs", Value: b.Epochs, Allowed: "want a positive number"}
	case b.Batch < 1:
		return &fielderr.Error{Field: "batch", Value: b.Batch, Allowed: "want a positive integer"}
	}
	return nil
}

// CheckExplicitSchedule checks the integer fields of a progressive
// schedule that were given (given reports it by the field's JSON name):
// the stages, the image sizes and the RandAugment ops, each 1 or more.
func CheckExplicitSchedule(pg trainer.Progressive, given func(field string) bool) error {
	for _, c := range []struct {
		field string
		v, hi int
	}{{"stages", pg.Stages, trainer.MaxStages}, {"min_image_size", pg.MinImageSize, searchspace.MaxImage},
		{"max_image_size", pg.MaxImageSize, searchspace.MaxImage}, {"randaug_n", pg.RandAugN, 16}} {
		if given(c.field) && (c.v < 1 || c.v > c.hi) {
			return &fielderr.Error{Field: c.field, Value: c.v, Allowed: fmt.Sprintf("want an integer in [1, %d]", c.hi)}
		}
	}
	return nil
}

// Override sets the fields of pg that given reports (by their JSON
// names) to their values in from: a schedule whose defaults come from a
// profile, with the values a user gave.
func Override(pg *trainer.Progressive, from trainer.Progressive, given func(field string) bool) {
	to, fv := reflect.ValueOf(pg).Elem(), reflect.ValueOf(from)
	for i := range fv.NumField() {
		tag, _, _ := strings.Cut(fv.Type().Field(i).Tag.Get("json"), ",")
		if given(tag) {
			to.Field(i).Set(fv.Field(i))
		}
	}
}
