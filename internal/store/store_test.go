package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mote-run/mote/api"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// openStore opens a store on dir (a new temp dir when empty) and closes it
// when the test ends.
func openStore(t testing.TB, dir string, opts ...func(*Options)) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	o := Options{Dir: dir}
	for _, f := range opts {
		f(&o)
	}
	s, err := Open(t.Context(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOpenOptions(t *testing.T) {
	t.Run("empty dir", func(t *testing.T) {
		if _, err := Open(t.Context(), Options{}); err == nil {
			t.Fatal("Open with no Dir succeeded")
		}
	})
	t.Run("bad listen", func(t *testing.T) {
		if _, err := Open(t.Context(), Options{Dir: t.TempDir(), Listen: "nope"}); err == nil {
			t.Fatal("Open with a bad Listen succeeded")
		}
	})
	t.Run("dir mode and server name", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		s := openStore(t, dir)
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("dir mode %v, want 0700", fi.Mode().Perm())
		}
		if !strings.HasPrefix(s.ServerName(), "mote-") || !validName(s.ServerName()) {
			t.Errorf("server name %q", s.ServerName())
		}
		if s.ClientURL() != "" {
			t.Errorf("ClientURL %q without Listen", s.ClientURL())
		}
	})
	t.Run("dir in use", func(t *testing.T) {
		dir := t.TempDir()
		openStore(t, dir)
		s2, err := Open(t.Context(), Options{Dir: dir})
		if err == nil {
			s2.Close()
			t.Fatal("second Open of a dir in use succeeded")
		}
	})
	t.Run("listen", func(t *testing.T) {
		s := openStore(t, "", func(o *Options) { o.Listen = "127.0.0.1:0" })
		url := s.ClientURL()
		if !strings.HasPrefix(url, "nats://127.0.0.1:") {
			t.Fatalf("ClientURL %q", url)
		}
		nc, err := nats.Connect(url)
		if err != nil {
			t.Fatalf("connect to %s: %v", url, err)
		}
		defer nc.Close()
		if err := nc.FlushTimeout(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPersistence writes one of everything, closes the store, opens the
// same dir again and finds it all.
func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	svc := api.Service{Name: "hello", Route: "/hello", Version: 1, Latest: 1, ABI: api.ABIWAGI,
		Created: time.Now().UTC().Truncate(time.Second), Updated: time.Now().UTC().Truncate(time.Second)}
	rev, err := s.CreateService(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("\x00asm wasm bytes")
	digest := digestOf(content)
	if _, err := s.PutBlob(ctx, digest, strings.NewReader(string(content))); err != nil {
		t.Fatal(err)
	}
	v := api.Version{Service: "hello", Number: 1, Digest: digest, Module: digest, ABI: api.ABIWAGI, Manifest: "name = \"hello\"\n"}
	if err := s.PutVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	s.AppendLog(api.LogEntry{Service: "hello", Stream: api.StreamStdout, Message: "before restart"})
	eventually(t, "the log line", func() bool { return len(collectLogs(t, s, "hello", LogQuery{})) == 1 })
	name := s.ServerName()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s = openStore(t, dir)
	if s.ServerName() != name {
		t.Errorf("server name %q after restart, was %q", s.ServerName(), name)
	}
	got, gotRev, err := s.Service(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if gotRev != rev || got.Route != svc.Route || !got.Created.Equal(svc.Created) {
		t.Errorf("service after restart: %+v rev %d, want %+v rev %d", got, gotRev, svc, rev)
	}
	if gv, err := s.Version(ctx, "hello", 1); err != nil || gv.Manifest != v.Manifest {
		t.Errorf("version after restart: %+v, %v", gv, err)
	}
	if b, err := s.Blob(ctx, digest); err != nil || string(b) != string(content) {
		t.Errorf("blob after restart: %q, %v", b, err)
	}
	if logs := collectLogs(t, s, "hello", LogQuery{}); len(logs) != 1 || logs[0].Message != "before restart" {
		t.Errorf("logs after restart: %+v", logs)
	}
}

func TestClosed(t *testing.T) {
	s, err := Open(t.Context(), Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.AppendLog(api.LogEntry{Service: "a", Message: "after close"}) // must not block or panic
	if s.LogsDropped() != 1 {
		t.Errorf("LogsDropped = %d, want 1", s.LogsDropped())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, _, err := s.Service(ctx, "a"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Service after Close: %v, want a connection error", err)
	}
}
