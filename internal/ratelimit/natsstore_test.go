package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mote-run/mote/internal/ratelimit"
	"github.com/mote-run/mote/internal/store"
)

// natsQuotas is the node's store with QuotaEntries on its quota bucket,
// reached over a client connection: the two methods are what the store
// needs for batched flushes.
type natsQuotas struct {
	*store.Store
	nc     *nats.Conn
	kv     jetstream.KeyValue
	writes atomic.Int64
}

// openQuotaStore opens the store in dir with a client port and its quota
// bucket.
func openQuotaStore(t *testing.T, dir string) *natsQuotas {
	t.Helper()
	ctx := t.Context()
	s, err := store.Open(ctx, store.Options{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err == nil {
		var kv jetstream.KeyValue
		if kv, err = js.KeyValue(ctx, "mote_quota"); err == nil {
			q := &natsQuotas{Store: s, nc: nc, kv: kv}
			t.Cleanup(q.close)
			return q
		}
	}
	nc.Close()
	s.Close()
	t.Fatal(err)
	return nil
}

func (q *natsQuotas) close() {
	q.nc.Close()
	_ = q.Store.Close()
}

func (q *natsQuotas) QuotaEntry(ctx context.Context, key string) ([]byte, uint64, error) {
	e, err := q.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	return e.Value(), e.Revision(), nil
}

func (q *natsQuotas) SwapQuotaEntry(ctx context.Context, key string, value []byte, rev uint64) (uint64, bool, error) {
	q.writes.Add(1)
	var (
		next uint64
		err  error
	)
	if rev == 0 {
		next, err = q.kv.Create(ctx, key, value)
	} else {
		next, err = q.kv.Update(ctx, key, value, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, false, nil
	}
	return next, err == nil, err
}

// TestQuotaCountsSurviveRestartInNATS uses 5,000 keys once each, flushes,
// stops the store without another flush, and finds every count after the
// restart; a count an older node stored in its own entry is still read.
func TestQuotaCountsSurviveRestartInNATS(t *testing.T) {
	keys := 5000
	if raceEnabled {
		keys = 1000 // still every entry; the hammer tests cover races
	}
	ctx := t.Context()
	dir := t.TempDir()
	now := time.Now()
	quota := ratelimit.Quota{N: 100, Period: ratelimit.Month}
	window, _ := quota.Window(now)
	id := func(i int) string { return fmt.Sprintf("%012x", 0xa0000000+i) }

	s := openQuotaStore(t, dir)
	// What a node before batching stored: the counter in its own entry.
	if _, err := s.AddQuota(ctx, id(0)+"."+window, 40); err != nil {
		t.Fatal(err)
	}
	// A slow machine (-race) must not fail a load: this is about counts.
	opts := ratelimit.QuotaOptions{LoadTimeout: time.Minute}
	q := ratelimit.NewQuotas(s, opts)
	each(keys, func(i int) {
		if d := q.Use(ctx, id(i), quota, now); !d.Allowed || d.Err != nil {
			t.Errorf("key %d: %+v", i, d)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	start := time.Now()
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("flushed %d keys in %v with %d writes", keys, time.Since(start), s.writes.Load())
	if w := s.writes.Load(); w > 64 {
		t.Errorf("%d writes for %d keys, want at most 64", w, keys)
	}
	s.close() // as if the node died right after the flush

	s = openQuotaStore(t, dir)
	q = ratelimit.NewQuotas(s, opts)
	each(keys, func(i int) {
		want := int64(100 - 2)
		if i == 0 {
			want = 100 - 40 - 2
		}
		if d := q.Use(ctx, id(i), quota, now); d.Remaining != want || d.Err != nil {
			t.Errorf("key %d after the restart: %+v, want %d remaining", i, d, want)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	// The old entry is read, not rewritten: the count moved into the
	// batched entry with the first flush.
	if n, err := s.LoadQuota(ctx, id(0)+"."+window); err != nil || n != 40 {
		t.Errorf("the old entry holds %d, %v; want 40", n, err)
	}
	if n, err := ratelimit.ReadCounter(ctx, s, id(0)+"."+window); err != nil || n != 41 {
		t.Errorf("ReadCounter = %d, %v; want 41", n, err)
	}
	// Where a reader outside the node finds a count.
	if b, _, err := s.QuotaEntry(ctx, ratelimit.EntryKey(id(7)+"."+window)); err != nil || !strings.Contains(string(b), `"`+id(7)+`":1`) {
		t.Errorf("the entry of %s holds %s, %v", id(7), b, err)
	}
	// A write with a stale revision, or a create of an entry that exists,
	// is a conflict, not an error.
	_, cur, err := s.QuotaEntry(ctx, id(0)+"."+window)
	if err != nil || cur == 0 {
		t.Fatalf("QuotaEntry: revision %d, %v", cur, err)
	}
	for _, rev := range []uint64{0, cur + 1} {
		if _, ok, err := s.SwapQuotaEntry(ctx, id(0)+"."+window, []byte("1"), rev); ok || err != nil {
			t.Errorf("write at revision %d: %v, %v; want a conflict", rev, ok, err)
		}
	}
}

// each calls fn(0..n-1) from a few goroutines, as concurrent requests would.
func each(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				fn(i)
			}
		})
	}
	wg.Wait()
}
