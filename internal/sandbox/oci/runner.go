package oci

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
)

// Instance phases. An instance is in r.insts until it is stopping.
type phase int

const (
	phaseStarting   phase = iota // its process is starting (first start or after a restart's backoff)
	phaseReady                   // its process accepts connections
	phaseRestarting              // its process exited or failed to start; waiting out the backoff
	phaseStopping                // being stopped for good; no longer listed
)

// Instance states, as Instances reports them.
const (
	stateStarting   = "starting"
	stateIdle       = "idle"
	stateBusy       = "busy"
	stateRestarting = "restarting"
)

// runner serves one version with containers.
//
// Admission: an instance takes up to Concurrency requests (its load, which
// counts the requests waiting for it to start too). A request goes to the
// least-loaded ready instance with room, else to a starting one with room,
// else starts a new one while fewer than max are live, else waits in the
// queue (FIFO, at most maxQueue) until a request ends or an instance
// starts. Every instance has a supervisor goroutine that starts its
// process, restarts it after a crash and stops it.
//
// Warm instances: the maintainer keeps floor() = max(min, desired)
// instances live; instances idle for IdleTimeout beyond it are stopped;
// SetDesired stops idle ones beyond its n at once.
type runner struct {
	d    *Driver
	spec sandbox.Spec      // defaults applied
	c    sandbox.Container // defaults applied, Rootfs absolute
	addr string            // 127.0.0.1:Port

	mu       sync.Mutex
	insts    []*instance // live (not stopping), in creation order
	queue    []*waiter
	admitted int // requests assigned to an instance
	seq      uint64
	closed   bool
	min, max int // [scale] bounds, changed by SetScale
	desired  int // what SetDesired asked for, unclamped
	maxQueue int
	drained  chan struct{} // closed when closed and nothing is in flight

	health   healthCounter
	requests atomic.Uint64 // Serve calls so far

	kick      chan struct{}   // asks the maintainer to top up to floor()
	stop      context.Context // done when Close starts
	stopNow   context.CancelFunc
	hurry     chan struct{} // closed when Close's ctx is done: stops skip the grace
	hurryOnce sync.Once
	wg        sync.WaitGroup // the maintainer, supervisors and log pumps
}

// instance is one container. Its supervisor owns its process; fields below
// mu are guarded by the runner's mu.
type instance struct {
	seq      uint64
	id       string        // the runc container id
	bundle   string        // its bundle dir
	stopping chan struct{} // closed, once, when it is to stop for good

	// Guarded by the runner's mu.
	phase    phase
	load     int // requests assigned: running, or waiting for the start
	requests uint64
	restarts int
	started  time.Time // when the current process was started
	lastUsed time.Time
	proc     *process // the running process, when phaseReady
	attempt  *attempt // the current (or last) start
}

// attempt is one start of an instance's process; done is closed when it
// ended, and proc and err are set before.
type attempt struct {
	done chan struct{}
	proc *process
	err  error
}

// waiter is a queued request; ready is closed when it was given an
// instance (inst), or nil when the runner closed under it.
type waiter struct {
	ready chan struct{}
	inst  *instance
}

func newRunner(d *Driver, spec sandbox.Spec) *runner {
	if spec.Timeout <= 0 {
		spec.Timeout = DefaultTimeout
	}
	if spec.MaxOutput <= 0 {
		spec.MaxOutput = DefaultMaxOutput
	}
	if spec.MaxInstances <= 0 {
		spec.MaxInstances = DefaultMaxInstances
	}
	if spec.MaxQueue <= 0 {
		spec.MaxQueue = DefaultMaxQueue
	}
	if spec.IdleTimeout <= 0 {
		spec.IdleTimeout = DefaultIdleTimeout
	}
	if spec.Logs == nil {
		spec.Logs = sandbox.LogFunc(func(api.LogEntry) {})
	}
	spec.MinInstances = min(max(spec.MinInstances, 0), spec.MaxInstances)
	c := withDefaults(*spec.Container)
	if abs, err := filepath.Abs(c.Rootfs); err == nil {
		c.Rootfs = abs
	}
	spec.Container = &c
	r := &runner{
		d:        d,
		spec:     spec,
		c:        c,
		addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)),
		min:      spec.MinInstances,
		max:      spec.MaxInstances,
		maxQueue: spec.MaxQueue,
		kick:     make(chan struct{}, 1),
		hurry:    make(chan struct{}),
	}
	r.stop, r.stopNow = context.WithCancel(context.Background())
	r.wg.Add(1)
	go r.maintainer()
	return r
}

// Serve forwards req to an instance and returns its response.
//
// A request that finds no instance with room starts one (a cold start)
// and waits for it; past MaxInstances it waits in the queue, up to the
// Spec's Timeout (then ErrNoCapacity). The request itself is bounded by
// Timeout (ErrTimeout).
func (r *runner) Serve(ctx context.Context, req *sandbox.Request) (*sandbox.Response, error) {
	r.requests.Add(1)
	inst, err := r.admit(ctx)
	if err != nil {
		return nil, err
	}
	served := false
	defer func() { r.release(inst, served) }()
	p, err := r.await(ctx, inst)
	if err != nil {
		return nil, err
	}
	resp, err := r.forward(ctx, p, req)
	served = err == nil
	return resp, err
}

// admit assigns the request an instance: one with room, a new one, or the
// one the queue gives it. It fails with ErrClosed after Close, with
// ErrNoCapacity when the queue is full or the wait ran out, and with ctx's
// error when ctx is done first.
func (r *runner) admit(ctx context.Context) (*instance, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, sandbox.ErrClosed
	}
	if len(r.queue) == 0 {
		if inst := r.assignLocked(); inst != nil {
			r.mu.Unlock()
			return inst, nil
		}
	}
	if len(r.queue) >= r.maxQueue {
		n, q := len(r.insts), len(r.queue)
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: all %d instances are busy (%d requests each) and %d requests are waiting",
			sandbox.ErrNoCapacity, n, r.c.Concurrency, q)
	}
	w := &waiter{ready: make(chan struct{})}
	r.queue = append(r.queue, w)
	r.mu.Unlock()

	t := time.NewTimer(r.spec.Timeout)
	defer t.Stop()
	var err error
	select {
	case <-w.ready:
		if w.inst == nil {
			return nil, sandbox.ErrClosed
		}
		return w.inst, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = fmt.Errorf("%w: no instance had room within %s", sandbox.ErrNoCapacity, r.spec.Timeout)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if w.inst != nil {
		if ctx.Err() == nil {
			return w.inst, nil // given one as the wait ran out: use it
		}
		w.inst.load--
		r.admitted--
		r.grantLocked()
	} else if i := slices.Index(r.queue, w); i >= 0 {
		r.queue = slices.Delete(r.queue, i, i+1)
	}
	r.checkDrainedLocked()
	return nil, err
}

// assignLocked picks an instance for one request and counts the request
// in its load: the least-loaded ready instance with room, else the
// least-loaded starting one with room, else a new one if fewer than max
// are live and the runner is open. It returns nil when none can be had.
// r.mu must be held.
func (r *runner) assignLocked() *instance {
	var best *instance
	for _, inst := range r.insts {
		if inst.load >= r.c.Concurrency || (inst.phase != phaseReady && inst.phase != phaseStarting) {
			continue
		}
		if inst.phase == phaseReady && inst.proc != nil && inst.proc.hasExited() {
			continue // its supervisor has not seen the exit yet
		}
		if best == nil || (inst.phase == phaseReady && best.phase != phaseReady) ||
			(inst.phase == best.phase && inst.load < best.load) {
			best = inst
		}
	}
	if best == nil {
		if r.closed || len(r.insts) >= r.max {
			return nil
		}
		best = r.newInstanceLocked()
	}
	best.load++
	r.admitted++
	return best
}

// grantLocked gives instances to queued requests, oldest first, while
// there are instances with room or room for new ones. r.mu must be held.
func (r *runner) grantLocked() {
	for len(r.queue) > 0 {
		inst := r.assignLocked()
		if inst == nil {
			return
		}
		w := r.queue[0]
		r.queue[0] = nil
		r.queue = r.queue[1:]
		w.inst = inst
		close(w.ready)
	}
}

// await returns inst's running process, waiting for it to start when it is
// starting (a cold start: OnWaitForInstance and OnColdStart are called).
func (r *runner) await(ctx context.Context, inst *instance) (*process, error) {
	r.mu.Lock()
	switch inst.phase {
	case phaseReady:
		p := inst.proc
		r.mu.Unlock()
		return p, nil
	case phaseStarting:
	default:
		r.mu.Unlock()
		return nil, &sandbox.GuestError{Kind: "exit", Detail: "the instance's process exited before the request reached it"}
	}
	a := inst.attempt
	r.mu.Unlock()
	if r.spec.OnWaitForInstance != nil {
		r.spec.OnWaitForInstance()
	}
	began := time.Now()
	select {
	case <-a.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if a.err != nil {
		return nil, a.err
	}
	if r.spec.OnColdStart != nil {
		r.spec.OnColdStart(time.Since(began))
	}
	return a.proc, nil
}

// release ends a request's hold on inst. An instance left idle while more
// than max are live (SetScale lowered it) is stopped.
func (r *runner) release(inst *instance, served bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	inst.load--
	r.admitted--
	if served {
		inst.requests++
	}
	inst.lastUsed = time.Now()
	if inst.load == 0 && inst.phase != phaseStopping && len(r.insts) > r.max {
		r.stopLocked(inst)
	}
	r.grantLocked()
	r.checkDrainedLocked()
}

// newInstanceLocked adds a starting instance and its supervisor. r.mu
// must be held.
func (r *runner) newInstanceLocked() *instance {
	r.seq++
	id := r.d.containerID(r.spec.Service, r.spec.Version, r.seq)
	now := time.Now()
	inst := &instance{
		seq:      r.seq,
		id:       id,
		bundle:   filepath.Join(r.d.bundles, id),
		stopping: make(chan struct{}),
		phase:    phaseStarting,
		started:  now,
		lastUsed: now,
		attempt:  &attempt{done: make(chan struct{})},
	}
	r.insts = append(r.insts, inst)
	r.wg.Add(1)
	go r.supervise(inst)
	return inst
}

// stopLocked takes inst out of service for good; its supervisor stops its
// process. r.mu must be held.
func (r *runner) stopLocked(inst *instance) {
	if inst.phase == phaseStopping {
		return
	}
	inst.phase = phaseStopping
	if i := slices.Index(r.insts, inst); i >= 0 {
		r.insts = slices.Delete(r.insts, i, i+1)
	}
	close(inst.stopping)
}

// floor is how many instances the runner keeps warm: min, or what
// SetDesired asked for, clamped to [min, max]. r.mu must be held.
func (r *runner) floor() int {
	return min(max(r.desired, r.min), r.max)
}

// wantedLocked reports whether inst, whose process just exited or failed
// to start, should be started again: the runner is open and without it
// fewer than floor() would be live, or requests are queued. r.mu must be
// held.
func (r *runner) wantedLocked() bool {
	return !r.closed && (len(r.insts) <= r.floor() || len(r.queue) > 0)
}

// poke asks the maintainer to top the instances up to floor().
func (r *runner) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// maintainer keeps floor() instances live and stops instances idle for
// longer than IdleTimeout beyond it, until Close.
func (r *runner) maintainer() {
	defer r.wg.Done()
	every := min(max(r.spec.IdleTimeout/4, 5*time.Millisecond), 30*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		r.fill()
		select {
		case <-r.stop.Done():
			return
		case <-r.kick:
		case <-t.C:
			r.stopIdle(r.floor, time.Now().Add(-r.spec.IdleTimeout))
		}
	}
}

// fill adds instances until floor() are live. They start in the
// background; one that fails to start is retried by its supervisor with a
// backoff.
func (r *runner) fill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for !r.closed && len(r.insts) < r.floor() {
		r.newInstanceLocked()
	}
}

// stopIdle stops instances without requests (idle, restarting, or
// starting for no request), least recently used first, while more than
// keep() are live and the next one was last used before cutoff (a zero
// cutoff: whenever). Instances beyond max are stopped whatever their last
// use.
func (r *runner) stopIdle(keep func() int, cutoff time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var idle []*instance
	for _, inst := range r.insts {
		if inst.load == 0 {
			idle = append(idle, inst)
		}
	}
	slices.SortStableFunc(idle, func(a, b *instance) int { return a.lastUsed.Compare(b.lastUsed) })
	for _, inst := range idle {
		beyondMax := len(r.insts) > r.max
		old := cutoff.IsZero() || inst.lastUsed.Before(cutoff)
		if !beyondMax && (len(r.insts) <= keep() || !old) {
			break
		}
		r.stopLocked(inst)
	}
}

// checkDrainedLocked wakes Close when nothing is left in flight. r.mu
// must be held.
func (r *runner) checkDrainedLocked() {
	if r.drained != nil && r.admitted+len(r.queue) == 0 {
		close(r.drained)
		r.drained = nil
	}
}

// Instances lists the live instances: starting, idle, busy or restarting.
// An instance's ID is service.version.seq; Started is when its current
// process started.
func (r *runner) Instances() []api.Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]api.Instance, 0, len(r.insts))
	prefix := r.spec.Service + "." + strconv.Itoa(r.spec.Version) + "."
	for _, inst := range r.insts {
		state := stateStarting
		switch {
		case inst.phase == phaseRestarting:
			state = stateRestarting
		case inst.phase == phaseReady && inst.load > 0:
			state = stateBusy
		case inst.phase == phaseReady:
			state = stateIdle
		}
		out = append(out, api.Instance{
			ID: prefix + strconv.FormatUint(inst.seq, 10), Service: r.spec.Service, Version: r.spec.Version,
			State: state, Started: inst.started, Restarts: inst.restarts, Requests: inst.requests,
		})
	}
	return out
}

// Close stops admitting requests and background starts, waits for the
// requests in flight and queued until ctx is done, then stops every
// instance (SIGTERM, then SIGKILL after the grace, or at once once ctx is
// done) and waits for them to be gone: no container, bundle or cgroup of
// the runner is left when it returns.
func (r *runner) Close(ctx context.Context) error {
	r.mu.Lock()
	already := r.closed
	r.closed = true
	var done chan struct{}
	if r.admitted+len(r.queue) > 0 {
		if r.drained == nil {
			r.drained = make(chan struct{})
		}
		done = r.drained
	}
	r.mu.Unlock()
	r.stopNow()
	var err error
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			err = fmt.Errorf("oci: close with requests in flight: %w", ctx.Err())
		}
	}
	stopHurry := context.AfterFunc(ctx, func() { r.hurryOnce.Do(func() { close(r.hurry) }) })
	defer stopHurry()
	r.mu.Lock()
	for len(r.insts) > 0 {
		r.stopLocked(r.insts[0])
	}
	for _, w := range r.queue {
		close(w.ready) // with no instance: ErrClosed
	}
	r.queue = nil
	r.mu.Unlock()
	r.wg.Wait()
	if !already {
		r.d.forget(r)
	}
	return err
}
