package ratelimit

import (
	"hash/maphash"
	"math"
	"sync"
	"time"
)

const (
	// shardCount is how many independently locked maps hold the buckets.
	// A power of two well above the core count keeps lock contention
	// between different keys negligible.
	shardCount = 64
	// minSweep is how many buckets a shard holds before it first sweeps.
	minSweep = 64
	// epsilon absorbs float rounding in the refill, so a bucket refilled to
	// exactly one token by the clock is not judged 0.9999999 tokens.
	epsilon = 1e-9
)

// Limiter holds one token bucket per key. Each bucket refills at its Rate up
// to its burst and starts full; a request takes one token or is denied.
// Create it with NewLimiter; it is safe for concurrent use.
//
// Buckets are kept in a map split into lock-striped shards. Memory is
// bounded by sweeping: when a new key would grow a shard to twice its size
// after the last sweep (and at least minSweep), the shard first drops every
// bucket that has refilled to full — such a bucket is indistinguishable from
// a new one — and is rebuilt from the survivors so the map shrinks too. A
// shard therefore holds at most about twice the buckets that were used
// within their own refill time (burst/rate: one second for 100/s with burst
// 100), plus minSweep, and the sweep costs O(1) amortized per new key.
type Limiter struct {
	seed   maphash.Seed
	shards [shardCount]shard
}

type shard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	sweepAt int // sweep before inserting when len(buckets) reaches this
	_       [40]byte
}

type bucket struct {
	tokens float64
	last   int64 // UnixNano of the last refill
	rate   Rate
	burst  int64
}

// NewLimiter returns a Limiter with no buckets.
func NewLimiter() *Limiter {
	l := &Limiter{seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]*bucket)
		l.shards[i].sweepAt = minSweep
	}
	return l
}

// Allow takes one token from key's bucket at time now and reports the
// verdict. The bucket holds up to burst tokens (burst <= 0 means r.N) and
// refills at r; a key seen for the first time starts full. If r or burst
// differ from the previous call for key, the bucket keeps its tokens (capped
// at the new burst) and refills at the new rate from now on. A now earlier
// than the bucket's last refill refills nothing. A Rate with N or Per <= 0
// limits nothing: the request is allowed and the Decision has Limit 0.
//
// For an existing key Allow does not allocate.
func (l *Limiter) Allow(key string, r Rate, burst int64, now time.Time) Decision {
	if r.N <= 0 || r.Per <= 0 {
		return Decision{Allowed: true, Policy: PolicyRate}
	}
	if burst <= 0 {
		burst = r.N
	}
	perNs := float64(r.N) / float64(r.Per) // tokens per nanosecond
	size := float64(burst)
	t := now.UnixNano()

	s := &l.shards[maphash.String(l.seed, key)&(shardCount-1)]
	s.mu.Lock()
	b := s.buckets[key]
	if b == nil {
		if len(s.buckets) >= s.sweepAt {
			s.sweep(t)
		}
		b = &bucket{tokens: size, last: t, rate: r, burst: burst}
		s.buckets[key] = b
	} else {
		if b.rate != r || b.burst != burst {
			b.rate, b.burst = r, burst
			b.tokens = min(b.tokens, size)
		}
		if el := t - b.last; el > 0 {
			b.tokens = min(size, b.tokens+float64(el)*perNs)
			b.last = t
		}
	}
	allowed := b.tokens >= 1-epsilon
	if allowed {
		b.tokens = max(b.tokens-1, 0)
	}
	tokens := b.tokens
	s.mu.Unlock()

	d := Decision{
		Allowed:   allowed,
		Policy:    PolicyRate,
		Limit:     burst,
		Remaining: int64(tokens + epsilon),
		Window:    r.Per,
		Reset:     nanos((size - tokens) / perNs),
	}
	if !allowed {
		d.RetryAfter = nanos((1 - tokens) / perNs)
	}
	return d
}

// Len returns how many buckets the limiter holds.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}

// sweep drops the buckets that are full at t and rebuilds the map from the
// rest. The caller holds s.mu.
func (s *shard) sweep(t int64) {
	keep := make(map[string]*bucket, len(s.buckets)/2)
	for k, b := range s.buckets {
		perNs := float64(b.rate.N) / float64(b.rate.Per)
		if b.tokens+float64(t-b.last)*perNs < float64(b.burst)-epsilon {
			keep[k] = b
		}
	}
	s.buckets = keep
	s.sweepAt = max(minSweep, 2*len(keep))
}

// nanos converts a float count of nanoseconds to a Duration, rounding up so
// a client told to wait is never told too little, and saturating.
func nanos(f float64) time.Duration {
	if f <= 0 {
		return 0
	}
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(math.Ceil(f))
}
