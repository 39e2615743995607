// Package measure is the one vocabulary of a measurement in effnas: what an
// evaluation of an architecture measured ([Metrics]), repeated timings
// ([StepStats]) and the machine and software that measured them ([Host]).
//
// Evaluators return it (package search), the store keeps it in its trial
// and search records, the reward reads it, reports plot and export it, and a
// worker on another host will send it over the wire, all as these types
// and this JSON. It imports nothing of effnas.
//
// # JSON
//
// Field names are snake_case and fixed: stored databases and exported files
// are read back with them. Float fields may be NaN or ±Inf (a diverged
// training run's loss): they are written as the JSON strings "NaN", "+Inf"
// and "-Inf" and read back as such, which plain encoding/json refuses to do.
// Readers ignore unknown fields.
//
// # Adding a measurement
//
// Measurements are added as optional fields (so was the step time relative
// to a re-timed baseline, Metrics.RelativeStepTime with Interleaved; to
// come: the version of the code that measured, the worker that ran the
// evaluation, the device in a host), so that old records and older programs keep working: the zero value means
// "not measured" (omitempty, or a pointer to a small struct for a group of
// figures, nil when there is none), float fields go through the NaN-safe
// JSON above, and an older record reads as the zero value. A field added to
// [Host] enters [Host.Fingerprint] only when it is set, so a host without
// it keeps the fingerprint its searches were started with: [Host.GPU], the
// accelerator of a measurement made on one (name, compute capability,
// FP32 or TF32 arithmetic, driver and CUDA library versions), is such a
// field.
package measure
