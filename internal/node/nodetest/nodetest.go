// Package nodetest boots real mote nodes for tests: an embedded NATS
// JetStream store in a temp dir, the gateway and admin API on free loopback
// ports, and an SDK client with the node's token.
package nodetest

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node"
)

// Env is a running node and a client for it.
type Env struct {
	Node   *node.Node
	Client *client.Client
	// Gateway is the gateway's base URL.
	Gateway string
	DataDir string
}

// Start boots a node on a fresh temp dir and stops it when the test ends.
// Nodes started this way share one compilation cache per test process, so
// a module (the big Go examples above all) is compiled once, not per test.
func Start(t testing.TB) *Env {
	t.Helper()
	return start(t, t.TempDir(), sharedCache(t))
}

// StartDir boots a node on dir (to test restarts) and stops it at cleanup.
// Its compiled code is in dir/cache, as with `mote up`.
func StartDir(t testing.TB, dir string) *Env {
	t.Helper()
	return start(t, dir, "")
}

var (
	cacheOnce sync.Once
	cacheDir  string
	cacheErr  error
)

// sharedCache is a compilation cache dir for the whole test process. It is
// left behind in the OS temp dir on purpose: a later run of the same tests
// starts warm (wazero keys entries by module and its own version).
func sharedCache(t testing.TB) string {
	cacheOnce.Do(func() {
		cacheDir = filepath.Join(os.TempDir(), "mote-test-cache")
		cacheErr = os.MkdirAll(cacheDir, 0o700)
	})
	if cacheErr != nil {
		t.Fatalf("test compilation cache: %v", cacheErr)
	}
	return cacheDir
}

func start(t testing.TB, dir, cache string) *Env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := node.Start(ctx, node.Config{DataDir: dir, CacheDir: cache, HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Version: "test"})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { Stop(t, n) })
	c, err := client.New(n.AdminURL(), client.WithToken(n.Token()))
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return &Env{Node: n, Client: c, Gateway: n.GatewayURL(), DataDir: dir}
}

// Stop shuts a node down (idempotent).
func Stop(t testing.TB, n *node.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Errorf("stop node: %v", err)
	}
}

// Deploy deploys a package and fails the test on error.
func (e *Env) Deploy(t testing.TB, pkg client.Package) {
	t.Helper()
	if _, err := e.Client.Deploy(t.Context(), pkg); err != nil {
		t.Fatalf("deploy: %v", err)
	}
}

// Get fetches a gateway path and returns the status, headers and body.
func (e *Env) Get(t testing.TB, path string) (int, http.Header, string) {
	t.Helper()
	return e.Do(t, http.MethodGet, path, nil, nil)
}

// Do sends a request to the gateway and returns the status, headers and
// body. Redirects are not followed: tests see what the gateway answered.
func (e *Env) Do(t testing.TB, method, path string, header http.Header, body io.Reader) (int, http.Header, string) {
	t.Helper()
	return send(t, method, e.Gateway+path, header, body)
}

// Admin sends a request to the admin API with the given Authorization
// header value ("" sends none).
func (e *Env) Admin(t testing.TB, method, path, auth string, body io.Reader) (int, http.Header, string) {
	t.Helper()
	var h http.Header
	if auth != "" {
		h = http.Header{"Authorization": {auth}}
	}
	return send(t, method, e.Node.AdminURL()+path, h, body)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func send(t testing.TB, method, url string, header http.Header, body io.Reader) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// ReadFile reads a test fixture or fails.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Eventually polls cond every 10ms until it is true or the deadline passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
