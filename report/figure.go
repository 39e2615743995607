package report

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure is one image: panels laid out in a grid with aligned axes, and one
// legend in a column at the right, outside the data, so that it never hides
// a point.
type Figure struct {
	// Panels holds Rows x Cols plots, row-major; a nil entry leaves a hole.
	Panels     []*plot.Plot
	Rows, Cols int
	// Legend is drawn at the top right, beside the panels.
	Legend plot.Legend
	// Width and Height of the whole image; zero takes a size suited to the
	// grid.
	Width, Height vg.Length
}

// sans is the font variant of every text (Liberation Sans).
const sans = "Sans"

// DPI of PNG output.
const DPI = 144

// Formats lists the supported output formats, chosen by file extension.
var Formats = []string{"png", "svg"}

// FormatOf returns the format of a file name from its extension, or an
// error naming the supported ones.
func FormatOf(path string) (string, error) {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	for _, f := range Formats {
		if ext == f {
			return f, nil
		}
	}
	return "", fmt.Errorf("%s: unsupported image format %q: want a file name ending in .png or .svg", path, filepath.Ext(path))
}

func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font.Size = vg.Points(10)
	l.TextStyle.Font.Variant = sans
	l.Top, l.Left = true, true
	l.Padding = vg.Points(3)
	l.ThumbnailWidth = vg.Points(18)
	return l
}

// size returns the image size.
func (f *Figure) size() (vg.Length, vg.Length) {
	w, h := f.Width, f.Height
	if w == 0 {
		w = vg.Length(f.Cols)*5.2*vg.Inch + 2.2*vg.Inch
	}
	if h == 0 {
		h = vg.Length(f.Rows) * 3.6 * vg.Inch
		if f.Rows == 1 {
			h = 4.8 * vg.Inch
		}
	}
	return w, h
}

// Draw draws the figure on c.
func (f *Figure) Draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	pad := vg.Points(8)
	c = draw.Crop(c, pad, -pad, pad, -pad)
	leg := f.Legend
	legW := vg.Length(0)
	if r := leg.Rectangle(c); r.Size().X > 0 {
		legW = r.Size().X + vg.Points(14)
	}
	plots := c
	plots.Max.X -= legW
	grid := make([][]*plot.Plot, f.Rows)
	for r := range grid {
		grid[r] = f.Panels[r*f.Cols : (r+1)*f.Cols]
	}
	tiles := draw.Tiles{Rows: f.Rows, Cols: f.Cols, PadX: vg.Points(20), PadY: vg.Points(16)}
	canvases := plot.Align(grid, tiles, plots)
	top := c.Max.Y
	for r, row := range grid {
		for k, p := range row {
			if p == nil {
				continue
			}
			p.Draw(canvases[r][k])
			if r == 0 {
				top = min(top, p.DataCanvas(canvases[r][k]).Max.Y)
			}
		}
	}
	if legW > 0 {
		lc := c
		lc.Min.X = c.Max.X - legW + vg.Points(10)
		lc.Max.Y = top
		leg.Draw(lc)
	}
}

// WriteTo renders the figure in format ("png" or "svg") to w.
func (f *Figure) WriteTo(w io.Writer, format string) error {
	width, height := f.size()
	var cw vg.CanvasWriterTo
	switch format {
	case "png":
		cw = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(DPI))}
	case "svg":
		cw = vgsvg.New(width, height)
	default:
		return fmt.Errorf("unsupported image format %q: want png or svg", format)
	}
	f.Draw(draw.New(cw))
	_, err := cw.WriteTo(w)
	return err
}

// Save writes the figure to path, in the format its extension names.
func (f *Figure) Save(path string) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := f.WriteTo(&buf, format); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// newPlot returns a plot with the house style: titles and labels sized
// for reading at a glance, a light grid.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(12)
	p.Title.TextStyle.Font.Variant = sans
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(11)
		a.Tick.Label.Font.Size = vg.Points(9)
		a.Label.TextStyle.Font.Variant = sans
		a.Tick.Label.Font.Variant = sans
	}
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{Y: 225}
	g.Horizontal.Color = color.Gray{Y: 225}
	p.Add(g)
	return p
}

// Colours.
var (
	colBest     = color.RGBA{R: 215, G: 25, B: 28, A: 255}
	colFront    = color.RGBA{R: 230, G: 120, B: 0, A: 255}
	colBaseline = color.RGBA{R: 40, G: 40, B: 40, A: 255}
	// qualitative palette (ColorBrewer Dark2) for searches and families
	palette = []color.RGBA{
		{27, 158, 119, 255}, {217, 95, 2, 255}, {117, 112, 179, 255}, {231, 41, 138, 255},
		{102, 166, 30, 255}, {230, 171, 2, 255}, {166, 118, 29, 255}, {102, 102, 102, 255},
	}
)

// seriesColor is the colour of the i-th search or family.
func seriesColor(i int) color.RGBA { return palette[i%len(palette)] }

// orderColor is the colour of bin i of n in trial order: light blue for the
// first trials to dark blue for the last.
func orderColor(i, n int) color.RGBA {
	light := [3]float64{158, 202, 225}
	dark := [3]float64{8, 48, 107}
	t := 1.0
	if n > 1 {
		t = float64(i) / float64(n-1)
	}
	var c [3]uint8
	for k := range c {
		c[k] = uint8(math.Round(light[k] + t*(dark[k]-light[k])))
	}
	return color.RGBA{c[0], c[1], c[2], 255}
}

func withAlpha(c color.RGBA, a uint8) color.NRGBA {
	return color.NRGBA{R: c.R, G: c.G, B: c.B, A: a}
}

// xyOf makes plotter points.
func xyOf(n int, f func(i int) (x, y float64)) plotter.XYs {
	xy := make(plotter.XYs, n)
	for i := range xy {
		xy[i].X, xy[i].Y = f(i)
	}
	return xy
}

func scatter(xy plotter.XYs, c color.Color, shape draw.GlyphDrawer, r vg.Length) *plotter.Scatter {
	s, err := plotter.NewScatter(xy)
	if err != nil {
		panic(err) // the points are filtered to finite values
	}
	s.GlyphStyle = draw.GlyphStyle{Color: c, Shape: shape, Radius: r}
	return s
}

func line(xy plotter.XYs, c color.Color, width vg.Length, dashes ...vg.Length) *plotter.Line {
	l, err := plotter.NewLine(xy)
	if err != nil {
		panic(err)
	}
	l.LineStyle = draw.LineStyle{Color: c, Width: width, Dashes: dashes}
	return l
}

// refLine is a vertical (or horizontal) line across the whole data area at
// one value, for a reference known only on one axis, such as a backbone
// whose accuracy was not measured. It widens the axis range to include the
// value but leaves the other axis alone.
type refLine struct {
	at       float64
	vertical bool
	style    draw.LineStyle
}

func (l refLine) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	if l.vertical {
		x := tx(l.at)
		c.StrokeLine2(l.style, x, c.Min.Y, x, c.Max.Y)
		return
	}
	y := ty(l.at)
	c.StrokeLine2(l.style, c.Min.X, y, c.Max.X, y)
}

func (l refLine) DataRange() (xmin, xmax, ymin, ymax float64) {
	inf := math.Inf(1)
	if l.vertical {
		return l.at, l.at, inf, -inf
	}
	return inf, -inf, l.at, l.at
}

// Thumbnail draws a short horizontal stretch of the line, dashes visible.
func (l refLine) Thumbnail(c *draw.Canvas) {
	y := (c.Min.Y + c.Max.Y) / 2
	c.StrokeLine2(l.style, c.Min.X, y, c.Max.X, y)
}

// fixRange gives an axis without data (or with one value) a sensible range.
func fixRange(a *plot.Axis, lo, hi float64) {
	if !(a.Min < a.Max) {
		a.Min, a.Max = min(lo, a.Min), max(hi, a.Max)
		if math.IsInf(a.Min, 0) || math.IsInf(a.Max, 0) {
			a.Min, a.Max = lo, hi
		}
	}
}

// note writes a short text in the middle of an empty plot.
type note string

func (n note) Plot(c draw.Canvas, p *plot.Plot) {
	sty := p.Title.TextStyle
	sty.Font = font.From(sty.Font, vg.Points(11))
	sty.Color = color.Gray{Y: 90}
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	c.FillText(sty, c.Center(), string(n))
}

func finite(xs ...float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// markGlyph is a filled marker with a white outline, to stand out over a
// cloud of points: a five-pointed star or a triangle.
type markGlyph struct{ star bool }

func (g markGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	var p vg.Path
	n, inner := 3, 1.0
	if g.star {
		n, inner = 5, 0.45
	}
	for k := range 2 * n {
		r := float64(sty.Radius)
		if k%2 == 1 {
			if !g.star {
				continue
			}
			r *= inner
		}
		a := math.Pi/2 + float64(k)*math.Pi/float64(n)
		q := vg.Point{X: pt.X + vg.Length(r*math.Cos(a)), Y: pt.Y + vg.Length(r*math.Sin(a))}
		if len(p) == 0 {
			p.Move(q)
		} else {
			p.Line(q)
		}
	}
	p.Close()
	c.SetColor(sty.Color)
	c.Fill(p)
	c.SetLineStyle(draw.LineStyle{Color: color.White, Width: vg.Points(0.8)})
	c.Stroke(p)
}
