// Package gctune bounds the garbage the Go heap may hold by adjusting
// GOGC to the live heap after every collection.
//
// With a fixed GOGC the heap goal is live × (1 + GOGC/100), so a high
// GOGC (cheap collections for a small live heap) multiplies a large live
// heap into a huge one: at 400, a 400 MiB live heap lets the heap, and the
// process's resident memory with it, reach 2 GiB. A Tuner keeps GOGC at
// Policy.Max while the live heap is small and lowers it as the live heap
// grows, so that the garbage allowed between collections stays within
// Policy.Headroom (down to Policy.Min):
//
//	GOGC = clamp(100 × Headroom / (live heap + stacks + globals), Min, Max)
//
// The sum in the denominator is what the Go runtime multiplies by GOGC to
// set the heap goal, so while GOGC is above Min the goal is at most the
// live heap plus Headroom. The bound follows the live heap one step late:
// a collection sets the goal with the GOGC in force, and the Tuner's turn
// comes just after it, so right after the live heap jumps the goal may
// exceed it until then. GOMEMLIMIT, when set, still applies on top.
//
// The Tuner runs after each collection (a cleanup on a sentinel object that
// every cycle finds unreachable, then allocates anew), so it follows the
// live heap with no goroutine and no polling. It owns the process's GOGC
// while it runs: a debug.SetGCPercent made meanwhile is overwritten after
// the next collection.
package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Defaults for Policy's zero fields.
const (
	// DefaultMax is the GOGC for a small live heap: collections are
	// cheap to skip when there is little to keep.
	DefaultMax = 400
	// DefaultMin is the lowest GOGC set: below it, a large live heap
	// would be collected so often that marking it dominates.
	DefaultMin = 50
	// DefaultHeadroom is the garbage allowed between collections: at
	// DefaultMax it is reached by a live heap (with stacks and globals)
	// of 64 MiB.
	DefaultHeadroom = 256 << 20
)

// Policy says how GOGC follows the live heap. The zero value takes every
// default.
type Policy struct {
	// Max is the GOGC while the live heap is small; default DefaultMax.
	Max int
	// Min is the lowest GOGC set, however large the live heap; default
	// DefaultMin. A Min above Max counts as Max.
	Min int
	// Headroom bounds, in bytes, the garbage allowed to accumulate between
	// collections (the heap goal less the live heap) while GOGC is above
	// Min; default DefaultHeadroom.
	Headroom uint64
}

// withDefaults fills p's zero (or negative) fields and makes Min <= Max.
func (p Policy) withDefaults() Policy {
	if p.Max <= 0 {
		p.Max = DefaultMax
	}
	if p.Min <= 0 {
		p.Min = DefaultMin
	}
	p.Min = min(p.Min, p.Max)
	if p.Headroom == 0 {
		p.Headroom = DefaultHeadroom
	}
	return p
}

// Percent is the GOGC for scannable roots of base bytes (the live heap
// plus goroutine stacks and globals): 100 × Headroom / base, clamped to
// [Min, Max]. A base of 0 gives Max. Zero fields of p take their
// defaults.
func (p Policy) Percent(base uint64) int {
	p = p.withDefaults()
	if base == 0 {
		return p.Max
	}
	// In float: 100 × Headroom overflows uint64 for a Headroom above
	// 184 PB, and the precision lost does not matter for a percentage.
	pct := 100 * float64(p.Headroom) / float64(base)
	if pct >= float64(p.Max) {
		return p.Max
	}
	return max(int(pct), p.Min)
}

// Metrics the Tuner reads after each collection: first what the runtime
// multiplies by GOGC to set the heap goal, last the GOGC in force.
var sampleNames = [...]string{
	"/gc/heap/live:bytes",
	"/gc/scan/stack:bytes",
	"/gc/scan/globals:bytes",
	"/gc/gogc:percent",
}

// gogcSample is the index of the GOGC in force in sampleNames.
const gogcSample = len(sampleNames) - 1

// Tuner sets GOGC after every collection (see the package doc). Create it
// with Start; Stop ends it.
type Tuner struct {
	policy Policy

	mu      sync.Mutex
	stopped bool
	samples [len(sampleNames)]metrics.Sample
	onTune  func(base uint64, gogc int) // tests: called after each tune
}

// sentinel is allocated for each cycle; its cleanup runs once a collection
// has found it unreachable. It holds a pointer so that it is never a tiny
// allocation, which may share its memory with others and never be freed.
type sentinel struct{ _ *byte }

// Start sets GOGC for the current live heap at once and after every
// collection from now on, by p (zero fields take their defaults), until
// Stop. Each Tuner runs on its own; start at most one per process.
func Start(p Policy) *Tuner { return start(p, nil) }

// start is Start with a hook that tests use to see each tune.
func start(p Policy, onTune func(base uint64, gogc int)) *Tuner {
	t := &Tuner{policy: p.withDefaults(), onTune: onTune}
	for i, n := range sampleNames {
		t.samples[i].Name = n
	}
	t.tune()
	t.arm()
	return t
}

// Policy returns the policy in force, with defaults filled.
func (t *Tuner) Policy() Policy { return t.policy }

// Stop ends the tuning after the current collection's turn. GOGC stays at
// its last value; restore it with debug.SetGCPercent if needed.
func (t *Tuner) Stop() {
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
}

// arm allocates a sentinel whose cleanup tunes and re-arms.
func (t *Tuner) arm() {
	runtime.AddCleanup(&sentinel{}, func(t *Tuner) {
		t.mu.Lock()
		stopped := t.stopped
		t.mu.Unlock()
		if stopped {
			return
		}
		t.tune()
		t.arm()
	}, t)
}

// tune reads the live heap the last collection found and sets GOGC for
// it, when it changed.
func (t *Tuner) tune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	metrics.Read(t.samples[:])
	var base uint64
	for _, s := range t.samples[:gogcSample] {
		if s.Value.Kind() == metrics.KindUint64 {
			base += s.Value.Uint64()
		}
	}
	gogc := t.policy.Percent(base)
	if cur := t.samples[gogcSample].Value; cur.Kind() != metrics.KindUint64 || cur.Uint64() != uint64(gogc) {
		debug.SetGCPercent(gogc)
	}
	if t.onTune != nil {
		t.onTune(base, gogc)
	}
}
