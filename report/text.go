package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/scaling"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
)

// The text of the commands: an architecture's accounting ("nas
// describe"), a space's decisions ("nas space"), a compound-scaled family
// ("nas family"), trials ("nas trials", "nas show", "nas best") and the log
// lines of a search.

// table is a tab writer of right-aligned columns.
func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 2, 2, ' ', tabwriter.AlignRight)
}

// WriteAccounting writes an architecture's parameters and multiply-adds
// part by part (stem, each block, head, classifier) and in total.
func WriteAccounting(w io.Writer, a searchspace.Arch, acc searchspace.Accounting) error {
	fmt.Fprintf(w, "%s: %dx%dx%d input, %d classes\n\n", a.Name, acc.ImageSize, acc.ImageSize, a.InputChannels, acc.NumClasses)
	tw := table(w)
	fmt.Fprintln(tw, "part\tblock\tout\tparams\tmult-adds\t")
	for _, p := range acc.Parts {
		block := p.Block
		switch p.Name {
		case "stem":
			block = fmt.Sprintf("conv%dx%d s%d -> %d", a.Stem.Kernel, a.Stem.Kernel, a.Stem.Stride, a.Stem.Channels)
		case "head":
			block = fmt.Sprintf("conv1x1 -> %d", a.HeadChannels)
		case "classifier":
			block = fmt.Sprintf("dense -> %d", acc.NumClasses)
		}
		fmt.Fprintf(tw, "%s\t%s\t%dx%d\t%s\t%s\t\n", p.Name, block, p.OutSize, p.OutSize, measure.Commas(p.Params), measure.Commas(p.MACs))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nparams %s trainable, %s with BatchNorm statistics; %s multiply-adds (%.3f G)\n",
		measure.Commas(acc.Total.Params), measure.Commas(acc.Total.ParamsTotal), measure.Commas(acc.Total.MACs), float64(acc.Total.MACs)/1e9)
	return err
}

// WriteSpace writes a space's backbone, its decisions with their options,
// and its size.
func WriteSpace(w io.Writer, sp searchspace.Space) error {
	fmt.Fprintf(w, "space %q over backbone %q (%d stages)\n\n", sp.Name, sp.Backbone.Name, len(sp.Stages))
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tstage\tchoice\toptions")
	for i, d := range sp.Decisions() {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%v\n", i+1, d.Stage, d.Field, d.Options)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d decisions, %s architectures\n", len(sp.Decisions()), sp.Size())
	return err
}

// WriteFamily writes a family made from base with options o: its compound
// coefficients and cap, then each member's scaling, blocks, training and
// evaluation size (* where the cap lowered it), parameters and
// multiply-adds.
func WriteFamily(w io.Writer, base searchspace.Arch, o scaling.FamilyOptions, ms []scaling.Member) error {
	c, limit := scaling.Compound{Alpha: o.Alpha, Beta: o.Beta, Gamma: o.Gamma}, "none"
	if o.MaxImageSize > 0 {
		limit = fmt.Sprint(o.MaxImageSize)
	}
	fmt.Fprintf(w, "family of %s: alpha %g, beta %g, gamma %g (alpha*beta^2*gamma^2 = %.4f), cap %s\n\n", base.Name, c.Alpha, c.Beta, c.Gamma,
		c.FLOPsFactor(), limit)
	tw := table(w)
	fmt.Fprintln(tw, "member\tphi\twidth\tdepth\tblocks\ttrain\teval\tparams\twith BN stats\tmult-adds\t")
	for _, m := range ms {
		capped := ""
		if m.Capped {
			capped = "*"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.4g\t%.4g\t%d\t%d\t%d%s\t%s\t%s\t%s\t\n", m.Name, m.Phi, m.Width, m.Depth, m.Arch.NumBlocks(),
			m.TrainImageSize, m.ImageSize, capped, measure.Commas(m.Count.Params), measure.Commas(m.Count.ParamsTotal), measure.Commas(m.Count.MACs))
	}
	return tw.Flush()
}

// SyntheticNote is how text output marks results of the synthetic
// evaluator.
const SyntheticNote = "SYNTHETIC: a formula of the architecture, not training"

// WriteTrial writes one trial in full: status, reward, measurements, the
// code that measured it, error, decisions and block strings.
func WriteTrial(w io.Writer, t store.Trial) error {
	var b bytes.Buffer
	attempts := "attempts"
	if t.Attempts == 1 {
		attempts = "attempt"
	}
	fmt.Fprintf(&b, "trial %d (%s, %d %s", t.ID, t.Status, t.Attempts, attempts)
	if t.Interrupted > 0 {
		fmt.Fprintf(&b, ", cut off %d times", t.Interrupted)
	}
	fmt.Fprintf(&b, "): reward %.4f\n", t.Reward)
	if t.Synthetic() {
		fmt.Fprintf(&b, "  %s\n", SyntheticNote)
	}
	if m := t.Metrics; m != nil {
		fmt.Fprintf(&b, "  validation accuracy %.2f%%, training step %.1f ms (p10 %.1f, p90 %.1f), %s params, %s multiply-adds\n",
			100*m.Accuracy, m.StepTime.Median*1e3, m.StepTime.P10*1e3, m.StepTime.P90*1e3, measure.Commas(m.Params), measure.Commas(m.MACs))
		if m.Steps > 0 {
			fmt.Fprintf(&b, "  trained %d steps at batch %d, %dx%d, in %.1f s on %s\n", m.Steps, m.Batch, m.ImageSize, m.ImageSize, m.WallTime, m.Host.Device())
		}
		if c := m.Host.Code; !c.IsZero() {
			fmt.Fprintf(&b, "  measured by %s\n", c)
		}
	}
	if t.Error != "" {
		fmt.Fprintf(&b, "  error: %s\n", t.Error)
	}
	fmt.Fprintf(&b, "  decisions %v\n", t.Decisions)
	for _, s := range t.Arch.BlockStrings() {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteTrialsTable writes a search's summary line and one table row per
// trial: id, status, reward, accuracy, step time, parameters,
// multiply-adds and ShortBlocks.
func WriteTrialsTable(w io.Writer, s store.Search, trials []store.Trial) error {
	fmt.Fprintf(w, "search %q: controller %s, seed %d, %d trials of %d, %s\n", s.Name, s.Controller, s.Seed, len(trials), s.Trials, s.Status)
	if s.Synthetic() {
		fmt.Fprintf(w, "%s: accuracies and step times below are not measurements\n", SyntheticNote)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "id\tstatus\treward\taccuracy\tstep ms\tparams\tmult-adds\tblocks")
	for _, t := range trials {
		acc, step := "-", "-"
		params, macs := "-", "-"
		if m := t.Metrics; m != nil {
			acc, step = fmt.Sprintf("%.2f%%", 100*m.Accuracy), fmt.Sprintf("%.1f", m.StepTime.Median*1e3)
			params, macs = measure.Commas(m.Params), measure.Commas(m.MACs)
		}
		fmt.Fprintf(tw, "%d\t%s\t%.4f\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Status, t.Reward, acc, step, params, macs, ShortBlocks(t.Arch))
	}
	return tw.Flush()
}

// TrialLine is the log line of a trial that reached a final state (or
// failed an attempt that will be retried), for logs of long searches: the
// time, the count of final trials, the trial's reward, accuracy and step
// time, and the best trial so far.
func TrialLine(now time.Time, t store.Trial, done, total int, best *store.Trial) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%d/%d] trial %d ", now.Format("2006-01-02 15:04:05"), done, total, t.ID)
	switch {
	case t.Status == store.StatusDone && t.Metrics != nil:
		m := t.Metrics
		fmt.Fprintf(&b, "done: reward %.4f, accuracy %.2f%%, step %.1f ms", t.Reward, 100*m.Accuracy, 1e3*m.StepTime.Median)
	case t.Status == store.StatusFailed:
		fmt.Fprintf(&b, "failed after %d attempts: %s", t.Attempts, firstLine(t.Error))
	default:
		fmt.Fprintf(&b, "attempt %d failed, trying again: %s", t.Attempts, firstLine(t.Error))
	}
	if best != nil {
		fmt.Fprintf(&b, "; best so far trial %d, reward %.4f", best.ID, best.Reward)
	}
	if t.Synthetic() {
		b.WriteString(" (synthetic)")
	}
	return b.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// ShortBlocks abbreviates an architecture for tables: per stage, op,
// kernel, expansion and repeats, "s" for squeeze-excite ("F3e4x2" =
// Fused-MBConv 3x3, expansion 4, 2 repeats).
func ShortBlocks(a searchspace.Arch) string {
	parts := make([]string, len(a.Stages))
	for i, s := range a.Stages {
		op := "M"
		if s.Block == searchspace.FusedMBConv {
			op = "F"
		}
		se := ""
		if s.SE > 0 {
			se = "s"
		}
		parts[i] = fmt.Sprintf("%s%de%dx%d%s", op, s.Kernel, s.Expand, s.Repeats, se)
	}
	return strings.Join(parts, " ")
}
