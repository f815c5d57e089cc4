package jwt

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	_, ecKey := testKeys(t)
	es := mustKey(t, "es", ES256, pkixPEM(t, &ecKey.PublicKey))
	keys := NewKeySet(es)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	opts := Options{Audience: "hello", Now: func() time.Time { return time.Unix(0, clock.Load()) }}
	tok := makeToken(t, hdr(ES256, "es"), claimsAt("exp", now.Add(time.Minute).Unix()), esSigner(ecKey))

	c := NewCache(2)
	for i := range 3 {
		claims, err := c.Verify(tok, keys, opts)
		if err != nil {
			t.Fatalf("Verify %d: %v", i, err)
		}
		if sub, _ := claims.String("sub"); sub != "user-1" {
			t.Fatalf("Verify %d: sub %q", i, sub)
		}
		claims["sub"] = "changed by the caller"
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d, want 1", c.Len())
	}

	t.Run("checks options on a hit", func(t *testing.T) {
		o := opts
		o.Audience = "other"
		if _, err := c.Verify(tok, keys, o); !errors.Is(err, ErrAudience) {
			t.Fatalf("hit with another audience: %v, want ErrAudience", err)
		}
		if c.Len() != 1 {
			t.Fatal("an audience mismatch dropped the entry")
		}
	})
	t.Run("another key set misses", func(t *testing.T) {
		other := NewKeySet(mustKey(t, "es", ES256, pkixPEM(t, &mustEC(t).PublicKey)))
		if _, err := c.Verify(tok, other, opts); !errors.Is(err, ErrSignature) {
			t.Fatalf("hit with another key set: %v, want ErrSignature", err)
		}
	})
	t.Run("a tampered token misses", func(t *testing.T) {
		if _, err := c.Verify(tamper(t, tok), keys, opts); !errors.Is(err, ErrSignature) {
			t.Fatalf("tampered: %v, want ErrSignature", err)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		clock.Store(now.Add(time.Minute).UnixNano())
		if _, err := c.Verify(tok, keys, opts); !errors.Is(err, ErrExpired) {
			t.Fatalf("cached token after exp: %v, want ErrExpired", err)
		}
		if c.Len() != 0 {
			t.Fatalf("expired entry kept: Len = %d", c.Len())
		}
		clock.Store(now.UnixNano())
	})
	t.Run("bounded", func(t *testing.T) {
		for i := range 5 {
			tok := makeToken(t, hdr(ES256, "es"), claimsAt("jti", fmt.Sprint(i)), esSigner(ecKey))
			if _, err := c.Verify(tok, keys, opts); err != nil {
				t.Fatal(err)
			}
		}
		if c.Len() != 2 {
			t.Fatalf("Len = %d, want 2", c.Len())
		}
	})
	t.Run("other KeySet types pass through", func(t *testing.T) {
		if _, err := c.Verify(tok, mapKeys{"es": es}, opts); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("nil cache", func(t *testing.T) {
		var nc *Cache
		if _, err := nc.Verify(tok, keys, opts); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCacheConcurrent(t *testing.T) {
	hs := mustKey(t, "hs", HS256, testSecret)
	keys := NewKeySet(hs)
	opts := Options{Now: fixedNow}
	var toks []string
	for i := range 20 {
		toks = append(toks, makeToken(t, hdr(HS256, "hs"), claimsAt("jti", fmt.Sprint(i)), hsSigner(testSecret)))
	}
	bad := tamper(t, toks[0])
	c := NewCache(8)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				tok := toks[(g+i)%len(toks)]
				claims, err := c.Verify(tok, keys, opts)
				if err != nil {
					t.Error(err)
					return
				}
				claims["x"] = i
				if _, err := c.Verify(bad, keys, opts); !errors.Is(err, ErrSignature) {
					t.Errorf("tampered: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 8 {
		t.Fatalf("Len = %d, more than 8", c.Len())
	}
}

// mapKeys is a KeySet of an uncomparable type.
type mapKeys map[string]*Key

func (m mapKeys) Lookup(kid string) (*Key, bool) { k, ok := m[kid]; return k, ok }
func (m mapKeys) Len() int                       { return len(m) }
