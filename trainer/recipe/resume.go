package recipe

import (
	"strings"

	"github.com/effnas/effnas/trainer"
)

// ResumeDefaults loads the checkpoint at path that a run resumes and
// returns it with the values (Saved.Values) of the settings the caller was
// not given (given reports them by the checkpoint's names: "lr",
// "warmup_epochs"), so that the run is built as the first one was; those
// given stay, and Model.CheckResume refuses the ones that differ from the
// checkpoint's. With "profile" given, the schedule's values (min_*, max_*,
// randaug_n) are left to the profile (and checked stage by stage).
func ResumeDefaults(path string, given func(key string) bool) (*trainer.Model, map[string]string, error) {
	ck, err := trainer.LoadModel(path)
	if err != nil {
		return nil, nil, err
	}
	run, err := SavedRun(ck)
	if err != nil {
		return nil, nil, err
	}
	values := run.Values(*ck.Settings)
	for k := range values {
		if given(k) || (given("profile") && scheduleValue(k)) {
			delete(values, k)
		}
	}
	return ck, values, nil
}

// scheduleValue reports whether a setting is one of a progressive
// schedule's values (that a profile gives).
func scheduleValue(key string) bool {
	return strings.HasPrefix(key, "min_") || strings.HasPrefix(key, "max_") || key == "randaug_n"
}
