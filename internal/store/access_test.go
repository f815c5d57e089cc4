package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mote-run/mote/api"
)

// testHash is a well-formed key hash (the value does not matter to the store).
func testHash(c byte) string { return strings.Repeat(string(c), 64) }

func testKey(id, app string, created time.Time) KeyRecord {
	return KeyRecord{Key: api.Key{ID: id, App: app, Plan: "gold", Prefix: "mk_" + id, Created: created}, Hash: testHash('a')}
}

func TestPlans(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()

	if got, err := s.Plans(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Plans of an empty store = %+v, %v", got, err)
	}
	if _, err := s.Plan(ctx, "gold"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Plan of a missing plan: %v, want ErrNotFound", err)
	}
	gold := api.Plan{Name: "gold", Rate: "100/s", Burst: 200, Quota: "1000000/month", Created: time.Now().UTC().Truncate(time.Second)}
	if err := s.CreatePlan(ctx, gold); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePlan(ctx, gold); !errors.Is(err, ErrExists) {
		t.Errorf("second CreatePlan: %v, want ErrExists", err)
	}
	if err := s.PutPlan(ctx, api.Plan{Name: "bronze", Rate: "1/s"}); err != nil {
		t.Fatalf("PutPlan of a new plan: %v", err)
	}
	if got, err := s.Plan(ctx, "gold"); err != nil || got.Rate != gold.Rate || got.Burst != 200 || got.Quota != gold.Quota || !got.Created.Equal(gold.Created) {
		t.Errorf("Plan = %+v, %v; want %+v", got, err, gold)
	}
	gold.Rate = "50/s"
	if err := s.PutPlan(ctx, gold); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Plan(ctx, "gold"); got.Rate != "50/s" {
		t.Errorf("Plan after PutPlan: rate %q, want 50/s", got.Rate)
	}
	got, err := s.Plans(ctx)
	if err != nil || len(got) != 2 || got[0].Name != "bronze" || got[1].Name != "gold" {
		t.Errorf("Plans = %+v, %v; want bronze, gold", got, err)
	}
	if err := s.DeletePlan(ctx, "gold"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePlan(ctx, "gold"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeletePlan: %v, want ErrNotFound", err)
	}
	if _, err := s.Plan(ctx, "gold"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Plan after delete: %v, want ErrNotFound", err)
	}
	if err := s.CreatePlan(ctx, gold); err != nil {
		t.Errorf("CreatePlan after delete: %v", err)
	}
}

func TestKeys(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

	if _, _, err := s.Key(ctx, "0123456789ab"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Key of a missing key: %v, want ErrNotFound", err)
	}
	k := testKey("0123456789ab", "shop", t0.Add(time.Hour))
	k.Services = []string{"hello", "cart"}
	for _, r := range []KeyRecord{k, testKey("aaaaaaaaaaaa", "shop", t0), testKey("bbbbbbbbbbbb", "blog", t0.Add(2*time.Hour))} {
		if err := s.CreateKey(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateKey(ctx, k); !errors.Is(err, ErrExists) {
		t.Errorf("second CreateKey: %v, want ErrExists", err)
	}
	got, rev, err := s.Key(ctx, k.ID)
	if err != nil || got.App != "shop" || got.Hash != k.Hash || len(got.Services) != 2 || !got.Created.Equal(k.Created) || rev == 0 {
		t.Fatalf("Key = %+v, %d, %v; want %+v", got, rev, err, k)
	}

	// Rotation: compare-and-set with the revision read.
	until := t0.Add(48 * time.Hour)
	got.PrevHash, got.PrevUntil, got.Hash = got.Hash, &until, testHash('b')
	nrev, err := s.UpdateKey(ctx, got, rev)
	if err != nil || nrev <= rev {
		t.Fatalf("UpdateKey = %d, %v", nrev, err)
	}
	if _, err := s.UpdateKey(ctx, got, rev); !errors.Is(err, ErrConflict) {
		t.Errorf("UpdateKey with a stale revision: %v, want ErrConflict", err)
	}
	if _, err := s.UpdateKey(ctx, got, 0); !errors.Is(err, ErrConflict) {
		t.Errorf("UpdateKey with revision 0: %v, want ErrConflict", err)
	}
	if r, _, _ := s.Key(ctx, k.ID); r.Hash != testHash('b') || r.PrevHash != testHash('a') || r.PrevUntil == nil || !r.PrevUntil.Equal(until) {
		t.Errorf("Key after UpdateKey = %+v", r)
	}

	list, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range list {
		ids = append(ids, r.ID)
	}
	if want := "bbbbbbbbbbbb aaaaaaaaaaaa 0123456789ab"; strings.Join(ids, " ") != want {
		t.Errorf("Keys order %v, want %s (by app, then created)", ids, want)
	}

	if err := s.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(ctx, k.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteKey: %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateKey(ctx, got, nrev); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateKey of a deleted key: %v, want ErrNotFound", err)
	}
	if list, _ := s.Keys(ctx); len(list) != 2 {
		t.Errorf("Keys after delete = %+v, want 2", list)
	}
}

func TestAccessInvalid(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()
	t.Run("plan names", func(t *testing.T) {
		for _, name := range []string{"", "Gold", "a.b", "a b", "*", ">", strings.Repeat("a", 64)} {
			if err := s.CreatePlan(ctx, api.Plan{Name: name}); !errors.Is(err, ErrInvalidName) {
				t.Errorf("CreatePlan(%q): %v, want ErrInvalidName", name, err)
			}
			if err := s.PutPlan(ctx, api.Plan{Name: name}); !errors.Is(err, ErrInvalidName) {
				t.Errorf("PutPlan(%q): %v, want ErrInvalidName", name, err)
			}
			if _, err := s.Plan(ctx, name); !errors.Is(err, ErrInvalidName) {
				t.Errorf("Plan(%q): %v, want ErrInvalidName", name, err)
			}
			if err := s.DeletePlan(ctx, name); !errors.Is(err, ErrInvalidName) {
				t.Errorf("DeletePlan(%q): %v, want ErrInvalidName", name, err)
			}
		}
	})
	t.Run("keys", func(t *testing.T) {
		ok := testKey("0123456789ab", "shop", time.Now())
		for _, tc := range []struct {
			name string
			edit func(*KeyRecord)
			want error
		}{
			{"short id", func(k *KeyRecord) { k.ID = "0123" }, ErrInvalidName},
			{"upper id", func(k *KeyRecord) { k.ID = "0123456789AB" }, ErrInvalidName},
			{"dotted id", func(k *KeyRecord) { k.ID = "0123456789.b" }, ErrInvalidName},
			{"no app", func(k *KeyRecord) { k.App = "" }, ErrInvalidName},
			{"bad app", func(k *KeyRecord) { k.App = "Shop" }, ErrInvalidName},
			{"bad plan", func(k *KeyRecord) { k.Plan = "a.b" }, ErrInvalidName},
			{"bad service", func(k *KeyRecord) { k.Services = []string{"ok", "a>"} }, ErrInvalidName},
			{"no hash", func(k *KeyRecord) { k.Hash = "" }, ErrInvalidKey},
			{"secret as hash", func(k *KeyRecord) { k.Hash = "mk_0123456789ab_" + strings.Repeat("0", 48) }, ErrInvalidKey},
			{"bad prev hash", func(k *KeyRecord) { k.PrevHash = "abc" }, ErrInvalidKey},
		} {
			t.Run(tc.name, func(t *testing.T) {
				k := ok
				tc.edit(&k)
				if err := s.CreateKey(ctx, k); !errors.Is(err, tc.want) {
					t.Errorf("CreateKey: %v, want %v", err, tc.want)
				}
				if _, err := s.UpdateKey(ctx, k, 1); !errors.Is(err, tc.want) {
					t.Errorf("UpdateKey: %v, want %v", err, tc.want)
				}
			})
		}
		k := ok
		k.Plan = ""
		if err := s.CreateKey(ctx, k); err != nil {
			t.Errorf("CreateKey without a plan: %v", err)
		}
		for _, id := range []string{"", "xyz", "0123456789abc", "0123456789a>"} {
			if _, _, err := s.Key(ctx, id); !errors.Is(err, ErrInvalidName) {
				t.Errorf("Key(%q): %v, want ErrInvalidName", id, err)
			}
			if err := s.DeleteKey(ctx, id); !errors.Is(err, ErrInvalidName) {
				t.Errorf("DeleteKey(%q): %v, want ErrInvalidName", id, err)
			}
		}
	})
	t.Run("JWT key ids", func(t *testing.T) {
		for _, id := range []string{"", "a b", "a/b", "a*", "ä", strings.Repeat("k", MaxJWTKeyID+1)} {
			if err := s.PutJWTKey(ctx, JWTKeyRecord{JWTKey: api.JWTKey{ID: id, Alg: "HS256"}}); !errors.Is(err, ErrInvalidName) {
				t.Errorf("PutJWTKey(%q): %v, want ErrInvalidName", id, err)
			}
			if err := s.DeleteJWTKey(ctx, id); !errors.Is(err, ErrInvalidName) {
				t.Errorf("DeleteJWTKey(%q): %v, want ErrInvalidName", id, err)
			}
		}
	})
	t.Run("quota counters", func(t *testing.T) {
		for _, c := range []string{"", "0123456789ab", "0123456789ab.", "0123456789ab.2026.11", "0123456789ab.>", "xyz.2026-11",
			"0123456789ab." + strings.Repeat("1", MaxQuotaWindow+1)} {
			if _, err := s.LoadQuota(ctx, c); !errors.Is(err, ErrInvalidName) {
				t.Errorf("LoadQuota(%q): %v, want ErrInvalidName", c, err)
			}
			if _, err := s.AddQuota(ctx, c, 1); !errors.Is(err, ErrInvalidName) {
				t.Errorf("AddQuota(%q): %v, want ErrInvalidName", c, err)
			}
		}
	})
}

func TestJWTKeys(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()
	// IDs with dots, leading, trailing and doubled, are stored under their hex.
	ids := []string{"z", ".lead", "trail.", "a..b", "A_b-9", strings.Repeat("k", MaxJWTKeyID)}
	for _, id := range ids {
		if err := s.PutJWTKey(ctx, JWTKeyRecord{JWTKey: api.JWTKey{ID: id, Alg: "HS256"}, Secret: "s-" + id}); err != nil {
			t.Fatalf("PutJWTKey(%q): %v", id, err)
		}
	}
	if err := s.PutJWTKey(ctx, JWTKeyRecord{JWTKey: api.JWTKey{ID: "z", Alg: "ES256", PEM: "pem"}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.JWTKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, k := range got {
		gotIDs = append(gotIDs, k.ID)
		switch {
		case k.ID == "z" && (k.Alg != "ES256" || k.PEM != "pem" || k.Secret != ""):
			t.Errorf("replaced key z = %+v", k)
		case k.ID != "z" && k.Secret != "s-"+k.ID:
			t.Errorf("key %q secret %q", k.ID, k.Secret)
		}
	}
	if want := ".lead A_b-9 a..b " + strings.Repeat("k", MaxJWTKeyID) + " trail. z"; strings.Join(gotIDs, " ") != want {
		t.Errorf("JWTKeys = %v, want %s", gotIDs, want)
	}
	if err := s.DeleteJWTKey(ctx, "a..b"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteJWTKey(ctx, "a..b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteJWTKey: %v, want ErrNotFound", err)
	}
	if got, _ := s.JWTKeys(ctx); len(got) != len(ids)-1 {
		t.Errorf("JWTKeys after delete: %d, want %d", len(got), len(ids)-1)
	}
}

func TestWatchAccess(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if err := s.CreatePlan(ctx, api.Plan{Name: "gold", Rate: "1/s"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePlan(ctx, api.Plan{Name: "gone"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePlan(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKey(ctx, testKey("0123456789ab", "shop", t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutJWTKey(ctx, JWTKeyRecord{JWTKey: api.JWTKey{ID: "k.1", Alg: "HS256"}, Secret: "x"}); err != nil {
		t.Fatal(err)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.WatchAccess(wctx)
	if err != nil {
		t.Fatal(err)
	}
	next := func() AccessEvent {
		t.Helper()
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("watch channel closed")
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no watch event within 10s")
		}
		return AccessEvent{}
	}
	// describe names an event and checks exactly one field is set.
	describe := func(ev AccessEvent) string {
		t.Helper()
		var set []string
		if ev.Plan != nil {
			set = append(set, "plan "+ev.Plan.Name)
		}
		if ev.Key != nil {
			set = append(set, "key "+ev.Key.ID)
		}
		if ev.JWTKey != nil {
			set = append(set, "jwt "+ev.JWTKey.ID)
		}
		if ev.Synced {
			set = append(set, "synced")
		}
		if len(set) != 1 {
			t.Errorf("event %+v sets %v, want exactly one", ev, set)
		}
		if ev.Deleted {
			return "-" + strings.Join(set, ",")
		}
		return strings.Join(set, ",")
	}

	initial := map[string]bool{}
	for {
		ev := next()
		if ev.Synced {
			describe(ev)
			break
		}
		initial[describe(ev)] = true
		if ev.Key != nil && ev.Key.Hash != testHash('a') {
			t.Errorf("initial key without its hash: %+v", ev.Key)
		}
		if ev.JWTKey != nil && ev.JWTKey.Secret != "x" {
			t.Errorf("initial JWT key without its secret: %+v", ev.JWTKey)
		}
	}
	if want := map[string]bool{"plan gold": true, "key 0123456789ab": true, "jwt k.1": true}; fmt.Sprint(initial) != fmt.Sprint(want) {
		t.Errorf("initial events %v, want %v", initial, want)
	}

	for _, step := range []struct {
		do   func() error
		want string
	}{
		{func() error { return s.PutPlan(ctx, api.Plan{Name: "gold", Rate: "2/s"}) }, "plan gold"},
		{func() error { return s.CreateKey(ctx, testKey("bbbbbbbbbbbb", "blog", t0)) }, "key bbbbbbbbbbbb"},
		{func() error { return s.DeleteKey(ctx, "0123456789ab") }, "-key 0123456789ab"},
		{func() error { return s.DeletePlan(ctx, "gold") }, "-plan gold"},
		{func() error {
			return s.PutJWTKey(ctx, JWTKeyRecord{JWTKey: api.JWTKey{ID: "..x", Alg: "RS256", PEM: "p"}})
		}, "jwt ..x"},
		{func() error { return s.DeleteJWTKey(ctx, "k.1") }, "-jwt k.1"},
	} {
		if err := step.do(); err != nil {
			t.Fatal(err)
		}
		ev := next()
		if got := describe(ev); got != step.want {
			t.Errorf("event %q, want %q", got, step.want)
		}
		if ev.Plan != nil && !ev.Deleted && ev.Plan.Rate != "2/s" {
			t.Errorf("plan update event %+v", ev.Plan)
		}
	}

	cancel()
	eventually(t, "the watch channel to close", func() bool {
		select {
		case _, ok := <-ch:
			return !ok
		default:
			return false
		}
	})
}

func TestWatchAccessEmptyAndClose(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), Options{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.WatchAccess(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-ch; !ev.Synced {
		t.Fatalf("first event of an empty store %+v, want Synced", ev)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the watch channel to close with the store", func() bool {
		select {
		case _, ok := <-ch:
			return !ok
		default:
			return false
		}
	})
}

func TestQuota(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()
	const c = "0a1b2c3d4e5f.2026-11"
	if n, err := s.LoadQuota(ctx, c); err != nil || n != 0 {
		t.Fatalf("LoadQuota of a new counter = %d, %v; want 0", n, err)
	}
	for i, tc := range []struct{ delta, want int64 }{{1, 1}, {10, 11}, {-3, 8}, {0, 8}} {
		if n, err := s.AddQuota(ctx, c, tc.delta); err != nil || n != tc.want {
			t.Errorf("AddQuota #%d(%d) = %d, %v; want %d", i, tc.delta, n, err, tc.want)
		}
	}
	if n, err := s.LoadQuota(ctx, c); err != nil || n != 8 {
		t.Errorf("LoadQuota = %d, %v; want 8", n, err)
	}
	if n, _ := s.LoadQuota(ctx, "0a1b2c3d4e5f.2026-11-27"); n != 0 {
		t.Errorf("another window's counter = %d, want 0", n)
	}
	st, err := s.js.Stream(ctx, "KV_"+quotaBucket)
	if err != nil {
		t.Fatal(err)
	}
	if age := st.CachedInfo().Config.MaxAge; age != QuotaRetention {
		t.Errorf("quota bucket max age %s, want %s", age, QuotaRetention)
	}
}

// TestAddQuotaHammer adds from many goroutines to one counter: every add
// must land exactly once.
func TestAddQuotaHammer(t *testing.T) {
	s := openStore(t, "", func(o *Options) { o.NoSync = true })
	ctx := t.Context()
	const c = "0a1b2c3d4e5f.2026-11-27"
	const workers, each = 8, 25
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		seen  = map[int64]bool{}
		first error
	)
	for w := range workers {
		wg.Go(func() {
			for range each {
				n, err := s.AddQuota(ctx, c, 1)
				mu.Lock()
				if err != nil && first == nil {
					first = fmt.Errorf("worker %d: %w", w, err)
				}
				if seen[n] {
					first = fmt.Errorf("total %d returned twice", n)
				}
				seen[n] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
	if n, err := s.LoadQuota(ctx, c); err != nil || n != workers*each {
		t.Errorf("counter = %d, %v; want %d", n, err, workers*each)
	}
}

func TestAccessPersistence(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	until := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	k := testKey("0123456789ab", "shop", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	k.PrevHash, k.PrevUntil = testHash('c'), &until
	steps := []error{
		s.CreatePlan(ctx, api.Plan{Name: "gold", Quota: "10/day"}),
		s.CreateKey(ctx, k),
		s.PutJWTKey(ctx, JWTKeyRecord{JWTKey: api.JWTKey{ID: "k1", Alg: "HS256"}, Secret: "0123456789abcdef0123456789abcdef"}),
	}
	if _, err := s.AddQuota(ctx, "0123456789ab.2026-11", 42); err != nil {
		steps = append(steps, err)
	}
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir)
	if p, err := s.Plan(ctx, "gold"); err != nil || p.Quota != "10/day" {
		t.Errorf("plan after restart = %+v, %v", p, err)
	}
	if got, _, err := s.Key(ctx, k.ID); err != nil || got.Hash != k.Hash || got.PrevHash != k.PrevHash || got.PrevUntil == nil || !got.PrevUntil.Equal(until) {
		t.Errorf("key after restart = %+v, %v", got, err)
	}
	if ks, err := s.JWTKeys(ctx); err != nil || len(ks) != 1 || ks[0].Secret != "0123456789abcdef0123456789abcdef" {
		t.Errorf("JWT keys after restart = %+v, %v", ks, err)
	}
	if n, err := s.LoadQuota(ctx, "0123456789ab.2026-11"); err != nil || n != 42 {
		t.Errorf("quota after restart = %d, %v; want 42", n, err)
	}
	// The state buckets are durable: none may flush asynchronously.
	for _, b := range []string{plansBucket, keysBucket, jwtKeysBucket, quotaBucket} {
		st, err := s.js.Stream(ctx, "KV_"+b)
		if err != nil {
			t.Fatal(err)
		}
		if st.CachedInfo().Config.PersistMode == jetstream.AsyncPersistMode {
			t.Errorf("bucket %s flushes asynchronously", b)
		}
	}
}

func FuzzAccessNames(f *testing.F) {
	for _, s := range []string{"0123456789ab", "0123456789ab.2026-11", "k.1", "..", "a>b", "", "0123456789AB.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		// Whatever is accepted is a valid KV key that cannot reach another
		// subject: no wildcard, space or empty token.
		if ValidKeyID(name) && (len(name) != KeyIDLen || strings.ContainsAny(name, ".*> \t\r\n")) {
			t.Fatalf("ValidKeyID accepted %q", name)
		}
		if checkCounter(name) == nil && (strings.Count(name, ".") != 1 || strings.ContainsAny(name, "*> \t\r\n") ||
			strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".")) {
			t.Fatalf("checkCounter accepted %q", name)
		}
		if ValidJWTKeyID(name) {
			if strings.ContainsAny(name, "*> \t\r\n/") || len(name) > MaxJWTKeyID {
				t.Fatalf("ValidJWTKeyID accepted %q", name)
			}
			if k := jwtKeyName(name); strings.Trim(k, "0123456789abcdef") != "" {
				t.Fatalf("jwtKeyName(%q) = %q, not hex", name, k)
			}
		}
	})
}

// BenchmarkAddQuota measures one counter increment, with and without the
// fsync before the ack.
func BenchmarkAddQuota(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("nosync=%v", noSync), func(b *testing.B) {
			s := openStore(b, "", func(o *Options) { o.NoSync = noSync })
			for b.Loop() {
				if _, err := s.AddQuota(b.Context(), "0123456789ab.2026-11", 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
