package analytics

import "sync/atomic"

// handles maps label combinations to their handles. Reads take no lock: a
// lookup is one plain map access on an immutable map. New entries go to a
// pending map (under Analytics.mu) and are published in a new immutable
// map once they have been looked up there about as often as the published
// map is large, so publishing costs O(1) per miss, amortized (the scheme of
// the original sync.Map, with a typed key so it hashes without reflection).
type handles struct {
	read    atomic.Pointer[map[handleKey]*handle]
	pending map[handleKey]*handle // guarded by Analytics.mu
	misses  int                   // guarded by Analytics.mu
}

// load returns k's handle if it is published.
func (m *handles) load(k handleKey) *handle {
	if r := m.read.Load(); r != nil {
		return (*r)[k]
	}
	return nil
}

// loadLocked returns k's handle, published or pending, and publishes the
// pending ones if they have missed often enough. Analytics.mu is held.
func (m *handles) loadLocked(k handleKey) *handle {
	if h := m.load(k); h != nil {
		return h
	}
	h := m.pending[k]
	if h != nil {
		m.misses++
		if r := m.read.Load(); r == nil || m.misses >= len(*r)/4 {
			m.publish(nil)
		}
	}
	return h
}

// store adds k's handle as pending. Analytics.mu is held.
func (m *handles) store(k handleKey, h *handle) {
	if m.pending == nil {
		m.pending = map[handleKey]*handle{}
	}
	m.pending[k] = h
}

// publish makes the pending handles visible to load, leaving out those
// drop (if not nil) matches. Analytics.mu is held.
func (m *handles) publish(drop func(handleKey, *handle) bool) {
	next := map[handleKey]*handle{}
	if r := m.read.Load(); r != nil {
		for k, h := range *r {
			if drop == nil || !drop(k, h) {
				next[k] = h
			}
		}
	}
	for k, h := range m.pending {
		if drop == nil || !drop(k, h) {
			next[k] = h
		}
	}
	m.pending, m.misses = nil, 0
	m.read.Store(&next)
}
