package analytics

import (
	"math"
	"math/bits"
	"time"
)

// Latency histograms are log-linear (HDR-style) over microseconds: values
// below 32 µs get one bucket each; above, every power of two is split into
// 16 equal buckets. A quantile is reported as its bucket's midpoint, so the
// relative error is at most 1/32 (3.125%) above 32 µs and ±0.5 µs below.
// Values of 2^27 µs (about 134 s) and more share the last bucket.
// Histograms of the same layout merge by adding their counts.
const (
	subBits  = 4
	subCount = 1 << subBits
	maxExp   = 27
	nBuckets = (maxExp-subBits)*subCount + subCount // 384
	// maxMicros is the largest value with its own bucket.
	maxMicros = 1<<maxExp - 1
)

// bucketOf returns the histogram bucket of a duration.
func bucketOf(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	us := uint64(d / time.Microsecond)
	if us > maxMicros {
		us = maxMicros
	}
	if us < 2*subCount {
		return int(us)
	}
	k := bits.Len64(us) - 1 // us is in [2^k, 2^(k+1))
	return (k-subBits)*subCount + int(us>>(k-subBits))
}

// bucketBounds returns the lowest value of bucket i and its width, in
// microseconds.
func bucketBounds(i int) (lo, width float64) {
	if i < 2*subCount {
		return float64(i), 1
	}
	k := i/subCount + subBits - 1
	m := i%subCount + subCount
	shift := k - subBits
	return float64(uint64(m) << shift), float64(uint64(1) << shift)
}

// hist is a merged latency histogram, in buckets of bucketOf.
type hist [nBuckets]uint64

// quantile returns the q-quantile (0 < q ≤ 1) in milliseconds: the
// midpoint of the bucket holding the ⌈q·n⌉-th smallest value; 0 when the
// histogram is empty.
func (h *hist) quantile(q float64, n int64) float64 {
	if n <= 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h {
		seen += c
		if seen >= rank {
			lo, w := bucketBounds(i)
			return (lo + w/2) / 1000
		}
	}
	lo, w := bucketBounds(nBuckets - 1)
	return (lo + w/2) / 1000
}
