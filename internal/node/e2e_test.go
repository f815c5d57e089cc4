package node_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// wagiNode boots a node serving guest.wasm twice: "wagi" at /wagi with
// generous limits, and "limited" at /limited with a 300ms timeout and a
// 1 KiB body limit.
func wagiNode(t *testing.T) *nodetest.Env {
	t.Helper()
	env := nodetest.Start(t)
	env.Deploy(t, guestPkg(t, guestManifest("wagi", "/wagi", "\n[limits]\ntimeout = \"10s\"\n")))
	env.Deploy(t, guestPkg(t, guestManifest("limited", "/limited", "\n[limits]\ntimeout = \"300ms\"\nbody = \"1KiB\"\n")))
	return env
}

// TestGatewayWAGI checks, over real HTTP through the gateway, what a WAGI
// guest sees of a request and how each way of answering (or failing to)
// becomes a response.
func TestGatewayWAGI(t *testing.T) {
	t.Parallel()
	env := wagiNode(t)

	t.Run("cgi-env", func(t *testing.T) { testCGIEnv(t, env) })

	// A chunked body (no Content-Length) must be limited as well.
	chunked := func(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }
	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		body   io.Reader
		status int
		// code is the JSON error code expected; "" means a guest answer.
		code  string
		check func(t *testing.T, h http.Header, body string)
	}{
		{name: "argv", path: "/wagi/argv?x=1&&y=%41&flag", status: 200, check: func(t *testing.T, h http.Header, body string) {
			want := "argc=4\nargv[0]=/wagi/argv\nargv[1]=x=1\nargv[2]=y=%41\nargv[3]=flag\n"
			if body != want {
				t.Errorf("body %q, want %q", body, want)
			}
		}},
		{name: "status", path: "/wagi/status/418", status: 418, check: bodyIs("status 418\n")},
		{name: "status-201", method: "POST", path: "/wagi/status/201", status: 201, check: bodyIs("status 201\n")},
		{name: "unparsable-status", path: "/wagi/status/abc", status: 502, code: api.CodeGuestFailed},
		{name: "location", path: "/wagi/location", status: 302, check: func(t *testing.T, h http.Header, body string) {
			if got := h.Get("Location"); got != "http://example.com/x" {
				t.Errorf("Location %q", got)
			}
		}},
		{name: "headers", path: "/wagi/headers", status: 200, check: func(t *testing.T, h http.Header, body string) {
			if h.Get("X-One") != "1" || strings.Join(h.Values("Set-Cookie"), ";") != "a=1;b=2" || body != "headers\n" {
				t.Errorf("headers %v body %q", h, body)
			}
		}},
		{name: "head", method: "HEAD", path: "/wagi/headers", status: 200, check: func(t *testing.T, h http.Header, body string) {
			if body != "" || h.Get("X-One") != "1" || h.Get("Content-Length") != "8" {
				t.Errorf("HEAD: headers %v body %q", h, body)
			}
		}},
		{name: "echo", method: "PUT", path: "/wagi/echo", header: http.Header{"Content-Type": {"application/x-test"}}, body: strings.NewReader("a\x00b\r\nc"), status: 200, check: func(t *testing.T, h http.Header, body string) {
			if body != "a\x00b\r\nc" || h.Get("Content-Type") != "application/x-test" {
				t.Errorf("echo: Content-Type %q body %q", h.Get("Content-Type"), body)
			}
		}},
		{name: "unknown-guest-path", path: "/wagi/nope", status: 404, check: bodyIs("unknown path /nope\n")},
		{name: "no-header-block", path: "/wagi/nohdr", status: 502, code: api.CodeGuestFailed},
		{name: "empty-output", path: "/wagi/empty", status: 502, code: api.CodeGuestFailed},
		{name: "nonzero-exit", path: "/wagi/exit3", status: 502, code: api.CodeGuestFailed},
		{name: "trap", path: "/wagi/trap", status: 502, code: api.CodeGuestFailed},
		{name: "stack-overflow", path: "/wagi/recurse", status: 502, code: api.CodeGuestFailed},
		{name: "timeout-loop", path: "/limited/loop", status: 504, code: api.CodeGuestTimeout},
		{name: "timeout-sleep", path: "/limited/sleep", status: 504, code: api.CodeGuestTimeout},
		{name: "body-at-limit", method: "POST", path: "/limited/echo", body: strings.NewReader(strings.Repeat("b", 1024)), status: 200, check: bodyIs(strings.Repeat("b", 1024))},
		{name: "body-over-limit", method: "POST", path: "/limited/echo", body: strings.NewReader(strings.Repeat("b", 1025)), status: 413, code: api.CodeBodyTooLarge},
		{name: "chunked-body-over-limit", method: "POST", path: "/limited/echo", body: chunked(strings.Repeat("b", 4096)), status: 413, code: api.CodeBodyTooLarge},
		{name: "chunked-body-under-limit", method: "POST", path: "/limited/echo", body: chunked("small"), status: 200, check: bodyIs("small")},
		{name: "unknown-route", path: "/nowhere/env", status: 404, code: api.CodeNotFound},
		{name: "route-needs-segment-boundary", path: "/wagix/env", status: 404, code: api.CodeNotFound},
		{name: "root", path: "/", status: 404, code: api.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			status, h, body := env.Do(t, method, tt.path, tt.header, tt.body)
			if len(h.Get("X-Request-Id")) != 16 {
				t.Errorf("X-Request-Id %q, want 16 hex digits", h.Get("X-Request-Id"))
			}
			if tt.code != "" {
				wantErrorBody(t, status, h, body, tt.status, tt.code)
				return
			}
			if status != tt.status {
				t.Fatalf("status %d, want %d; body %q", status, tt.status, body)
			}
			if tt.check != nil {
				tt.check(t, h, body)
			}
		})
	}

	t.Run("request-ids-differ", func(t *testing.T) {
		_, h1, _ := env.Get(t, "/wagi/status/200")
		_, h2, _ := env.Get(t, "/nowhere")
		if h1.Get("X-Request-Id") == h2.Get("X-Request-Id") {
			t.Errorf("two requests share the id %s", h1.Get("X-Request-Id"))
		}
	})

	t.Run("logs", func(t *testing.T) { testGuestLogs(t, env) })
}

func bodyIs(want string) func(*testing.T, http.Header, string) {
	return func(t *testing.T, _ http.Header, body string) {
		t.Helper()
		if body != want {
			t.Errorf("body %q, want %q", body, want)
		}
	}
}

// testCGIEnv checks every CGI/WAGI variable the guest sees.
func testCGIEnv(t *testing.T, env *nodetest.Env) {
	header := http.Header{
		"Content-Type":  {"text/x-test; charset=utf-8"},
		"X-Custom":      {"custom value"},
		"X-Multi":       {"one", "two"},
		"Authorization": {"Bearer secret-credential"},
		"Connection":    {"keep-alive"},
		"Proxy":         {"http://evil.example"},
	}
	// "%65nv" is "env" escaped: PATH_INFO is decoded, X_RAW_PATH_INFO not.
	status, h, body := env.Do(t, "POST", "/wagi/%65nv?a=1&b=two%20words", header, strings.NewReader("hello body"))
	if status != 200 {
		t.Fatalf("status %d body %q", status, body)
	}
	ge := parseGuestEnv(t, body)
	host, port := hostPort(t, env.Gateway)
	id := h.Get("X-Request-Id")
	if id == "" {
		t.Fatal("no X-Request-Id")
	}
	want := map[string]string{
		"REQUEST_METHOD":    "POST",
		"PATH_INFO":         "/env",
		"PATH_TRANSLATED":   "/env",
		"X_RAW_PATH_INFO":   "/%65nv",
		"QUERY_STRING":      "a=1&b=two%20words",
		"SCRIPT_NAME":       "/wagi",
		"CONTENT_LENGTH":    "10",
		"CONTENT_TYPE":      "text/x-test; charset=utf-8",
		"SERVER_NAME":       host,
		"SERVER_PORT":       port,
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"SERVER_SOFTWARE":   "mote/WAGI",
		"GATEWAY_INTERFACE": "CGI/1.1",
		"REMOTE_ADDR":       "127.0.0.1",
		"REMOTE_HOST":       "127.0.0.1",
		"HTTP_HOST":         host + ":" + port,
		"HTTP_X_CUSTOM":     "custom value",
		"HTTP_X_MULTI":      "one, two",
		"X_MATCHED_ROUTE":   "/wagi/...",
		"X_FULL_URL":        "http://" + host + ":" + port + "/wagi/%65nv?a=1&b=two%20words",
		"X_REQUEST_ID":      id,
	}
	for k, v := range want {
		t.Run(k, func(t *testing.T) {
			got, ok := ge.vars[k]
			if !ok {
				t.Fatalf("%s is not set; the guest saw %v", k, ge.order)
			}
			if got != v {
				t.Errorf("%s=%q, want %q", k, got, v)
			}
		})
	}
	for _, k := range []string{"HTTP_AUTHORIZATION", "HTTP_CONNECTION", "HTTP_PROXY", "HTTP_PROXY_AUTHORIZATION"} {
		t.Run("no-"+k, func(t *testing.T) {
			if v, ok := ge.vars[k]; ok {
				t.Errorf("%s=%q is visible to the guest", k, v)
			}
		})
	}
	t.Run("no-credential-anywhere", func(t *testing.T) {
		if strings.Contains(body, "secret-credential") {
			t.Errorf("the Authorization header's credential reached the guest:\n%s", body)
		}
	})
	t.Run("HTTP_USER_AGENT", func(t *testing.T) {
		if !strings.HasPrefix(ge.vars["HTTP_USER_AGENT"], "Go-http-client/") {
			t.Errorf("HTTP_USER_AGENT=%q", ge.vars["HTTP_USER_AGENT"])
		}
	})
	t.Run("argv", func(t *testing.T) {
		want := []string{"/wagi/%65nv", "a=1", "b=two%20words"}
		if strings.Join(ge.argv, "\n") != strings.Join(want, "\n") {
			t.Errorf("argv %q, want %q", ge.argv, want)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		if ge.stdin != "hello body" {
			t.Errorf("stdin %q, want %q", ge.stdin, "hello body")
		}
	})
	t.Run("nothing-of-the-host", func(t *testing.T) {
		for _, k := range []string{"PATH", "HOME", "USER", "PWD", "GOPATH", "MOTE_TOKEN"} {
			if v, ok := ge.vars[k]; ok {
				t.Errorf("host variable %s=%q leaked into the guest", k, v)
			}
		}
	})
	t.Run("GET-without-body", func(t *testing.T) {
		status, _, body := env.Get(t, "/wagi/env")
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		ge := parseGuestEnv(t, body)
		if ge.vars["CONTENT_LENGTH"] != "0" || ge.vars["CONTENT_TYPE"] != "" || ge.vars["QUERY_STRING"] != "" || ge.vars["REQUEST_METHOD"] != "GET" || ge.stdin != "" {
			t.Errorf("GET /wagi/env: %v stdin %q", ge.vars, ge.stdin)
		}
		if got, want := ge.vars["X_FULL_URL"], env.Gateway+"/wagi/env"; got != want {
			t.Errorf("X_FULL_URL=%q, want %q", got, want)
		}
		if len(ge.argv) != 1 || ge.argv[0] != "/wagi/env" {
			t.Errorf("argv %q", ge.argv)
		}
	})
}

// testGuestLogs checks that a guest's stderr and the node's explanation of
// a failure reach the service's logs, tagged with the request id.
func testGuestLogs(t *testing.T, env *nodetest.Env) {
	t.Run("stderr", func(t *testing.T) {
		t.Parallel()
		status, h, body := env.Get(t, "/wagi/stderr")
		if status != 200 || body != "wrote 3 lines to stderr\n" {
			t.Fatalf("status %d body %q", status, body)
		}
		id := h.Get("X-Request-Id")
		got := requestLogs(t, env.Client, "wagi", id, func(es []api.LogEntry) bool { return len(es) >= 3 })
		var lines []string
		for _, e := range got {
			if e.Stream != api.StreamStderr || e.Service != "wagi" || e.Version != 1 {
				t.Errorf("entry %+v: want stream stderr, service wagi, version 1", e)
			}
			lines = append(lines, e.Message)
		}
		if want := "stderr line 1\nstderr line 2\nstderr line 3"; strings.Join(lines, "\n") != want {
			t.Errorf("stderr lines %q, want %q", lines, want)
		}
	})
	failures := []struct {
		service, path string
		want          []string // each must appear in the line, case-insensitively
	}{
		{"wagi", "/trap", []string{"trap", "/trap"}},
		{"wagi", "/exit3", []string{"exit", "3"}},
		{"wagi", "/nohdr", []string{"output"}},
		{"limited", "/loop", []string{"time"}},
	}
	for _, f := range failures {
		t.Run("failure"+f.path, func(t *testing.T) {
			t.Parallel()
			status, h, _ := env.Get(t, "/"+f.service+f.path)
			if status < 500 {
				t.Fatalf("status %d, want a 5xx", status)
			}
			id := h.Get("X-Request-Id")
			explains := func(e api.LogEntry) bool {
				if e.Stream != api.StreamMote || e.Level != "error" {
					return false
				}
				for _, w := range f.want {
					if !strings.Contains(strings.ToLower(e.Message), w) {
						return false
					}
				}
				return true
			}
			requestLogs(t, env.Client, f.service, id, func(es []api.LogEntry) bool {
				return slices.ContainsFunc(es, explains)
			})
		})
	}
}
