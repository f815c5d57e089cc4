package kv_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/guest"
	"github.com/mote-run/mote/guest/guesttest"
	"github.com/mote-run/mote/guest/kv"
)

func TestKV(t *testing.T) {
	now := time.Unix(1000, 0)
	host := guesttest.Install(t, &guesttest.Host{Now: func() time.Time { return now }})

	if _, err := kv.Get("a"); !errors.Is(err, guest.ErrNotFound) || !strings.Contains(err.Error(), `kv_get "a": not found: no such key`) {
		t.Errorf("Get of a missing key: %v, want ErrNotFound", err)
	}
	for k, v := range map[string]string{"a": "1", "todo/2": "two", "todo/1": "\x00\xff", "todo0": ""} {
		if err := kv.Set(k, []byte(v), 0); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := kv.Get("todo/1"); err != nil || string(v) != "\x00\xff" {
		t.Errorf("Get(todo/1) = %q, %v", v, err)
	}
	if v, err := kv.Get("todo0"); err != nil || len(v) != 0 {
		t.Errorf("Get of an empty value = %q, %v", v, err)
	}
	if keys, err := kv.List("todo/"); err != nil || !slices.Equal(keys, []string{"todo/1", "todo/2"}) {
		t.Errorf("List(todo/) = %q, %v", keys, err)
	}
	if keys, err := kv.List(""); err != nil || len(keys) != 4 {
		t.Errorf("List() = %q, %v", keys, err)
	}
	if keys, err := kv.List("zzz"); err != nil || len(keys) != 0 {
		t.Errorf("List(zzz) = %q, %v", keys, err)
	}
	if err := kv.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete("a"); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
	if _, err := kv.Get("a"); !errors.Is(err, guest.ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}

	// A ttl below a millisecond rounds up: it never means "forever".
	if err := kv.Set("short", []byte("x"), time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	if err := kv.Set("hour", []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get("short"); err != nil {
		t.Errorf("Get before expiry: %v", err)
	}
	now = now.Add(time.Millisecond)
	if _, err := kv.Get("short"); !errors.Is(err, guest.ErrNotFound) {
		t.Errorf("Get after a 1ns ttl and 1ms: %v, want ErrNotFound", err)
	}
	if _, err := kv.Get("hour"); err != nil {
		t.Errorf("Get of a key with an hour to live: %v", err)
	}
	if _, ok := host.KV()["short"]; ok {
		t.Error("Host.KV lists an expired key")
	}
}

func TestKVErrors(t *testing.T) {
	guesttest.Install(t, nil)
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"negative ttl", kv.Set("k", nil, -time.Second), guest.ErrInvalid},
		{"empty key", kv.Set("", nil, 0), guest.ErrInvalid},
		{"long key", kv.Set(strings.Repeat("k", 513), nil, 0), guest.ErrInvalid},
		{"key not UTF-8", kv.Delete("\xff"), guest.ErrInvalid},
		{"value too large", kv.Set("k", make([]byte, 1<<20+1), 0), guest.ErrTooLarge},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if err := kv.Set(strings.Repeat("k", 512), make([]byte, 1<<20), 0); err != nil {
		t.Errorf("the largest key and value: %v", err)
	}
}

func TestKVNotInGuest(t *testing.T) {
	if _, err := kv.Get("k"); !errors.Is(err, guest.ErrNotInGuest) {
		t.Errorf("Get outside a guest: %v, want ErrNotInGuest", err)
	}
}
