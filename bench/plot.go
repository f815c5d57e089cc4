package main

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"strings"
	"unicode"
)

// The plots are drawn with the standard library only: a 5×7 bitmap font
// (font.go) scaled ×2, lines, rectangles and log or linear axes.

// errNoData: a chart with nothing to draw.
var errNoData = errors.New("plot: no data")

const (
	textScale = 2             // pixels per font dot
	charW     = 6 * textScale // advance per character
	charH     = 8 * textScale // line height
	plotW     = 960           // default image width
	plotH     = 540           // default image height
	marginL   = 110           // room for y tick labels
	marginR   = 30
	marginT   = 50 // room for the title
	marginB   = 70 // room for x tick labels and the x label
)

var (
	white   = color.RGBA{255, 255, 255, 255}
	black   = color.RGBA{0, 0, 0, 255}
	grey    = color.RGBA{225, 225, 225, 255}
	palette = []color.RGBA{
		{31, 119, 180, 255},  // blue
		{255, 127, 14, 255},  // orange
		{44, 160, 44, 255},   // green
		{214, 39, 40, 255},   // red
		{148, 103, 189, 255}, // purple
		{140, 86, 75, 255},   // brown
		{227, 119, 194, 255}, // pink
		{127, 127, 127, 255}, // grey
		{188, 189, 34, 255},  // olive
		{23, 190, 207, 255},  // cyan
	}
)

// colorOf returns series i's color.
func colorOf(i int) color.RGBA { return palette[i%len(palette)] }

// Series is one line of a Chart: points (X[i], Y[i]).
type Series struct {
	Name string
	X, Y []float64
}

// Chart is a line chart. Zero YMin and YMax fit the data (with 0 as the
// floor on a linear axis); a log axis ignores values ≤ 0.
type Chart struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	YMin, YMax            float64
	// FormatX and FormatY label ticks; nil prints the number compactly.
	FormatX, FormatY func(float64) string
	Series           []Series
	// Width and Height default to 960×540.
	Width, Height int
}

// Bar is one bar of a BarChart: Value is drawn, Note printed after it.
// Lo and Hi, when Hi > Lo, draw a whisker over the bar (a range, such as
// the slowest and fastest round).
type Bar struct {
	Label  string
	Value  float64
	Note   string
	Lo, Hi float64
}

// BarChart is a horizontal bar chart, one bar per row, labels on the left.
type BarChart struct {
	Title, XLabel string
	Bars          []Bar
	// FormatX labels the value axis and each bar's value; nil prints it
	// compactly.
	FormatX func(float64) string
	Width   int // default 960; the height follows the number of bars
}

// WritePNG encodes img to path.
func WritePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("plot: %s: %w", path, err)
	}
	return f.Close()
}

// axis maps data values to pixels along one dimension.
type axis struct {
	lo, hi   float64 // data range (log10 of it on a log axis)
	log      bool
	p0, p1   int // pixels of lo and hi
	format   func(float64) string
	explicit bool
}

func (a axis) pos(v float64) (int, bool) {
	if a.log {
		if v <= 0 {
			return 0, false
		}
		v = math.Log10(v)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	f := (v - a.lo) / (a.hi - a.lo)
	return a.p0 + int(math.Round(f*float64(a.p1-a.p0))), true
}

// ticks returns the tick values (data units) of the axis.
func (a axis) ticks() []float64 {
	var ts []float64
	if a.log {
		lo, hi := math.Floor(a.lo), math.Ceil(a.hi)
		steps := []float64{1}
		if hi-lo <= 2 {
			steps = []float64{1, 2, 5}
		}
		for e := lo; e <= hi; e++ {
			for _, s := range steps {
				v := s * math.Pow(10, e)
				if l := math.Log10(v); l >= a.lo-1e-9 && l <= a.hi+1e-9 {
					ts = append(ts, v)
				}
			}
		}
		return ts
	}
	step := niceStep((a.hi - a.lo) / 6)
	for v := math.Ceil(a.lo/step) * step; v <= a.hi+step*1e-9; v += step {
		ts = append(ts, v)
	}
	return ts
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

// newAxis fits an axis to vs.
func newAxis(vs []float64, log bool, lo, hi float64, p0, p1 int, format func(float64) string) (axis, error) {
	a := axis{log: log, p0: p0, p1: p1, format: format}
	if format == nil {
		a.format = compact
	}
	dataLo, dataHi := math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) || (log && v <= 0) {
			continue
		}
		dataLo, dataHi = math.Min(dataLo, v), math.Max(dataHi, v)
	}
	if math.IsInf(dataLo, 1) {
		return a, errNoData
	}
	if lo != 0 || hi != 0 {
		dataLo, dataHi = lo, hi
	} else if !log {
		dataLo = math.Min(dataLo, 0)
		dataHi += (dataHi - dataLo) * 0.05
	}
	if log {
		dataLo, dataHi = math.Log10(dataLo), math.Log10(dataHi)
		dataLo, dataHi = math.Floor(dataLo*4)/4, math.Ceil(dataHi*4)/4 // quarter decades
	}
	if dataHi <= dataLo {
		dataHi = dataLo + 1
	}
	a.lo, a.hi = dataLo, dataHi
	return a, nil
}

// compact prints a number with up to three significant digits and a k/M
// suffix.
func compact(v float64) string {
	av := math.Abs(v)
	switch {
	case av >= 1e9:
		return trimZeros(fmt.Sprintf("%.2f", v/1e9)) + "G"
	case av >= 1e6:
		return trimZeros(fmt.Sprintf("%.2f", v/1e6)) + "M"
	case av >= 1e4:
		return trimZeros(fmt.Sprintf("%.1f", v/1e3)) + "k"
	case av >= 100 || av == 0:
		return fmt.Sprintf("%.0f", v)
	case av >= 1:
		return trimZeros(fmt.Sprintf("%.2f", v))
	}
	return trimZeros(fmt.Sprintf("%.3g", v))
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// fmtSeconds labels a duration given in seconds ("250µs", "1.5ms", "2s").
func fmtSeconds(v float64) string {
	switch av := math.Abs(v); {
	case av == 0:
		return "0"
	case av < 1e-3:
		return trimZeros(fmt.Sprintf("%.3g", v*1e6)) + "µs"
	case av < 1:
		return trimZeros(fmt.Sprintf("%.3g", v*1e3)) + "ms"
	}
	return trimZeros(fmt.Sprintf("%.3g", v)) + "s"
}

// fmtBytes labels a size given in bytes ("512KiB", "1.5GiB").
func fmtBytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return trimZeros(fmt.Sprintf("%.3g", v)) + units[i]
}

// canvas is an image being drawn.
type canvas struct{ *image.RGBA }

func newCanvas(w, h int) canvas {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{white}, image.Point{}, draw.Src)
	return canvas{img}
}

func (c canvas) rect(x0, y0, x1, y1 int, col color.RGBA) {
	draw.Draw(c.RGBA, image.Rect(x0, y0, x1, y1).Intersect(c.Bounds()), &image.Uniform{col}, image.Point{}, draw.Src)
}

// line draws a line two pixels wide (Bresenham).
func (c canvas) line(x0, y0, x1, y1 int, col color.RGBA, width int) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		c.rect(x0, y0, x0+width, y0+width, col)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

// textWidth is s's width in pixels.
func textWidth(s string) int { return len([]rune(s)) * charW }

// text draws s with its top-left corner at (x, y).
func (c canvas) text(x, y int, s string, col color.RGBA) {
	for _, r := range s {
		g, ok := glyphs[r]
		if !ok {
			g, ok = glyphs[unicode.ToUpper(r)]
		}
		if !ok {
			g = glyphs['?']
		}
		for row, bits := range g {
			for colN, b := range bits {
				if b == '#' {
					c.rect(x+colN*textScale, y+row*textScale, x+(colN+1)*textScale, y+(row+1)*textScale, col)
				}
			}
		}
		x += charW
	}
}

// vtext draws s rotated a quarter turn counter-clockwise, reading upwards,
// with its baseline's start at (x, y).
func (c canvas) vtext(x, y int, s string, col color.RGBA) {
	for _, r := range s {
		g, ok := glyphs[r]
		if !ok {
			g, ok = glyphs[unicode.ToUpper(r)]
		}
		if !ok {
			g = glyphs['?']
		}
		for row, bits := range g {
			for colN, b := range bits {
				if b == '#' {
					px, py := x+row*textScale, y-(colN+1)*textScale
					c.rect(px, py, px+textScale, py+textScale, col)
				}
			}
		}
		y -= charW
	}
}

// Draw renders the chart.
func (ch Chart) Draw() (*image.RGBA, error) {
	w, h := ch.Width, ch.Height
	if w == 0 {
		w = plotW
	}
	if h == 0 {
		h = plotH
	}
	var xs, ys []float64
	for _, s := range ch.Series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("plot: series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y))
		}
		xs = append(xs, s.X...)
		ys = append(ys, s.Y...)
	}
	// The legend sits below the x axis, in two columns if they fit.
	cols := 2
	for _, s := range ch.Series {
		if 2*(textWidth(s.Name)+60) > w {
			cols = 1
		}
	}
	legendH := (len(ch.Series) + cols - 1) / cols * (charH + 4)
	h += legendH
	x0, x1, y0, y1 := marginL, w-marginR, marginT, h-marginB-legendH
	ax, err := newAxis(xs, ch.LogX, 0, 0, x0, x1, ch.FormatX)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, ch.Title)
	}
	ay, err := newAxis(ys, ch.LogY, ch.YMin, ch.YMax, y1, y0, ch.FormatY)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, ch.Title)
	}
	c := newCanvas(w, h)
	c.text((w-textWidth(ch.Title))/2, 14, ch.Title, black)
	for _, t := range ax.ticks() {
		p, _ := ax.pos(t)
		c.rect(p, y0, p+1, y1, grey)
		l := ax.format(t)
		c.text(p-textWidth(l)/2, y1+8, l, black)
	}
	for _, t := range ay.ticks() {
		p, _ := ay.pos(t)
		c.rect(x0, p, x1, p+1, grey)
		l := ay.format(t)
		c.text(x0-8-textWidth(l), p-charH/2+2, l, black)
	}
	c.rect(x0, y0, x0+2, y1+1, black)
	c.rect(x0, y1, x1, y1+2, black)
	c.text((x0+x1-textWidth(ch.XLabel))/2, y1+charH+22, ch.XLabel, black)
	c.vtext(10, (y0+y1+textWidth(ch.YLabel))/2, ch.YLabel, black)
	for i, s := range ch.Series {
		col := colorOf(i)
		prevOK := false
		var px, py int
		for j := range s.X {
			x, okx := ax.pos(s.X[j])
			y, oky := ay.pos(s.Y[j])
			if !okx || !oky {
				prevOK = false
				continue
			}
			x, y = clamp(x, x0, x1), clamp(y, y0, y1)
			if prevOK {
				c.line(px, py, x, y, col, 2)
			} else if len(s.X) == 1 || j == len(s.X)-1 || !okNext(ax, ay, s, j) {
				c.rect(x-3, y-3, x+4, y+4, col) // a lone point
			}
			px, py, prevOK = x, y, true
		}
		if len(s.X) <= 12 { // few points: mark each
			for j := range s.X {
				x, okx := ax.pos(s.X[j])
				y, oky := ay.pos(s.Y[j])
				if okx && oky {
					c.rect(clamp(x, x0, x1)-3, clamp(y, y0, y1)-3, clamp(x, x0, x1)+4, clamp(y, y0, y1)+4, col)
				}
			}
		}
		lx := 20 + (i%cols)*(w-20)/2
		ly := y1 + marginB - 6 + (i/cols)*(charH+4)
		c.rect(lx, ly+4, lx+24, ly+10, col)
		c.text(lx+32, ly, s.Name, black)
	}
	return c.RGBA, nil
}

func okNext(ax, ay axis, s Series, j int) bool {
	if j+1 >= len(s.X) {
		return false
	}
	_, okx := ax.pos(s.X[j+1])
	_, oky := ay.pos(s.Y[j+1])
	return okx && oky
}

func clamp(v, lo, hi int) int { return max(lo, min(hi, v)) }

// Draw renders the bar chart.
func (bc BarChart) Draw() (*image.RGBA, error) {
	if len(bc.Bars) == 0 {
		return nil, fmt.Errorf("%w: %s", errNoData, bc.Title)
	}
	w := bc.Width
	if w == 0 {
		w = plotW
	}
	format := bc.FormatX
	if format == nil {
		format = compact
	}
	labelW := 0
	noteW := 0
	var vals []float64
	for _, b := range bc.Bars {
		labelW = max(labelW, textWidth(b.Label))
		noteW = max(noteW, textWidth(format(b.Value)+" "+b.Note))
		vals = append(vals, b.Value, b.Hi)
	}
	rowH := charH + 14
	w = max(w, labelW+noteW+44+500) // at least 500 pixels of bars
	x0 := labelW + 24
	x1 := w - noteW - 20
	y0 := marginT
	h := y0 + rowH*len(bc.Bars) + 60
	ax, err := newAxis(vals, false, 0, 0, x0, x1, format)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, bc.Title)
	}
	c := newCanvas(w, h)
	c.text((w-textWidth(bc.Title))/2, 14, bc.Title, black)
	y1 := y0 + rowH*len(bc.Bars)
	for _, t := range ax.ticks() {
		p, _ := ax.pos(t)
		c.rect(p, y0, p+1, y1, grey)
		l := format(t)
		c.text(p-textWidth(l)/2, y1+8, l, black)
	}
	for i, b := range bc.Bars {
		y := y0 + i*rowH
		c.text(x0-12-textWidth(b.Label), y+7, b.Label, black)
		p, ok := ax.pos(b.Value)
		if !ok {
			p = x0
		}
		p = clamp(p, x0, x1)
		c.rect(x0, y+4, p, y+rowH-4, colorOf(i))
		if b.Hi > b.Lo {
			lo, _ := ax.pos(b.Lo)
			hi, _ := ax.pos(b.Hi)
			lo, hi = clamp(lo, x0, x1), clamp(hi, x0, x1)
			mid := y + rowH/2
			c.rect(lo, mid-1, hi+1, mid+1, black)
			c.rect(lo, mid-5, lo+2, mid+5, black)
			c.rect(hi-1, mid-5, hi+1, mid+5, black)
			p = max(p, hi)
		}
		c.text(p+8, y+7, strings.TrimSpace(format(b.Value)+" "+b.Note), black)
	}
	c.rect(x0, y0, x0+2, y1+1, black)
	c.text((x0+x1-textWidth(bc.XLabel))/2, h-charH-6, bc.XLabel, black)
	return c.RGBA, nil
}

// cdfSeries turns sorted samples (seconds) into a CDF line of at most
// points points.
func cdfSeries(name string, sorted []float64, points int) Series {
	s := Series{Name: name}
	n := len(sorted)
	if n == 0 {
		return s
	}
	step := max(1, n/points)
	for i := 0; i < n; i += step {
		s.X = append(s.X, sorted[i])
		s.Y = append(s.Y, float64(i+1)/float64(n))
	}
	// The tail matters most: add the top per-mille exactly.
	for _, q := range []float64{0.99, 0.999, 1} {
		i := min(n-1, int(q*float64(n)))
		if len(s.X) > 0 && sorted[i] < s.X[len(s.X)-1] {
			continue
		}
		s.X = append(s.X, sorted[i])
		s.Y = append(s.Y, float64(i+1)/float64(n))
	}
	return s
}

// histSeries bins samples (seconds) into bins log-spaced bins between lo
// and hi and returns a step line of each bin's share of the samples.
func histSeries(name string, samples []float64, lo, hi float64, bins int) Series {
	s := Series{Name: name}
	if len(samples) == 0 || lo <= 0 || hi <= lo || bins <= 0 {
		return s
	}
	counts := make([]int, bins)
	llo, lhi := math.Log10(lo), math.Log10(hi)
	for _, v := range samples {
		if v <= 0 {
			continue
		}
		b := int((math.Log10(v) - llo) / (lhi - llo) * float64(bins))
		counts[clamp(b, 0, bins-1)]++
	}
	edge := func(i int) float64 { return math.Pow(10, llo+(lhi-llo)*float64(i)/float64(bins)) }
	for i, n := range counts {
		f := float64(n) / float64(len(samples))
		s.X = append(s.X, edge(i), edge(i+1))
		s.Y = append(s.Y, f, f)
	}
	return s
}
