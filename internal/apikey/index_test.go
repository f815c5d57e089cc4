package apikey

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/store"
)

// runIndex starts Run on a new index fed from the returned channel, sends
// initial and then Synced, and waits until the index has them.
func runIndex(t testing.TB, initial ...store.AccessEvent) (*Index, chan<- store.AccessEvent) {
	t.Helper()
	ix := NewIndex()
	events := make(chan store.AccessEvent)
	synced := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ix.Run(ctx, events, synced)
	}()
	t.Cleanup(func() { cancel(); <-done })
	for _, ev := range append(initial, store.AccessEvent{Synced: true}) {
		events <- ev
	}
	select {
	case <-synced:
	case <-time.After(10 * time.Second):
		t.Fatal("index not synced within 10s")
	}
	return ix, events
}

// send sends an event and waits until the index has published it.
func send(t testing.TB, ix *Index, events chan<- store.AccessEvent, ev store.AccessEvent) {
	t.Helper()
	v := ix.Version()
	events <- ev
	deadline := time.Now().Add(10 * time.Second)
	for ix.Version() == v {
		if time.Now().After(deadline) {
			t.Fatal("index did not change within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// newKey makes a key record of app on plan and returns it with its key.
func newKey(t testing.TB, app, plan string) (store.KeyRecord, string) {
	t.Helper()
	key, id, hash, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	return store.KeyRecord{Key: api.Key{ID: id, App: app, Plan: plan, Prefix: key[:8], Created: time.Now()}, Hash: hash}, key
}

func keyEvent(r store.KeyRecord) store.AccessEvent { return store.AccessEvent{Key: &r} }

func TestAuthenticate(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	gold := api.Plan{Name: "gold", Rate: "100/s"}

	plain, plainKey := newKey(t, "shop", "gold")
	revoked, revokedKey := newKey(t, "shop", "gold")
	revoked.Revoked = &past
	expired, expiredKey := newKey(t, "shop", "gold")
	expired.Expires = &now // expires at now: expired
	later, laterKey := newKey(t, "shop", "gold")
	later.Expires = &future
	scoped, scopedKey := newKey(t, "blog", "gold")
	scoped.Services = []string{"hello", "cart"}
	noPlan, noPlanKey := newKey(t, "blog", "silver")
	rotated, oldKey := newKey(t, "shop", "gold")
	newKeyStr, newHash, err := NewSecret(rotated.ID)
	if err != nil {
		t.Fatal(err)
	}
	rotated.PrevHash, rotated.PrevUntil, rotated.Hash = rotated.Hash, &future, newHash
	ended, endedOld := newKey(t, "shop", "gold")
	endedNew, endedHash, _ := NewSecret(ended.ID)
	ended.PrevHash, ended.PrevUntil, ended.Hash = ended.Hash, &now, endedHash
	revokedRotated, revokedOld := newKey(t, "shop", "gold")
	revokedRotated.PrevHash, revokedRotated.PrevUntil, revokedRotated.Revoked = revokedRotated.Hash, &future, &past
	_, revokedRotated.Hash, _ = NewSecret(revokedRotated.ID)

	ix, _ := runIndex(t, store.AccessEvent{Plan: &gold},
		keyEvent(plain), keyEvent(revoked), keyEvent(expired), keyEvent(later), keyEvent(scoped),
		keyEvent(noPlan), keyEvent(rotated), keyEvent(ended), keyEvent(revokedRotated))

	unknownKey, _, _, _ := Generate()
	wrongSecret, _, _ := NewSecret(plain.ID)
	for _, tc := range []struct {
		name, key, service string
		want               error
		app                string
		planFound          bool
	}{
		{"valid", plainKey, "hello", nil, "shop", true},
		{"wrong secret", wrongSecret, "hello", ErrInvalidKey, "", false},
		{"unknown id", unknownKey, "hello", ErrInvalidKey, "", false},
		{"malformed", "mk_nope", "hello", ErrInvalidKey, "", false},
		{"empty", "", "hello", ErrInvalidKey, "", false},
		{"hash presented as key", plain.Hash, "hello", ErrInvalidKey, "", false},
		{"revoked", revokedKey, "hello", ErrRevoked, "", false},
		{"expired", expiredKey, "hello", ErrExpired, "", false},
		{"not yet expired", laterKey, "hello", nil, "shop", true},
		{"scoped, in scope", scopedKey, "cart", nil, "blog", true},
		{"not for service", scopedKey, "admin", ErrNotForService, "", false},
		{"plan missing", noPlanKey, "hello", nil, "blog", false},
		{"rotated, new key", newKeyStr, "hello", nil, "shop", true},
		{"rotated, old key in grace", oldKey, "hello", nil, "shop", true},
		{"rotated, old key after grace", endedOld, "hello", ErrInvalidKey, "", false},
		{"rotated, new key after grace", endedNew, "hello", nil, "shop", true},
		{"revoked during grace, old key", revokedOld, "hello", ErrRevoked, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := ix.Authenticate(tc.key, tc.service, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Authenticate: %v, want %v", err, tc.want)
			}
			if err != nil {
				if id.Key != nil || id.Plan != nil {
					t.Errorf("identity %+v with error %v", id, err)
				}
				return
			}
			if id.Key.App != tc.app || (id.Plan != nil) != tc.planFound {
				t.Errorf("identity %+v, want app %s, plan found %v", id, tc.app, tc.planFound)
			}
			if tc.planFound && id.Plan.Rate != "100/s" {
				t.Errorf("identity plan %+v, want %+v", id.Plan, gold)
			}
		})
	}
	// The grace period ends exactly at PrevUntil.
	if _, err := ix.Authenticate(oldKey, "hello", future); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("old key at PrevUntil: %v, want ErrInvalidKey", err)
	}
	if _, err := ix.Authenticate(oldKey, "hello", future.Add(-time.Nanosecond)); err != nil {
		t.Errorf("old key just before PrevUntil: %v", err)
	}
}

func TestIndexChanges(t *testing.T) {
	now := time.Now()
	k, key := newKey(t, "shop", "gold")
	ix, events := runIndex(t, keyEvent(k))
	if ix.Version() == 0 {
		t.Error("Version is 0 after sync")
	}
	if id, err := ix.Authenticate(key, "x", now); err != nil || id.Plan != nil {
		t.Fatalf("Authenticate before the plan exists = %+v, %v", id, err)
	}
	send(t, ix, events, store.AccessEvent{Plan: &api.Plan{Name: "gold", Quota: "5/day"}})
	if id, err := ix.Authenticate(key, "x", now); err != nil || id.Plan == nil || id.Plan.Quota != "5/day" {
		t.Fatalf("Authenticate after the plan = %+v, %v", id, err)
	}
	send(t, ix, events, store.AccessEvent{Plan: &api.Plan{Name: "gold"}, Deleted: true})
	if id, err := ix.Authenticate(key, "x", now); err != nil || id.Plan != nil {
		t.Errorf("Authenticate after the plan's deletion = %+v, %v", id, err)
	}
	send(t, ix, events, store.AccessEvent{Key: &store.KeyRecord{Key: api.Key{ID: k.ID}}, Deleted: true})
	if _, err := ix.Authenticate(key, "x", now); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Authenticate after the key's deletion: %v, want ErrInvalidKey", err)
	}

	v := ix.Version()
	for _, id := range []string{"b", "a", "c"} {
		send(t, ix, events, store.AccessEvent{JWTKey: &store.JWTKeyRecord{JWTKey: api.JWTKey{ID: id, Alg: "HS256"}, Secret: "s" + id}})
	}
	send(t, ix, events, store.AccessEvent{JWTKey: &store.JWTKeyRecord{JWTKey: api.JWTKey{ID: "c"}}, Deleted: true})
	if got := ix.Version(); got < v+4 {
		t.Errorf("Version went from %d to %d over 4 changes", v, got)
	}
	got := ix.JWTKeys()
	if len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" || got[0].Secret != "sa" {
		t.Fatalf("JWTKeys = %+v, want a, b", got)
	}
	got[0].ID = "mutated"
	if ix.JWTKeys()[0].ID != "a" {
		t.Error("JWTKeys returned the index's own slice")
	}
}

func TestIndexBeforeSync(t *testing.T) {
	ix := NewIndex()
	k, key := newKey(t, "shop", "")
	events := make(chan store.AccessEvent)
	synced := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); ix.Run(t.Context(), events, synced) }()
	events <- keyEvent(k)
	if _, err := ix.Authenticate(key, "x", time.Now()); !errors.Is(err, ErrInvalidKey) || ix.Version() != 0 {
		t.Errorf("before Synced: %v, version %d; want ErrInvalidKey, 0", err, ix.Version())
	}
	events <- store.AccessEvent{Synced: true}
	<-synced
	if _, err := ix.Authenticate(key, "x", time.Now()); err != nil {
		t.Errorf("after Synced: %v", err)
	}
	close(events)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when events closed")
	}
}

// TestIndexFromStore drives the index from a real store's watch.
func TestIndexFromStore(t *testing.T) {
	s, err := store.Open(t.Context(), store.Options{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	if err := s.CreatePlan(ctx, api.Plan{Name: "gold", Rate: "10/s"}); err != nil {
		t.Fatal(err)
	}
	before, beforeKey := newKey(t, "shop", "gold")
	if err := s.CreateKey(ctx, before); err != nil {
		t.Fatal(err)
	}
	events, err := s.WatchAccess(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ix := NewIndex()
	synced := make(chan struct{})
	go ix.Run(ctx, events, synced)
	select {
	case <-synced:
	case <-time.After(10 * time.Second):
		t.Fatal("index not synced within 10s")
	}
	if id, err := ix.Authenticate(beforeKey, "hello", time.Now()); err != nil || id.Plan == nil {
		t.Fatalf("key stored before the watch: %+v, %v", id, err)
	}

	poll := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	k, key := newKey(t, "blog", "gold")
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	poll("the new key to authenticate", func() bool {
		_, err := ix.Authenticate(key, "hello", time.Now())
		return err == nil
	})

	// Rotate with a grace period: both keys work.
	rec, rev, err := s.Key(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	newKeyStr, hash, _ := NewSecret(k.ID)
	until := time.Now().Add(time.Hour)
	rec.PrevHash, rec.PrevUntil, rec.Hash = rec.Hash, &until, hash
	if _, err := s.UpdateKey(ctx, rec, rev); err != nil {
		t.Fatal(err)
	}
	poll("the rotated key to authenticate", func() bool {
		_, err := ix.Authenticate(newKeyStr, "hello", time.Now())
		return err == nil
	})
	if _, err := ix.Authenticate(key, "hello", time.Now()); err != nil {
		t.Errorf("old key in its grace period: %v", err)
	}

	if err := s.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	poll("the deleted key to fail", func() bool {
		_, err := ix.Authenticate(newKeyStr, "hello", time.Now())
		return errors.Is(err, ErrInvalidKey)
	})
	if err := s.PutJWTKey(ctx, store.JWTKeyRecord{JWTKey: api.JWTKey{ID: "k.1", Alg: "HS256"}, Secret: "x"}); err != nil {
		t.Fatal(err)
	}
	poll("the JWT key to appear", func() bool { return len(ix.JWTKeys()) == 1 })
}

// TestIndexHammer authenticates from many goroutines while keys and plans
// change: run with -race.
func TestIndexHammer(t *testing.T) {
	stable, stableKey := newKey(t, "shop", "gold")
	ix, events := runIndex(t, store.AccessEvent{Plan: &api.Plan{Name: "gold"}}, keyEvent(stable))
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				id, err := ix.Authenticate(stableKey, "hello", time.Now())
				if err != nil || id.Key.ID != stable.ID {
					errs <- fmt.Errorf("stable key: %+v, %v", id, err)
					return
				}
				_ = ix.JWTKeys()
				_ = ix.Version()
			}
		})
	}
	for i := range 300 {
		k, _ := newKey(t, "app", "gold")
		var ev store.AccessEvent
		switch i % 3 {
		case 0:
			ev = keyEvent(k)
		case 1:
			ev = store.AccessEvent{Plan: &api.Plan{Name: "gold", Rate: fmt.Sprint(i, "/s")}}
		case 2:
			ev = store.AccessEvent{JWTKey: &store.JWTKeyRecord{JWTKey: api.JWTKey{ID: fmt.Sprint("k", i)}}}
		}
		events <- ev
	}
	events <- store.AccessEvent{Plan: &api.Plan{Name: "gold", Rate: "final/s"}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		id, err := ix.Authenticate(stableKey, "hello", time.Now())
		if err == nil && id.Plan != nil && id.Plan.Rate == "final/s" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the last change did not arrive: %+v, %v", id, err)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(ix.JWTKeys()); n != 100 {
		t.Errorf("%d JWT keys, want 100", n)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	initial := []store.AccessEvent{{Plan: &api.Plan{Name: "gold", Rate: "100/s"}}}
	var key string
	for i := range 10000 {
		r, k := newKey(b, "app", "gold")
		r.Services = []string{"a", "b", "hello"}
		initial = append(initial, keyEvent(r))
		if i == 5000 {
			key = k
		}
	}
	ix, _ := runIndex(b, initial...)
	now := time.Now()
	unknown, _, _, _ := Generate()
	for _, bc := range []struct{ name, key string }{{"valid", key}, {"unknown", unknown}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = ix.Authenticate(bc.key, "hello", now)
				}
			})
		})
	}
}
