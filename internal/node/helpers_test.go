package node_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// Test modules.
const (
	// guestWasm is the multipurpose WAGI guest; its paths are listed in
	// internal/sandbox/wasm/testdata/README.md.
	guestWasm         = "../sandbox/wasm/testdata/guest.wasm"
	garbageWasm       = "../sandbox/wasm/testdata/garbage.wasm"
	unknownImportWasm = "../sandbox/wasm/testdata/unknownimport.wasm"
)

// logWait bounds how long a log line may take to reach the store: logs are
// published asynchronously.
const logWait = 10 * time.Second

// guestPkg packages guest.wasm under manifest.
func guestPkg(t testing.TB, manifest string) client.Package {
	t.Helper()
	return client.Package{Manifest: []byte(manifest), Module: nodetest.ReadFile(t, guestWasm)}
}

// guestManifest is a manifest for guest.wasm named name at route, with
// extra TOML appended (e.g. a [limits] table).
func guestManifest(name, route, extra string) string {
	return fmt.Sprintf("name = %q\nroute = %q\n\n[wasm]\nmodule = \"guest.wasm\"\n%s", name, route, extra)
}

// wantAPIError checks that err is an *api.Error with status and code.
func wantAPIError(t testing.TB, err error, status int, code string) *api.Error {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v (%T), want an *api.Error %d %s", err, err, status, code)
	}
	if ae.Status != status || ae.Code != code {
		t.Fatalf("got %d %s (%s), want %d %s", ae.Status, ae.Code, ae.Message, status, code)
	}
	return ae
}

// wantErrorBody checks that a response is mote's JSON error with status
// and code, and returns the error.
func wantErrorBody(t testing.TB, gotStatus int, h http.Header, body string, status int, code string) *api.Error {
	t.Helper()
	if gotStatus != status {
		t.Fatalf("status %d, want %d; body %q", gotStatus, status, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %q", ct, body)
	}
	var eb api.ErrorBody
	if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error == nil {
		t.Fatalf("body %q is not an error body: %v", body, err)
	}
	if eb.Error.Code != code {
		t.Fatalf("error code %q (%s), want %q", eb.Error.Code, eb.Error.Message, code)
	}
	if eb.Error.Message == "" {
		t.Fatalf("error %q has no message", code)
	}
	return eb.Error
}

// guestEnv is what guest.wasm's /env path printed.
type guestEnv struct {
	vars  map[string]string
	order []string // variable names in the order the guest saw them
	argv  []string
	stdin string
}

// parseGuestEnv parses /env output: K=V lines, argv[i]=... lines, then
// "stdin=" and the body.
func parseGuestEnv(t testing.TB, body string) guestEnv {
	t.Helper()
	head, stdin, ok := strings.Cut(body, "stdin=")
	if !ok {
		t.Fatalf("no stdin= in /env output %q", body)
	}
	ge := guestEnv{vars: map[string]string{}, stdin: stdin}
	for line := range strings.Lines(head) {
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "argv[") {
			_, v, _ := strings.Cut(line, "=")
			ge.argv = append(ge.argv, v)
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("line %q of /env output is not K=V", line)
		}
		if _, dup := ge.vars[k]; dup {
			t.Errorf("variable %s appears twice", k)
		}
		ge.vars[k] = v
		ge.order = append(ge.order, k)
	}
	return ge
}

// collectLogs returns a service's logs.
func collectLogs(t testing.TB, c *client.Client, service string) ([]api.LogEntry, error) {
	t.Helper()
	var out []api.LogEntry
	for e, err := range c.Logs(t.Context(), service, client.LogOptions{}) {
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

// waitLogs polls a service's logs until the entries that keep selects
// satisfy done, and returns them.
func waitLogs(t testing.TB, c *client.Client, service, what string, keep func(api.LogEntry) bool, done func([]api.LogEntry) bool) []api.LogEntry {
	t.Helper()
	var got []api.LogEntry
	var lastErr error
	deadline := time.Now().Add(logWait)
	for {
		got = got[:0]
		all, err := collectLogs(t, c, service)
		lastErr = err
		for _, e := range all {
			if keep(e) {
				got = append(got, e)
			}
		}
		if err == nil && done(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s in %s's logs (last error %v); matching lines: %+v", logWait, what, service, lastErr, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requestLogs waits until the lines tagged with request id satisfy done.
func requestLogs(t testing.TB, c *client.Client, service, id string, done func([]api.LogEntry) bool) []api.LogEntry {
	t.Helper()
	return waitLogs(t, c, service, "the lines of request "+id, func(e api.LogEntry) bool { return e.RequestID == id }, done)
}

// messages joins the entries' messages, one per line.
func messages(es []api.LogEntry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "[%s %s] %s\n", e.Stream, e.Level, e.Message)
	}
	return b.String()
}

// hostPort returns the host:port of a base URL.
func hostPort(t testing.TB, base string) (host, port string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname(), u.Port()
}

// noRedirect is an HTTP client that returns redirects as they are.
