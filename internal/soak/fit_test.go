package soak

import (
	"fmt"
	"math"
	"testing"
)

// fitLine returns the least-squares slope (per unit of x) and intercept of
// ys over xs. Fewer than two points, or all xs equal, give slope 0.
func fitLine(xs, ys []float64) (slope, intercept float64) {
	n := float64(len(xs))
	if len(xs) < 2 || len(xs) != len(ys) {
		return 0, mean(ys)
	}
	mx, my := mean(xs), mean(ys)
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx == 0 || n < 2 {
		return 0, my
	}
	slope = sxy / sxx
	return slope, my - slope*mx
}

func mean(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	var s float64
	for _, v := range vs {
		s += v
	}
	return s / float64(len(vs))
}

// slopeSE is the standard error of the least-squares slope of ys over xs
// (0 for fewer than three points).
func slopeSE(xs, ys []float64) float64 {
	if len(xs) < 3 || len(xs) != len(ys) {
		return 0
	}
	slope, icept := fitLine(xs, ys)
	mx := mean(xs)
	var rss, sxx float64
	for i := range xs {
		r := ys[i] - (icept + slope*xs[i])
		rss += r * r
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx == 0 {
		return 0
	}
	return math.Sqrt(rss / float64(len(xs)-2) / sxx)
}

// growthRule is the pass/fail rule for one series over the second half of
// the run. Fit a line to it (least squares, over time in seconds) and
// extend it to one hour: the series grows when that adds more than
// max(frac × the half's mean level, floor) AND more than three standard
// errors of the fitted growth (it is growth, not the sawtooth of a GC heap
// or the wobble of requests in flight). floor keeps a small count
// (goroutines, sockets) from failing on a handful. The standard error is
// reported, so the growth the run could have detected is plain:
// max(allowance, 3 × SE) per hour.
type growthRule struct {
	name  string
	frac  float64 // of the mean level, per hour
	floor float64 // absolute allowance per hour, in the series' unit
	bytes bool    // the series is in bytes (shown in MiB)
}

// growth is the verdict of a growthRule on a series.
type growth struct {
	rule    growthRule
	level   float64 // mean over the half
	perHour float64 // fitted slope × 3600 s
	se      float64 // its standard error, per hour
	allowed float64
	points  int
}

func (g growth) ok() bool { return g.perHour <= g.allowed || g.perHour <= 3*g.se }

func (g growth) String() string {
	verdict := "ok"
	if !g.ok() {
		verdict = "GROWS"
	}
	pct := func(v float64) float64 { return 100 * v / math.Max(g.level, 1) }
	return fmt.Sprintf("%s: mean %s over %d samples; fitted %s/h (%+.1f%% of the mean) ± %s/h (1 SE); fails above max(%s, 3 SE = %s)/h: %s",
		g.rule.name, g.rule.unit(g.level), g.points, g.rule.signed(g.perHour), pct(g.perHour), g.rule.unit(g.se),
		g.rule.unit(g.allowed), g.rule.unit(3*g.se), verdict)
}

// unit formats v in the series' unit (MiB for bytes).
func (r growthRule) unit(v float64) string {
	if r.bytes {
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	}
	return fmt.Sprintf("%.1f", v)
}

func (r growthRule) signed(v float64) string {
	if v >= 0 {
		return "+" + r.unit(v)
	}
	return r.unit(v)
}

// check applies r to the points (ts in seconds) with from <= t <= to.
func (r growthRule) check(ts, ys []float64, from, to float64) growth {
	var xs, vs []float64
	for i, t := range ts {
		if t >= from && t <= to {
			xs, vs = append(xs, t), append(vs, ys[i])
		}
	}
	slope, _ := fitLine(xs, vs)
	lvl := mean(vs)
	return growth{rule: r, level: lvl, perHour: slope * 3600, se: slopeSE(xs, vs) * 3600,
		allowed: math.Max(r.frac*lvl, r.floor), points: len(xs)}
}

func TestFitLine(t *testing.T) {
	tests := []struct {
		name      string
		xs, ys    []float64
		slope, at float64 // want slope, and intercept
	}{
		{"exact line", []float64{0, 1, 2, 3}, []float64{1, 3, 5, 7}, 2, 1},
		{"flat", []float64{0, 5, 10}, []float64{4, 4, 4}, 0, 4},
		{"noise around a line", []float64{0, 1, 2, 3}, []float64{0, 2, 2, 4}, 1.2, 0.2},
		{"one point", []float64{3}, []float64{9}, 0, 9},
		{"no points", nil, nil, 0, 0},
		{"same x", []float64{2, 2}, []float64{1, 3}, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, a := fitLine(tt.xs, tt.ys)
			if math.Abs(s-tt.slope) > 1e-9 || math.Abs(a-tt.at) > 1e-9 {
				t.Errorf("fitLine = %v, %v; want %v, %v", s, a, tt.slope, tt.at)
			}
		})
	}
}

// sawtooth is level plus a pseudo-random swing of up to ±amp (a GC heap
// sampled out of phase with its collections) plus perHour growth.
func sawtooth(ts []float64, level, amp, perHour float64) []float64 {
	ys := make([]float64, len(ts))
	x := uint32(1)
	for i, t := range ts {
		x = x*1664525 + 1013904223
		ys[i] = level + perHour*t/3600 + amp*(2*float64(x>>8)/float64(1<<24)-1)
	}
	return ys
}

func TestSlopeSE(t *testing.T) {
	xs := []float64{0, 1, 2, 3}
	if se := slopeSE(xs, []float64{1, 3, 5, 7}); se != 0 {
		t.Errorf("an exact line has SE %v, want 0", se)
	}
	// Residuals of 0,2,2,4 about 0.2+1.2x: -0.2, 0.6, -0.6, 0.2; RSS 0.8;
	// s² = 0.4; sxx = 5; SE = sqrt(0.08).
	if se := slopeSE(xs, []float64{0, 2, 2, 4}); math.Abs(se-math.Sqrt(0.08)) > 1e-9 {
		t.Errorf("SE = %v, want %v", se, math.Sqrt(0.08))
	}
}

func TestGrowthRule(t *testing.T) {
	ts := make([]float64, 121) // 10 minutes every 5 s
	for i := range ts {
		ts[i] = float64(i * 5)
	}
	series := func(level, perHour float64, wobble float64) []float64 {
		ys := make([]float64, len(ts))
		for i, t := range ts {
			ys[i] = level + perHour*t/3600
			if i%2 == 1 {
				ys[i] += wobble
			}
		}
		return ys
	}
	mem := growthRule{name: "rss", frac: 0.10}
	count := growthRule{name: "goroutines", frac: 0.05, floor: 20}
	tests := []struct {
		name string
		rule growthRule
		ys   []float64
		ok   bool
	}{
		{"flat memory", mem, series(100<<20, 0, 0), true},
		{"memory +5%/h", mem, series(100<<20, 5<<20, 0), true},
		{"memory +20%/h", mem, series(100<<20, 20<<20, 0), false},
		{"falling memory", mem, series(100<<20, -50<<20, 0), true},
		{"goroutines wobbling", count, series(100, 0, 15), true},
		{"a goroutine a minute", count, series(100, 60, 0), false},
		{"a goroutine an hour", count, series(100, 1, 0), true},
		// A GC sawtooth of ±50%: its fitted slope is noise (within 3 SE).
		{"memory sawtooth", mem, sawtooth(ts, 100<<20, 50<<20, 0), true},
		{"memory sawtooth on a leak", mem, sawtooth(ts, 100<<20, 50<<20, 1000<<20), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.rule.check(ts, tt.ys, 300, 600)
			if g.ok() != tt.ok {
				t.Errorf("%s: ok = %v, want %v", g, g.ok(), tt.ok)
			}
		})
	}
	// Points after the load (t > to) do not count.
	ys := series(100, 0, 0)
	ys[len(ys)-1] = 1000
	if g := count.check(ts, ys, 300, 595); !g.ok() {
		t.Errorf("a point after the end failed the rule: %s", g)
	}
	// Only the second half counts: a warm-up climb is not growth.
	ys = series(100<<20, 0, 0)
	for i := range 30 {
		ys[i] = float64(i) * (100 << 20) / 30
	}
	if g := mem.check(ts, ys, 300, 600); !g.ok() {
		t.Errorf("a climb in the first half failed the rule: %s", g)
	}
}
