package analytics

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketOf(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{-time.Second, 0},
		{0, 0},
		{999 * time.Nanosecond, 0},
		{time.Microsecond, 1},
		{31 * time.Microsecond, 31},
		{32 * time.Microsecond, 32},
		{33 * time.Microsecond, 32},
		{34 * time.Microsecond, 33},
		{time.Hour, nBuckets - 1},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			if got := bucketOf(tt.d); got != tt.want {
				t.Errorf("bucketOf(%v) = %d, want %d", tt.d, got, tt.want)
			}
		})
	}
}

// TestBucketBounds checks that every value falls in its bucket's bounds,
// buckets are contiguous, and a bucket is at most 1/16 of its lowest value
// wide above 32 µs.
func TestBucketBounds(t *testing.T) {
	next := 0.0
	for i := range nBuckets {
		lo, w := bucketBounds(i)
		if lo != next {
			t.Fatalf("bucket %d starts at %v, want %v", i, lo, next)
		}
		next = lo + w
		if lo >= 32 && w/lo > 1.0/16 {
			t.Errorf("bucket %d: width %v is more than 1/16 of %v", i, w, lo)
		}
	}
	if next != maxMicros+1 {
		t.Errorf("buckets end at %v, want %v", next, maxMicros+1)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		us := r.Uint64N(maxMicros + 1)
		b := bucketOf(time.Duration(us) * time.Microsecond)
		lo, w := bucketBounds(b)
		if float64(us) < lo || float64(us) >= lo+w {
			t.Fatalf("%d µs in bucket %d [%v, %v)", us, b, lo, lo+w)
		}
	}
}

// TestQuantiles compares the histogram's quantiles with the exact ones of
// known distributions: the error is at most 1/32 of the true value (plus
// half a microsecond).
func TestQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name string
		draw func() time.Duration
	}{
		{"constant 1ms", func() time.Duration { return time.Millisecond }},
		{"uniform 0-100ms", func() time.Duration { return time.Duration(r.Int64N(int64(100 * time.Millisecond))) }},
		{"exponential mean 2ms", func() time.Duration { return time.Duration(r.ExpFloat64() * float64(2*time.Millisecond)) }},
		{"lognormal median 300µs", func() time.Duration {
			return time.Duration(math.Exp(r.NormFloat64()*1.5) * float64(300*time.Microsecond))
		}},
		{"bimodal 50µs and 40ms", func() time.Duration {
			if r.IntN(10) == 0 {
				return 40*time.Millisecond + time.Duration(r.Int64N(int64(time.Millisecond)))
			}
			return 50*time.Microsecond + time.Duration(r.Int64N(int64(10*time.Microsecond)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 20000
			var h hist
			values := make([]float64, n)
			for i := range values {
				d := tt.draw()
				h[bucketOf(d)]++
				values[i] = float64(d/time.Microsecond) / 1000 // ms, at µs resolution
			}
			slices.Sort(values)
			for _, q := range []float64{0.5, 0.9, 0.95, 0.99, 0.999, 1} {
				exact := values[int(math.Ceil(q*n))-1]
				got := h.quantile(q, n)
				if err := math.Abs(got - exact); err > exact/32+0.0005 {
					t.Errorf("p%v = %v ms, exact %v ms: error %.2f%%", q*100, got, exact, 100*err/exact)
				}
			}
		})
	}
}

func TestQuantileEmpty(t *testing.T) {
	var h hist
	if got := h.quantile(0.99, 0); got != 0 {
		t.Errorf("empty p99 = %v, want 0", got)
	}
}
