package recipe

import (
	"fmt"
	"io"
	"time"
)

// WriteLine writes the line "nas family --train" prints when the member
// is trained: its test accuracy, sizes, steps and times (run is its
// training).
func (t Trained) WriteLine(w io.Writer, run Run) error {
	r := run.Result
	train := time.Duration(r.TrainTime * float64(time.Second)).Round(time.Second)
	_, err := fmt.Fprintf(w, "%s: test accuracy %.2f%% at %dx%d (trained at %d, %d steps in %s), step %.1f ms\n", t.Name,
		100*r.TestAccuracy, t.ImageSize, t.ImageSize, t.TrainImageSize, r.Steps, train, t.StepTimeMS)
	return err
}

// FamilyReport is a trained family as "nas family --train" prints it.
type FamilyReport struct {
	// Title says how the family was trained (the first line).
	Title string
	Rows  []Trained
	// Results, when set, is the file the rows were written to;
	// CheckpointDir, the members' checkpoints' directory.
	Results, CheckpointDir string
}

// WriteText writes the title, the members' table (WriteTrained) and where
// the results and checkpoints were written.
func (f FamilyReport) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%s\n\n", f.Title)
	if err := WriteTrained(w, f.Rows); err != nil {
		return err
	}
	var err error
	if f.Results != "" {
		_, err = fmt.Fprintf(w, "\nresults written to %s\n", f.Results)
	}
	if f.CheckpointDir != "" && err == nil {
		_, err = fmt.Fprintf(w, "checkpoints written to %s\n", f.CheckpointDir)
	}
	return err
}
