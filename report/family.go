package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// FamilyFormat and FamilyVersion identify a family document.
const (
	FamilyFormat  = "effnas/family"
	FamilyVersion = 1
)

// FamilyPoint is one model of a scaled family, or a reference model.
type FamilyPoint struct {
	// Name labels the point ("effnas-s", "efficientnetv2-s").
	Name string `json:"name"`
	// Family groups points joined by a line ("effnas", "EfficientNetV2").
	// Empty: "family" or "reference" by Reference.
	Family string `json:"family,omitempty"`
	// Params is the number of trainable parameters.
	Params int64 `json:"params"`
	// StepTime is the training step time in seconds; 0 when not measured
	// (the point is then left out of the step-time panel).
	StepTime float64 `json:"step_time,omitempty"`
	// StepTimeMS is the step time in milliseconds, as "nas family --train"
	// writes it; DecodeFamily moves it into StepTime.
	StepTimeMS float64 `json:"step_time_ms,omitempty"`
	// Accuracy is the accuracy the family was compared on (test accuracy for
	// "nas family --train"), 0 to 1.
	Accuracy float64 `json:"accuracy"`
	// Reference marks a published or baseline model: drawn with squares
	// and a dashed line, rather than circles and a solid line.
	Reference bool `json:"reference,omitempty"`
}

// Family is the family plot's input document:
//
//	{
//	  "format": "effnas/family", "version": 1,
//	  "title": "effnas family on CIFAR-10",
//	  "points": [
//	    {"name": "effnas-s", "family": "effnas", "params": 5100000, "step_time": 0.084, "accuracy": 0.912},
//	    {"name": "efficientnetv2-b0", "params": 5900000, "step_time": 0.097, "accuracy": 0.905, "reference": true}
//	  ]
//	}
//
// step_time is in seconds per training step (or step_time_ms in
// milliseconds) and accuracy is 0 to 1, as in the search database. A bare
// array of points is accepted too, such as the output of
// "nas family --train -o"; other fields of the points are ignored.
type Family struct {
	Format  string        `json:"format"`
	Version int           `json:"version"`
	Title   string        `json:"title,omitempty"`
	Points  []FamilyPoint `json:"points"`
}

// DecodeFamily reads a family document (or a bare array of points) and
// checks it.
func DecodeFamily(data []byte) (Family, error) {
	var f Family
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &f.Points); err != nil {
			return Family{}, fmt.Errorf("invalid family JSON: %w", err)
		}
		f.Format, f.Version = FamilyFormat, FamilyVersion
	} else {
		if err := json.Unmarshal(data, &f); err != nil {
			return Family{}, fmt.Errorf("invalid family JSON: %w", err)
		}
		if f.Format != FamilyFormat {
			return Family{}, fmt.Errorf("format %q: want %q", f.Format, FamilyFormat)
		}
		if f.Version < 1 || f.Version > FamilyVersion {
			return Family{}, fmt.Errorf("family version %d: want %d", f.Version, FamilyVersion)
		}
	}
	for i := range f.Points {
		p := &f.Points[i]
		if p.StepTimeMS != 0 {
			if p.StepTime != 0 && math.Abs(p.StepTime*1e3-p.StepTimeMS) > 1e-9*p.StepTimeMS {
				return Family{}, fmt.Errorf("point %d (%q): step_time %g s and step_time_ms %g disagree", i+1, p.Name, p.StepTime, p.StepTimeMS)
			}
			if finite(p.StepTimeMS) {
				p.StepTime = p.StepTimeMS / 1e3
			} else {
				p.StepTime = p.StepTimeMS
			}
			p.StepTimeMS = 0
		}
		switch {
		case p.Params <= 0:
			return Family{}, fmt.Errorf("point %d (%q): params = %d: want a positive count", i+1, p.Name, p.Params)
		case !finite(p.StepTime) || p.StepTime < 0:
			return Family{}, fmt.Errorf("point %d (%q): step_time = %g: want seconds >= 0", i+1, p.Name, p.StepTime)
		case !finite(p.Accuracy) || p.Accuracy < 0 || p.Accuracy > 1:
			return Family{}, fmt.Errorf("point %d (%q): accuracy = %g: want 0 to 1", i+1, p.Name, p.Accuracy)
		}
	}
	return f, nil
}

// familyGroup is the points of one family, in input order.
type familyGroup struct {
	name      string
	reference bool
	points    []FamilyPoint
}

func groupFamily(points []FamilyPoint) []familyGroup {
	var groups []familyGroup
	for _, p := range points {
		name := p.Family
		if name == "" {
			name = "family"
			if p.Reference {
				name = "reference"
			}
		}
		k := slices.IndexFunc(groups, func(g familyGroup) bool { return g.name == name })
		if k < 0 {
			groups = append(groups, familyGroup{name: name, reference: p.Reference})
			k = len(groups) - 1
		}
		groups[k].points = append(groups[k].points, p)
	}
	return groups
}

// Figure draws accuracy against parameters and against step time, side by
// side: each family a colour, its points joined in order of the x value and
// labelled with their names.
func (f Family) Figure() *Figure {
	title := f.Title
	if title == "" {
		title = "Model family"
	}
	params := newPlot(title+": accuracy vs parameters", Params.Label(), "accuracy (%)")
	times := newPlot(title+": accuracy vs step time", StepTime.Label(), "accuracy (%)")
	leg := newLegend()
	for i, g := range groupFamily(f.Points) {
		col := seriesColor(i)
		var shape draw.GlyphDrawer = draw.CircleGlyph{}
		var dashes []vg.Length
		if g.reference {
			shape = draw.BoxGlyph{}
			dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		var thumbs []plot.Thumbnailer
		for k, panel := range []*plot.Plot{params, times} {
			var xy plotter.XYs
			var names []string
			for _, p := range g.points {
				x := Params.Display(float64(p.Params))
				if k == 1 {
					if p.StepTime == 0 {
						continue
					}
					x = StepTime.Display(p.StepTime)
				}
				xy = append(xy, plotter.XY{X: x, Y: 100 * p.Accuracy})
				names = append(names, p.Name)
			}
			if len(xy) == 0 {
				continue
			}
			idx := make([]int, len(xy))
			for j := range idx {
				idx[j] = j
			}
			slices.SortStableFunc(idx, func(a, b int) int {
				switch {
				case xy[a].X < xy[b].X:
					return -1
				case xy[a].X > xy[b].X:
					return 1
				}
				return 0
			})
			sorted := make(plotter.XYs, len(xy))
			labels := make([]string, len(xy))
			for j, o := range idx {
				sorted[j], labels[j] = xy[o], names[o]
			}
			l := line(sorted, col, vg.Points(1.6), dashes...)
			s := scatter(sorted, col, shape, vg.Points(3.2))
			lb, err := plotter.NewLabels(plotter.XYLabels{XYs: sorted, Labels: labels})
			if err != nil {
				panic(err)
			}
			for j := range lb.TextStyle {
				lb.TextStyle[j].Font.Size = vg.Points(8)
				lb.TextStyle[j].Font.Variant = sans
				lb.TextStyle[j].Color = color.Gray{Y: 60}
			}
			lb.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(-9)}
			panel.Add(l, s, lb)
			if thumbs == nil {
				thumbs = []plot.Thumbnailer{l, s}
			}
		}
		if thumbs != nil {
			leg.Add(g.name, thumbs...)
		}
	}
	for _, p := range []*plot.Plot{params, times} {
		if p.X.Min < p.X.Max {
			p.X.Max += 0.15 * (p.X.Max - p.X.Min) // room for the last label
		}
	}
	if len(f.Points) == 0 {
		params.Add(note("no points"))
		times.Add(note("no points"))
	}
	return &Figure{Panels: []*plot.Plot{params, times}, Rows: 1, Cols: 2, Legend: leg}
}
