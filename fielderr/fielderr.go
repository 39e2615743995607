// Package fielderr is the one error type for invalid input across effnas:
// an architecture field, a scaling or controller option, a reward setting, a
// progressive-learning setting. Each names the field, the value given and
// what is allowed, so that a user reads what to change and a caller (a
// command turning a field into its flag, a test) reads the parts with
// errors.As:
//
//	var fe *fielderr.Error
//	if errors.As(err, &fe) {
//		fmt.Printf("--%s = %v: %s\n", fe.Field, fe.Value, fe.Allowed)
//	}
//
// Packages that have a sentinel for their invalid input (searchspace's
// ErrInvalid, scaling's ErrBadOption) put it in Err, so that errors.Is works
// too. The package is a leaf: it imports nothing of effnas.
package fielderr

import "fmt"

// Error reports an invalid field. Its message is
//
//	[Scope: ]Field = Value: Allowed
//
// for instance "stage 3: stride = 4: want 1 or 2" or
// "reward: time.ref = -1: must be a positive finite number".
type Error struct {
	// Scope says where the field is: a package ("reward", "scaling"), a
	// part of a document ("stage 3"); "" for none.
	Scope string
	// Field is the field's name as the user writes it: a JSON name
	// ("train_image_size", "time.ref"), an option name ("LearningRate").
	Field string
	// Value is the value given.
	Value any
	// Allowed says what is allowed, usually starting with "want".
	Allowed string
	// Err is what the error wraps for errors.Is: the package's sentinel
	// for invalid input, or nil where it has none.
	Err error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s = %v: %s", e.Field, e.Value, e.Allowed)
	if e.Scope != "" {
		msg = e.Scope + ": " + msg
	}
	return msg
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }
