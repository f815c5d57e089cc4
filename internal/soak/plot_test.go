package soak

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// line is one series of a panel; a NaN is a point without a value (the
// line has a gap there).
type line struct {
	name  string
	color color.RGBA
	ys    []float64
}

// panel is one chart: a title, series over the shared x, a y unit format.
type panel struct {
	title  string
	lines  []line
	format func(float64) string
	mark   float64 // x of a dashed vertical line (the fitted half's start); <= 0 for none
	logY   bool    // a log y axis, from the power of ten below the least positive value (values <= 0 are gaps)
}

var (
	white = color.RGBA{255, 255, 255, 255}
	ink   = color.RGBA{40, 40, 40, 255}
	grid  = color.RGBA{225, 225, 225, 255}
	blue  = color.RGBA{31, 119, 180, 255}
	red   = color.RGBA{214, 39, 40, 255}
	green = color.RGBA{44, 160, 44, 255}
	gray  = color.RGBA{150, 150, 150, 255}
)

const (
	plotW      = 960
	panelH     = 240
	marginL    = 110
	marginR    = 40
	marginTop  = 34
	marginBot  = 34
	fontScale  = 2
	glyphWidth = 6 * fontScale // 5 columns and a space
	xLabelH    = 24            // below the last panel, for the x axis's name
)

// plotPanels draws the panels one above the other, sharing xs (minutes
// on the x axis, from seconds).
func plotPanels(xs []float64, panels []panel) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, plotW, panelH*len(panels)+xLabelH))
	draw.Draw(img, img.Bounds(), image.NewUniform(white), image.Point{}, draw.Src)
	xmax := 1.0
	for _, x := range xs {
		xmax = math.Max(xmax, x)
	}
	for i, p := range panels {
		top := i * panelH
		x0, x1 := marginL, plotW-marginR
		y0, y1 := top+panelH-marginBot, top+marginTop // y0 is the bottom
		ymax, ymin := 0.0, math.Inf(1)
		for _, l := range p.lines {
			for _, y := range l.ys {
				if !math.IsNaN(y) {
					ymax = math.Max(ymax, y)
					if y > 0 {
						ymin = math.Min(ymin, y)
					}
				}
			}
		}
		px := func(x float64) int { return x0 + int(math.Round(x/xmax*float64(x1-x0))) }
		var py func(float64) int
		var ticks []float64
		if p.logY {
			if math.IsInf(ymin, 1) {
				ymin, ymax = 1, 10
			}
			lo, hi := math.Floor(math.Log10(ymin)), math.Ceil(math.Log10(ymax))
			if hi <= lo {
				hi = lo + 1
			}
			py = func(y float64) int {
				return y0 - int(math.Round((math.Log10(y)-lo)/(hi-lo)*float64(y0-y1)))
			}
			for e := lo; e <= hi; e++ {
				ticks = append(ticks, math.Pow(10, e))
			}
		} else {
			step := niceStep(ymax / 4)
			ymax = math.Max(step*math.Ceil(ymax/step), step)
			py = func(y float64) int { return y0 - int(math.Round(y/ymax*float64(y0-y1))) }
			for v := 0.0; v <= ymax*1.0001; v += step {
				ticks = append(ticks, v)
			}
		}
		for _, v := range ticks {
			hline(img, x0, x1, py(v), grid)
			s := p.format(v)
			text(img, x0-8-len([]rune(s))*glyphWidth, py(v)-7*fontScale/2, s, ink)
		}
		xstep := niceStep(xmax / 60 / 8)
		for m := 0.0; m*60 <= xmax*1.0001; m += xstep {
			vline(img, px(m*60), y1, y0, grid, 1)
			s := trimFloat(m)
			text(img, px(m*60)-len(s)*glyphWidth/2, y0+6, s, ink)
		}
		if p.mark > 0 {
			vline(img, px(p.mark), y1, y0, gray, 4)
		}
		hline(img, x0, x1, y0, ink)
		vline(img, x0, y1, y0, ink, 1)
		text(img, x0, top+8, p.title, ink)
		lx := x0 + (len([]rune(p.title))+3)*glyphWidth
		for _, l := range p.lines {
			if len(p.lines) == 1 {
				break
			}
			fill(img, image.Rect(lx, top+12, lx+20, top+16), l.color)
			text(img, lx+26, top+8, l.name, l.color)
			lx += 26 + (len([]rune(l.name))+2)*glyphWidth
		}
		for _, l := range p.lines {
			for j := 1; j < len(l.ys) && j < len(xs); j++ {
				if math.IsNaN(l.ys[j-1]) || math.IsNaN(l.ys[j]) || (p.logY && (l.ys[j-1] <= 0 || l.ys[j] <= 0)) {
					continue // no value: a gap
				}
				seg(img, px(xs[j-1]), py(l.ys[j-1]), px(xs[j]), py(l.ys[j]), l.color)
			}
		}
		if i == len(panels)-1 {
			s := "MINUTES"
			text(img, x1-len(s)*glyphWidth, y0+6+10*fontScale, s, ink)
		}
	}
	return img
}

// niceStep is the 1, 2 or 5 × 10^k at or above x (1 for x <= 0).
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

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

// vline draws from y0 to y1 with dashes of dash pixels (1: solid).
func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA, dash int) {
	for y := min(y0, y1); y <= max(y0, y1); y++ {
		if dash <= 1 || (y/dash)%2 == 0 {
			img.SetRGBA(x, y, c)
		}
	}
}

// seg draws a 2-pixel-wide line segment.
func seg(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	n := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= n; i++ {
		x := x0 + (x1-x0)*i/n
		y := y0 + (y1-y0)*i/n
		img.SetRGBA(x, y, c)
		img.SetRGBA(x, y+1, c)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// text draws s with the 5×7 font, its top left at x, y; lower-case is
// drawn as capitals, an unknown rune as '?'.
func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, r := range strings.ToUpper(s) {
		g, ok := glyphs[r]
		if !ok {
			g = glyphs['?']
		}
		for row, bits := range g {
			for col, b := range bits {
				if b == '#' {
					fill(img, image.Rect(x+col*fontScale, y+row*fontScale, x+(col+1)*fontScale, y+(row+1)*fontScale), c)
				}
			}
		}
		x += glyphWidth
	}
}

// writePNG encodes img to path.
func writePNG(path string, img image.Image) error {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// TestPlot draws a known series and checks the lines and the text are
// where they should be and the PNG decodes.
func TestPlot(t *testing.T) {
	xs := []float64{0, 60, 120, 180, 240}
	img := plotPanels(xs, []panel{
		{title: "flat", lines: []line{{"a", red, []float64{5, 5, 5, 5, 5}}}, format: trimFloat, mark: 120},
		{title: "two", lines: []line{{"up", blue, []float64{0, 1, 2, 3, 4}}, {"down", green, []float64{4, 3, 2, 1, 0}}}, format: trimFloat},
		{title: "log", lines: []line{{"l", blue, []float64{0, 0.5, 5, 50, 5000}}}, format: trimFloat, logY: true},
	})
	if got := img.Bounds().Dy(); got != 3*panelH+xLabelH {
		t.Fatalf("height %d, want %d", got, 3*panelH+xLabelH)
	}
	count := func(c color.RGBA) int {
		n := 0
		for y := 0; y < img.Bounds().Dy(); y++ {
			for x := 0; x < plotW; x++ {
				if img.RGBAAt(x, y) == c {
					n++
				}
			}
		}
		return n
	}
	for _, c := range []color.RGBA{red, blue, green, gray, ink} {
		if count(c) == 0 {
			t.Errorf("no pixel of %v drawn", c)
		}
	}
	// The flat series is a horizontal line: all its pixels on two rows.
	rows := map[int]bool{}
	for y := 0; y < panelH; y++ {
		for x := marginL + 1; x < plotW; x++ {
			if img.RGBAAt(x, y) == red {
				rows[y] = true
			}
		}
	}
	if len(rows) > 2+7*fontScale { // the line, and the legend-less title has none
		t.Errorf("the flat red series spans %d rows", len(rows))
	}
	path := filepath.Join(t.TempDir(), "p.png")
	if err := writePNG(path, img); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("decode: %v", err)
	}
}

func TestNiceStep(t *testing.T) {
	for _, tt := range []struct{ in, want float64 }{{0, 1}, {0.3, 0.5}, {1, 1}, {1.1, 2}, {3, 5}, {7, 10}, {2400, 5000}} {
		if got := niceStep(tt.in); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("niceStep(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
