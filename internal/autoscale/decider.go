package autoscale

import (
	"math"
	"time"
)

// MaxDesired is the largest count a Decision asks for (Max 0 means this).
const MaxDesired = math.MaxInt32

// Reasons a Decision gives: the last rule that set its Desired.
const (
	ReasonStable    = "stable"          // the stable window's average
	ReasonPanic     = "panic"           // panic mode: the larger window average
	ReasonPanicHold = "panic hold"      // panic mode: no scale-down
	ReasonUpRate    = "scale-up rate"   // limited by MaxScaleUpRate
	ReasonDownRate  = "scale-down rate" // limited by MaxScaleDownRate
	ReasonIdle      = "idle"            // no traffic for ScaleToZeroGrace
	ReasonKeepWarm  = "keep warm"       // traffic within the grace: one stays
	ReasonInFlight  = "in flight"       // a request is in flight: at least one
	ReasonMin       = "min"             // raised to Config.Min
	ReasonMax       = "max"             // lowered to Config.Max
)

// Decision is what a Decider wants for one version.
type Decision struct {
	// Desired is the number of instances wanted, in [Min, Max].
	Desired int
	// Panicking reports panic mode (bursts: no scale-down).
	Panicking bool
	// StableAvg and PanicAvg are the windows' average concurrency.
	StableAvg, PanicAvg float64
	// Ready is the ready count the decision was made with.
	Ready int
	// Reason is a short word for logs and ps (one of the Reason constants).
	Reason string
}

// Decider is Knative's KPA algorithm over concurrency samples (see the
// package doc). It reads no clock: every method takes the time, and a time
// earlier than one already seen counts as that latest time. Its first
// Record, MarkActive or Decide starts its history. Not safe for concurrent
// use (a Loop owns one).
type Decider struct {
	cfg Config
	win window

	started    bool
	epoch      time.Time // bucket 0 starts here
	latest     time.Time // the latest time seen
	lastActive time.Time // the latest traffic, or the epoch
	last       float64   // the latest sample

	panicTime time.Time // the latest time the panic condition held; zero: calm
	maxPanic  float64   // the highest desired count of this panic
	prev      int       // the previous Desired
}

// NewDecider returns a Decider for c. Any config is accepted: c is taken
// WithDefaults, and a field Validate would reject takes its default (Min is
// clamped into [0, Max]), so call Validate first to report mistakes.
func NewDecider(c Config) *Decider {
	c = c.repaired()
	return &Decider{cfg: c, win: newWindow(buckets(c.StableWindow, c.Bucket))}
}

// Config returns the config in use (with defaults and repairs applied).
func (d *Decider) Config() Config { return d.cfg }

// SetConfig changes the config from the next decision on, as NewDecider
// takes it; history and panic state are kept (all of the history when the
// bucket width is unchanged, none otherwise).
func (d *Decider) SetConfig(c Config) {
	c = c.repaired()
	size := buckets(c.StableWindow, c.Bucket)
	switch {
	case c.Bucket != d.cfg.Bucket:
		d.win = newWindow(size)
		d.epoch = d.latest
	case size != int64(len(d.win.slots)):
		d.win = d.win.resized(size, d.index(d.latest))
	}
	d.cfg = c
}

// Record adds one observation of the requests in flight (running or
// waiting) at now. Samples within one bucket are averaged. A negative
// sample counts as 0, a huge one is capped, NaN is ignored.
func (d *Decider) Record(now time.Time, concurrency float64) {
	if math.IsNaN(concurrency) {
		return
	}
	concurrency = min(max(concurrency, 0), maxConcurrency)
	now = d.observe(now)
	d.win.add(d.index(now), concurrency)
	d.last = concurrency
	if concurrency > 0 {
		d.lastActive = now
	}
}

// MarkActive records that a request ran at now although no sample saw it in
// flight (it started and ended between two samples). It keeps a warm
// instance for ScaleToZeroGrace but does not change the averages.
func (d *Decider) MarkActive(now time.Time) {
	d.lastActive = d.observe(now)
}

// Decide returns the desired instance count at now with ready instances
// ready (a negative count counts as 0). The latest Record counts as what is
// in flight now, so record a fresh sample first. Decide updates the panic
// state: call it once per decision period, not to peek.
func (d *Decider) Decide(now time.Time, ready int) Decision {
	now = d.observe(now)
	c := d.cfg
	ready = max(ready, 0)
	readyF := float64(max(ready, 1))
	idx := d.index(now)
	dec := Decision{
		StableAvg: d.win.avg(idx, buckets(c.StableWindow, c.Bucket)),
		PanicAvg:  d.win.avg(idx, buckets(c.PanicWindow, c.Bucket)),
		Ready:     ready,
	}

	per := c.Target * c.TargetUtilization
	dspc, dppc := ceil(dec.StableAvg/per), ceil(dec.PanicAvg/per)
	idle := now.Sub(d.lastActive) >= c.ScaleToZeroGrace
	if idle {
		dspc, dppc = 0, 0
	}
	maxUp := math.Ceil(c.MaxScaleUpRate * readyF)
	maxDown := math.Floor(readyF / c.MaxScaleDownRate)
	stable, reason := limit(dspc, maxDown, maxUp, ReasonStable)
	if idle && reason == ReasonStable {
		reason = ReasonIdle
	}
	panicking, _ := limit(dppc, maxDown, maxUp, ReasonPanic)

	switch over := !idle && dppc/readyF >= c.PanicThreshold; {
	case over:
		if d.panicTime.IsZero() {
			d.maxPanic = float64(d.prev)
		}
		d.panicTime = now
	case !d.panicTime.IsZero() && (idle || now.Sub(d.panicTime) > c.StableWindow):
		d.panicTime, d.maxPanic = time.Time{}, 0
	}

	desired := stable
	if !d.panicTime.IsZero() {
		dec.Panicking = true
		if reason == ReasonStable {
			reason = ReasonPanic
		}
		if panicking > desired {
			desired, reason = panicking, ReasonPanic
		}
		if hold := max(d.maxPanic, float64(ready)); hold > desired {
			desired, reason = hold, ReasonPanicHold
		}
		d.maxPanic = min(desired, MaxDesired)
	}
	if desired < 1 && !idle && ready > 0 {
		desired, reason = 1, ReasonKeepWarm
	}
	if desired < 1 && d.last > 0 {
		desired, reason = 1, ReasonInFlight
	}
	upper := float64(MaxDesired)
	if c.Max > 0 {
		upper = float64(c.Max)
	}
	switch {
	case desired > upper:
		desired, reason = upper, ReasonMax
	case desired < float64(c.Min):
		desired, reason = float64(c.Min), ReasonMin
	}
	dec.Desired, dec.Reason = int(desired), reason
	d.prev = dec.Desired
	return dec
}

// observe starts the history at the first call and returns now, or the
// latest time seen when now is earlier.
func (d *Decider) observe(now time.Time) time.Time {
	if !d.started {
		d.started = true
		d.epoch, d.latest, d.lastActive = now, now, now
	}
	if now.Before(d.latest) {
		now = d.latest
	}
	d.latest = now
	return now
}

// index is the bucket number of now (not before the epoch).
func (d *Decider) index(now time.Time) int64 {
	return max(int64(now.Sub(d.epoch)/d.cfg.Bucket), 0)
}

// limit clamps v into [lo, hi] and says which rate, if any, bound it.
func limit(v, lo, hi float64, reason string) (float64, string) {
	switch {
	case v > hi:
		return hi, ReasonUpRate
	case v < lo:
		return lo, ReasonDownRate
	}
	return v, reason
}

// ceil rounds x up, forgiving the float error of a division that should
// be exact (7 / 0.7 is 10.000000000000002, and must give 10).
func ceil(x float64) float64 {
	return math.Ceil(x * (1 - 1e-9))
}
