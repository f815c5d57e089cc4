package ratelimit

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestLimiterDecisions(t *testing.T) {
	type step struct {
		at   time.Duration // since t0
		want Decision
	}
	rate := Rate{N: 10, Per: time.Second} // one token per 100ms
	tests := []struct {
		name  string
		rate  Rate
		burst int64
		steps []step
	}{
		{
			name: "burst defaults to N, then refill",
			rate: Rate{N: 2, Per: time.Second}, // one token per 500ms
			steps: []step{
				{0, Decision{Allowed: true, Policy: "rate", Limit: 2, Remaining: 1, Window: time.Second, Reset: 500 * time.Millisecond}},
				{0, Decision{Allowed: true, Policy: "rate", Limit: 2, Remaining: 0, Window: time.Second, Reset: time.Second}},
				{0, Decision{Allowed: false, Policy: "rate", Limit: 2, Remaining: 0, Window: time.Second, Reset: time.Second, RetryAfter: 500 * time.Millisecond}},
				{200 * time.Millisecond, Decision{Allowed: false, Policy: "rate", Limit: 2, Remaining: 0, Window: time.Second, Reset: 800 * time.Millisecond, RetryAfter: 300 * time.Millisecond}},
				{500 * time.Millisecond, Decision{Allowed: true, Policy: "rate", Limit: 2, Remaining: 0, Window: time.Second, Reset: time.Second}},
				// A long pause refills to the burst, not beyond.
				{time.Hour, Decision{Allowed: true, Policy: "rate", Limit: 2, Remaining: 1, Window: time.Second, Reset: 500 * time.Millisecond}},
				{time.Hour, Decision{Allowed: true, Policy: "rate", Limit: 2, Remaining: 0, Window: time.Second, Reset: time.Second}},
				{time.Hour, Decision{Allowed: false, Policy: "rate", Limit: 2, Remaining: 0, Window: time.Second, Reset: time.Second, RetryAfter: 500 * time.Millisecond}},
			},
		},
		{
			name:  "burst above rate",
			rate:  rate,
			burst: 3,
			steps: []step{
				{0, Decision{Allowed: true, Policy: "rate", Limit: 3, Remaining: 2, Window: time.Second, Reset: 100 * time.Millisecond}},
				{0, Decision{Allowed: true, Policy: "rate", Limit: 3, Remaining: 1, Window: time.Second, Reset: 200 * time.Millisecond}},
				{0, Decision{Allowed: true, Policy: "rate", Limit: 3, Remaining: 0, Window: time.Second, Reset: 300 * time.Millisecond}},
				{0, Decision{Allowed: false, Policy: "rate", Limit: 3, Remaining: 0, Window: time.Second, Reset: 300 * time.Millisecond, RetryAfter: 100 * time.Millisecond}},
				// Partial refill: 250ms is 2.5 tokens, one taken.
				{250 * time.Millisecond, Decision{Allowed: true, Policy: "rate", Limit: 3, Remaining: 1, Window: time.Second, Reset: 150 * time.Millisecond}},
			},
		},
		{
			name:  "burst of one smooths",
			rate:  Rate{N: 60, Per: time.Minute},
			burst: 1,
			steps: []step{
				{0, Decision{Allowed: true, Policy: "rate", Limit: 1, Remaining: 0, Window: time.Minute, Reset: time.Second}},
				{999 * time.Millisecond, Decision{Allowed: false, Policy: "rate", Limit: 1, Remaining: 0, Window: time.Minute, Reset: time.Millisecond, RetryAfter: time.Millisecond}},
				{time.Second, Decision{Allowed: true, Policy: "rate", Limit: 1, Remaining: 0, Window: time.Minute, Reset: time.Second}},
			},
		},
		{
			name: "clock going backwards refills nothing",
			rate: Rate{N: 1, Per: time.Second},
			steps: []step{
				{time.Second, Decision{Allowed: true, Policy: "rate", Limit: 1, Remaining: 0, Window: time.Second, Reset: time.Second}},
				{0, Decision{Allowed: false, Policy: "rate", Limit: 1, Remaining: 0, Window: time.Second, Reset: time.Second, RetryAfter: time.Second}},
				{2 * time.Second, Decision{Allowed: true, Policy: "rate", Limit: 1, Remaining: 0, Window: time.Second, Reset: time.Second}},
			},
		},
		{
			name: "no rate limits nothing",
			rate: Rate{},
			steps: []step{
				{0, Decision{Allowed: true, Policy: "rate"}},
				{0, Decision{Allowed: true, Policy: "rate"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLimiter()
			for i, s := range tt.steps {
				got := l.Allow("k", tt.rate, tt.burst, t0.Add(s.at))
				if got != s.want {
					t.Fatalf("step %d at +%v:\n got %+v\nwant %+v", i, s.at, got, s.want)
				}
			}
		})
	}
}

func TestLimiterKeysAreIndependent(t *testing.T) {
	l := NewLimiter()
	r := Rate{N: 1, Per: time.Hour}
	if !l.Allow("a", r, 0, t0).Allowed {
		t.Fatal("a: first request denied")
	}
	if l.Allow("a", r, 0, t0).Allowed {
		t.Fatal("a: second request allowed")
	}
	if !l.Allow("b", r, 0, t0).Allowed {
		t.Fatal("b: denied because of a")
	}
}

func TestLimiterPlanChange(t *testing.T) {
	l := NewLimiter()
	small := Rate{N: 1, Per: time.Second}
	big := Rate{N: 100, Per: time.Second}
	if !l.Allow("k", small, 0, t0).Allowed {
		t.Fatal("first request denied")
	}
	// The empty bucket keeps its state under the bigger plan and refills
	// at the new rate: 10ms is one token at 100/s.
	if d := l.Allow("k", big, 0, t0); d.Allowed {
		t.Fatalf("allowed right after the plan change: %+v", d)
	}
	if d := l.Allow("k", big, 0, t0.Add(10*time.Millisecond)); !d.Allowed || d.Limit != 100 {
		t.Fatalf("after 10ms at 100/s: %+v", d)
	}
	// Shrinking the burst caps the tokens.
	l.Allow("j", big, 0, t0)
	if d := l.Allow("j", big, 5, t0); !d.Allowed || d.Remaining != 4 {
		t.Fatalf("after shrinking the burst to 5: %+v, want 4 remaining", d)
	}
}

func TestLimiterSweepBoundsMemory(t *testing.T) {
	l := NewLimiter()
	r := Rate{N: 10, Per: time.Second} // full again 100ms after one request
	now := t0
	for round := range 20 {
		for i := range 1000 {
			l.Allow("r"+strconv.Itoa(round)+"-k"+strconv.Itoa(i), r, 0, now)
		}
		now = now.Add(time.Second)
	}
	// Each round's 1000 keys are full by the next round; every shard sweeps
	// at twice its survivors, so the limiter holds at most about two
	// rounds' worth, not 20.
	if n := l.Len(); n > 3000 {
		t.Fatalf("limiter holds %d buckets after 20 rounds of 1000 short-lived keys, want <= 3000", n)
	}
	// A bucket that is not full survives a sweep and keeps its state.
	l = NewLimiter()
	slow := Rate{N: 1, Per: time.Hour}
	l.Allow("busy", slow, 0, t0)
	for i := range 4 * shardCount * minSweep {
		l.Allow("k"+strconv.Itoa(i), r, 0, t0.Add(time.Minute))
	}
	if d := l.Allow("busy", slow, 0, t0.Add(time.Minute)); d.Allowed {
		t.Fatalf("busy key forgot its empty bucket after sweeps: %+v", d)
	}
}

// TestLimiterHammer checks under -race that many goroutines on many keys
// never get more than burst + rate×elapsed per key.
func TestLimiterHammer(t *testing.T) {
	const (
		keys       = 50
		goroutines = 16
		perG       = 4000
	)
	r := Rate{N: 1000, Per: time.Second}
	const burst = 20
	l := NewLimiter()
	start := time.Now()
	var admitted [keys]atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				k := (g*7 + i) % keys
				if l.Allow("key"+strconv.Itoa(k), r, burst, time.Now()).Allowed {
					admitted[k].Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	bound := burst + int64(float64(r.N)*elapsed.Seconds()) + 1
	total := int64(0)
	for k := range keys {
		n := admitted[k].Load()
		total += n
		if n > bound {
			t.Errorf("key%d: admitted %d in %v, bound is %d", k, n, elapsed, bound)
		}
	}
	if total == 0 {
		t.Fatal("nothing admitted")
	}
	t.Logf("%d of %d admitted in %v (per-key bound %d)", total, goroutines*perG, elapsed, bound)
}

// TestLimiterAllowDoesNotAllocate guards the hot path.
func TestLimiterAllowDoesNotAllocate(t *testing.T) {
	l := NewLimiter()
	r := Rate{N: 100, Per: time.Second}
	l.Allow("0123456789ab", r, 0, t0)
	allocs := testing.AllocsPerRun(1000, func() {
		l.Allow("0123456789ab", r, 0, t0)
	})
	if allocs != 0 {
		t.Fatalf("Allow on an existing key allocates %v times", allocs)
	}
}

func BenchmarkAllow(b *testing.B) {
	r := Rate{N: 1_000_000_000, Per: time.Second}
	b.Run("single key", func(b *testing.B) {
		l := NewLimiter()
		now := time.Now()
		b.ReportAllocs()
		for b.Loop() {
			l.Allow("0123456789ab", r, 0, now)
		}
	})
	b.Run("parallel 10k keys", func(b *testing.B) {
		l := NewLimiter()
		keys := make([]string, 10_000)
		now := time.Now()
		for i := range keys {
			keys[i] = fmt.Sprintf("%012x", i)
			l.Allow(keys[i], r, 0, now)
		}
		var seq atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(7919))
			for pb.Next() {
				i++
				l.Allow(keys[i%len(keys)], r, 0, now)
			}
		})
	})
	b.Run("parallel single key", func(b *testing.B) {
		l := NewLimiter()
		now := time.Now()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Allow("0123456789ab", r, 0, now)
			}
		})
	})
}
