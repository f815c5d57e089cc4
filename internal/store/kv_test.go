package store

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mote-run/mote/api"
)

func TestKV(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()

	if _, err := s.KVGet(ctx, "api", "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("KVGet before any set: %v, want ErrNotFound", err)
	}
	if err := s.KVDelete(ctx, "api", "k"); err != nil {
		t.Fatalf("KVDelete before any set: %v", err)
	}
	if keys, err := s.KVList(ctx, "api", ""); err != nil || len(keys) != 0 {
		t.Fatalf("KVList before any set = %q, %v", keys, err)
	}
	keys := []string{"k", "a.b", "*", ">", "with space", "ü/ñ", "$KV.x", strings.Repeat("ü", MaxKVKey/2)}
	for i, k := range keys {
		if err := s.KVSet(ctx, "api", k, []byte(fmt.Sprint("value ", i)), 0); err != nil {
			t.Fatalf("KVSet(%q): %v", k, err)
		}
	}
	for i, k := range keys {
		v, err := s.KVGet(ctx, "api", k)
		if want := fmt.Sprint("value ", i); err != nil || string(v) != want {
			t.Errorf("KVGet(%q) = %q, %v; want %q", k, v, err, want)
		}
	}
	if err := s.KVSet(ctx, "api", "k", nil, 0); err != nil {
		t.Fatal(err)
	}
	if v, err := s.KVGet(ctx, "api", "k"); err != nil || len(v) != 0 {
		t.Errorf("KVGet of an empty value = %q, %v", v, err)
	}
	if _, err := s.KVGet(ctx, "other", "k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another service sees the key: %v", err)
	}

	got, err := s.KVList(ctx, "api", "")
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("KVList = %q, want %q", got, want)
	}
	if got, _ := s.KVList(ctx, "api", "ü"); len(got) != 2 || got[0] != "ü/ñ" {
		t.Errorf("KVList(ü) = %q, want ü/ñ and the long key", got)
	}

	if err := s.KVDelete(ctx, "api", "a.b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KVGet(ctx, "api", "a.b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("KVGet after delete: %v, want ErrNotFound", err)
	}
	if got, _ := s.KVList(ctx, "api", "a"); len(got) != 0 {
		t.Errorf("KVList after delete = %q", got)
	}
	if err := s.KVSet(ctx, "api", "a.b", []byte("back"), 0); err != nil {
		t.Fatal(err)
	}
	if v, err := s.KVGet(ctx, "api", "a.b"); err != nil || string(v) != "back" {
		t.Errorf("KVGet after delete and set = %q, %v", v, err)
	}
}

func TestKVInvalid(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()
	for name, key := range map[string]string{"empty": "", "too long": strings.Repeat("k", MaxKVKey+1), "not utf-8": "a\xffb"} {
		t.Run(name, func(t *testing.T) {
			if err := s.KVSet(ctx, "api", key, []byte("v"), 0); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("KVSet: %v, want ErrInvalidKey", err)
			}
			if _, err := s.KVGet(ctx, "api", key); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("KVGet: %v, want ErrInvalidKey", err)
			}
			if err := s.KVDelete(ctx, "api", key); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("KVDelete: %v, want ErrInvalidKey", err)
			}
		})
	}
	if _, err := s.KVList(ctx, "api", "a\xff"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("KVList with a bad prefix: %v, want ErrInvalidKey", err)
	}
	if err := s.KVSet(ctx, "Bad", "k", nil, 0); !errors.Is(err, ErrInvalidName) {
		t.Errorf("KVSet for a bad service: %v, want ErrInvalidName", err)
	}
	if err := s.KVSet(ctx, "api", "k", nil, -time.Second); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("KVSet with a negative ttl: %v, want ErrInvalidKey", err)
	}
	big := make([]byte, MaxKVValue+1)
	if err := s.KVSet(ctx, "api", "big", big, 0); !errors.Is(err, ErrTooLarge) {
		t.Errorf("KVSet of %d bytes: %v, want ErrTooLarge", len(big), err)
	}
	if err := s.KVSet(ctx, "api", "max", big[1:], time.Hour); err != nil {
		t.Fatalf("KVSet of exactly %d bytes with a ttl: %v", MaxKVValue, err)
	}
	if v, err := s.KVGet(ctx, "api", "max"); err != nil || len(v) != MaxKVValue {
		t.Errorf("KVGet of the largest value: %d bytes, %v", len(v), err)
	}
}

func TestKVTTL(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()
	const ttl = 300 * time.Millisecond
	start := time.Now()
	for _, k := range []string{"short", "renewed"} {
		if err := s.KVSet(ctx, "api", k, []byte("v"), ttl); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.KVSet(ctx, "api", "forever", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.KVSet(ctx, "api", "centuries", []byte("v"), math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	if err := s.KVSet(ctx, "api", "renewed", []byte("v2"), 0); err != nil { // a set without ttl clears it
		t.Fatal(err)
	}
	if v, err := s.KVGet(ctx, "api", "short"); err != nil || string(v) != "v" {
		if time.Since(start) < ttl {
			t.Fatalf("KVGet before the ttl = %q, %v", v, err)
		}
	}
	eventually(t, "the key to expire", func() bool {
		_, err := s.KVGet(ctx, "api", "short")
		return errors.Is(err, ErrNotFound)
	})
	if el := time.Since(start); el < ttl {
		t.Fatalf("the key expired after %s, before its ttl %s", el, ttl)
	}
	if got, _ := s.KVList(ctx, "api", ""); !slices.Equal(got, []string{"centuries", "forever", "renewed"}) {
		t.Errorf("KVList after expiry = %q, want centuries, forever, renewed", got)
	}

	// The server removes the expired message itself, leaving a marker.
	b, err := s.kvBucket(ctx, "api", false)
	if err != nil || b == nil {
		t.Fatalf("bucket: %v", err)
	}
	eventually(t, "the server to remove the expired message", func() bool {
		m, err := b.stream.GetLastMsgForSubject(ctx, b.subj+"73686f7274") // hex("short")
		return errors.Is(err, jetstream.ErrMsgNotFound) || err == nil && m.Header.Get(jetstream.MarkerReasonHeader) != ""
	})
	if v, err := s.KVGet(ctx, "api", "renewed"); err != nil || string(v) != "v2" {
		t.Errorf("a key re-set without ttl = %q, %v", v, err)
	}
}

func TestKVListBound(t *testing.T) {
	s := openStore(t, "", func(o *Options) { o.NoSync = true })
	ctx := t.Context()
	const n = MaxKVList + 150
	for i := n - 1; i >= 0; i-- {
		if err := s.KVSet(ctx, "api", fmt.Sprintf("k%05d", i), nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.KVList(ctx, "api", "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != MaxKVList || got[0] != "k00000" || got[MaxKVList-1] != fmt.Sprintf("k%05d", MaxKVList-1) {
		t.Errorf("KVList returned %d keys, %q … %q; want the first %d", len(got), got[0], got[len(got)-1], MaxKVList)
	}
	if got, _ := s.KVList(ctx, "api", "k011"); len(got) != 50 || got[0] != "k01100" {
		t.Errorf("KVList(k011) = %d keys from %q, want 50 from k01100", len(got), got)
	}
	if got, _ := s.KVList(ctx, "api", "nothing"); len(got) != 0 {
		t.Errorf("KVList(nothing) = %q", got)
	}
	// Listing leaves no consumer behind on the server.
	b, _ := s.kvBucket(ctx, "api", false)
	eventually(t, "the listing consumers to go", func() bool {
		info, err := b.stream.Info(ctx)
		return err == nil && info.State.Consumers == 0
	})
}

func TestKVPersistenceAndDeleteService(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateService(ctx, api.Service{Name: "api"}); err != nil {
		t.Fatal(err)
	}
	if err := s.KVSet(ctx, "api", "kept", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.KVSet(ctx, "api", "ttl", []byte("2"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.KVSet(ctx, "other", "theirs", []byte("3"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir)
	for k, want := range map[string]string{"kept": "1", "ttl": "2"} {
		if v, err := s.KVGet(ctx, "api", k); err != nil || string(v) != want {
			t.Errorf("KVGet(%s) after restart = %q, %v; want %q", k, v, err, want)
		}
	}
	if err := s.DeleteService(ctx, "api"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KVGet(ctx, "api", "kept"); !errors.Is(err, ErrNotFound) {
		t.Errorf("KVGet after DeleteService: %v, want ErrNotFound", err)
	}
	if _, err := s.js.KeyValue(ctx, kvBucketPrefix+"api"); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Errorf("the bucket survived DeleteService: %v", err)
	}
	if v, err := s.KVGet(ctx, "other", "theirs"); err != nil || string(v) != "3" {
		t.Errorf("another service's kv after DeleteService = %q, %v", v, err)
	}
	// A new service of the same name starts empty and can write.
	if _, err := s.CreateService(ctx, api.Service{Name: "api"}); err != nil {
		t.Fatal(err)
	}
	if keys, _ := s.KVList(ctx, "api", ""); len(keys) != 0 {
		t.Errorf("a re-created service inherits keys %q", keys)
	}
	if err := s.KVSet(ctx, "api", "new", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
}

// TestKVHammer creates buckets and writes from many goroutines at once.
func TestKVHammer(t *testing.T) {
	s := openStore(t, "", func(o *Options) { o.NoSync = true })
	ctx := t.Context()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			svc := fmt.Sprintf("svc-%d", g%3)
			for i := range 20 {
				key := fmt.Sprintf("g%d-%d", g, i)
				if err := s.KVSet(ctx, svc, key, []byte(key), 0); err != nil {
					t.Error(err)
					return
				}
				if v, err := s.KVGet(ctx, svc, key); err != nil || string(v) != key {
					t.Errorf("KVGet(%s) = %q, %v", key, v, err)
					return
				}
				if i%5 == 0 {
					if _, err := s.KVList(ctx, svc, fmt.Sprintf("g%d-", g)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for i := range 3 {
		keys, err := s.KVList(ctx, fmt.Sprintf("svc-%d", i), "")
		if err != nil {
			t.Fatal(err)
		}
		total += len(keys)
	}
	if total != 8*20 {
		t.Errorf("%d keys in all, want %d", total, 8*20)
	}
}
