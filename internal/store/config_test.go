package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
)

func TestConfig(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()

	if got, err := s.Config(ctx, "api"); err != nil || len(got) != 0 {
		t.Fatalf("Config of an unconfigured service = %+v, %v; want none", got, err)
	}
	if _, err := s.ConfigValue(ctx, "api", "TOKEN"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ConfigValue of a missing key: %v, want ErrNotFound", err)
	}
	before := time.Now().Add(-time.Second)
	if err := s.SetConfig(ctx, "api", map[string]string{"B_URL": "https://b", "A_MODE": "fast"}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetConfig(ctx, "api", map[string]string{"TOKEN": "s3cret"}, true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetConfig(ctx, "other", map[string]string{"TOKEN": "theirs"}, true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetConfig(ctx, "api", nil, false); err != nil {
		t.Fatalf("SetConfig of nothing: %v", err)
	}
	got, err := s.Config(ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	want := []ConfigEntry{{Key: "A_MODE", Value: "fast"}, {Key: "B_URL", Value: "https://b"}, {Key: "TOKEN", Value: "s3cret", Secret: true}}
	if len(got) != len(want) {
		t.Fatalf("Config = %+v, want %+v", got, want)
	}
	for i, e := range got {
		if e.Key != want[i].Key || e.Value != want[i].Value || e.Secret != want[i].Secret || e.Updated.Before(before) {
			t.Errorf("Config[%d] = %+v, want %+v updated after %v", i, e, want[i], before)
		}
	}

	// Overwrite: the value and the secret flag change together.
	if err := s.SetConfig(ctx, "api", map[string]string{"TOKEN": "public now"}, false); err != nil {
		t.Fatal(err)
	}
	if e, err := s.ConfigValue(ctx, "api", "TOKEN"); err != nil || e.Value != "public now" || e.Secret {
		t.Errorf("ConfigValue after overwrite = %+v, %v", e, err)
	}

	if err := s.DeleteConfig(ctx, "api", "B_URL"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConfig(ctx, "api", "B_URL"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteConfig: %v, want ErrNotFound", err)
	}
	if _, err := s.ConfigValue(ctx, "api", "B_URL"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ConfigValue after delete: %v, want ErrNotFound", err)
	}
	if got, _ := s.Config(ctx, "api"); len(got) != 2 {
		t.Errorf("Config after delete = %+v, want 2 entries", got)
	}
	if e, err := s.ConfigValue(ctx, "other", "TOKEN"); err != nil || e.Value != "theirs" {
		t.Errorf("another service's config = %+v, %v", e, err)
	}
}

func TestConfigInvalid(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()
	for _, key := range []string{"", "1ABC", "A-B", "A.B", "A B", "Ä", "*", ">", strings.Repeat("K", MaxConfigKey+1)} {
		t.Run("key "+key, func(t *testing.T) {
			if err := s.SetConfig(ctx, "api", map[string]string{"OK": "1", key: "v"}, false); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("SetConfig: %v, want ErrInvalidKey", err)
			}
			if _, err := s.ConfigValue(ctx, "api", key); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("ConfigValue: %v, want ErrInvalidKey", err)
			}
			if err := s.DeleteConfig(ctx, "api", key); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("DeleteConfig: %v, want ErrInvalidKey", err)
			}
		})
	}
	if got, _ := s.Config(ctx, "api"); len(got) != 0 {
		t.Errorf("a rejected SetConfig wrote %+v", got)
	}
	for _, key := range []string{"A", "_", "a_1", strings.Repeat("K", MaxConfigKey)} {
		if !ValidConfigKey(key) {
			t.Errorf("ValidConfigKey(%q) = false", key)
		}
	}
	big := strings.Repeat("x", MaxConfigValue+1)
	if err := s.SetConfig(ctx, "api", map[string]string{"BIG": big}, false); !errors.Is(err, ErrTooLarge) {
		t.Errorf("SetConfig of %d bytes: %v, want ErrTooLarge", len(big), err)
	}
	if err := s.SetConfig(ctx, "api", map[string]string{"MAX": big[1:]}, false); err != nil {
		t.Errorf("SetConfig of exactly %d bytes: %v", MaxConfigValue, err)
	}
	if err := s.SetConfig(ctx, "Bad.Name", map[string]string{"A": "1"}, false); !errors.Is(err, ErrInvalidName) {
		t.Errorf("SetConfig for a bad service name: %v, want ErrInvalidName", err)
	}
	if _, err := s.Config(ctx, "a.>"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Config for a bad service name: %v, want ErrInvalidName", err)
	}
}

func TestWatchConfig(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()
	if err := s.SetConfig(ctx, "api", map[string]string{"OLD": "1", "GONE": "x"}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConfig(ctx, "api", "GONE"); err != nil {
		t.Fatal(err)
	}
	events, err := s.WatchConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := func() ConfigEvent {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("watch channel closed")
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no config event in 10s")
		}
		return ConfigEvent{}
	}
	if ev := next(); ev.Service != "api" || ev.Entry.Key != "OLD" || ev.Entry.Value != "1" || ev.Deleted {
		t.Fatalf("first event %+v, want api OLD=1", ev)
	}
	if ev := next(); !ev.Synced {
		t.Fatalf("second event %+v, want Synced", ev)
	}
	if err := s.SetConfig(ctx, "api", map[string]string{"KEY": "v"}, true); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Service != "api" || ev.Entry.Key != "KEY" || ev.Entry.Value != "v" || !ev.Entry.Secret {
		t.Fatalf("live event %+v, want api KEY=v secret", ev)
	}
	if err := s.DeleteConfig(ctx, "api", "OLD"); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Service != "api" || ev.Entry.Key != "OLD" || !ev.Deleted {
		t.Fatalf("delete event %+v, want api OLD deleted", ev)
	}

	// DeleteService reports every value's removal.
	if _, err := s.CreateService(ctx, api.Service{Name: "api"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteService(ctx, "api"); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Service != "api" || ev.Entry.Key != "KEY" || !ev.Deleted {
		t.Fatalf("event after DeleteService %+v, want api KEY deleted", ev)
	}
	if got, _ := s.Config(ctx, "api"); len(got) != 0 {
		t.Errorf("config after DeleteService: %+v", got)
	}
}

func TestConfigPersistence(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetConfig(t.Context(), "api", map[string]string{"TOKEN": "s3cret"}, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	if e, err := s.ConfigValue(t.Context(), "api", "TOKEN"); err != nil || e.Value != "s3cret" || !e.Secret {
		t.Errorf("config after restart = %+v, %v", e, err)
	}
}

func FuzzValidConfigKey(f *testing.F) {
	for _, s := range []string{"A", "_x9", "9", "a-b", "a.b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if !ValidConfigKey(key) {
			return
		}
		// A valid key is a single NATS KV key token.
		if strings.ContainsAny(key, ".*> \t\r\n") || len(key) > MaxConfigKey {
			t.Fatalf("ValidConfigKey accepted %q", key)
		}
	})
}
