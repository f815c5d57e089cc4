package wasm

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-run/mote/internal/sandbox"
)

// What an autoscaler and a health tracker may ask of the runners.
var (
	_ sandbox.Scalable       = (*pooledRunner)(nil)
	_ sandbox.HealthReporter = (*pooledRunner)(nil)
	_ sandbox.Scalable       = (*wagiRunner)(nil)
	_ sandbox.HealthReporter = (*wagiRunner)(nil)
)

// InFlight counts the requests holding an instance or queued for one.
func (r *pooledRunner) InFlight() int { return r.slots.inFlight() }

// Ready counts the idle and busy instances (not those starting).
func (r *pooledRunner) Ready() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for inst := range r.live {
		if inst.state != stateStarting {
			n++
		}
	}
	return n
}

// SetDesired keeps n instances warm, clamped to [min, max]: the maintainer
// starts the missing ones in the background, and idle instances beyond n
// are stopped before SetDesired returns (busy ones are left alone; the
// reaper or the next SetDesired stops them once idle). n stays in force
// until the next call: the reaper does not stop instances below it.
func (r *pooledRunner) SetDesired(n int) {
	r.mu.Lock()
	r.desired = max(n, 0)
	r.mu.Unlock()
	r.stopIdle(r.floor, time.Time{})
	r.poke()
}

// SetScale changes [scale] min and max live. max of 0 or less is
// DefaultMaxInstances; min is clamped to [0, max]. Raising min or max
// starts instances in the background (up to floor()) and admits queued
// requests; lowering max stops idle instances beyond it at once and
// busy ones as they finish, and admits no request beyond it. Lowering min
// leaves the extra instances to the reaper (IdleTimeout).
func (r *pooledRunner) SetScale(minN, maxN int) {
	if maxN <= 0 {
		maxN = DefaultMaxInstances
	}
	minN = min(max(minN, 0), maxN)
	r.mu.Lock()
	r.min, r.max = minN, maxN
	r.mu.Unlock()
	r.slots.setLimit(maxN)
	r.stopIdle(func() int { return r.max }, time.Time{})
	r.poke()
}

// Health reports the streak of failed instance starts.
func (r *pooledRunner) Health() sandbox.Health { return r.health.get() }

// Requests counts the requests Serve has begun (admitted or not); it only
// grows. An autoscaler sees by it the requests that came and went between
// two InFlight samples (autoscale.RequestCounter).
func (r *pooledRunner) Requests() uint64 { return r.requests.Load() }

// InFlight counts the requests running or queued. Under WAGI each running
// request is its own instance.
func (r *wagiRunner) InFlight() int { return r.slots.inFlight() }

// Ready is always 0: WAGI keeps no warm instance, each request
// instantiates its own and the instance ends with the request.
func (r *wagiRunner) Ready() int { return 0 }

// SetDesired does nothing: there is nothing to keep warm under WAGI, whose
// instances live for one request. What an autoscaler can steer is
// SetScale's max, the bound on concurrent requests.
func (r *wagiRunner) SetDesired(int) {}

// SetScale changes the bound on concurrent requests (max; 0 or less is
// DefaultMaxInstances). min does not apply to WAGI and is ignored.
// Lowering max never stops a running request; it admits no new one beyond
// max until enough have finished.
func (r *wagiRunner) SetScale(_, maxN int) {
	if maxN <= 0 {
		maxN = DefaultMaxInstances
	}
	r.slots.setLimit(maxN)
}

// Health reports the streak of failed instantiations (before _start).
func (r *wagiRunner) Health() sandbox.Health { return r.health.get() }

// Requests counts the requests Serve has begun (admitted or not).
func (r *wagiRunner) Requests() uint64 { return r.requests.Load() }

// healthCounter counts consecutive failed starts. ok is on every request's
// path under WAGI, so it costs one atomic load when there is no streak.
type healthCounter struct {
	streak  atomic.Int64
	mu      sync.Mutex
	lastErr string
}

// failed records a failed start.
func (h *healthCounter) failed(err error) {
	h.mu.Lock()
	h.streak.Add(1)
	h.lastErr = err.Error()
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

// startFault fails instance starts on a test's demand (pooled: before
// _initialize; WAGI: after instantiating, before _start). The zero value
// fails none; the cost is one atomic load per start.
type startFault struct{ err atomic.Pointer[error] }

// get returns the error to fail a start with, or nil.
func (f *startFault) get() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// set makes every start fail with err from now on; nil ends that.
func (f *startFault) set(err error) {
	if err == nil {
		f.err.Store(nil)
		return
	}
	f.err.Store(&err)
}
