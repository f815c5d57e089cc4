package analytics

import (
	"sync"
	"sync/atomic"
)

// ringMinutes is how many minutes a series keeps at per-minute
// resolution. It is a little over an hour so that "--since 1h" is answered
// at minute resolution.
const ringMinutes = 64

// series is the traffic of one value of one dimension of a service (the
// app "shop", the version "3", the route "/items/{id}", the status class
// "2xx"): per-minute cells for the last ringMinutes minutes and per-hour
// cells, older, up to the retention.
//
// Record adds to the current minute's cell without a lock; only the first
// request of a minute takes mu, to replace the cell that is ringMinutes
// old, folding it into its hour.
type series struct {
	slots [ringMinutes]atomic.Pointer[cell]

	mu    sync.Mutex
	hours []*hourCell // ascending by hour; guarded by mu
	// retention is how many minutes hours are kept.
	retention int64
}

// cell is one minute of a series. Its counters are added to atomically;
// its requests are the sum of its buckets.
type cell struct {
	minute              int64 // Unix minutes
	errors, clientError atomic.Int64
	buckets             [nBuckets]atomic.Uint32
}

// addTo adds c's counts to the totals.
func (c *cell) addTo(requests, errors, clientErrors *int64, buckets *hist) {
	for i := range c.buckets {
		n := c.buckets[i].Load()
		buckets[i] += uint64(n)
		*requests += int64(n)
	}
	*errors += c.errors.Load()
	*clientErrors += c.clientError.Load()
}

// hourCell is one hour of a series, folded from its minutes.
type hourCell struct {
	hour                           int64 // Unix hours
	requests, errors, clientErrors int64
	buckets                        hist
}

// add counts one request in minute min. It reports whether it started the
// minute's cell.
func (s *series) add(min int64, class uint8, bucket int) (turned bool) {
	c := s.slots[slotOf(min)].Load()
	if c == nil || c.minute != min {
		c, turned = s.turn(min), true
	}
	switch class {
	case 4:
		c.clientError.Add(1)
	case 5:
		c.errors.Add(1)
	}
	c.buckets[bucket].Add(1)
	return turned
}

// turn returns minute min's cell, replacing (and folding into its hour)
// the older cell in its slot. If the slot already holds a later minute (the
// clock went back), that cell is returned.
func (s *series) turn(min int64) *cell {
	s.mu.Lock()
	defer s.mu.Unlock()
	slot := &s.slots[slotOf(min)]
	old := slot.Load()
	if old != nil && old.minute >= min {
		return old
	}
	if old != nil {
		// old is at least ringMinutes old: nothing adds to it any more.
		s.fold(old, min)
	}
	c := &cell{minute: min}
	slot.Store(c)
	return c
}

// fold adds a minute cell to its hour and drops hours older than the
// retention at minute now. s.mu is held.
func (s *series) fold(c *cell, now int64) {
	hour := floorDiv(c.minute, 60)
	var h *hourCell
	for i := len(s.hours) - 1; i >= 0; i-- {
		if s.hours[i].hour == hour {
			h = s.hours[i]
			break
		}
		if s.hours[i].hour < hour {
			break
		}
	}
	if h == nil {
		h = &hourCell{hour: hour}
		s.hours = append(s.hours, h)
		for i := len(s.hours) - 1; i > 0 && s.hours[i-1].hour > hour; i-- {
			s.hours[i-1], s.hours[i] = s.hours[i], s.hours[i-1]
		}
	}
	c.addTo(&h.requests, &h.errors, &h.clientErrors, &h.buckets)
	s.prune(now)
}

// prune drops the hours older than the retention at minute now: an hour
// goes once all of it is. s.mu is held.
func (s *series) prune(now int64) {
	drop := 0
	for drop < len(s.hours) && (s.hours[drop].hour+1)*60 <= now-s.retention {
		drop++
	}
	if drop > 0 {
		s.hours = append(s.hours[:0], s.hours[drop:]...)
	}
}

// sweep folds the cells that have left the ring (minutes at least
// ringMinutes before now) into their hours and drops old hours, so that a
// series without traffic gives its memory back.
func (s *series) sweep(now int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.slots {
		if c := s.slots[i].Load(); c != nil && c.minute <= now-ringMinutes {
			s.fold(c, now)
			s.slots[i].Store(nil)
		}
	}
	s.prune(now)
}

// total is what a query sums: requests and a merged histogram.
type total struct {
	requests, errors, clientErrors int64
	buckets                        hist
}

// sumInto adds the minutes in [from, to] to t, and the hours that start
// at or after minute from (from is then hour-aligned, or later than every
// folded minute).
func (s *series) sumInto(t *total, from, to int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.slots {
		c := s.slots[i].Load()
		if c == nil || c.minute < from || c.minute > to {
			continue
		}
		c.addTo(&t.requests, &t.errors, &t.clientErrors, &t.buckets)
	}
	for _, h := range s.hours {
		if h.hour*60 < from || h.hour*60 > to {
			continue
		}
		t.requests += h.requests
		t.errors += h.errors
		t.clientErrors += h.clientErrors
		for b := range h.buckets {
			t.buckets[b] += h.buckets[b]
		}
	}
}

// floorDiv is a/b rounded towards minus infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// slotOf is minute min's slot in a series' ring.
func slotOf(min int64) int64 {
	return min - floorDiv(min, ringMinutes)*ringMinutes
}
