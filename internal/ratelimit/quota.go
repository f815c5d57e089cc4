package ratelimit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// QuotaStore persists quota counters; the node's store implements it.
// Counter names are "<key>.<window id>", e.g. "0123456789ab.2026-11".
// Both methods must be safe for concurrent use. A QuotaStore that also
// implements QuotaEntries is used through that instead, in the batched
// format (see the package doc), and these two methods are not called.
type QuotaStore interface {
	// LoadQuota returns the counter's total, 0 when it does not exist.
	LoadQuota(ctx context.Context, counter string) (int64, error)
	// AddQuota adds delta (>= 0) to the counter, creating it at 0 if
	// absent, and returns the new total, which includes every node's
	// flushed usage.
	AddQuota(ctx context.Context, counter string, delta int64) (int64, error)
}

// QuotaOptions configures Quotas. The zero value is valid.
type QuotaOptions struct {
	// FlushInterval is how often Run pushes local usage to the store and
	// learns the cluster-wide totals. It bounds how far other nodes can
	// overrun a quota. Default 1s.
	FlushInterval time.Duration
	// LoadTimeout bounds the store read on a counter's first use in a
	// window; requests wait for it. Default 2s.
	LoadTimeout time.Duration
	// FailClosed denies requests whose counter cannot be loaded from the
	// store (the Decision carries Err; answer 503). The default, fail open,
	// serves them, logs, counts locally from zero and reconciles with the
	// store's total at the next successful flush. Flush failures never deny:
	// the unflushed usage is kept, still enforced locally, and retried.
	FailClosed bool
	// Logger receives store failures. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock Run uses to drop idle counters. Default time.Now.
	Now func() time.Time
}

// flushWorkers is how many counters (or, batched, entries) Flush pushes to
// the store at once.
const flushWorkers = 8

// Quotas enforces calendar quotas, one counter per key and window. Create it
// with NewQuotas and run Run for as long as it is used; it is safe for
// concurrent use.
//
// A counter is loaded from the store on its first use in a window (requests
// arriving meanwhile wait for that one load) and then counted in memory with
// atomics; Run flushes the local usage with AddQuota and adopts the total it
// returns. Counters not used for idleAfter with nothing to flush, and those
// of ended windows, are dropped after a flush, so memory holds only keys in
// recent use.
type Quotas struct {
	store    QuotaStore
	entries  QuotaEntries // store's, when it has them: the batched format
	maxEntry int          // maxEntryBytes; tests lower it
	opts     QuotaOptions
	log      *slog.Logger
	seed     maphash.Seed

	flushMu sync.Mutex // one flush at a time
	shards  [shardCount]quotaShard
	windows [2]atomic.Pointer[window] // the latest day and month windows
}

type quotaShard struct {
	mu       sync.RWMutex
	counters map[string]*counter
	_        [32]byte
}

// counter is one key's usage in one window.
//
// used is what admission compares with the quota: the store's total at the
// last load or flush plus the local usage since (pending). Flush swaps
// pending to zero, adds it to the store and moves used by however much the
// store's total differs from what was assumed, so used never drops below
// what this node has admitted.
type counter struct {
	name string
	end  time.Time // the window's end

	// In the batched format: the entry that holds the counter and its
	// name there, and the total of the counter's own entry (the format
	// before batching), which it takes into the batched entry at its first
	// flush, when known (from the load). flushMu guards own and ownKnown
	// once the counter is ready.
	entry, member string
	own           int64
	ownKnown      bool

	ready   chan struct{} // closed when the load is done
	loadErr error         // set before ready closes; the counter is out of the map then

	used    atomic.Int64
	pending atomic.Int64
	lastUse atomic.Int64 // UnixNano of the latest Use
	base    int64        // store total that used is built on; flushMu guards it
	stale   atomic.Bool  // the load failed open: refresh on the next flush
}

// NewQuotas returns Quotas counting in store.
func NewQuotas(store QuotaStore, opts QuotaOptions) *Quotas {
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Second
	}
	if opts.LoadTimeout <= 0 {
		opts.LoadTimeout = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	q := &Quotas{store: store, opts: opts, log: log, seed: maphash.MakeSeed()}
	q.entries, _ = store.(QuotaEntries)
	q.maxEntry = maxEntryBytes
	for i := range q.shards {
		q.shards[i].counters = make(map[string]*counter)
	}
	return q
}

// idleAfter is how long an idle counter with nothing to flush is kept;
// using it again costs one store read.
func (q *Quotas) idleAfter() time.Duration {
	return max(time.Minute, 10*q.opts.FlushInterval)
}

// Use counts one request by key against quota at time now and reports the
// verdict. A denied request is not counted. A zero Quota (N <= 0) limits
// nothing: the request is allowed and the Decision has Limit 0.
//
// The first Use of a key in a window waits for the counter's load from the
// store (or for ctx); if the load fails the request is served (Err set) or,
// with FailClosed, denied (Err set). If ctx ends while waiting, the request
// is denied with Err set to the context's error.
func (q *Quotas) Use(ctx context.Context, key string, quota Quota, now time.Time) Decision {
	if quota.N <= 0 {
		return Decision{Allowed: true, Policy: PolicyQuota}
	}
	w := q.window(quota.Period, now)
	var buf [64]byte
	name := append(append(append(buf[:0], key...), '.'), w.id...)
	end := w.end
	d := Decision{
		Policy: PolicyQuota,
		Limit:  quota.N,
		Window: w.length,
		Reset:  end.Sub(now),
	}
	s := &q.shards[maphash.Bytes(q.seed, name)&(shardCount-1)]
	for {
		// Admission happens under the read lock so that dropIdle, which
		// takes the write lock, never drops a counter mid-increment.
		s.mu.RLock()
		c := s.counters[string(name)]
		if c != nil && isReady(c) {
			q.admit(c, &d, now)
			s.mu.RUnlock()
			return d
		}
		s.mu.RUnlock()
		if err := q.await(ctx, s, string(name), end); err != nil {
			d.Err = err
			d.RetryAfter = min(time.Second, d.Reset)
			return d
		}
	}
}

// window is one calendar window, as Quota.span computes it.
type window struct {
	id         string
	start, end time.Time
	length     time.Duration
}

// window returns the window of period containing now. The latest window
// of each period is kept, so that a request does not redo the calendar
// arithmetic: windows change once a day or month.
func (q *Quotas) window(p Period, now time.Time) *window {
	slot := &q.windows[0]
	if p == Month {
		slot = &q.windows[1]
	}
	if w := slot.Load(); w != nil && !now.Before(w.start) && now.Before(w.end) {
		return w
	}
	id, start, end := Quota{Period: p}.span(nil, now)
	w := &window{id: string(id), start: start, end: end, length: end.Sub(start)}
	slot.Store(w)
	return w
}

// admit counts one request on c if quota allows, filling in d.
func (q *Quotas) admit(c *counter, d *Decision, now time.Time) {
	if c.stale.Load() {
		d.Err = errLoadedOpen
	}
	// lastUse only needs to be as fine as idleAfter; storing it at most
	// once a second keeps a busy counter's cache line read-mostly.
	if t := now.UnixNano(); t-c.lastUse.Load() >= int64(time.Second) {
		c.lastUse.Store(t)
	}
	for {
		used := c.used.Load()
		if used >= d.Limit {
			d.Remaining = 0
			d.RetryAfter = d.Reset
			return
		}
		if c.used.CompareAndSwap(used, used+1) {
			c.pending.Add(1)
			d.Allowed = true
			d.Remaining = d.Limit - used - 1
			return
		}
	}
}

// await makes sure name's counter exists and is loaded: it creates and
// loads it, or waits for the load already in progress. It returns the load
// error when the load failed closed, or ctx's error if ctx ends first.
func (q *Quotas) await(ctx context.Context, s *quotaShard, name string, end time.Time) error {
	s.mu.Lock()
	c := s.counters[name]
	if c == nil {
		c = &counter{name: name, end: end, ready: make(chan struct{})}
		if q.entries != nil {
			c.entry, c.member = entryOf(name)
		}
		s.counters[name] = c
		s.mu.Unlock()
		q.load(ctx, s, c)
	} else {
		s.mu.Unlock()
	}
	select {
	case <-c.ready:
		return c.loadErr
	case <-ctx.Done():
		return fmt.Errorf("quota %s: waiting for the store: %w", name, ctx.Err())
	}
}

// errLoadedOpen marks decisions made on a counter whose load failed open.
// It is unexported: callers only need Decision.Err != nil.
var errLoadedOpen = errors.New("quota: store unavailable, counting locally")

// load reads c from the store and closes c.ready. On failure it either
// leaves c in place counting from zero (fail open) or removes it so the next
// use tries again (fail closed).
func (q *Quotas) load(ctx context.Context, s *quotaShard, c *counter) {
	// The load is shared by every request waiting for c, so one request's
	// cancellation must not fail the others.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), q.opts.LoadTimeout)
	var (
		total int64
		err   error
	)
	if q.entries != nil {
		total, err = q.loadBatched(lctx, c)
	} else {
		total, err = q.store.LoadQuota(lctx, c.name)
	}
	cancel()
	if err == nil {
		c.base = total
		c.used.Store(total)
		close(c.ready)
		return
	}
	err = fmt.Errorf("quota %s: load: %w", c.name, err)
	if q.opts.FailClosed {
		q.log.Error("quota store unavailable; denying", "counter", c.name, "err", err)
		s.mu.Lock()
		delete(s.counters, c.name)
		s.mu.Unlock()
		c.loadErr = err
	} else {
		q.log.Warn("quota store unavailable; serving and counting locally", "counter", c.name, "err", err)
		c.stale.Store(true)
	}
	close(c.ready)
}

// Run flushes local usage to the store every FlushInterval until ctx ends,
// then flushes once more (bounded by LoadTimeout) and returns that flush's
// error. Flush errors before the end are logged, and the usage is retried.
func (q *Quotas) Run(ctx context.Context) error {
	t := time.NewTicker(q.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := q.Flush(ctx); err != nil && ctx.Err() == nil {
				q.log.Warn("quota flush failed; will retry", "err", err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), q.opts.LoadTimeout)
			defer cancel()
			return q.Flush(fctx)
		}
	}
}

// Flush pushes every counter's unflushed usage to the store now, adopts the
// totals the store returns, and drops idle counters. It returns the store
// errors joined; a counter that failed keeps its usage for the next flush.
func (q *Quotas) Flush(ctx context.Context) error {
	q.flushMu.Lock()
	defer q.flushMu.Unlock()

	var todo []*counter
	for i := range q.shards {
		s := &q.shards[i]
		s.mu.RLock()
		for _, c := range s.counters {
			if isReady(c) && (c.pending.Load() != 0 || c.stale.Load()) {
				todo = append(todo, c)
			}
		}
		s.mu.RUnlock()
	}
	if q.entries != nil {
		errs := q.flushBatched(ctx, todo)
		q.dropIdle()
		return errors.Join(errs...)
	}
	// The most used counters go first: when a flush of many keys is slow
	// (each push is an fsynced write), the counts that matter most are
	// durable soonest, and a crash loses the long tail of single uses.
	slices.SortFunc(todo, func(a, b *counter) int { return cmp.Compare(b.pending.Load(), a.pending.Load()) })
	// Counters are independent, so a few are pushed at once to keep a
	// flush of many keys within FlushInterval on a store with latency.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		errs    []error
		next    atomic.Int64
		skipped atomic.Bool
	)
	for range min(flushWorkers, len(todo)) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(todo)) {
					return
				}
				if ctx.Err() != nil {
					skipped.Store(true)
					return
				}
				if err := q.flush(ctx, todo[i]); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if skipped.Load() {
		errs = append(errs, fmt.Errorf("quota flush: %w", ctx.Err()))
	}
	q.dropIdle()
	return errors.Join(errs...)
}

// flush pushes c's pending usage. The caller holds flushMu.
func (q *Quotas) flush(ctx context.Context, c *counter) error {
	delta := c.pending.Swap(0)
	total, err := q.store.AddQuota(ctx, c.name, delta)
	if err != nil {
		c.pending.Add(delta)
		return fmt.Errorf("quota %s: add %d: %w", c.name, delta, err)
	}
	q.adopt(c, delta, total)
	return nil
}

// adopt records that the store added delta, swapped out of c.pending, to
// c and now holds total. The caller holds flushMu.
func (q *Quotas) adopt(c *counter, delta, total int64) {
	// used was base+delta+(usage since the swap); make it total+(usage since).
	c.used.Add(total - c.base - delta)
	c.base = total
	c.stale.Store(false)
}

// dropIdle removes counters with nothing to flush whose window has ended or
// that have not been used for idleAfter. The caller holds flushMu.
func (q *Quotas) dropIdle() {
	now := q.opts.Now()
	idle := now.Add(-q.idleAfter()).UnixNano()
	for i := range q.shards {
		s := &q.shards[i]
		s.mu.Lock()
		for name, c := range s.counters {
			// Use admits under s.mu's read lock, so pending is exact here.
			if !isReady(c) || c.pending.Load() != 0 || c.stale.Load() {
				continue
			}
			if !c.end.After(now) || c.lastUse.Load() < idle {
				delete(s.counters, name)
			}
		}
		s.mu.Unlock()
	}
}

func isReady(c *counter) bool {
	select {
	case <-c.ready:
		return true
	default:
		return false
	}
}
