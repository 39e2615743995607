// Package recipe holds the training recipes the commands and workers run
// on top of package trainer: one model's training (fixed-size or
// progressive, scored at its evaluation size, saved to a checkpoint that
// a later run resumes exactly), a compound-scaled family's
// training member by member, and the step-time benchmark. Each takes a
// progress callback, so that a command can draw a progress bar and a
// worker write a log; none prints.
package recipe
