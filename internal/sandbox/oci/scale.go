package oci

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-run/mote/internal/sandbox"
)

// What an autoscaler and a health tracker may ask of a runner.
var (
	_ sandbox.Scalable       = (*runner)(nil)
	_ sandbox.HealthReporter = (*runner)(nil)
)

// InFlight counts the requests assigned to an instance (running, or
// waiting for it to start) or queued for one.
func (r *runner) InFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.admitted + len(r.queue)
}

// Ready counts the instances whose process accepts connections (idle and
// busy ones; not those starting or restarting).
func (r *runner) Ready() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, inst := range r.insts {
		if inst.phase == phaseReady {
			n++
		}
	}
	return n
}

// SetDesired keeps n instances warm, clamped to [min, max]: the maintainer
// starts the missing ones in the background, and instances without
// requests beyond n are stopped at once (their containers go in the
// background, after SIGTERM and up to the grace). n stays in force until
// the next call: the idle reaper does not stop instances below it.
func (r *runner) SetDesired(n int) {
	r.mu.Lock()
	r.desired = max(n, 0)
	r.mu.Unlock()
	r.stopIdle(r.floor, time.Time{})
	r.poke()
}

// SetScale changes [scale] min and max live. max of 0 or less is
// DefaultMaxInstances; min is clamped to [0, max]. Raising min or max
// starts instances in the background (up to floor()) and admits queued
// requests; lowering max stops instances without requests beyond it at
// once and busy ones as they finish. Lowering min leaves the extra
// instances to the idle reaper (IdleTimeout).
func (r *runner) SetScale(minN, maxN int) {
	if maxN <= 0 {
		maxN = DefaultMaxInstances
	}
	minN = min(max(minN, 0), maxN)
	r.mu.Lock()
	r.min, r.max = minN, maxN
	r.grantLocked()
	r.mu.Unlock()
	r.stopIdle(func() int { return maxN }, time.Time{})
	r.poke()
}

// Health reports the streak of failed instance starts.
func (r *runner) Health() sandbox.Health { return r.health.get() }

// Requests counts the requests Serve has begun (admitted or not); it only
// grows (autoscale.RequestCounter).
func (r *runner) Requests() uint64 { return r.requests.Load() }

// healthCounter counts consecutive failed starts.
type healthCounter struct {
	mu      sync.Mutex
	streak  atomic.Int64
	lastErr string
}

// failed records a failed start.
func (h *healthCounter) failed(err error) {
	h.mu.Lock()
	h.streak.Add(1)
	h.lastErr = errorDetail(err)
	h.mu.Unlock()
}

// ok records a successful start, ending any streak.
func (h *healthCounter) ok() {
	if h.streak.Load() == 0 {
		return
	}
	h.mu.Lock()
	h.streak.Store(0)
	h.lastErr = ""
	h.mu.Unlock()
}

func (h *healthCounter) get() sandbox.Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	return sandbox.Health{ConsecutiveStartFailures: int(h.streak.Load()), LastError: h.lastErr}
}
