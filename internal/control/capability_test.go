package control

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/store"
)

// specDriver records the specs it loads and delegates to a real driver.
type specDriver struct {
	sandbox.Driver
	mu    sync.Mutex
	specs []sandbox.Spec
}

func (d *specDriver) Load(ctx context.Context, spec sandbox.Spec) (sandbox.Runner, error) {
	d.mu.Lock()
	d.specs = append(d.specs, spec)
	d.mu.Unlock()
	return d.Driver.Load(ctx, spec)
}

func (d *specDriver) last(t *testing.T) sandbox.Spec {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.specs) == 0 {
		t.Fatal("no version was loaded")
	}
	return d.specs[len(d.specs)-1]
}

// TestVersionCapabilities deploys a service with grants and checks what
// its guests get: a Host with the manifest's grants over the service's kv
// namespace, its configuration (loaded before the node is ready), calls
// through the gateway; [scale] min and idle in the spec; and that Remove
// deletes the kv namespace and configuration.
func TestVersionCapabilities(t *testing.T) {
	spy := &specDriver{}
	h := newHarnessWith(t, func(d sandbox.Driver) sandbox.Driver { spy.Driver = d; return spy }, func(st *store.Store) {
		if err := st.SetConfig(t.Context(), "hello", map[string]string{"GREETING": "hi"}, true); err != nil {
			t.Fatal(err)
		}
	})
	mod := h.upload(t, helloWasm)
	manifest := helloManifest + "[scale]\nmin = 1\nidle = \"7s\"\n[allow]\nkv = true\nconfig = true\ncall = [\"hello\"]\n"
	if _, err := h.c.Deploy(t.Context(), api.DeployRequest{Manifest: manifest, Module: mod}); err != nil {
		t.Fatal(err)
	}
	spec := spy.last(t)
	if spec.MinInstances != 1 || spec.IdleTimeout != 7*time.Second || spec.Host == nil {
		t.Fatalf("spec has MinInstances %d, IdleTimeout %s, Host %v; want 1, 7s and a Host", spec.MinInstances, spec.IdleTimeout, spec.Host)
	}
	ctx := sandbox.WithRequest(t.Context(), &sandbox.Request{ID: "req-1"})
	host := spec.Host
	if v, err := host.Config(ctx, "GREETING"); err != nil || v != "hi" {
		t.Errorf("Config(GREETING) = %q, %v; want the value stored before the node started", v, err)
	}
	if err := host.KVSet(ctx, "visits", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if v, err := h.st.KVGet(t.Context(), "hello", "visits"); err != nil || string(v) != "1" {
		t.Errorf("the Host's kv is not hello's namespace: %q, %v", v, err)
	}
	resp, err := host.Call(ctx, "hello", &abi.Request{URL: "/"})
	if err != nil || resp.Status != 200 || !strings.Contains(string(resp.Body), "Hello") {
		t.Errorf("call to hello through the gateway: %+v, %v", resp, err)
	}
	if _, err := host.Fetch(ctx, &abi.Request{URL: "http://127.0.0.1:1/"}); !errors.Is(err, sandbox.ErrDenied) {
		t.Errorf("fetch without [allow] http: %v, want ErrDenied", err)
	}

	// A deploy without grants gets a Host that denies.
	if _, err := h.c.Deploy(t.Context(), api.DeployRequest{Manifest: helloManifest, Module: mod}); err != nil {
		t.Fatal(err)
	}
	if _, err := spy.last(t).Host.KVGet(ctx, "visits"); !errors.Is(err, sandbox.ErrDenied) {
		t.Errorf("kv without [allow] kv: %v, want ErrDenied", err)
	}
	if s := spy.last(t); s.MinInstances != 0 || s.IdleTimeout != 5*time.Minute {
		t.Errorf("default scale in the spec: min %d idle %s", s.MinInstances, s.IdleTimeout)
	}

	if err := h.c.Remove(t.Context(), "hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.KVGet(t.Context(), "hello", "visits"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("kv after Remove: %v, want ErrNotFound", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, ok := h.c.config.Get("hello", "GREETING"); ok; _, ok = h.c.config.Get("hello", "GREETING") {
		if time.Now().After(deadline) {
			t.Fatal("the node kept the removed service's configuration")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
