package autoscale

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Defaults, as Knative's KPA ships them except Target (mote's instances
// serve one request at a time) and ScaleToZeroGrace (mote passes
// `[scale] idle` here).
const (
	DefaultTarget            = 1.0
	DefaultTargetUtilization = 0.7
	DefaultStableWindow      = 60 * time.Second
	DefaultPanicThreshold    = 2.0
	DefaultMaxScaleUpRate    = 1000.0
	DefaultMaxScaleDownRate  = 2.0
	DefaultScaleToZeroGrace  = 30 * time.Second
	DefaultTick              = 2 * time.Second
	DefaultBucket            = time.Second

	// DefaultPanicWindowPercent is the panic window as a percentage of the
	// stable window when PanicWindow is zero (Knative's
	// panic-window-percentage): 10% of 60 s is 6 s.
	DefaultPanicWindowPercent = 10

	// MaxBuckets bounds the stable window in buckets (StableWindow /
	// Bucket), which bounds a Decider's memory and the cost of Decide:
	// Knative's longest stable window, 1 h, at its 1 s buckets.
	MaxBuckets = 3600

	// MaxBucket is the widest Bucket.
	MaxBucket = time.Minute

	// maxConcurrency caps a recorded sample, so that sums stay finite.
	maxConcurrency = 1e9
)

// Config errors.
var (
	// ErrConfig classes every error Config.Validate reports.
	ErrConfig = errors.New("autoscale: invalid config")
)

// Config tunes a Decider and a Loop. The zero value is valid: every zero
// field takes its default (WithDefaults), and Min 0 with Max 0 means
// "scale to zero, no upper bound".
type Config struct {
	// Target is the concurrent requests one instance should serve. Default
	// 1 (mote's instances serve one request at a time); must be > 0.
	Target float64
	// TargetUtilization is the fraction of Target to aim at, so that some
	// headroom absorbs bursts while new instances start (Knative's
	// container-concurrency-target-percentage). Default 0.7; in (0, 1].
	TargetUtilization float64
	// StableWindow is the averaging window outside panic mode, and how
	// long panic mode lasts after its condition last held. Default 60 s;
	// at least one Bucket and at most MaxBuckets buckets.
	StableWindow time.Duration
	// PanicWindow is the short averaging window that detects bursts.
	// Default 10% of StableWindow (6 s), at least one Bucket; must be
	// between Bucket and StableWindow.
	PanicWindow time.Duration
	// PanicThreshold: panic mode starts when the panic window's desired
	// count is >= PanicThreshold × ready instances. Default 2.0 (200%);
	// must be > 1.
	PanicThreshold float64
	// MaxScaleUpRate limits one decision to ceil(MaxScaleUpRate × ready)
	// instances (ready 0 counts as 1). Default 1000; must be > 1.
	MaxScaleUpRate float64
	// MaxScaleDownRate limits one decision to no fewer than
	// floor(ready / MaxScaleDownRate) instances. Default 2; must be > 1.
	MaxScaleDownRate float64
	// Min and Max bound every decision, after the rate limits (a lower Max
	// or a higher Min applies at once). Min 0 allows scale to zero; Max 0
	// means no upper bound. Min must be in [0, Max] when Max > 0.
	Min, Max int
	// ScaleToZeroGrace: with no traffic for this long the decision drops
	// to Min (0 by default), whatever is left in the stable window; until
	// then one warm instance is kept. The integrator passes `[scale]
	// idle`. Default 30 s; must not be negative.
	ScaleToZeroGrace time.Duration
	// Tick is the decision period of a Loop. Default 2 s; must be > 0.
	Tick time.Duration
	// Bucket is the width of the averaging buckets: samples within one
	// bucket are averaged, and a window's average is the mean of its
	// buckets (a bucket with no sample counts as 0). Default 1 s, as
	// Knative's; must be in (0, MaxBucket].
	Bucket time.Duration
}

// WithDefaults returns c with every zero field set to its default. Min and
// Max are kept as they are (0 is meaningful for both).
func (c Config) WithDefaults() Config {
	if c.Target == 0 {
		c.Target = DefaultTarget
	}
	if c.TargetUtilization == 0 {
		c.TargetUtilization = DefaultTargetUtilization
	}
	if c.Bucket == 0 {
		c.Bucket = DefaultBucket
	}
	if c.StableWindow == 0 {
		c.StableWindow = DefaultStableWindow
	}
	if c.PanicWindow == 0 {
		c.PanicWindow = max(c.StableWindow/100*DefaultPanicWindowPercent, c.Bucket)
	}
	if c.PanicThreshold == 0 {
		c.PanicThreshold = DefaultPanicThreshold
	}
	if c.MaxScaleUpRate == 0 {
		c.MaxScaleUpRate = DefaultMaxScaleUpRate
	}
	if c.MaxScaleDownRate == 0 {
		c.MaxScaleDownRate = DefaultMaxScaleDownRate
	}
	if c.ScaleToZeroGrace == 0 {
		c.ScaleToZeroGrace = DefaultScaleToZeroGrace
	}
	if c.Tick == 0 {
		c.Tick = DefaultTick
	}
	return c
}

// Validate reports every field of c.WithDefaults() that is out of range,
// joined, each wrapping ErrConfig.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if !positive(c.Target) {
		bad("target %v must be a number > 0", c.Target)
	}
	if !positive(c.TargetUtilization) || c.TargetUtilization > 1 {
		bad("target utilization %v must be in (0, 1]", c.TargetUtilization)
	}
	if !above1(c.PanicThreshold) {
		bad("panic threshold %v must be > 1", c.PanicThreshold)
	}
	if !above1(c.MaxScaleUpRate) {
		bad("max scale-up rate %v must be > 1", c.MaxScaleUpRate)
	}
	if !above1(c.MaxScaleDownRate) {
		bad("max scale-down rate %v must be > 1", c.MaxScaleDownRate)
	}
	if c.Bucket <= 0 || c.Bucket > MaxBucket {
		bad("bucket %v must be in (0, %v]", c.Bucket, MaxBucket)
	} else {
		if c.StableWindow < c.Bucket || buckets(c.StableWindow, c.Bucket) > MaxBuckets {
			bad("stable window %v must be from %v to %v", c.StableWindow, c.Bucket, c.Bucket*MaxBuckets)
		}
		if c.PanicWindow < c.Bucket || c.PanicWindow > c.StableWindow {
			bad("panic window %v must be from %v to the stable window %v", c.PanicWindow, c.Bucket, c.StableWindow)
		}
	}
	if c.Min < 0 {
		bad("min %d must not be negative", c.Min)
	}
	if c.Min > MaxDesired {
		bad("min %d is above %d", c.Min, MaxDesired)
	}
	if c.Max < 0 || c.Max > MaxDesired {
		bad("max %d must be from 0 (no limit) to %d", c.Max, MaxDesired)
	}
	if c.Max > 0 && c.Min > c.Max {
		bad("min %d is above max %d", c.Min, c.Max)
	}
	if c.ScaleToZeroGrace < 0 {
		bad("scale-to-zero grace %v must not be negative", c.ScaleToZeroGrace)
	}
	if c.Tick < 0 {
		bad("tick %v must be > 0", c.Tick)
	}
	return errors.Join(errs...)
}

// repaired returns c.WithDefaults() with every field Validate would reject
// replaced by its default (Min and Max are clamped instead), so that a
// Decider always runs on a usable config.
func (c Config) repaired() Config {
	c = c.WithDefaults()
	if !positive(c.Target) {
		c.Target = DefaultTarget
	}
	if !positive(c.TargetUtilization) || c.TargetUtilization > 1 {
		c.TargetUtilization = DefaultTargetUtilization
	}
	if !above1(c.PanicThreshold) {
		c.PanicThreshold = DefaultPanicThreshold
	}
	if !above1(c.MaxScaleUpRate) {
		c.MaxScaleUpRate = DefaultMaxScaleUpRate
	}
	if !above1(c.MaxScaleDownRate) {
		c.MaxScaleDownRate = DefaultMaxScaleDownRate
	}
	if c.Bucket <= 0 || c.Bucket > MaxBucket {
		c.Bucket = DefaultBucket
	}
	if c.StableWindow < c.Bucket || buckets(c.StableWindow, c.Bucket) > MaxBuckets {
		c.StableWindow = min(max(c.StableWindow, c.Bucket), c.Bucket*MaxBuckets)
	}
	if c.PanicWindow < c.Bucket || c.PanicWindow > c.StableWindow {
		c.PanicWindow = min(max(c.PanicWindow, c.Bucket), c.StableWindow)
	}
	c.Min, c.Max = min(max(c.Min, 0), MaxDesired), min(max(c.Max, 0), MaxDesired)
	if c.Max > 0 && c.Min > c.Max {
		c.Min = c.Max
	}
	if c.ScaleToZeroGrace < 0 {
		c.ScaleToZeroGrace = DefaultScaleToZeroGrace
	}
	if c.Tick < 0 {
		c.Tick = DefaultTick
	}
	return c
}

// positive reports whether f is a finite number > 0.
func positive(f float64) bool { return f > 0 && !math.IsInf(f, 1) }

// above1 reports whether f is a finite number > 1.
func above1(f float64) bool { return f > 1 && !math.IsInf(f, 1) }

// buckets is how many buckets of width b cover d (rounded up).
func buckets(d, b time.Duration) int64 {
	n := int64(d / b)
	if d%b != 0 {
		n++
	}
	return n
}
