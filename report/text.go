package report

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/scaling"
	"github.com/effnas/effnas/searchspace"
)

// The text tables of the commands: an architecture's accounting ("nas
// describe"), a space's decisions ("nas space") and a compound-scaled
// family ("nas family").

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
