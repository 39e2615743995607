package report

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/effnas/effnas/reward"
	"github.com/effnas/effnas/store"
)

// ProgressPoint is one done trial of a search, in trial order.
type ProgressPoint struct {
	ID     int
	Reward float64 // NaN when the reward is not finite
	// Best is the highest finite reward among the trials up to ID.
	Best float64
	// Hypervolume is the fraction of the reference box (HypervolumeRef)
	// dominated by the trials up to ID; NaN when the reference is unknown.
	Hypervolume float64
}

// ProgressSeries is the progress of one search.
type ProgressSeries struct {
	Name       string
	Controller string
	Points     []ProgressPoint
}

// HypervolumeRef is the reference point of the progress hypervolume, in the
// stored units: accuracy 0 (maximised), twice the slowest step time (s) and
// twice the largest parameter count (minimised) among the done trials of
// all plotted searches, so that searches in one plot are measured alike.
// The hypervolume is reported as a fraction of the box between the ideal
// point (accuracy 1, step time 0, no parameters) and the reference, 0 to 1.
type HypervolumeRef struct {
	Accuracy, StepTime, Params float64
}

// ProgressData is what the progress plot draws.
type ProgressData struct {
	Title  string
	Series []ProgressSeries
	Ref    HypervolumeRef
	// BaselineReward is the backbone's reward (its accuracy: its step time
	// and parameters are the references) when one search with a measured
	// backbone accuracy is plotted; 0 otherwise.
	BaselineReward float64
}

type objectives struct{ acc, step, params float64 }

func objectivesOf(t store.Trial) (objectives, bool) {
	if !t.Done() || t.Metrics == nil {
		return objectives{}, false
	}
	o := objectives{t.Metrics.Accuracy, t.Metrics.StepTime.Median, float64(t.Metrics.Params)}
	return o, finite(o.acc, o.step, o.params)
}

// weakly reports whether a is at least as good as b in every objective.
func (a objectives) weakly(b objectives) bool {
	return a.acc >= b.acc && a.step <= b.step && a.params <= b.params
}

// Progress computes the reward, best-so-far and hypervolume series of each
// search (a search record with its trials).
func Progress(runs []store.SearchTrials) ProgressData {
	var d ProgressData
	for _, r := range runs {
		for _, t := range r.Trials {
			if o, ok := objectivesOf(t); ok {
				d.Ref.StepTime = max(d.Ref.StepTime, 2*o.step)
				d.Ref.Params = max(d.Ref.Params, 2*o.params)
			}
		}
	}
	dirs := reward.SearchDirections()
	ref := []float64{d.Ref.Accuracy, d.Ref.StepTime, d.Ref.Params}
	box := 1 * d.Ref.StepTime * d.Ref.Params
	for _, r := range runs {
		s := ProgressSeries{Name: r.Search.Name, Controller: r.Search.Controller}
		trials := slices.Clone(r.Trials)
		slices.SortFunc(trials, func(a, b store.Trial) int { return a.ID - b.ID })
		best, hv := math.NaN(), 0.0
		var front []objectives
		for _, t := range trials {
			if !t.Done() {
				continue
			}
			p := ProgressPoint{ID: t.ID, Reward: t.Reward}
			if !finite(t.Reward) {
				p.Reward = math.NaN()
			} else if math.IsNaN(best) || t.Reward > best {
				best = t.Reward
			}
			if o, ok := objectivesOf(t); ok && box > 0 {
				// The hypervolume changes only when the trial is not weakly
				// dominated by the front so far: then recompute it on the
				// new front alone.
				if !slices.ContainsFunc(front, func(f objectives) bool { return f.weakly(o) }) {
					front = slices.DeleteFunc(front, func(f objectives) bool { return o.weakly(f) })
					front = append(front, o)
					pts := make([]reward.Point, len(front))
					for i, f := range front {
						pts[i] = reward.Point{Objectives: []float64{f.acc, f.step, f.params}}
					}
					v, err := dirs.Hypervolume(pts, ref)
					if err != nil {
						panic(err) // three finite objectives and a finite reference
					}
					hv = v / box
				}
			}
			p.Best, p.Hypervolume = best, hv
			if box == 0 {
				p.Hypervolume = math.NaN()
			}
			s.Points = append(s.Points, p)
		}
		d.Series = append(d.Series, s)
	}
	switch len(runs) {
	case 0:
		d.Title = "Search progress"
	case 1:
		r := runs[0]
		d.Title = fmt.Sprintf("Search %q: progress\n%s", r.Search.Name, describeSearch(r.Search, r.Trials))
		if m := r.Search.Baseline; m != nil && finite(m.Accuracy) && m.Accuracy > 0 {
			d.BaselineReward = m.Accuracy
		}
	default:
		d.Title = fmt.Sprintf("Search progress: %d searches", len(runs))
		synthetic := 0
		for _, r := range runs {
			if r.Search.Synthetic() {
				synthetic++
			}
		}
		switch synthetic {
		case 0:
		case len(runs):
			d.Title += "\nSYNTHETIC evaluator (a formula, not training)"
		default:
			d.Title += fmt.Sprintf("\n%d of them with the SYNTHETIC evaluator (a formula, not training)", synthetic)
		}
	}
	return d
}

// Figure draws two panels sharing the trial axis: the reward of each trial
// (faint points) with the best so far (line), and the hypervolume.
func (d ProgressData) Figure() *Figure {
	top := newPlot(d.Title, "trial", "reward")
	bottom := newPlot("", "trial", "hypervolume (fraction of box)")
	leg := newLegend()
	drawn := false
	var lines []plot.Plotter
	for i, s := range d.Series {
		col := seriesColor(i)
		if len(d.Series) == 1 {
			col = orderColor(1, 1)
		}
		var rw, bs, hv plotter.XYs
		for _, p := range s.Points {
			x := float64(p.ID)
			if !math.IsNaN(p.Reward) {
				rw = append(rw, plotter.XY{X: x, Y: p.Reward})
			}
			if !math.IsNaN(p.Best) {
				bs = append(bs, plotter.XY{X: x, Y: p.Best})
			}
			if !math.IsNaN(p.Hypervolume) {
				hv = append(hv, plotter.XY{X: x, Y: p.Hypervolume})
			}
		}
		name := s.Name
		if s.Controller != "" {
			name = fmt.Sprintf("%s (%s)", s.Name, s.Controller)
		}
		var thumbs []plot.Thumbnailer
		if len(rw) > 0 {
			dots := scatter(rw, withAlpha(col, 90), draw.CircleGlyph{}, vg.Points(1.8))
			top.Add(dots)
			thumbs = append(thumbs, dots)
			drawn = true
		}
		if len(bs) > 0 {
			l := line(bs, col, vg.Points(2))
			l.StepStyle = plotter.PostStep
			lines = append(lines, l) // over every search's points
			thumbs = append(thumbs, l)
		}
		if len(hv) > 0 {
			l := line(hv, col, vg.Points(2))
			l.StepStyle = plotter.PostStep
			bottom.Add(l)
			if len(hv) == 1 {
				bottom.Add(scatter(hv, col, draw.CircleGlyph{}, vg.Points(2.5)))
			}
		}
		switch {
		case len(d.Series) == 1:
			if len(rw) > 0 {
				leg.Add("each trial", thumbs[0])
				leg.Add("best so far", thumbs[1])
			}
		case len(thumbs) > 0:
			leg.Add(name, thumbs...)
		}
	}
	top.Add(lines...)
	if d.BaselineReward > 0 {
		l := refLine{at: d.BaselineReward, style: draw.LineStyle{Color: colBaseline, Width: vg.Points(1.2),
			Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}}
		top.Add(l)
		leg.Add("backbone", l)
	}
	if !drawn {
		top.Add(note("no finished trial yet"))
		bottom.Add(note("no finished trial yet"))
	}
	fixRange(&top.Y, 0, 1)
	fixRange(&bottom.Y, 0, 1)
	return &Figure{Panels: []*plot.Plot{top, bottom}, Rows: 2, Cols: 1, Legend: leg}
}

// PlotProgress is Progress(runs).Figure().
func PlotProgress(runs []store.SearchTrials) *Figure { return Progress(runs).Figure() }
