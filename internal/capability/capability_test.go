package capability

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/manifest"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/store"
)

// logSink collects log lines.
type logSink struct {
	mu    sync.Mutex
	lines []api.LogEntry
}

func (s *logSink) Log(e api.LogEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, e)
}

func (s *logSink) all() []api.LogEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]api.LogEntry(nil), s.lines...)
}

// requestCtx is a guest's request context with id.
func requestCtx(t *testing.T, id string) context.Context {
	return sandbox.WithRequest(t.Context(), &sandbox.Request{ID: id, Host: "gw.example", Scheme: "http", ServerName: "gw.example", ServerPort: "80"})
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), store.Options{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// checkDenied asserts err is a denial naming grant, logged once as a
// warning with the request's id.
func checkDenied(t *testing.T, err error, logs *logSink, grant string) {
	t.Helper()
	if !errors.Is(err, sandbox.ErrDenied) {
		t.Fatalf("error %v, want ErrDenied", err)
	}
	if !strings.Contains(err.Error(), grant) || !strings.Contains(err.Error(), "mote.toml") {
		t.Errorf("denial %q does not say to add %s in mote.toml", err, grant)
	}
	lines := logs.all()
	if len(lines) == 0 {
		t.Fatal("the denial was not logged")
	}
	l := lines[len(lines)-1]
	if l.Level != "warn" || l.Stream != api.StreamMote || l.RequestID != "req-1" || l.Service != "svc" || l.Message != err.Error() {
		t.Errorf("denial logged as %+v", l)
	}
}

func TestKV(t *testing.T) {
	st := openStore(t)
	logs := &logSink{}
	h := New(Options{Service: "svc", Version: 3, Allow: manifest.Allow{KV: true}, KV: st, Logs: logs})
	ctx := requestCtx(t, "req-1")

	if _, err := h.KVGet(ctx, "k"); !errors.Is(err, sandbox.ErrNotFound) || !strings.Contains(err.Error(), `key "k" is not set`) {
		t.Errorf("KVGet of a missing key: %v, want ErrNotFound", err)
	}
	if err := h.KVSet(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if err := h.KVSet(ctx, "kt", []byte("t"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, err := h.KVGet(ctx, "k"); err != nil || string(v) != "v" {
		t.Errorf("KVGet = %q, %v", v, err)
	}
	if keys, err := h.KVList(ctx, "k"); err != nil || strings.Join(keys, ",") != "k,kt" {
		t.Errorf("KVList = %q, %v", keys, err)
	}
	if err := h.KVDelete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if err := h.KVDelete(ctx, "never-set"); err != nil {
		t.Errorf("KVDelete of a missing key: %v", err)
	}
	if v, err := st.KVGet(ctx, "svc", "kt"); err != nil || string(v) != "t" {
		t.Errorf("the namespace is not the service's: %q, %v", v, err)
	}
	for name, tc := range map[string]struct {
		err  error
		want error
	}{
		"empty key":      {h.KVSet(ctx, "", nil, 0), sandbox.ErrInvalid},
		"bad utf-8":      {func() error { _, err := h.KVGet(ctx, "\xff"); return err }(), sandbox.ErrInvalid},
		"long key":       {h.KVDelete(ctx, strings.Repeat("k", 513)), sandbox.ErrInvalid},
		"big value":      {h.KVSet(ctx, "big", make([]byte, store.MaxKVValue+1), 0), sandbox.ErrTooLarge},
		"negative ttl":   {h.KVSet(ctx, "k", nil, -time.Second), sandbox.ErrInvalid},
		"bad list range": {func() error { _, err := h.KVList(ctx, "\xff"); return err }(), sandbox.ErrInvalid},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", name, tc.err, tc.want)
		}
	}
	if len(logs.all()) != 0 {
		t.Errorf("allowed kv calls logged %+v", logs.all())
	}

	denied := New(Options{Service: "svc", KV: st, Logs: logs})
	for name, call := range map[string]func() error{
		"get":    func() error { _, err := denied.KVGet(ctx, "kt"); return err },
		"set":    func() error { return denied.KVSet(ctx, "k", nil, 0) },
		"delete": func() error { return denied.KVDelete(ctx, "kt") },
		"list":   func() error { _, err := denied.KVList(ctx, ""); return err },
	} {
		t.Run("denied "+name, func(t *testing.T) { checkDenied(t, call(), logs, "kv = true") })
	}
	if v, _ := st.KVGet(ctx, "svc", "kt"); string(v) != "t" {
		t.Error("a denied call changed the namespace")
	}
}

func TestConfig(t *testing.T) {
	st := openStore(t)
	view := NewConfigView()
	events, err := st.WatchConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	synced := make(chan struct{})
	go view.Run(t.Context(), events, synced)
	<-synced
	if !view.Synced() {
		t.Fatal("Synced is false after the synced channel closed")
	}
	if err := st.SetConfig(t.Context(), "svc", map[string]string{"TOKEN": "s3cret-value"}, true); err != nil {
		t.Fatal(err)
	}
	if err := st.SetConfig(t.Context(), "other", map[string]string{"MODE": "theirs"}, false); err != nil {
		t.Fatal(err)
	}
	logs := &logSink{}
	h := New(Options{Service: "svc", Allow: manifest.Allow{Config: true}, Config: view, Logs: logs})
	ctx := requestCtx(t, "req-1")
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := h.Config(ctx, "TOKEN")
		if err == nil {
			if v != "s3cret-value" {
				t.Fatalf("Config = %q", v)
			}
			break
		}
		if !errors.Is(err, sandbox.ErrNotFound) || time.Now().After(deadline) {
			t.Fatalf("Config: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, err := h.Config(ctx, "MODE"); !errors.Is(err, sandbox.ErrNotFound) || !strings.Contains(err.Error(), "mote config set svc MODE=") {
		t.Errorf("another service's key: %v, want ErrNotFound saying how to set it", err)
	}
	if err := st.DeleteConfig(t.Context(), "svc", "TOKEN"); err != nil {
		t.Fatal(err)
	}
	for _, ok := view.Get("svc", "TOKEN"); ok; _, ok = view.Get("svc", "TOKEN") {
		if time.Now().After(deadline) {
			t.Fatal("the view kept a deleted value")
		}
		time.Sleep(2 * time.Millisecond)
	}

	denied := New(Options{Service: "svc", Config: view, Logs: logs})
	_, err = denied.Config(ctx, "MODE")
	checkDenied(t, err, logs, "config = true")
	for _, l := range logs.all() {
		if strings.Contains(l.Message, "s3cret") {
			t.Errorf("a secret reached the logs: %+v", l)
		}
	}
	var none *ConfigView
	if _, ok := none.Get("svc", "A"); ok {
		t.Error("a nil view has a value")
	}
}

func TestConfigViewApply(t *testing.T) {
	v := NewConfigView()
	v.Apply(store.ConfigEvent{Service: "a", Entry: store.ConfigEntry{Key: "K", Value: "1"}})
	v.Apply(store.ConfigEvent{Service: "a", Entry: store.ConfigEntry{Key: "K", Value: "2"}})
	v.Apply(store.ConfigEvent{Service: "b", Entry: store.ConfigEntry{Key: "K", Value: "b"}})
	if got, _ := v.Get("a", "K"); got != "2" {
		t.Errorf("a.K = %q, want 2", got)
	}
	v.Apply(store.ConfigEvent{Service: "a", Entry: store.ConfigEntry{Key: "K"}, Deleted: true})
	v.Apply(store.ConfigEvent{Service: "z", Entry: store.ConfigEntry{Key: "K"}, Deleted: true})
	if _, ok := v.Get("a", "K"); ok {
		t.Error("a.K survived its deletion")
	}
	if got, _ := v.Get("b", "K"); got != "b" {
		t.Errorf("b.K = %q after a's deletion", got)
	}
	if v.Synced() {
		t.Error("Synced before the Synced event")
	}
	v.Apply(store.ConfigEvent{Synced: true})
	if !v.Synced() {
		t.Error("not Synced after the Synced event")
	}
}

// TestDenialsRateLimited checks that a guest looping on a denied call
// cannot flood its logs.
func TestDenialsRateLimited(t *testing.T) {
	logs := &logSink{}
	h := New(Options{Service: "svc", Logs: logs})
	ctx := requestCtx(t, "req-1")
	for range 100 {
		if _, err := h.KVGet(ctx, "k"); !errors.Is(err, sandbox.ErrDenied) {
			t.Fatalf("KVGet: %v", err)
		}
	}
	if n := len(logs.all()); n != denyBurst {
		t.Fatalf("%d denial lines for 100 denials in a burst, want %d", n, denyBurst)
	}
	h.denyMu.Lock()
	h.denyWindow = time.Now().Add(-time.Second) // the next second begins
	h.denyMu.Unlock()
	_, _ = h.KVGet(ctx, "k")
	last := logs.all()[len(logs.all())-1]
	if !strings.Contains(last.Message, "(and 90 more denials not logged)") {
		t.Errorf("the next line %q does not count the dropped ones", last.Message)
	}
}
