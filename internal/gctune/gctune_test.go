package gctune

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"
)

const mib = 1 << 20

func TestPercent(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		base uint64
		want int
	}{
		{"no heap yet: max", Policy{}, 0, DefaultMax},
		{"small heap: max", Policy{}, 10 * mib, DefaultMax},
		{"at the knee: max", Policy{}, 64 * mib, DefaultMax},
		{"just past the knee", Policy{}, 65 * mib, 393},
		{"twice the knee: half", Policy{}, 128 * mib, 200},
		{"live = headroom: 100", Policy{}, 256 * mib, 100},
		{"at min", Policy{}, 512 * mib, DefaultMin},
		{"past min: min", Policy{}, 4096 * mib, DefaultMin},
		{"custom", Policy{Max: 200, Min: 20, Headroom: 10 * mib}, 20 * mib, 50},
		{"custom, clamped high", Policy{Max: 200, Min: 20, Headroom: 10 * mib}, 1 * mib, 200},
		{"custom, clamped low", Policy{Max: 200, Min: 20, Headroom: 10 * mib}, 1000 * mib, 20},
		{"min above max counts as max", Policy{Max: 100, Min: 300}, 4096 * mib, 100},
		{"negative fields take defaults", Policy{Max: -1, Min: -5}, 4096 * mib, DefaultMin},
		{"huge headroom does not overflow", Policy{Headroom: math.MaxUint64}, 1, DefaultMax},
		{"huge heap", Policy{}, math.MaxUint64, DefaultMin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Percent(tt.base); got != tt.want {
				t.Errorf("Percent(%d) = %d, want %d", tt.base, got, tt.want)
			}
		})
	}
}

// Percent keeps the heap goal within live + Headroom while above Min, and
// never leaves [Min, Max].
func FuzzPercent(f *testing.F) {
	f.Add(400, 50, uint64(256*mib), uint64(300*mib))
	f.Add(0, 0, uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, maxP, minP int, headroom, base uint64) {
		p := Policy{Max: maxP, Min: minP, Headroom: headroom}
		d := p.withDefaults()
		got := p.Percent(base)
		if got < d.Min || got > d.Max {
			t.Fatalf("Percent(%d) = %d, outside [%d, %d]", base, got, d.Min, d.Max)
		}
		if got > d.Min && float64(base)*float64(got)/100 > float64(d.Headroom)*(1+1e-9) {
			t.Fatalf("Percent(%d) = %d lets %v bytes of garbage accumulate, more than %d", base, got, float64(base)*float64(got)/100, d.Headroom)
		}
	})
}

// readGC reads the GOGC in force, the heap goal and the live heap.
func readGC() (gogc int, goal, live uint64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/heap/goal:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64()), s[1].Value.Uint64(), s[2].Value.Uint64()
}

// restoreGOGC puts the process's GOGC back when the test ends.
func restoreGOGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	debug.SetGCPercent(old)
	t.Cleanup(func() { debug.SetGCPercent(old) })
}

// collectUntil runs collections until cond holds, failing after a deadline.
func collectUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			gogc, goal, live := readGC()
			t.Fatalf("no %s within 10s (GOGC %d, goal %d MiB, live %d MiB)", what, gogc, goal/mib, live/mib)
		}
		runtime.GC()
		time.Sleep(time.Millisecond) // let the cleanup goroutine run
	}
}

var keep []byte // a live heap the collector cannot see through

func TestTunerFollowsLiveHeap(t *testing.T) {
	restoreGOGC(t)
	p := Policy{Max: 400, Min: 10, Headroom: 8 * mib}
	var tunes atomic.Int64
	tu := start(p, func(uint64, int) { tunes.Add(1) })
	t.Cleanup(tu.Stop)

	// A 64 MiB live heap wants GOGC <= 100 × 8 / 64 = 12.
	keep = make([]byte, 64*mib)
	t.Cleanup(func() { keep = nil })
	collectUntil(t, "GOGC for a 64 MiB live heap", func() bool {
		gogc, _, live := readGC()
		return live >= 64*mib && gogc <= 12 && gogc >= 10
	})
	// The goal the runtime set from it stays within live + Headroom. One
	// more collection so that the goal is the tuned GOGC's.
	runtime.GC()
	gogc, goal, live := readGC()
	if gogc > p.Min && goal > live+p.Headroom+mib/2 {
		t.Errorf("heap goal %d MiB with %d MiB live and GOGC %d: more than %d MiB of headroom", goal/mib, live/mib, gogc, p.Headroom/mib)
	}

	// When the heap is freed, GOGC goes back to Max.
	keep = nil
	collectUntil(t, "GOGC back at max", func() bool {
		gogc, _, _ := readGC()
		return gogc == p.Max
	})

	// A change made behind its back is undone after a collection.
	debug.SetGCPercent(77)
	collectUntil(t, "GOGC restored from 77", func() bool {
		gogc, _, _ := readGC()
		return gogc == p.Max
	})
	if tunes.Load() < 3 {
		t.Errorf("%d tunes, want one per collection", tunes.Load())
	}
}

func TestStop(t *testing.T) {
	restoreGOGC(t)
	var tunes atomic.Int64
	tu := start(Policy{Max: 300}, func(uint64, int) { tunes.Add(1) })
	collectUntil(t, "a tune after a collection", func() bool { return tunes.Load() >= 2 })
	if gogc, _, _ := readGC(); gogc != 300 {
		t.Fatalf("GOGC %d, want 300", gogc)
	}
	tu.Stop()
	n := tunes.Load()
	debug.SetGCPercent(123)
	// Two cleanups of our own that run after later collections show that
	// the Tuner's turn (queued with or before them) has passed.
	for range 2 {
		done := make(chan struct{})
		runtime.AddCleanup(&sentinel{}, func(c chan struct{}) { close(c) }, done)
		collectUntil(t, "a probe cleanup", func() bool {
			select {
			case <-done:
				return true
			default:
				return false
			}
		})
	}
	if gogc, _, _ := readGC(); gogc != 123 {
		t.Errorf("GOGC %d after Stop, want the 123 set after it", gogc)
	}
	if got := tunes.Load(); got != n {
		t.Errorf("%d tunes after Stop", got-n)
	}
}

func TestPolicyDefaults(t *testing.T) {
	restoreGOGC(t)
	got := Start(Policy{})
	defer got.Stop()
	if p := got.Policy(); p != (Policy{Max: DefaultMax, Min: DefaultMin, Headroom: DefaultHeadroom}) {
		t.Errorf("Policy() = %+v", p)
	}
}
