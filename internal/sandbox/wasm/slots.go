package wasm

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mote-run/mote/internal/sandbox"
)

// slots bounds the requests a runner serves at once (one instance each)
// and the queue of requests waiting for a slot. Waiters are served first
// come, first served. The limit may change while requests run: holders
// beyond a lowered limit keep their slot, and no one is admitted until the
// holders are back under it.
//
// Background starts of pooled instances hold a slot too (tryAcquire), so
// the live instances never outnumber the limit, but they do not count as
// requests and never pass a queued request.
type slots struct {
	mu       sync.Mutex
	limit    int
	used     int // held, by requests and background starts
	running  int // held by requests
	queue    []*waiter
	maxQueue int
	// queuePerSlot, when positive, makes maxQueue follow the limit (the
	// Spec left MaxQueue to the driver's default).
	queuePerSlot int
	closed       bool
	drained      chan struct{} // closed when closed and nothing is in flight
}

// waiter is a queued request; ready is closed when it is granted a slot.
type waiter struct {
	ready   chan struct{}
	granted bool // guarded by slots.mu
}

// newSlots returns slots for max concurrent requests and queue waiters; a
// queue of 0 or less is queuePerSlot times max, and follows the limit.
func newSlots(max, queue int) *slots {
	s := &slots{limit: max, maxQueue: queue}
	if queue <= 0 {
		s.queuePerSlot = queuePerSlot
		s.maxQueue = queuePerSlot * max
	}
	return s
}

// queuePerSlot is how many requests may wait per slot when a Spec leaves
// MaxQueue to the default.
const queuePerSlot = 10

// acquire admits a request: it takes a free slot, or waits in the queue up
// to wait for one. It fails with ErrClosed after close, with ErrNoCapacity
// when the queue is full or the wait ran out, and with ctx's error when
// ctx is done first.
func (s *slots) acquire(ctx context.Context, wait time.Duration) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return sandbox.ErrClosed
	}
	if s.used < s.limit && len(s.queue) == 0 {
		s.used++
		s.running++
		s.mu.Unlock()
		return nil
	}
	if len(s.queue) >= s.maxQueue {
		limit, queued := s.limit, len(s.queue)
		s.mu.Unlock()
		return fmt.Errorf("%w: all %d instances are busy and %d requests are waiting", sandbox.ErrNoCapacity, limit, queued)
	}
	w := &waiter{ready: make(chan struct{})}
	s.queue = append(s.queue, w)
	s.mu.Unlock()

	t := time.NewTimer(wait)
	defer t.Stop()
	var err error
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = fmt.Errorf("%w: no instance became free within %s", sandbox.ErrNoCapacity, wait)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.granted {
		if ctx.Err() == nil {
			return nil // granted as the wait ran out: use it
		}
		s.used--
		s.running--
		s.grant()
	} else if i := slices.Index(s.queue, w); i >= 0 {
		s.queue = slices.Delete(s.queue, i, i+1)
	}
	s.checkDrained()
	return err
}

// release gives back a request's slot.
func (s *slots) release() {
	s.mu.Lock()
	s.used--
	s.running--
	s.grant()
	s.checkDrained()
	s.mu.Unlock()
}

// tryAcquire takes a slot for a background start if one is free and no
// request is waiting; it reports whether it did.
func (s *slots) tryAcquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.used >= s.limit || len(s.queue) > 0 {
		return false
	}
	s.used++
	return true
}

// releaseBackground gives back a slot taken with tryAcquire.
func (s *slots) releaseBackground() {
	s.mu.Lock()
	s.used--
	s.grant()
	s.mu.Unlock()
}

// setLimit changes the number of slots. Raising it admits waiters at once;
// lowering it takes effect as holders release.
func (s *slots) setLimit(limit int) {
	s.mu.Lock()
	s.limit = limit
	if s.queuePerSlot > 0 {
		s.maxQueue = s.queuePerSlot * limit
	}
	s.grant()
	s.mu.Unlock()
}

// getLimit returns the number of slots.
func (s *slots) getLimit() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limit
}

// inFlight counts the requests holding a slot or waiting for one.
func (s *slots) inFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running + len(s.queue)
}

// grant hands free slots to waiters, oldest first. s.mu must be held.
func (s *slots) grant() {
	for s.used < s.limit && len(s.queue) > 0 {
		w := s.queue[0]
		s.queue = slices.Delete(s.queue, 0, 1)
		w.granted = true
		s.used++
		s.running++
		close(w.ready)
	}
}

// checkDrained wakes close when nothing is left in flight. s.mu must be
// held.
func (s *slots) checkDrained() {
	if s.drained != nil && s.running+len(s.queue) == 0 {
		close(s.drained)
		s.drained = nil
	}
}

// close refuses new requests and waits for admitted and queued ones until
// ctx is done.
func (s *slots) close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	if s.running+len(s.queue) == 0 {
		s.mu.Unlock()
		return nil
	}
	if s.drained == nil {
		s.drained = make(chan struct{})
	}
	done := s.drained
	s.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wasm: close with requests in flight: %w", ctx.Err())
	}
}
