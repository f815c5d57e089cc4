package ratelimit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeStore is an in-memory QuotaStore whose failures tests switch on and
// off. With batched set, newQuotas uses it as QuotaEntries (entryStore):
// then loads and adds count reads of batched entries and writes, which
// gate and addGate hold, and loadErr and addErr fail.
type fakeStore struct {
	mu      sync.Mutex
	counts  map[string]int64 // per-counter entries
	loadErr error
	addErr  error
	loads   int
	adds    int
	gate    chan struct{} // when non-nil, LoadQuota waits for it to close
	addGate chan struct{} // when non-nil, AddQuota waits for it to close

	batched bool
	entries map[string]fakeEntry // batched entries
	revs    map[string]uint64    // revisions of counts' entries; 1 when unset
	seq     uint64               // the last revision given
}

type fakeEntry struct {
	value []byte
	rev   uint64
}

var errDown = errors.New("store down")

func newFakeStore() *fakeStore {
	return &fakeStore{counts: map[string]int64{}, entries: map[string]fakeEntry{}, revs: map[string]uint64{}, seq: 1}
}

// backends runs a test against both ways Quotas keeps counters in a
// store: one entry per counter (QuotaStore) and batched (QuotaEntries).
func backends(t *testing.T, test func(t *testing.T, newStore func() *fakeStore)) {
	for _, batched := range []bool{false, true} {
		name := "per-counter"
		if batched {
			name = "batched"
		}
		t.Run(name, func(t *testing.T) {
			test(t, func() *fakeStore {
				f := newFakeStore()
				f.batched = batched
				return f
			})
		})
	}
}

// entryStore is a fakeStore seen as QuotaEntries.
type entryStore struct{ *fakeStore }

func (f entryStore) QuotaEntry(ctx context.Context, key string) ([]byte, uint64, error) {
	batched := strings.HasPrefix(key, entryPrefix)
	f.mu.Lock()
	if batched {
		f.loads++
	}
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loadErr != nil {
		return nil, 0, f.loadErr
	}
	if batched {
		e := f.entries[key]
		return slices.Clone(e.value), e.rev, nil
	}
	n, ok := f.counts[key]
	if !ok {
		return nil, 0, nil
	}
	return []byte(strconv.FormatInt(n, 10)), f.revOf(key), nil
}

func (f entryStore) SwapQuotaEntry(_ context.Context, key string, value []byte, rev uint64) (uint64, bool, error) {
	f.mu.Lock()
	f.adds++
	gate := f.addGate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.addErr != nil {
		return 0, false, f.addErr
	}
	if strings.HasPrefix(key, entryPrefix) {
		if f.entries[key].rev != rev {
			return 0, false, nil
		}
		f.seq++
		f.entries[key] = fakeEntry{value: slices.Clone(value), rev: f.seq}
		return f.seq, true, nil
	}
	if _, ok := f.counts[key]; ok && f.revOf(key) != rev || !ok && rev != 0 {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(string(value), 10, 64)
	if err != nil {
		return 0, false, err
	}
	f.seq++
	f.counts[key], f.revs[key] = n, f.seq
	return f.seq, true, nil
}

// revOf is the revision of a per-counter entry that exists. The caller
// holds f.mu.
func (f *fakeStore) revOf(counter string) uint64 {
	if rev := f.revs[counter]; rev != 0 {
		return rev
	}
	return 1
}

// addOther adds n to a counter as another node's flush would.
func (f *fakeStore) addOther(counter string, n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.batched {
		f.counts[counter] += n
		return
	}
	entry, member := entryOf(counter)
	m, err := decodeEntry(f.entries[entry].value)
	if err != nil {
		panic(err)
	}
	if _, ok := m[member]; !ok {
		m[member] = f.counts[counter]
	}
	m[member] += n
	f.seq++
	f.entries[entry] = fakeEntry{value: encodeEntry(m), rev: f.seq}
}

func (f *fakeStore) LoadQuota(ctx context.Context, counter string) (int64, error) {
	f.mu.Lock()
	f.loads++
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loadErr != nil {
		return 0, f.loadErr
	}
	return f.counts[counter], nil
}

func (f *fakeStore) AddQuota(_ context.Context, counter string, delta int64) (int64, error) {
	f.mu.Lock()
	f.adds++
	gate := f.addGate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.addErr != nil {
		return 0, f.addErr
	}
	f.counts[counter] += delta
	return f.counts[counter], nil
}

// get returns a counter's total: what a node would load.
func (f *fakeStore) get(counter string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.batched {
		entry, member := entryOf(counter)
		m, err := decodeEntry(f.entries[entry].value)
		if err != nil {
			panic(err)
		}
		if n, ok := m[member]; ok {
			return n
		}
	}
	return f.counts[counter]
}

func (f *fakeStore) set(fn func(f *fakeStore)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeStore) stats() (loads, adds int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loads, f.adds
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// newQuotas is NewQuotas with a quiet log and, unless set, a clock stopped
// at t0, the time the tests pass to Use (so nothing looks idle).
func newQuotas(store QuotaStore, opts QuotaOptions) *Quotas {
	if f, ok := store.(*fakeStore); ok && f.batched {
		store = entryStore{f}
	}
	if opts.Logger == nil {
		opts.Logger = quietLog
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0 }
	}
	return NewQuotas(store, opts)
}

func (q *Quotas) len() int {
	n := 0
	for i := range q.shards {
		s := &q.shards[i]
		s.mu.RLock()
		n += len(s.counters)
		s.mu.RUnlock()
	}
	return n
}

func TestQuotaDecisions(t *testing.T) { backends(t, testQuotaDecisions) }

func testQuotaDecisions(t *testing.T, newStore func() *fakeStore) {
	ctx := t.Context()
	at := time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC) // one hour before the day ends
	store := newStore()
	q := newQuotas(store, QuotaOptions{})
	day := Quota{N: 2, Period: Day}

	tests := []Decision{
		{Allowed: true, Policy: "quota", Limit: 2, Remaining: 1, Window: 24 * time.Hour, Reset: time.Hour},
		{Allowed: true, Policy: "quota", Limit: 2, Remaining: 0, Window: 24 * time.Hour, Reset: time.Hour},
		{Allowed: false, Policy: "quota", Limit: 2, Remaining: 0, Window: 24 * time.Hour, Reset: time.Hour, RetryAfter: time.Hour},
		{Allowed: false, Policy: "quota", Limit: 2, Remaining: 0, Window: 24 * time.Hour, Reset: time.Hour, RetryAfter: time.Hour},
	}
	for i, want := range tests {
		if got := q.Use(ctx, "k", day, at); got != want {
			t.Fatalf("use %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Denied requests did not count.
	if got := store.get("k.2026-11-27"); got != 2 {
		t.Fatalf("store has %d for k.2026-11-27, want 2", got)
	}
	// A new day starts from zero, in its own counter.
	next := at.Add(time.Hour)
	want := Decision{Allowed: true, Policy: "quota", Limit: 2, Remaining: 1, Window: 24 * time.Hour, Reset: 24 * time.Hour}
	if got := q.Use(ctx, "k", day, next); got != want {
		t.Fatalf("next day:\n got %+v\nwant %+v", got, want)
	}
	// A month quota's window is the month's length; another key is separate.
	month := Quota{N: 5, Period: Month}
	feb := time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)
	want = Decision{Allowed: true, Policy: "quota", Limit: 5, Remaining: 4, Window: 29 * 24 * time.Hour, Reset: 24 * time.Hour}
	if got := q.Use(ctx, "other", month, feb); got != want {
		t.Fatalf("month:\n got %+v\nwant %+v", got, want)
	}
	// No quota limits nothing.
	if got := q.Use(ctx, "k", Quota{}, at); !got.Allowed || got.Limit != 0 {
		t.Fatalf("zero quota: %+v", got)
	}
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for counter, want := range map[string]int64{"k.2026-11-27": 2, "k.2026-11-28": 1, "other.2028-02": 1} {
		if got := store.get(counter); got != want {
			t.Errorf("store %s = %d, want %d", counter, got, want)
		}
	}
}

func TestQuotaSurvivesRestart(t *testing.T) { backends(t, testQuotaSurvivesRestart) }

func testQuotaSurvivesRestart(t *testing.T, newStore func() *fakeStore) {
	store := newStore()
	quota := Quota{N: 5, Period: Month}

	// Node 1 serves three requests and shuts down: Run's final flush.
	ctx, cancel := context.WithCancel(t.Context())
	q1 := newQuotas(store, QuotaOptions{FlushInterval: time.Hour})
	done := make(chan error, 1)
	go func() { done <- q1.Run(ctx) }()
	for range 3 {
		if d := q1.Use(t.Context(), "k", quota, t0); !d.Allowed {
			t.Fatalf("node 1 denied: %+v", d)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := store.get("k.2026-11"); got != 3 {
		t.Fatalf("store has %d after shutdown, want 3", got)
	}

	// Node 1 restarted: the count is still there.
	q2 := newQuotas(store, QuotaOptions{})
	if d := q2.Use(t.Context(), "k", quota, t0); !d.Allowed || d.Remaining != 1 {
		t.Fatalf("after restart: %+v, want allowed with 1 remaining", d)
	}
	if d := q2.Use(t.Context(), "k", quota, t0); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after restart: %+v, want allowed with 0 remaining", d)
	}
	if d := q2.Use(t.Context(), "k", quota, t0); d.Allowed {
		t.Fatalf("after restart: sixth request allowed: %+v", d)
	}
}

func TestQuotaSharedBetweenNodes(t *testing.T) { backends(t, testQuotaSharedBetweenNodes) }

func testQuotaSharedBetweenNodes(t *testing.T, newStore func() *fakeStore) {
	ctx := t.Context()
	store := newStore()
	quota := Quota{N: 10, Period: Day}
	a := newQuotas(store, QuotaOptions{})
	b := newQuotas(store, QuotaOptions{})
	for range 4 {
		a.Use(ctx, "k", quota, t0)
	}
	for range 3 {
		b.Use(ctx, "k", quota, t0)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// b learned a's 4 from its flush: 10 - 7 - 1 left after one more.
	if d := b.Use(ctx, "k", quota, t0); d.Remaining != 2 {
		t.Fatalf("node b after sync: %+v, want 2 remaining", d)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// a has not flushed since, so it still believes 4; its next use is
	// counted and its flush brings back the cluster total.
	if d := a.Use(ctx, "k", quota, t0); d.Remaining != 5 {
		t.Fatalf("node a before sync: %+v, want 5 remaining", d)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if d := a.Use(ctx, "k", quota, t0); d.Remaining != 0 || !d.Allowed {
		t.Fatalf("node a after sync: %+v, want allowed with 0 remaining", d)
	}
	if d := a.Use(ctx, "k", quota, t0); d.Allowed {
		t.Fatalf("node a past the quota: %+v", d)
	}
}

func TestQuotaUseDuringFlushIsKept(t *testing.T) { backends(t, testQuotaUseDuringFlushIsKept) }

func testQuotaUseDuringFlushIsKept(t *testing.T, newStore func() *fakeStore) {
	ctx := t.Context()
	store := newStore()
	q := newQuotas(store, QuotaOptions{})
	quota := Quota{N: 10, Period: Day}
	for range 3 {
		q.Use(ctx, "k", quota, t0)
	}
	// Another node used 2 meanwhile.
	store.addOther("k.2026-11-27", 2)
	gate := make(chan struct{})
	store.set(func(f *fakeStore) { f.addGate = gate })
	flushed := make(chan error)
	go func() { flushed <- q.Flush(ctx) }()
	waitFor(t, func() bool { _, adds := store.stats(); return adds == 1 })
	// Two uses while the flush of the first three is in flight.
	q.Use(ctx, "k", quota, t0)
	q.Use(ctx, "k", quota, t0)
	close(gate)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	// 2 (other node) + 3 (flushed) + 2 (pending) + this one.
	if d := q.Use(ctx, "k", quota, t0); d.Remaining != 2 {
		t.Fatalf("after the flush: %+v, want 2 remaining", d)
	}
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := store.get("k.2026-11-27"); got != 8 {
		t.Fatalf("store = %d, want 8", got)
	}
}

func TestQuotaConcurrentFirstUsesShareOneLoad(t *testing.T) {
	backends(t, testQuotaConcurrentFirstUsesShareOneLoad)
}

func testQuotaConcurrentFirstUsesShareOneLoad(t *testing.T, newStore func() *fakeStore) {
	store := newStore()
	store.counts["k.2026-11-27"] = 90
	gate := make(chan struct{})
	store.gate = gate
	q := newQuotas(store, QuotaOptions{})
	quota := Quota{N: 100, Period: Day}

	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if q.Use(t.Context(), "k", quota, t0).Allowed {
				admitted.Add(1)
			}
		})
	}
	waitFor(t, func() bool { loads, _ := store.stats(); return loads >= 1 })
	close(gate)
	wg.Wait()
	if loads, _ := store.stats(); loads != 1 {
		t.Errorf("%d loads for one counter, want 1", loads)
	}
	if got := admitted.Load(); got != 10 {
		t.Errorf("admitted %d, want the 10 left", got)
	}
}

func TestQuotaWaitEndsWithContext(t *testing.T) { backends(t, testQuotaWaitEndsWithContext) }

func testQuotaWaitEndsWithContext(t *testing.T, newStore func() *fakeStore) {
	store := newStore()
	gate := make(chan struct{})
	store.gate = gate
	q := newQuotas(store, QuotaOptions{})
	quota := Quota{N: 100, Period: Day}

	// The first use loads; a second one, whose context ends, gives up.
	first := make(chan Decision)
	go func() { first <- q.Use(context.Background(), "k", quota, t0) }()
	waitFor(t, func() bool { loads, _ := store.stats(); return loads == 1 })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	d := q.Use(ctx, "k", quota, t0)
	if d.Allowed || !errors.Is(d.Err, context.Canceled) {
		t.Fatalf("use with a cancelled context: %+v, want denied with context.Canceled", d)
	}
	close(gate)
	if d := <-first; !d.Allowed || d.Err != nil {
		t.Fatalf("the loading use: %+v", d)
	}
}

func TestQuotaStoreFailures(t *testing.T) { backends(t, testQuotaStoreFailures) }

func testQuotaStoreFailures(t *testing.T, newStore func() *fakeStore) {
	quota := Quota{N: 2, Period: Day}
	counter := "k.2026-11-27"

	t.Run("fail open", func(t *testing.T) {
		ctx := t.Context()
		store := newStore()
		store.counts[counter] = 1
		store.loadErr = errDown
		q := newQuotas(store, QuotaOptions{})
		d := q.Use(ctx, "k", quota, t0)
		if !d.Allowed || d.Err == nil {
			t.Fatalf("store down, fail open: %+v, want allowed with Err", d)
		}
		// Counted locally from zero.
		if d := q.Use(ctx, "k", quota, t0); !d.Allowed || d.Remaining != 0 {
			t.Fatalf("second use: %+v", d)
		}
		if d := q.Use(ctx, "k", quota, t0); d.Allowed {
			t.Fatalf("third use allowed on local count: %+v", d)
		}
		// Flush fails too: nothing is lost.
		store.set(func(f *fakeStore) { f.addErr = errDown })
		if err := q.Flush(ctx); !errors.Is(err, errDown) {
			t.Fatalf("Flush with store down = %v, want errDown", err)
		}
		// Back up: the flush pushes 2 and learns the total is 3.
		store.set(func(f *fakeStore) { f.addErr, f.loadErr = nil, nil })
		if err := q.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if got := store.get(counter); got != 3 {
			t.Fatalf("store = %d, want 3", got)
		}
		d = q.Use(ctx, "k", quota, t0)
		if d.Allowed || d.Err != nil || d.Remaining != 0 {
			t.Fatalf("after recovery: %+v, want denied without Err", d)
		}
	})

	t.Run("fail open learns the total at the next flush", func(t *testing.T) {
		ctx := t.Context()
		store := newStore()
		store.counts[counter] = 2
		store.loadErr = errDown
		q := newQuotas(store, QuotaOptions{})
		// Counted from zero while the store is down.
		if d := q.Use(ctx, "k", Quota{N: 5, Period: Day}, t0); !d.Allowed {
			t.Fatalf("%+v", d)
		}
		store.set(func(f *fakeStore) { f.loadErr = nil })
		if err := q.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// Nothing pending now, yet the total (3) is known.
		if d := q.Use(ctx, "k", Quota{N: 5, Period: Day}, t0); d.Remaining != 1 || d.Err != nil {
			t.Fatalf("after refresh: %+v, want 1 remaining", d)
		}
	})

	t.Run("fail closed", func(t *testing.T) {
		ctx := t.Context()
		store := newStore()
		store.counts[counter] = 1
		store.loadErr = errDown
		q := newQuotas(store, QuotaOptions{FailClosed: true})
		d := q.Use(ctx, "k", quota, t0)
		if d.Allowed || !errors.Is(d.Err, errDown) || d.RetryAfter != time.Second {
			t.Fatalf("store down, fail closed: %+v, want denied with errDown, retry in 1s", d)
		}
		if q.len() != 0 {
			t.Fatalf("a failed counter was kept")
		}
		// The next use tries again.
		store.set(func(f *fakeStore) { f.loadErr = nil })
		d = q.Use(ctx, "k", quota, t0)
		if !d.Allowed || d.Err != nil || d.Remaining != 0 {
			t.Fatalf("after recovery: %+v, want allowed with 0 remaining", d)
		}
		if loads, _ := store.stats(); loads != 2 {
			t.Fatalf("%d loads, want 2", loads)
		}
		// A flush failure does not deny: the local count still holds.
		store.set(func(f *fakeStore) { f.addErr = errDown })
		if err := q.Flush(ctx); err == nil {
			t.Fatal("Flush with store down succeeded")
		}
		if d := q.Use(ctx, "k", quota, t0); d.Allowed || d.Err != nil {
			t.Fatalf("over quota with flush failing: %+v, want denied by the quota", d)
		}
	})
}

func TestQuotaDropsIdleCounters(t *testing.T) { backends(t, testQuotaDropsIdleCounters) }

func testQuotaDropsIdleCounters(t *testing.T, newStore func() *fakeStore) {
	ctx := t.Context()
	store := newStore()
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	q := newQuotas(store, QuotaOptions{Now: now})
	day := Quota{N: 10, Period: Day}

	q.Use(ctx, "k", day, now())
	q.Use(ctx, "k", day, now())
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if q.len() != 1 {
		t.Fatalf("%d counters after a flush of a fresh one, want 1", q.len())
	}
	// Idle past idleAfter: dropped; the next use loads the total again.
	clock.Add(int64(q.idleAfter() + time.Second))
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if q.len() != 0 {
		t.Fatalf("%d counters after idling, want 0", q.len())
	}
	if d := q.Use(ctx, "k", day, now()); d.Remaining != 7 {
		t.Fatalf("after reload: %+v, want 7 remaining", d)
	}
	// Its window ends: flushed, then dropped.
	clock.Store(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC).UnixNano())
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if q.len() != 0 || store.get("k.2026-11-27") != 3 {
		t.Fatalf("after the window: %d counters, store %d; want 0 and 3", q.len(), store.get("k.2026-11-27"))
	}
}

// TestQuotaHammer runs many goroutines on many keys while Run flushes, and
// checks under -race that one node admits exactly the quota, no more.
func TestQuotaHammer(t *testing.T) { backends(t, testQuotaHammer) }

func testQuotaHammer(t *testing.T, newStore func() *fakeStore) {
	const (
		keys       = 20
		goroutines = 16
		perG       = 2000
		n          = 700
	)
	store := newStore()
	// Some keys start with usage from before.
	for k := range keys {
		store.counts["key"+strconv.Itoa(k)+".2026-11"] = int64(k * 10)
	}
	q := newQuotas(store, QuotaOptions{FlushInterval: time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()

	quota := Quota{N: n, Period: Month}
	var admitted [keys]atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				k := (g*13 + i) % keys
				if q.Use(t.Context(), "key"+strconv.Itoa(k), quota, t0).Allowed {
					admitted[k].Add(1)
				}
			}
		})
	}
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	for k := range keys {
		want := int64(n - k*10)
		if got := admitted[k].Load(); got != want {
			t.Errorf("key%d: admitted %d, want %d", k, got, want)
		}
		if got := store.get("key" + strconv.Itoa(k) + ".2026-11"); got != n {
			t.Errorf("key%d: store has %d, want %d", k, got, n)
		}
	}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func BenchmarkQuotaUse(b *testing.B) {
	q := newQuotas(newFakeStore(), QuotaOptions{})
	quota := Quota{N: MaxQuotaN, Period: Month}
	ctx := context.Background()
	now := time.Now()
	q.Use(ctx, "0123456789ab", quota, now)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			q.Use(ctx, "0123456789ab", quota, now)
		}
	})
}
