package node_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// TestSDKRoundTrip sends requests of every shape through the gateway to a
// Go SDK guest (guest/testdata/echo) and checks that methods, paths, query,
// headers, status codes and binary bodies arrive and come back exactly.
func TestSDKRoundTrip(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	manifest := "name = \"sdk-echo\"\n[wasm]\nmodule = \"echo.wasm\"\nabi = \"pooled\"\n[limits]\nbody = \"2MiB\"\nresponse = \"4MiB\"\n[scale]\nmax = 4\n"
	env.Deploy(t, client.Package{Manifest: []byte(manifest), Module: nodetest.ReadFile(t, "../../guest/testdata/echo.wasm")})

	big := make([]byte, 1<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path string
		header             http.Header
		body               []byte
		status             int
		wantPath, wantRaw  string
		wantQuery          string
	}{
		{name: "get", method: "GET", path: "/sdk-echo/a/b", status: 200, wantPath: "/sdk-echo/a/b", wantRaw: "/sdk-echo/a/b"},
		{name: "route itself", method: "GET", path: "/sdk-echo", status: 200, wantPath: "/sdk-echo", wantRaw: "/sdk-echo"},
		{name: "escaped path and query", method: "GET", path: "/sdk-echo/a%20b/%C3%A9?x=1&x=2&y=%2F%26", status: 200,
			wantPath: "/sdk-echo/a b/é", wantRaw: "/sdk-echo/a%20b/%C3%A9", wantQuery: "x=1&x=2&y=%2F%26"},
		{name: "post binary", method: "POST", path: "/sdk-echo/upload", body: []byte{0, 1, 2, 0xff, '\r', '\n', 0}, status: 200, wantPath: "/sdk-echo/upload", wantRaw: "/sdk-echo/upload"},
		{name: "put 1 MiB random", method: "PUT", path: "/sdk-echo/big", body: big, status: 200, wantPath: "/sdk-echo/big", wantRaw: "/sdk-echo/big"},
		{name: "delete", method: "DELETE", path: "/sdk-echo/x", status: 200, wantPath: "/sdk-echo/x", wantRaw: "/sdk-echo/x"},
		{name: "patch", method: "PATCH", path: "/sdk-echo/x", body: []byte(`{"a":1}`), status: 200, wantPath: "/sdk-echo/x", wantRaw: "/sdk-echo/x"},
		{name: "options", method: "OPTIONS", path: "/sdk-echo/x", status: 200, wantPath: "/sdk-echo/x", wantRaw: "/sdk-echo/x"},
		{name: "status 201", method: "POST", path: "/sdk-echo/s", header: http.Header{"X-Status": {"201"}}, body: []byte("made"), status: 201, wantPath: "/sdk-echo/s", wantRaw: "/sdk-echo/s"},
		{name: "status 404", method: "GET", path: "/sdk-echo/s", header: http.Header{"X-Status": {"404"}}, status: 404, wantPath: "/sdk-echo/s", wantRaw: "/sdk-echo/s"},
		{name: "status 418", method: "GET", path: "/sdk-echo/s", header: http.Header{"X-Status": {"418"}}, status: 418, wantPath: "/sdk-echo/s", wantRaw: "/sdk-echo/s"},
		{name: "status 503", method: "GET", path: "/sdk-echo/s", header: http.Header{"X-Status": {"503"}}, status: 503, wantPath: "/sdk-echo/s", wantRaw: "/sdk-echo/s"},
		{name: "response headers", method: "GET", path: "/sdk-echo/h", header: http.Header{
			"X-Set-X-Custom": {"one"}, "X-Set-Set-Cookie": {"a=1", "b=2"}, "X-Multi": {"x", "y"}}, status: 200, wantPath: "/sdk-echo/h", wantRaw: "/sdk-echo/h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := env.Do(t, tt.method, tt.path, tt.header, bytes.NewReader(tt.body))
			if status != tt.status {
				t.Fatalf("status %d, want %d (body %.200q)", status, tt.status, body)
			}
			if !bytes.Equal([]byte(body), tt.body) && !(len(tt.body) == 0 && body == "") {
				t.Errorf("body: got %d bytes, want %d (bytes differ)", len(body), len(tt.body))
			}
			var info struct {
				Method    string      `json:"method"`
				Path      string      `json:"path"`
				RawPath   string      `json:"raw_path"`
				Query     string      `json:"query"`
				Host      string      `json:"host"`
				RequestID string      `json:"request_id"`
				Route     string      `json:"route"`
				Header    http.Header `json:"header"`
				Length    int64       `json:"length"`
			}
			if err := json.Unmarshal([]byte(h.Get("X-Echo")), &info); err != nil {
				t.Fatalf("X-Echo %q: %v", h.Get("X-Echo"), err)
			}
			if info.Method != tt.method || info.Path != tt.wantPath || info.RawPath != tt.wantRaw || info.Query != tt.wantQuery {
				t.Errorf("the guest saw %s %q (raw %q) ?%q; want %s %q (raw %q) ?%q", info.Method, info.Path, info.RawPath, info.Query, tt.method, tt.wantPath, tt.wantRaw, tt.wantQuery)
			}
			if info.Route != "/sdk-echo" || info.RequestID != h.Get("X-Request-Id") || info.Length != int64(len(tt.body)) {
				t.Errorf("route %q, request id %q (response %q), length %d", info.Route, info.RequestID, h.Get("X-Request-Id"), info.Length)
			}
			if !strings.HasPrefix(info.Host, "127.0.0.1:") {
				t.Errorf("host %q", info.Host)
			}
			for name, values := range tt.header {
				if got := info.Header[name]; strings.Join(got, "|") != strings.Join(values, "|") {
					t.Errorf("request header %s arrived as %q, want %q", name, got, values)
				}
				if rest, ok := strings.CutPrefix(name, "X-Set-"); ok {
					if got := h.Values(rest); strings.Join(got, "|") != strings.Join(values, "|") {
						t.Errorf("response header %s = %q, want %q", rest, got, values)
					}
				}
			}
		})
	}
}
