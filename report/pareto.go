package report

import (
	"fmt"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/reward"
	"github.com/effnas/effnas/store"
)

// Cost is the cost objective on the x axis of a Pareto plot.
type Cost int

const (
	StepTime Cost = iota // training step time (median), shown in ms
	Params               // trainable parameters, shown in millions
)

// ParseCost reads "time" (or "step", "step-time") and "params".
func ParseCost(s string) (Cost, error) {
	switch s {
	case "time", "step", "step-time", "step_time":
		return StepTime, nil
	case "params", "parameters":
		return Params, nil
	}
	return 0, fmt.Errorf("%q: want time or params", s)
}

func (c Cost) String() string {
	if c == Params {
		return "params"
	}
	return "time"
}

// Label is the axis label, with the unit.
func (c Cost) Label() string {
	if c == Params {
		return "parameters (M)"
	}
	return "training step time (ms)"
}

// raw is the measurement in its stored unit (seconds, parameters).
func (c Cost) raw(m *measure.Metrics) float64 {
	if c == Params {
		return float64(m.Params)
	}
	return m.StepTime.Median
}

// Display converts a raw measurement to the plotted unit (ms or M).
func (c Cost) Display(raw float64) float64 {
	if c == Params {
		return raw / 1e6
	}
	return raw * 1e3
}

// TrialPoint is one trial as plotted: accuracy in percent, cost in the
// plotted unit.
type TrialPoint struct {
	ID       int
	Accuracy float64 // validation accuracy, %
	Cost     float64 // ms or M parameters
	Reward   float64
}

// Baseline is the backbone's reference in a plot.
type Baseline struct {
	Cost float64
	// Accuracy in percent; 0 when only timed: then it is drawn as a
	// vertical line at Cost.
	Accuracy float64
}

// ParetoData is everything a Pareto plot draws, computed from the records;
// the plot draws exactly these points.
type ParetoData struct {
	Search string
	Title  string
	Cost   Cost
	// Points are the done trials with finite accuracy and cost, in ID order.
	Points []TrialPoint
	// Front is the non-dominated subset of Points under (accuracy: maximise,
	// cost: minimise), computed with reward.Directions.NonDominated on the
	// stored values, sorted by cost ascending (ties by ID) for the step line.
	Front []TrialPoint
	// Best is the trial with the highest reward (store.BestTrial), nil when
	// there is none or its metrics are not finite.
	Best *TrialPoint
	// Baseline is the backbone's measurement, nil when not measured.
	Baseline *Baseline
	// Skipped counts done trials left out for a non-finite measurement.
	Skipped int
	// Total is the number of trials in the records.
	Total int
}

// Pareto computes the data of the accuracy-against-cost plot of a search.
func Pareto(s store.Search, trials []store.Trial, cost Cost) ParetoData {
	d := ParetoData{Search: s.Name, Cost: cost, Total: len(trials)}
	var pts []reward.Point
	byID := map[int]TrialPoint{}
	for _, t := range trials {
		if !t.Done() || t.Metrics == nil {
			continue
		}
		acc, x := t.Metrics.Accuracy, cost.raw(t.Metrics)
		if !finite(acc, x) {
			d.Skipped++
			continue
		}
		tp := TrialPoint{ID: t.ID, Accuracy: 100 * acc, Cost: cost.Display(x), Reward: t.Reward}
		d.Points = append(d.Points, tp)
		byID[t.ID] = tp
		pts = append(pts, reward.Point{ID: strconv.Itoa(t.ID), Objectives: []float64{acc, x}})
	}
	slices.SortFunc(d.Points, func(a, b TrialPoint) int { return a.ID - b.ID })
	if len(pts) > 0 {
		for _, p := range (reward.Directions{reward.Maximize, reward.Minimize}).NonDominated(pts) {
			id, _ := strconv.Atoi(p.ID)
			d.Front = append(d.Front, byID[id])
		}
		slices.SortFunc(d.Front, func(a, b TrialPoint) int {
			if a.Cost != b.Cost {
				if a.Cost < b.Cost {
					return -1
				}
				return 1
			}
			return a.ID - b.ID
		})
	}
	if b, ok := store.BestTrial(trials); ok {
		if tp, ok := byID[b.ID]; ok {
			d.Best = &tp
		}
	}
	if m := s.Baseline; m != nil && finite(cost.raw(m)) && cost.raw(m) > 0 {
		b := Baseline{Cost: cost.Display(cost.raw(m))}
		if finite(m.Accuracy) && m.Accuracy > 0 {
			b.Accuracy = 100 * m.Accuracy
		}
		d.Baseline = &b
	}
	what := "training step time"
	if cost == Params {
		what = "parameters"
	}
	d.Title = fmt.Sprintf("Search %q: validation accuracy vs %s\n%s", s.Name, what, describeSearch(s, trials))
	return d
}

// describeSearch is the second title line: controller and trial counts,
// and a mark for synthetic results.
func describeSearch(s store.Search, trials []store.Trial) string {
	done := 0
	for _, t := range trials {
		if t.Done() {
			done++
		}
	}
	ctrl := s.Controller
	if ctrl == "" {
		ctrl = "unknown"
	}
	line := fmt.Sprintf("%s controller, %d trials (%d done)", ctrl, len(trials), done)
	if s.Synthetic() {
		line += ", SYNTHETIC evaluator (a formula, not training)"
	}
	return line
}

// orderBins is how many colour bins trial order is split into.
const orderBins = 5

// Figure draws the data: every trial a point coloured by trial order (light
// = early, dark = late), the front as a step line, the best-reward trial and
// the backbone marked.
func (d ParetoData) Figure() *Figure {
	p := newPlot(d.Title, d.Cost.Label(), "validation accuracy (%)")
	leg := newLegend()
	n := len(d.Points)
	bins := min(orderBins, n)
	for b := range bins {
		lo, hi := b*n/bins, (b+1)*n/bins
		if lo == hi {
			continue
		}
		pts := d.Points[lo:hi]
		s := scatter(xyOf(len(pts), func(i int) (float64, float64) { return pts[i].Cost, pts[i].Accuracy }),
			orderColor(b, bins), draw.CircleGlyph{}, vg.Points(2.2))
		p.Add(s)
		label := fmt.Sprintf("trials %d-%d", pts[0].ID, pts[len(pts)-1].ID)
		if len(pts) == 1 {
			label = fmt.Sprintf("trial %d", pts[0].ID)
		}
		leg.Add(label, s)
	}
	if len(d.Front) > 0 {
		xy := xyOf(len(d.Front), func(i int) (float64, float64) { return d.Front[i].Cost, d.Front[i].Accuracy })
		l := line(xy, colFront, vg.Points(1.6))
		l.StepStyle = plotter.PostStep
		ring := scatter(xy, colFront, draw.RingGlyph{}, vg.Points(3.6))
		p.Add(l, ring)
		leg.Add(fmt.Sprintf("Pareto front (%d)", len(d.Front)), l, ring)
	}
	if d.Baseline != nil {
		if d.Baseline.Accuracy > 0 {
			s := scatter(plotter.XYs{{X: d.Baseline.Cost, Y: d.Baseline.Accuracy}}, colBaseline, markGlyph{}, vg.Points(6))
			p.Add(s)
			leg.Add("backbone", s)
		} else {
			l := refLine{at: d.Baseline.Cost, vertical: true,
				style: draw.LineStyle{Color: colBaseline, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}}
			p.Add(l)
			leg.Add("backbone ("+d.Cost.String()+" only)", l)
		}
	}
	if d.Best != nil {
		s := scatter(plotter.XYs{{X: d.Best.Cost, Y: d.Best.Accuracy}}, colBest, markGlyph{star: true}, vg.Points(8))
		p.Add(s)
		leg.Add(fmt.Sprintf("best reward (#%d)", d.Best.ID), s)
	}
	if n == 0 {
		p.Add(note("no finished trial yet"))
	}
	fixRange(&p.Y, 0, 100)
	return &Figure{Panels: []*plot.Plot{p}, Rows: 1, Cols: 1, Legend: leg}
}

// PlotPareto is Pareto(...).Figure().
func PlotPareto(s store.Search, trials []store.Trial, cost Cost) *Figure {
	return Pareto(s, trials, cost).Figure()
}
