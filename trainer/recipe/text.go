package recipe

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/effnas/effnas/measure"
)

// WriteText writes the result as "nas bench" prints it: the step and
// forward times with their rates, memory, host, and the profile by op
// when there is one.
func (r BenchResult) WriteText(w io.Writer) error {
	tr, fw, h := r.Train, r.Forward, r.Host
	fmt.Fprintf(w, "%s, batch %d, %dx%dx%d, %s params, %s multiply-adds per image\n", r.Arch, r.Batch, r.ImageSize, r.ImageSize, r.Channels,
		measure.Commas(r.Params), measure.Commas(r.MACs))
	fmt.Fprintf(w, "training step: median %.2f ms (p10 %.2f, p90 %.2f, %d steps), %.1f GFLOP/s at 6 FLOP per multiply-add\n",
		tr.Median*1e3, tr.P10*1e3, tr.P90*1e3, tr.Count, r.TrainGFLOPS)
	if iv := r.Interleaved; iv != nil {
		fmt.Fprintf(w, "relative to %s: %.3f (noise %.3f, %d pairs of %d-step bursts, retimed %d times); %s's step: median %.2f ms (p10 %.2f, p90 %.2f)\n",
			r.Against, r.RelativeStepTime, iv.Noise, iv.Pairs, iv.Burst, iv.Retimed, r.Against, iv.Baseline.Median*1e3, iv.Baseline.P10*1e3, iv.Baseline.P90*1e3)
	}
	fmt.Fprintf(w, "forward:       median %.2f ms (p10 %.2f, p90 %.2f, %d runs), %.1f GFLOP/s\n",
		fw.Median*1e3, fw.P10*1e3, fw.P90*1e3, fw.Count, r.ForwardGFLOPS)
	fmt.Fprintf(w, "memory: %.0f allocations and %.2f MiB allocated per training step, peak resident %.1f MiB\n",
		tr.Allocs, tr.Bytes/(1<<20), float64(r.PeakRSS)/(1<<20))
	_, err := fmt.Fprintf(w, "host: %s, %d cores, GOMAXPROCS %d, %s, kernels %s\n", h.CPU, h.Cores, h.GOMAXPROCS, h.GoVersion, h.Backend)
	if g := h.GPU; g != nil && err == nil {
		_, err = fmt.Fprintf(w, "GPU: %s (compute capability %s), %s, driver CUDA %s, %s\n", g.Name, g.Capability, g.Precision, g.Driver, g.Libraries)
	}
	if err != nil || r.Layers == nil {
		return err
	}
	fmt.Fprintln(w)
	return r.Layers.WriteTable(w)
}

// WriteTrained writes trained family members as "nas family --train"
// prints them.
func WriteTrained(w io.Writer, rows []Trained) error {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "member\tphi\twidth\tdepth\ttrain\teval\tparams\tmult-adds\tstep ms\ttest acc\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%.4g\t%.4g\t%d\t%d\t%s\t%s\t%.1f\t%.2f%%\t\n", r.Name, r.Phi, r.Width, r.Depth, r.TrainImageSize, r.ImageSize,
			measure.Commas(r.Params), measure.Commas(r.MACs), r.StepTimeMS, 100*r.Accuracy)
	}
	return tw.Flush()
}

// WriteText writes the run as "nas train" prints it: the steps and time,
// where a resumed or stopped run is in its steps, each progressive stage,
// the validation and test figures and the step time (the last two once
// the run ended).
func (r Run) WriteText(w io.Writer) error {
	m, e, how := r.Result, r.EvalImageSize, ""
	if st := r.Schedule; st != nil {
		how = fmt.Sprintf("progressive, %d stages (%s rule), ", st.Stages, st.Rule)
	}
	train := time.Duration(m.TrainTime * float64(time.Second)).Round(time.Millisecond)
	fmt.Fprintf(w, "%s on %s: %s%d steps (%.2f epochs, batch %d) in %s\n", r.Arch, r.Dataset, how, m.Steps, m.Epochs, m.Batch, train)
	if r.ResumedAt > 0 {
		fmt.Fprintf(w, "resumed at step %d of %d\n", r.ResumedAt, r.TotalSteps)
	}
	for _, s := range r.Stages {
		fmt.Fprintf(w, "  %s: train loss %.4f (first step %.4f), %s\n", s.StagePlan, s.TrainLoss, s.FirstLoss, s.TrainTime.Round(time.Millisecond))
	}
	if !r.Finished() {
		_, err := fmt.Fprintf(w, "stopped at step %d of %d (train loss %.4f): not scored\n", r.Step, r.TotalSteps, m.TrainLoss)
		return err
	}
	if r.ValImages > 0 {
		fmt.Fprintf(w, "validation accuracy %.2f%% (loss %.4f) on %d images at %dx%d\n", 100*m.Accuracy, m.Loss, r.ValImages, e, e)
	}
	if r.TestImages > 0 {
		fmt.Fprintf(w, "test accuracy %.2f%% (loss %.4f) on %d images at %dx%d\n", 100*m.TestAccuracy, m.TestLoss, r.TestImages, e, e)
	}
	st := m.StepTime
	_, err := fmt.Fprintf(w, "training step %.1f ms median at %dx%d (p10 %.1f, p90 %.1f, %d steps); %s params, %s multiply-adds per image\n",
		st.Median*1e3, m.ImageSize, m.ImageSize, st.P10*1e3, st.P90*1e3, st.Count, measure.Commas(m.Params), measure.Commas(m.MACs))
	return err
}
