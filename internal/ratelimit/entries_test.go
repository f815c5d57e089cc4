package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func newBatchedStore() *fakeStore {
	f := newFakeStore()
	f.batched = true
	return f
}

// keyName is the i-th of many keys, shaped like a key ID.
func keyName(i int) string { return fmt.Sprintf("%012x", i*7919) }

// TestBatchedFlushOfManyKeys: 5,000 keys used once each are flushed in at
// most one write per entry, and a restarted node finds every count.
func TestBatchedFlushOfManyKeys(t *testing.T) {
	ctx := t.Context()
	store := newBatchedStore()
	quota := Quota{N: 10, Period: Month}
	q := newQuotas(store, QuotaOptions{})
	const keys = 5000
	for i := range keys {
		if d := q.Use(ctx, keyName(i), quota, t0); !d.Allowed || d.Err != nil {
			t.Fatalf("key %d: %+v", i, d)
		}
	}
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, adds := store.stats(); adds > entryShards {
		t.Errorf("%d writes to flush %d keys, want at most %d", adds, keys, entryShards)
	}
	if n := len(store.entries); n != entryShards {
		t.Errorf("%d entries, want %d (the keys spread over every shard)", n, entryShards)
	}
	if len(store.counts) != 0 {
		t.Errorf("%d per-counter entries written", len(store.counts))
	}
	// Every key is in its entry at 1.
	counted := 0
	for entry, e := range store.entries {
		m, err := decodeEntry(e.value)
		if err != nil {
			t.Fatal(err)
		}
		for member, n := range m {
			if want, _ := entryOf(member + ".2026-11"); n != 1 || want != entry {
				t.Fatalf("%s holds %s at %d", entry, member, n)
			}
			counted++
		}
	}
	if counted != keys {
		t.Fatalf("%d keys counted, want %d", counted, keys)
	}
	// A restarted node loads them at 1.
	q2 := newQuotas(store, QuotaOptions{})
	for i := 0; i < keys; i += 37 {
		if d := q2.Use(ctx, keyName(i), quota, t0); d.Remaining != 8 {
			t.Fatalf("key %d after a restart: %+v, want 8 remaining", i, d)
		}
	}
}

// TestBatchedReadsCountsFromBefore: counts a node wrote one entry per
// counter, before batching, are loaded, carried into the batched entry at
// the first flush without being counted twice, and left where they were.
func TestBatchedReadsCountsFromBefore(t *testing.T) {
	ctx := t.Context()
	store := newBatchedStore()
	quota := Quota{N: 100, Period: Day}
	store.counts["old.2026-11-27"] = 40
	store.counts["idle.2026-11-27"] = 7
	q := newQuotas(store, QuotaOptions{})
	if d := q.Use(ctx, "old", quota, t0); d.Remaining != 59 {
		t.Fatalf("first use after the upgrade: %+v, want 59 remaining", d)
	}
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for counter, want := range map[string]int64{"old.2026-11-27": 41, "idle.2026-11-27": 7} {
		if got := store.get(counter); got != want {
			t.Errorf("%s = %d, want %d", counter, got, want)
		}
	}
	if store.counts["old.2026-11-27"] != 40 {
		t.Errorf("the per-counter entry changed to %d", store.counts["old.2026-11-27"])
	}
	// Restarted twice over: still 41 then 42, never 40 + 41.
	for want := int64(58); want >= 57; want-- {
		q = newQuotas(store, QuotaOptions{})
		if d := q.Use(ctx, "old", quota, t0); d.Remaining != want {
			t.Fatalf("after a restart: %+v, want %d remaining", d, want)
		}
		if err := q.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBatchedFullEntry: keys new to an entry past its size limit are
// counted in their own entries, and loaded from there.
func TestBatchedFullEntry(t *testing.T) {
	ctx := t.Context()
	store := newBatchedStore()
	quota := Quota{N: 100, Period: Day}
	q := newQuotas(store, QuotaOptions{})
	q.maxEntry = 1 // full as soon as it holds a key
	// Two keys of one entry: the first makes the entry, the second finds
	// it full.
	a, b := "a", ""
	entry, _ := entryOf(a + ".2026-11-27")
	for i := 0; b == ""; i++ {
		if e, _ := entryOf(keyName(i) + ".2026-11-27"); e == entry {
			b = keyName(i)
		}
	}
	q.Use(ctx, a, quota, t0)
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		q.Use(ctx, a, quota, t0)
		q.Use(ctx, b, quota, t0)
		if err := q.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if store.counts[b+".2026-11-27"] != 2 || len(store.counts) != 1 {
		t.Errorf("own entries %v, want b at 2", store.counts)
	}
	if got := store.get(a + ".2026-11-27"); got != 3 {
		t.Errorf("a = %d, want 3", got)
	}
	q2 := newQuotas(store, QuotaOptions{})
	if d := q2.Use(ctx, b, quota, t0); d.Remaining != 97 {
		t.Errorf("b after a restart: %+v, want 97 remaining", d)
	}
	if d := q2.Use(ctx, a, quota, t0); d.Remaining != 96 {
		t.Errorf("a after a restart: %+v, want 96 remaining", d)
	}
}

// TestBatchedDamagedEntry: an entry that does not decode fails the loads
// (open, by default) and flushes of its counters, which keep their usage.
func TestBatchedDamagedEntry(t *testing.T) {
	ctx := t.Context()
	store := newBatchedStore()
	entry, _ := entryOf("k.2026-11-27")
	store.entries[entry] = fakeEntry{value: []byte("{not json"), rev: 5}
	q := newQuotas(store, QuotaOptions{})
	d := q.Use(ctx, "k", Quota{N: 5, Period: Day}, t0)
	if !d.Allowed || d.Err == nil {
		t.Fatalf("use: %+v, want allowed with Err", d)
	}
	if err := q.Flush(ctx); !errors.Is(err, errBadEntry) {
		t.Fatalf("Flush = %v, want errBadEntry", err)
	}
	store.entries[entry] = fakeEntry{value: encodeEntry(map[string]int64{"k": 3}), rev: 6}
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := store.get("k.2026-11-27"); got != 4 {
		t.Errorf("k = %d, want 4 (3 + the use kept through the failure)", got)
	}
}

// TestBatchedNodesShareEntries: nodes flushing the same entries at once
// retry on conflicts and lose nothing (run with -race).
func TestBatchedNodesShareEntries(t *testing.T) {
	store := newBatchedStore()
	quota := Quota{N: 1 << 40, Period: Month}
	const (
		nodes = 3
		keys  = 200
		uses  = 3000
	)
	var wg sync.WaitGroup
	for range nodes {
		q := newQuotas(store, QuotaOptions{})
		wg.Go(func() {
			for i := range uses {
				q.Use(t.Context(), keyName(i%keys), quota, t0)
				if i%100 == 99 {
					if err := q.Flush(t.Context()); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	for i := range keys {
		if got := store.get(keyName(i) + ".2026-11"); got != nodes*uses/keys {
			t.Fatalf("key %d = %d, want %d", i, got, nodes*uses/keys)
		}
	}
}

// racingStore is an entryStore where another node writes an entry just
// before each of the first few writes of this one.
type racingStore struct {
	entryStore
	races atomic.Int64
}

func (r *racingStore) SwapQuotaEntry(ctx context.Context, key string, value []byte, rev uint64) (uint64, bool, error) {
	if r.races.Add(-1) >= 0 {
		r.addOther("k.2026-11-27", 10)
	}
	return r.entryStore.SwapQuotaEntry(ctx, key, value, rev)
}

// TestBatchedConflictRetries: a write that loses to another node's is
// made again on top of it.
func TestBatchedConflictRetries(t *testing.T) {
	ctx := t.Context()
	store := &racingStore{entryStore: entryStore{newBatchedStore()}}
	q := newQuotas(store, QuotaOptions{})
	quota := Quota{N: 100, Period: Day}
	for range 3 {
		q.Use(ctx, "k", quota, t0)
	}
	store.races.Store(2)
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, adds := store.stats(); adds != 3 {
		t.Errorf("%d writes, want 3 (two lost to the other node)", adds)
	}
	if got := store.get("k.2026-11-27"); got != 23 {
		t.Errorf("k = %d, want 23", got)
	}
	// The flush learnt the other node's 20.
	if d := q.Use(ctx, "k", quota, t0); d.Remaining != 100-24 {
		t.Errorf("after the flush: %+v, want %d remaining", d, 100-24)
	}
}

func TestEntryOf(t *testing.T) {
	entry, member := entryOf("0123456789ab.2026-11")
	if member != "0123456789ab" || !strings.HasPrefix(entry, "shard.2026-11.") || len(entry) != len("shard.2026-11.00") {
		t.Errorf("entryOf = %q, %q", entry, member)
	}
	// The shard of a key is part of the stored format: it must not change
	// (FNV-1a, 32 bits, of the key, modulo 64).
	for counter, want := range map[string]string{
		"0123456789ab.2026-11":    "shard.2026-11.11",
		"ffffffffffff.2026-11-27": "shard.2026-11-27.35",
		"k.2026-11-27":            "shard.2026-11-27.2a",
	} {
		if got, _ := entryOf(counter); got != want {
			t.Errorf("entryOf(%q) = %q, want %q", counter, got, want)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	for _, s := range []string{"", `{"counts":{"a":1}}`, `{"counts":{}}`, `{"counts":{"a":-1}}`, `{"counts":{"a":1.5}}`, `null`, `{"counts":null}`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeEntry(b)
		if err != nil {
			if !errors.Is(err, errBadEntry) || m != nil {
				t.Fatalf("decodeEntry(%q) = %v, %v", b, m, err)
			}
			return
		}
		for k, n := range m {
			if n < 0 {
				t.Fatalf("decodeEntry(%q): %q = %d", b, k, n)
			}
		}
		back, err := decodeEntry(encodeEntry(m))
		if err != nil || len(back) != len(m) {
			t.Fatalf("decodeEntry(encodeEntry(%v)) = %v, %v", m, back, err)
		}
		for k, n := range m {
			if back[k] != n {
				t.Fatalf("round trip of %q: %d, want %d", k, back[k], n)
			}
		}
	})
}
