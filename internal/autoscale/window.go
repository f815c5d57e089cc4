package autoscale

// window keeps the average of the samples recorded in each of the last
// len(slots) buckets, in a ring indexed by bucket number (buckets since the
// Decider's epoch).
type window struct {
	slots []slot
	from  int64 // the oldest bucket the history covers
}

// slot is one bucket: the sum and count of its samples. A slot whose idx is
// not the bucket asked for holds an older bucket and counts as empty.
type slot struct {
	idx int64
	sum float64
	n   int
}

func newWindow(size int64) window {
	return window{slots: make([]slot, max(size, 1))}
}

// add records sample v in bucket idx (idx >= 0).
func (w *window) add(idx int64, v float64) {
	s := &w.slots[idx%int64(len(w.slots))]
	if s.idx != idx {
		*s = slot{idx: idx}
	}
	s.sum += v
	s.n++
}

// avg is the mean of the per-bucket averages over the n buckets ending at
// bucket now, as Knative's TimedFloat64Buckets.WindowAverage: buckets
// before the history (from) are not counted, so a young window averages
// only what it has seen; a bucket without samples counts as 0.
func (w *window) avg(now, n int64) float64 {
	n = min(n, now-w.from+1, int64(len(w.slots)))
	if n <= 0 {
		return 0
	}
	var total float64
	for i := now - n + 1; i <= now; i++ {
		if s := w.slots[i%int64(len(w.slots))]; s.idx == i && s.n > 0 {
			total += s.sum / float64(s.n)
		}
	}
	return total / float64(n)
}

// resized returns a window of size buckets holding the buckets of w that
// are among the last size ones up to bucket now. A larger window's history
// starts where w's did, not before.
func (w *window) resized(size, now int64) window {
	nw := newWindow(size)
	nw.from = max(w.from, now-int64(len(w.slots))+1)
	for _, s := range w.slots {
		if s.n > 0 && s.idx <= now && now-s.idx < int64(len(nw.slots)) {
			nw.slots[s.idx%int64(len(nw.slots))] = s
		}
	}
	return nw
}
