package search

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/effnas/effnas/controller"
	"github.com/effnas/effnas/fielderr"
	"github.com/effnas/effnas/reward"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
)

// Settings of a search. The zero value of each field means the default
// written next to it.
type Settings struct {
	// Name identifies the search in its database ("default").
	Name string
	// Controller is the strategy: rl, random or evolution ("rl").
	Controller        string
	ControllerOptions controller.Options
	// Trials is the total number of trials (20).
	Trials int
	// Parallel is the number of trials evaluated at once (1). It does not
	// change which trials a search makes, and may change on every resume.
	Parallel int
	// Window is how far proposals may run ahead of observations (the
	// controller's default, controller.DefaultWindow). It is fixed when
	// the search is created and kept when it is resumed: with it, the
	// trials of a seed do not depend on Parallel. A Parallel larger than
	// Window.Size leaves workers idle (Hooks.Start says so).
	Window controller.Window
	// Seed makes the search reproducible (1).
	Seed uint64
	// MaxAttempts is how often a failing trial is evaluated before it is
	// given up and recorded as failed (2). Evaluations cut off by the end
	// of the process or a stopped search are not attempts.
	MaxAttempts int
	// Reward is the reward formula; references left at zero are taken from
	// the baseline (the space's backbone, measured at the start).
	Reward reward.Settings
	// Evaluator describes the evaluator for the record (name and budget:
	// a JSON object). A resumed search must be given the same.
	Evaluator any
	// AllowHostChange lets a search resume on a host whose fingerprint
	// differs from the one it started on, and lets a Durable executor's
	// workers of another kind than the baseline's time trials (timings
	// would then be mixed; each new kind is noted through Hooks.Note).
	// Without it such a worker refuses the trial (Task.HostKind), and a
	// measurement from another kind that comes anyway is a failed attempt.
	AllowHostChange bool
}

// MaxParallel is the largest Parallel.
const MaxParallel = 256

func (s Settings) withDefaults() Settings {
	if s.Name == "" {
		s.Name = "default"
	}
	if s.Controller == "" {
		s.Controller = controller.NameRL
	}
	if s.Trials == 0 {
		s.Trials = 20
	}
	if s.Parallel == 0 {
		s.Parallel = 1
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	if s.MaxAttempts == 0 {
		s.MaxAttempts = 2
	}
	return s
}

// bad is an invalid setting.
func bad(field string, v any, allowed string) error {
	return &fielderr.Error{Scope: "search", Field: field, Value: v, Allowed: allowed}
}

// Check validates the settings (with their defaults) and the space without
// touching any store, so that a caller can refuse bad input before it
// creates a database. Invalid settings are *fielderr.Error: scope "search"
// with the field names name, trials, parallel, window and max_attempts;
// scope "controller" for the controller options; scope "reward". An unknown
// controller wraps controller.ErrUnknownStrategy; an invalid space
// searchspace.ErrInvalid.
func (s Settings) Check(space searchspace.Space) error {
	_, err := s.withDefaults().check(space)
	return err
}

// check validates s (with defaults) and returns its window: s.Window, or
// the controller's default.
func (s Settings) check(space searchspace.Space) (controller.Window, error) {
	if err := store.CheckName(s.Name); err != nil {
		return controller.Window{}, bad("name", fmt.Sprintf("%q", s.Name), err.Error())
	}
	switch {
	case s.Trials < 1:
		return controller.Window{}, bad("trials", s.Trials, "want at least 1")
	case s.Parallel < 1 || s.Parallel > MaxParallel:
		return controller.Window{}, bad("parallel", s.Parallel, fmt.Sprintf("want 1 to %d", MaxParallel))
	case s.Window.Size < 0:
		return controller.Window{}, bad("window", s.Window.Size, "want at least 1, or 0 for the controller's default")
	case s.MaxAttempts < 1:
		return controller.Window{}, bad("max_attempts", s.MaxAttempts, "want at least 1")
	}
	w, err := controller.DefaultWindow(s.Controller, s.ControllerOptions)
	if err != nil {
		return controller.Window{}, err
	}
	if s.Window != (controller.Window{}) {
		w = s.Window
	}
	if err := space.Validate(); err != nil {
		return controller.Window{}, fmt.Errorf("space: %w", err)
	}
	if _, err := controller.New(s.Controller, space.Cardinalities(), s.Seed, s.ControllerOptions); err != nil {
		return controller.Window{}, err
	}
	rs := s.Reward
	if rs.Time.Ref == 0 {
		rs.Time.Ref = 1
	}
	if rs.Params.Ref == 0 {
		rs.Params.Ref = 1
	}
	if _, err := rs.Resolve(); err != nil {
		return controller.Window{}, err
	}
	return w, nil
}

// recordConfig is what the search record keeps of Settings beyond its own
// fields (store.Search.Config). Window 0 is unbounded.
type recordConfig struct {
	Window            int                `json:"window"`
	WindowRounds      bool               `json:"window_rounds,omitempty"`
	MaxAttempts       int                `json:"max_attempts"`
	ControllerOptions controller.Options `json:"controller_options"`
	Evaluator         any                `json:"evaluator,omitempty"`
	// BaselineAttempts counts the baseline measurements that failed on a
	// durable executor's workers: each new one is a new attempt.
	BaselineAttempts int `json:"baseline_attempts,omitempty"`
}

func (c recordConfig) window() controller.Window {
	return controller.Window{Size: c.Window, Rounds: c.WindowRounds}
}

// ErrSettingsChanged is wrapped by the errors of a search resumed with
// settings that would make it a different search (*ChangedError).
var ErrSettingsChanged = errors.New("search exists with other settings")

// ChangedError says which setting of a resumed search differs from the one
// it was created with.
type ChangedError struct {
	Search string
	// Setting is "controller", "seed", "space", "window", "max_attempts",
	// "reward", "controller_options.FIELD" (a controller.Options field,
	// e.g. "controller_options.LearningRate") or "evaluator.KEY" (a key
	// of the evaluator's record, e.g. "evaluator.epochs").
	Setting       string
	Stored, Given any
}

func (e *ChangedError) Error() string {
	if e.Setting == "space" {
		return fmt.Sprintf("%v: %q was created with another search space or proxy budget (%v; given %v): "+
			"resume it with the settings it was created with, or choose another name", ErrSettingsChanged, e.Search, e.Stored, e.Given)
	}
	return fmt.Sprintf("%v: %q was created with %s = %v, not %v: resume it with the stored value, or choose another name",
		ErrSettingsChanged, e.Search, e.Setting, e.Stored, e.Given)
}

// Unwrap returns ErrSettingsChanged.
func (e *ChangedError) Unwrap() error { return ErrSettingsChanged }

// TrialsError says that a resumed search was asked for fewer trials than
// it already has.
type TrialsError struct {
	Search      string
	Have, Given int
}

func (e *TrialsError) Error() string {
	return fmt.Sprintf("search %q already has %d trials; trials = %d asks for fewer (ask for %d or more to continue it)",
		e.Search, e.Have, e.Given, e.Have)
}

// checkResume compares the settings a search is resumed with (given, as
// the caller gave them, zero meaning default) with its record.
func checkResume(old store.Search, cfg recordConfig, space searchspace.Space, given Settings, s Settings) error {
	changed := func(setting string, stored, g any) error {
		return &ChangedError{Search: s.Name, Setting: setting, Stored: stored, Given: g}
	}
	switch {
	case old.Controller != s.Controller:
		return changed("controller", old.Controller, s.Controller)
	case old.Seed != s.Seed:
		return changed("seed", old.Seed, s.Seed)
	}
	// The evaluator first: another evaluator usually brings another space.
	// (A record that kept no evaluator cannot be compared.)
	if s.Evaluator != nil && cfg.Evaluator != nil {
		if err := sameRecord("evaluator", cfg.Evaluator, s.Evaluator, changed); err != nil {
			return err
		}
	}
	a, _ := json.Marshal(old.Space)
	b, _ := json.Marshal(space)
	if string(a) != string(b) {
		return changed("space", describeSpace(old.Space), describeSpace(space))
	}
	if given.Window != (controller.Window{}) && given.Window != cfg.window() {
		return changed("window", cfg.window(), given.Window)
	}
	if given.MaxAttempts != 0 && given.MaxAttempts != cfg.MaxAttempts {
		return changed("max_attempts", cfg.MaxAttempts, given.MaxAttempts)
	}
	// Budget is the trial target the search was created with; the target
	// may grow.
	stored, opts := cfg.ControllerOptions, s.ControllerOptions
	opts.Budget = stored.Budget
	if err := sameFields("controller_options", stored.WithDefaults(), opts.WithDefaults(), changed); err != nil {
		return err
	}
	if len(old.Reward) > 0 {
		stored, err := reward.DecodeSettings(old.Reward)
		if err != nil {
			return fmt.Errorf("search %q: %w", s.Name, err)
		}
		// References and the base left at zero are the ones measured.
		g := s.Reward
		if g.Time.Ref == 0 {
			g.Time.Ref = stored.Time.Ref
		}
		if g.Time.Base == 0 {
			g.Time.Base = stored.Time.Base
		}
		if g.Params.Ref == 0 {
			g.Params.Ref = stored.Params.Ref
		}
		x, _ := json.Marshal(stored)
		y, _ := json.Marshal(g)
		if string(x) != string(y) {
			return changed("reward", string(x), string(y))
		}
	}
	return nil
}

func describeSpace(sp searchspace.Space) string {
	return fmt.Sprintf("space %q over %q, %d decisions", sp.Name, sp.Backbone.Name, len(sp.Cardinalities()))
}

// sameFields compares two structs field by field.
func sameFields(prefix string, stored, given any, changed func(string, any, any) error) error {
	a, b := reflect.ValueOf(stored), reflect.ValueOf(given)
	for i := range a.NumField() {
		if x, y := a.Field(i).Interface(), b.Field(i).Interface(); !reflect.DeepEqual(x, y) {
			return changed(prefix+"."+a.Type().Field(i).Name, x, y)
		}
	}
	return nil
}

// sameRecord compares two JSON objects key by key.
func sameRecord(prefix string, stored, given any, changed func(string, any, any) error) error {
	norm := func(v any) map[string]any {
		var m map[string]any
		b, _ := json.Marshal(v)
		json.Unmarshal(b, &m)
		return m
	}
	a, b := norm(stored), norm(given)
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		x, y := a[k], b[k]
		if !reflect.DeepEqual(x, y) {
			if x == nil {
				x = "(not set)"
			}
			if y == nil {
				y = "(not set)"
			}
			return changed(prefix+"."+k, x, y)
		}
	}
	return nil
}
