package apikey

import (
	"errors"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/ratelimit"
	"github.com/mote-run/mote/internal/store"
)

// verifiedOf returns what the index remembers of key id's last match.
func verifiedOf(ix *Index, id string) *verifiedKey {
	e := ix.snap.Load().keys[id]
	if e == nil {
		return nil
	}
	return e.verified.Load()
}

// TestVerifiedKeyCache checks that a key verified by its hash is trusted
// for at most a second, and never past a change to its record: each case
// authenticates once (which hashes and remembers), changes something, and
// authenticates again within the second.
func TestVerifiedKeyCache(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	tests := []struct {
		name string
		// change, when set, returns the record that replaces the key's
		// (nil deletes it) and the new key if it rotated it.
		change func(r store.KeyRecord, now time.Time) (*store.KeyRecord, string)
		at     time.Duration // after the first check
		want   error
		// key picks what is presented the second time: the same key
		// unless set.
		key func(key, rotated string) string
	}{
		{name: "same key within the second", at: 999 * ms},
		{name: "wrong secret while verified", at: ms, want: ErrInvalidKey,
			key: func(key, _ string) string { return key[:len(key)-1] + string("10"[key[len(key)-1]&1]) }},
		{name: "revoked", at: ms, want: ErrRevoked, change: func(r store.KeyRecord, now time.Time) (*store.KeyRecord, string) {
			r.Revoked = &now
			return &r, ""
		}},
		{name: "rotated without grace, old key", at: ms, want: ErrInvalidKey, change: rotate(0)},
		{name: "rotated without grace, new key", at: ms, change: rotate(0), key: func(_, rotated string) string { return rotated }},
		{name: "rotated with grace, old key", at: ms, change: rotate(time.Hour)},
		{name: "deleted", at: ms, want: ErrInvalidKey, change: func(store.KeyRecord, time.Time) (*store.KeyRecord, string) { return nil, "" }},
		{name: "expires", at: 100 * ms, want: ErrExpired, change: func(r store.KeyRecord, now time.Time) (*store.KeyRecord, string) {
			exp := now.Add(100 * time.Millisecond)
			r.Expires = &exp
			return &r, ""
		}},
		{name: "scoped to other services", at: ms, want: ErrNotForService, change: func(r store.KeyRecord, _ time.Time) (*store.KeyRecord, string) {
			r.Services = []string{"other"}
			return &r, ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, key := newKey(t, "shop", "gold")
			ix, events := runIndex(t, store.AccessEvent{Plan: &api.Plan{Name: "gold", Rate: "10/s"}}, keyEvent(rec))
			if _, err := ix.Authenticate(key, "hello", t0); err != nil {
				t.Fatalf("first check: %v", err)
			}
			first := verifiedOf(ix, rec.ID)
			if first == nil || first.at != t0 {
				t.Fatalf("after the first check the index remembers %+v", first)
			}
			rotated := ""
			if tc.change != nil {
				var next *store.KeyRecord
				next, rotated = tc.change(rec, t0)
				if next == nil {
					send(t, ix, events, store.AccessEvent{Key: &store.KeyRecord{Key: api.Key{ID: rec.ID}}, Deleted: true})
				} else {
					send(t, ix, events, store.AccessEvent{Key: next})
				}
			}
			presented := key
			if tc.key != nil {
				presented = tc.key(key, rotated)
			}
			id, err := ix.Authenticate(presented, "hello", t0.Add(tc.at))
			if !errors.Is(err, tc.want) {
				t.Fatalf("second check: %v, want %v", err, tc.want)
			}
			if err == nil && (id.Key.ID != rec.ID || id.Plan == nil) {
				t.Errorf("second check: %+v", id)
			}
		})
	}
}

// rotate returns a change that gives the key a new secret, the old one
// valid for grace.
func rotate(grace time.Duration) func(r store.KeyRecord, now time.Time) (*store.KeyRecord, string) {
	return func(r store.KeyRecord, now time.Time) (*store.KeyRecord, string) {
		key, hash, err := NewSecret(r.ID)
		if err != nil {
			return nil, "" // never: r.ID is valid
		}
		if grace > 0 {
			until := now.Add(grace)
			r.PrevHash, r.PrevUntil = r.Hash, &until
		}
		r.Hash = hash
		r.Rotated = &now
		return &r, key
	}
}

// TestVerifiedKeyLifetime: a remembered key is used for less than a
// second, a key matched by its pre-rotation hash only until PrevUntil, and
// a wrong secret changes nothing.
func TestVerifiedKeyLifetime(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	rec, oldKey := newKey(t, "shop", "gold")
	newKeyStr, hash, err := NewSecret(rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	until := t0.Add(500 * time.Millisecond)
	rec.PrevHash, rec.PrevUntil, rec.Hash = rec.Hash, &until, hash
	ix, _ := runIndex(t, keyEvent(rec))

	check := func(key string, at time.Duration, want error) *verifiedKey {
		t.Helper()
		if _, err := ix.Authenticate(key, "hello", t0.Add(at)); !errors.Is(err, want) {
			t.Fatalf("at +%v: %v, want %v", at, err, want)
		}
		return verifiedOf(ix, rec.ID)
	}
	v1 := check(newKeyStr, 0, nil)
	if v := check(newKeyStr, 999*time.Millisecond, nil); v != v1 {
		t.Error("the key was hashed again within the second")
	}
	if v := check(newKeyStr[:len(newKeyStr)-2]+"zz", 0, ErrInvalidKey); v != v1 {
		t.Error("a malformed key changed what is remembered")
	}
	wrong, _, _ := NewSecret(rec.ID)
	if v := check(wrong, 0, ErrInvalidKey); v != v1 {
		t.Error("a wrong secret changed what is remembered")
	}
	v2 := check(newKeyStr, time.Second, nil)
	if v2 == v1 || v2.at != t0.Add(time.Second) {
		t.Error("the key was not hashed again after a second")
	}
	if v := check(newKeyStr, 0, nil); v == v2 || v.at != t0 {
		t.Error("the key was not hashed again when the clock went back")
	}
	// The old key, remembered as matching the pre-rotation hash, stops at
	// PrevUntil even though it was verified less than a second before.
	if v := check(oldKey, 0, nil); !v.prev {
		t.Errorf("the old key is remembered as %+v, want prev", v)
	}
	check(oldKey, 499*time.Millisecond, nil)
	check(oldKey, 500*time.Millisecond, ErrInvalidKey)
}

func TestAuthenticateCachedDoesNotAllocate(t *testing.T) {
	rec, key := newKey(t, "shop", "gold")
	ix, _ := runIndex(t, store.AccessEvent{Plan: &api.Plan{Name: "gold", Rate: "10/s", Burst: 20, Quota: "5/day"}}, keyEvent(rec))
	now := time.Now()
	id, err := ix.Authenticate(key, "hello", now)
	if err != nil {
		t.Fatal(err)
	}
	wantRate, _ := ratelimit.ParseRate("10/s")
	if lim := id.Plan.Limits; lim.Rate != wantRate || lim.Burst != 20 || lim.Quota != (ratelimit.Quota{N: 5, Period: ratelimit.Day}) {
		t.Errorf("plan limits %+v", lim)
	}
	if id.AppValue[0] != "shop" || id.IDValue[0] != rec.ID || cap(id.AppValue) != 1 || cap(id.IDValue) != 1 {
		t.Errorf("header values %q %q", id.AppValue, id.IDValue)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ix.Authenticate(key, "hello", now) }); n != 0 {
		t.Errorf("Authenticate of a verified key: %v allocations, want 0", n)
	}
}
