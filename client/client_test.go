package client

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
)

func TestNew(t *testing.T) {
	tests := []struct {
		addr, want string
	}{
		{"127.0.0.1:8081", "http://127.0.0.1:8081"},
		{"localhost:8081", "http://localhost:8081"},
		{":8081", "http://127.0.0.1:8081"},
		{"http://:9000", "http://127.0.0.1:9000"},
		{"  http://127.0.0.1:8081/  ", "http://127.0.0.1:8081"},
		{"https://mote.example.com", "https://mote.example.com"},
		{"https://example.com/mote/", "https://example.com/mote"},
		{"[::1]:8081", "http://[::1]:8081"},
		{"node-1", "http://node-1"},
		{"http://example.com/a%20b", "http://example.com/a%20b"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			c, err := New(tt.addr)
			if err != nil {
				t.Fatalf("New(%q): %v", tt.addr, err)
			}
			if c.Addr() != tt.want {
				t.Errorf("Addr() = %q, want %q", c.Addr(), tt.want)
			}
		})
	}
}

func TestNewInvalid(t *testing.T) {
	tests := []struct {
		addr, want string // want: a substring of the error
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"ftp://host", "scheme"},
		{"unix:///run/mote.sock", "scheme"},
		{"http://user:hunter2@host:8081", "credentials"},
		{"http://host:8081/?x=1", "query"},
		{"http://host:8081/#top", "fragment"},
		{"http://host:99999", "port"},
		{"http://host:0", "port"},
		{"host:", "port"},
		{"http://", "no host"},
		{"http://host:80a", "port"},
		{"http://ho st", "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			c, err := New(tt.addr)
			if err == nil {
				t.Fatalf("New(%q) = %q, want an error", tt.addr, c.Addr())
			}
			if !errors.Is(err, ErrInvalidAddr) {
				t.Errorf("error %v does not match ErrInvalidAddr", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	hc := &http.Client{}
	c, err := New("127.0.0.1:1", WithToken(" tok "), WithUserAgent("mote/1.2.3"), WithHTTPClient(hc),
		WithAddr("127.0.0.1:2"), nil, WithToken(""), WithUserAgent(""), WithHTTPClient(nil), WithAddr(""))
	if err != nil {
		t.Fatal(err)
	}
	if c.token != "tok" || c.userAgent != "mote/1.2.3" || c.http != hc || c.Addr() != "http://127.0.0.1:2" {
		t.Errorf("options not applied, or empty ones overrode them: token %q, ua %q, addr %q, http %p", c.token, c.userAgent, c.Addr(), c.http)
	}
	d, err := New("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if d.token != "" || !strings.HasPrefix(d.userAgent, "mote-client/") || d.http != defaultHTTPClient() {
		t.Errorf("defaults: token %q, ua %q", d.token, d.userAgent)
	}
	tr, ok := d.http.Transport.(*http.Transport)
	if !ok || tr.ResponseHeaderTimeout == 0 || tr.TLSHandshakeTimeout == 0 || d.http.Timeout != 0 {
		t.Errorf("default client: want transport timeouts and no overall timeout, got %+v", d.http)
	}
}

func TestFromEnv(t *testing.T) {
	data := t.TempDir()
	if err := os.WriteFile(TokenFile(data), []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	tests := []struct {
		name                 string
		addr, token, dataDir string
		opts                 []Option
		wantAddr, wantToken  string
		wantFrom             string
	}{
		{name: "defaults", dataDir: empty, wantAddr: DefaultAddr},
		{name: "token file", dataDir: data, wantAddr: DefaultAddr, wantToken: "file-token", wantFrom: TokenFile(data)},
		{name: "env", addr: "10.0.0.5:9000", token: "env-token", dataDir: data,
			wantAddr: "http://10.0.0.5:9000", wantToken: "env-token", wantFrom: EnvToken},
		{name: "flags win", addr: "10.0.0.5:9000", token: "env-token", dataDir: data,
			opts:     []Option{WithAddr("https://node:8443"), WithToken("flag-token")},
			wantAddr: "https://node:8443", wantToken: "flag-token", wantFrom: "--token"},
		{name: "empty flags", addr: "10.0.0.5:9000", dataDir: data, opts: []Option{WithAddr(""), WithToken("")},
			wantAddr: "http://10.0.0.5:9000", wantToken: "file-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvAddr, tt.addr)
			t.Setenv(EnvToken, tt.token)
			t.Setenv(EnvData, tt.dataDir)
			c, err := FromEnv(tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if c.Addr() != tt.wantAddr || c.token != tt.wantToken {
				t.Errorf("addr %q token %q, want %q %q", c.Addr(), c.token, tt.wantAddr, tt.wantToken)
			}
			if !strings.Contains(c.tokenFrom, tt.wantFrom) {
				t.Errorf("token from %q, want it to say %q", c.tokenFrom, tt.wantFrom)
			}
		})
	}
	t.Run("bad MOTE_ADDR", func(t *testing.T) {
		t.Setenv(EnvAddr, "ftp://x")
		_, err := FromEnv()
		if !errors.Is(err, ErrInvalidAddr) || !strings.Contains(err.Error(), EnvAddr) {
			t.Errorf("FromEnv with a bad MOTE_ADDR: %v; want ErrInvalidAddr naming %s", err, EnvAddr)
		}
		if _, err := FromEnv(WithAddr("127.0.0.1:1")); err != nil {
			t.Errorf("WithAddr should replace a bad MOTE_ADDR: %v", err)
		}
	})
}

func TestDefaultDataDir(t *testing.T) {
	t.Run("MOTE_DATA", func(t *testing.T) {
		t.Setenv(EnvData, "/srv/mote")
		if got := DefaultDataDir(); got != "/srv/mote" {
			t.Errorf("DefaultDataDir() = %q", got)
		}
	})
	if runtime.GOOS != "linux" {
		t.Skip("the remaining cases are Linux's")
	}
	tests := []struct {
		name, xdg, home, want string
	}{
		{"xdg", "/xdg/data", "/home/ana", "/xdg/data/mote"},
		{"home", "", "/home/ana", "/home/ana/.local/share/mote"},
		{"relative xdg is ignored", "rel/data", "/home/ana", "/home/ana/.local/share/mote"},
		{"no home", "", "", ".mote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvData, "")
			t.Setenv("XDG_DATA_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			if got := DefaultDataDir(); got != tt.want {
				t.Errorf("DefaultDataDir() = %q, want %q", got, tt.want)
			}
		})
	}
	if got := TokenFile("/d"); got != filepath.Join("/d", "admin.token") {
		t.Errorf("TokenFile = %q", got)
	}
}

// TestMethods calls every simple method against the fake and checks both
// the request it sent and the answer it decoded.
func TestMethods(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	ctx := t.Context()
	if _, err := c.Deploy(ctx, Package{Manifest: []byte(`name = "hello"`), Module: []byte("wasm")}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.instances = []api.Instance{{ID: "i1", Service: "hello", Version: 1, State: "idle"}, {ID: "i2", Service: "other", State: "busy"}}
	f.mu.Unlock()
	f.requests()

	tests := []struct {
		name         string
		call         func() (any, error)
		method, path string
		query        string
		auth         bool
		check        func(t *testing.T, got any)
	}{
		{name: "Health", call: func() (any, error) { return nil, c.Health(ctx) }, method: "GET", path: "/healthz"},
		{name: "Ready", call: func() (any, error) { return nil, c.Ready(ctx) }, method: "GET", path: "/readyz"},
		{name: "Info", call: func() (any, error) { return c.Info(ctx) }, method: "GET", path: "/v1/info", auth: true,
			check: func(t *testing.T, got any) {
				if i := got.(api.NodeInfo); i.Version != "v0.1.0" || i.Services != 1 || i.Started.IsZero() {
					t.Errorf("info %+v", i)
				}
			}},
		{name: "Metrics", call: func() (any, error) { return c.Metrics(ctx) }, method: "GET", path: "/metrics", auth: true,
			check: func(t *testing.T, got any) {
				if !strings.Contains(got.(string), "mote_services 1") {
					t.Errorf("metrics %q", got)
				}
			}},
		{name: "OpenAPI", call: func() (any, error) { return c.OpenAPI(ctx) }, method: "GET", path: "/v1/openapi.json", auth: true,
			check: func(t *testing.T, got any) {
				var doc map[string]any
				if err := json.Unmarshal(got.([]byte), &doc); err != nil || doc["openapi"] != "3.1.0" {
					t.Errorf("openapi %s (%v)", got, err)
				}
			}},
		{name: "Services", call: func() (any, error) { return c.Services(ctx) }, method: "GET", path: "/v1/services", auth: true,
			check: func(t *testing.T, got any) {
				if s := got.([]api.Service); len(s) != 1 || s[0].Name != "hello" || s[0].Route != "/hello" || s[0].Version != 1 {
					t.Errorf("services %+v", s)
				}
			}},
		{name: "Service", call: func() (any, error) { return c.Service(ctx, "hello") }, method: "GET", path: "/v1/services/hello", auth: true,
			check: func(t *testing.T, got any) {
				d := got.(api.ServiceDetail)
				if d.Name != "hello" || len(d.Versions) != 1 || len(d.Instances) != 1 || d.Instances[0].ID != "i1" {
					t.Errorf("detail %+v", d)
				}
			}},
		{name: "Versions", call: func() (any, error) { return c.Versions(ctx, "hello") }, method: "GET", path: "/v1/services/hello/versions", auth: true,
			check: func(t *testing.T, got any) {
				if v := got.([]api.VersionStatus); len(v) != 1 || v[0].Number != 1 || v[0].Module != Digest([]byte("wasm")) {
					t.Errorf("versions %+v", v)
				}
			}},
		{name: "Instances all", call: func() (any, error) { return c.Instances(ctx, "") }, method: "GET", path: "/v1/instances", auth: true,
			check: func(t *testing.T, got any) {
				if in := got.([]api.Instance); len(in) != 2 {
					t.Errorf("instances %+v", in)
				}
			}},
		{name: "Instances one", call: func() (any, error) { return c.Instances(ctx, "hello") }, method: "GET", path: "/v1/instances",
			query: "service=hello", auth: true,
			check: func(t *testing.T, got any) {
				if in := got.([]api.Instance); len(in) != 1 || in[0].ID != "i1" {
					t.Errorf("instances %+v", in)
				}
			}},
		{name: "HasBlob yes", call: func() (any, error) { return c.HasBlob(ctx, Digest([]byte("wasm"))) },
			method: "HEAD", path: "/v1/blobs/" + Digest([]byte("wasm")), auth: true,
			check: func(t *testing.T, got any) {
				if !got.(bool) {
					t.Error("HasBlob = false for a stored blob")
				}
			}},
		{name: "HasBlob no", call: func() (any, error) { return c.HasBlob(ctx, Digest([]byte("nope"))) },
			method: "HEAD", path: "/v1/blobs/" + Digest([]byte("nope")), auth: true,
			check: func(t *testing.T, got any) {
				if got.(bool) {
					t.Error("HasBlob = true for a missing blob")
				}
			}},
		{name: "PutBlob", call: func() (any, error) { return c.PutBlob(ctx, Digest([]byte("data")), strings.NewReader("data"), 4) },
			method: "PUT", path: "/v1/blobs/" + Digest([]byte("data")), auth: true,
			check: func(t *testing.T, got any) {
				if b := got.(api.BlobInfo); b.Digest != Digest([]byte("data")) || b.Size != 4 {
					t.Errorf("blob info %+v", b)
				}
			}},
		{name: "PutBlob empty", call: func() (any, error) { return c.PutBlob(ctx, Digest(nil), nil, 0) },
			method: "PUT", path: "/v1/blobs/" + Digest(nil), auth: true},
		{name: "DeployRequest", call: func() (any, error) {
			return c.DeployRequest(ctx, api.DeployRequest{Manifest: "name = \"hello\"\nroute = \"/hi\"", Module: Digest([]byte("wasm"))})
		}, method: "POST", path: "/v1/deploy", auth: true,
			check: func(t *testing.T, got any) {
				if r := got.(api.DeployResult); r.Version.Number != 2 || r.Service.Route != "/hi" || r.Unchanged {
					t.Errorf("deploy result %+v", r)
				}
			}},
		{name: "DeleteService", call: func() (any, error) { return nil, c.DeleteService(ctx, "hello") },
			method: "DELETE", path: "/v1/services/hello", auth: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call()
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("sent %d requests, want 1: %+v", len(reqs), reqs)
			}
			r := reqs[0]
			if r.Method != tt.method || r.Path != tt.path || r.RawQuery != tt.query {
				t.Errorf("sent %s %s?%s, want %s %s?%s", r.Method, r.Path, r.RawQuery, tt.method, tt.path, tt.query)
			}
			wantAuth := ""
			if tt.auth {
				wantAuth = "Bearer " + fakeToken
			}
			if r.Auth != wantAuth {
				t.Errorf("Authorization %q, want %q", r.Auth, wantAuth)
			}
			if !strings.HasPrefix(r.UserAgent, "mote-client/") {
				t.Errorf("User-Agent %q", r.UserAgent)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestRequestBodies(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	if _, err := c.PutBlob(t.Context(), Digest([]byte("abc")), strings.NewReader("abc"), 3); err != nil {
		t.Fatal(err)
	}
	req := api.DeployRequest{Manifest: `name = "x"`, Module: Digest([]byte("abc")), Files: map[string]string{"a/b.txt": Digest([]byte("abc"))}}
	if _, err := c.DeployRequest(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	put, post := reqs[0], reqs[1]
	if string(put.Body) != "abc" || put.ContentLength != 3 || put.ContentType != "application/octet-stream" {
		t.Errorf("PUT body %q length %d type %q", put.Body, put.ContentLength, put.ContentType)
	}
	var got api.DeployRequest
	if err := json.Unmarshal(post.Body, &got); err != nil || !reflect.DeepEqual(got, req) {
		t.Errorf("POST body %s (%v), want %+v", post.Body, err, req)
	}
	if post.ContentType != "application/json" || post.Accept != "application/json" {
		t.Errorf("POST Content-Type %q Accept %q", post.ContentType, post.Accept)
	}
}

func TestArgumentsCheckedLocally(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	ctx := t.Context()
	calls := []struct {
		name string
		err  error
		want error
	}{
		{"Service upper", func() error { _, err := c.Service(ctx, "Hello"); return err }(), ErrInvalidName},
		{"Service dots", func() error { _, err := c.Service(ctx, ".."); return err }(), ErrInvalidName},
		{"Delete empty", c.DeleteService(ctx, ""), ErrInvalidName},
		{"Versions long", func() error { _, err := c.Versions(ctx, strings.Repeat("a", 64)); return err }(), ErrInvalidName},
		{"Instances slash", func() error { _, err := c.Instances(ctx, "a/b"); return err }(), ErrInvalidName},
		{"Invoke", func() error { _, err := c.Invoke(ctx, "a b", InvokeRequest{}); return err }(), ErrInvalidName},
		{"HasBlob", func() error { _, err := c.HasBlob(ctx, "sha256:ABC"); return err }(), ErrInvalidDigest},
		{"PutBlob", func() error { _, err := c.PutBlob(ctx, "md5:x", nil, 0); return err }(), ErrInvalidDigest},
		{"PutBlob upper hex", func() error {
			_, err := c.PutBlob(ctx, "sha256:"+strings.Repeat("A", 64), nil, 0)
			return err
		}(), ErrInvalidDigest},
	}
	for _, tt := range calls {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: error %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if _, err := c.PutBlob(ctx, Digest(nil), nil, 3); err == nil {
		t.Error("PutBlob of 3 bytes with a nil body: no error")
	}
	if _, err := c.PutBlob(ctx, Digest(nil), strings.NewReader(""), -1); err == nil {
		t.Error("PutBlob with a negative size: no error")
	}
	var logErr error
	for _, err := range c.Logs(ctx, "BAD", LogOptions{}) {
		logErr = err
	}
	if !errors.Is(logErr, ErrInvalidName) {
		t.Errorf("Logs with a bad name: %v", logErr)
	}
	if reqs := f.requests(); len(reqs) != 0 {
		t.Errorf("bad arguments reached the node: %+v", reqs)
	}
}

// TestErrorsFromNode checks the *api.Error of answers the fake gives.
func TestErrorsFromNode(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	ctx := t.Context()
	f.mu.Lock()
	f.ready = false
	f.mu.Unlock()

	_, err := c.Service(ctx, "ghost")
	wantAPIError(t, err, 404, api.CodeNotFound, `"ghost" not found`)

	err = c.Ready(ctx)
	wantAPIError(t, err, 503, api.CodeNotReady, "starting")

	// A wrong method and an unknown route come back as JSON errors too.
	r := request{method: http.MethodPatch, path: "/v1/services"}
	err = c.callJSON(ctx, r, nil)
	wantAPIError(t, err, 405, api.CodeMethodNotAllowed, "PATCH")
	err = c.callJSON(ctx, request{method: http.MethodGet, path: "/v1/nope"}, nil)
	wantAPIError(t, err, 404, api.CodeNotFound, "/v1/nope")
}

func wantAPIError(t *testing.T, err error, status int, code, msg string) *api.Error {
	t.Helper()
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *api.Error", err, err)
	}
	if e.Status != status || e.Code != code || !strings.Contains(e.Message, msg) {
		t.Errorf("got status %d code %q message %q, want %d %q containing %q", e.Status, e.Code, e.Message, status, code, msg)
	}
	if strings.Contains(err.Error(), fakeToken) || strings.Contains(e.Hint, fakeToken) {
		t.Errorf("error %q (hint %q) shows the token", err, e.Hint)
	}
	return e
}

// TestErrorDecoding checks answers that are not the node's JSON.
func TestErrorDecoding(t *testing.T) {
	long := strings.Repeat("é", 400) // 800 bytes
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantCode    string
		wantMsg     string
		wantDetails []string
	}{
		{"json", 400, "application/json", `{"error":{"code":"invalid_manifest","message":"2 problems","hint":"fix it","details":["a","b"]}}`,
			api.CodeInvalidManifest, "2 problems", []string{"a", "b"}},
		{"json without content type", 409, "", `{"error":{"code":"conflict","message":"route taken"}}`, api.CodeConflict, "route taken", nil},
		{"json without code", 400, "application/json", `{"error":{"message":"x"}}`, api.CodeBadRequest, `{"error":{"message":"x"}}`, nil},
		{"other json", 422, "application/json", `{"message":"nope"}`, api.CodeBadRequest, `{"message":"nope"}`, nil},
		{"text", 500, "text/plain", "  boom\n", api.CodeInternal, "boom", nil},
		{"proxy html", 502, "text/html", "<html>Bad Gateway</html>", api.CodeInternal, "<html>Bad Gateway</html>", nil},
		{"empty", 503, "", "", api.CodeInternal, "HTTP 503 Service Unavailable", nil},
		{"rate limited", 429, "", "slow down", api.CodeRateLimited, "slow down", nil},
		{"too large", 413, "", "", api.CodeBodyTooLarge, "HTTP 413 Request Entity Too Large", nil},
		{"long", 500, "text/plain", long, api.CodeInternal, strings.Repeat("é", 256), nil},
		{"invalid utf-8", 500, "text/plain", "a\xffb", api.CodeInternal, "a\uFFFDb", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c, err := New(srv.URL, WithToken(fakeToken))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Services(t.Context())
			e := wantAPIError(t, err, tt.status, tt.wantCode, tt.wantMsg)
			if e.Message != tt.wantMsg {
				t.Errorf("message %q, want exactly %q", e.Message, tt.wantMsg)
			}
			if len(e.Message) > maxErrorText {
				t.Errorf("message is %d bytes, over %d", len(e.Message), maxErrorText)
			}
			if !reflect.DeepEqual(e.Details, tt.wantDetails) {
				t.Errorf("details %q, want %q", e.Details, tt.wantDetails)
			}
		})
	}
}

func TestUnauthorizedHint(t *testing.T) {
	f := newFakeNode(t)
	data := t.TempDir()
	t.Setenv(EnvData, data)
	t.Setenv(EnvToken, "")
	t.Setenv(EnvAddr, f.srv.URL)
	tests := []struct {
		name  string
		opts  []Option
		wants []string
	}{
		{"no token", nil, []string{"no admin token", "--token", "MOTE_TOKEN", TokenFile(data)}},
		{"wrong token", []Option{WithToken("wrong-one")}, []string{"rejected", "--token", "MOTE_TOKEN", TokenFile(data)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Info(t.Context())
			e := wantAPIError(t, err, 401, api.CodeUnauthorized, "token")
			for _, w := range tt.wants {
				if !strings.Contains(e.Hint, w) {
					t.Errorf("hint %q does not say %q", e.Hint, w)
				}
			}
			if strings.Contains(e.Hint, "wrong-one") || strings.Contains(err.Error(), "wrong-one") {
				t.Errorf("the error shows the token: %v / %s", err, e.Hint)
			}
		})
	}
	// Health and Ready need no token.
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Health(t.Context()); err != nil {
		t.Errorf("Health without a token: %v", err)
	}
}

// deadAddr returns an address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestUnreachable(t *testing.T) {
	addr := deadAddr(t)
	c, err := New(addr, WithToken(fakeToken))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	calls := map[string]error{
		"Health": c.Health(ctx),
		"Info":   func() error { _, err := c.Info(ctx); return err }(),
		"Deploy": func() error {
			_, err := c.Deploy(ctx, Package{Manifest: []byte(`name = "a"`), Module: []byte("m")})
			return err
		}(),
		"Invoke": func() error { _, err := c.Invoke(ctx, "a", InvokeRequest{}); return err }(),
		"Logs": func() error {
			for _, err := range c.Logs(ctx, "a", LogOptions{}) {
				return err
			}
			return nil
		}(),
	}
	for name, err := range calls {
		if !errors.Is(err, ErrUnreachable) {
			t.Errorf("%s: error %v does not match ErrUnreachable", name, err)
			continue
		}
		msg := err.Error()
		for _, w := range []string{"http://" + addr, "mote up", "MOTE_ADDR", "--addr"} {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q does not say %q", name, msg, w)
			}
		}
		if strings.Contains(msg, fakeToken) {
			t.Errorf("%s: error %q shows the token", name, msg)
		}
		var ue *UnreachableError
		if !errors.As(err, &ue) || ue.Hint() == "" {
			t.Errorf("%s: error is not an *UnreachableError with a hint", name)
		}
	}
	// An unknown host is unreachable too.
	c2, err := New("http://mote-node.invalid:8081")
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Health(ctx); !errors.Is(err, ErrUnreachable) {
		t.Errorf("unknown host: %v", err)
	}
}

func TestCancelledIsNotUnreachable(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Info(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnreachable) {
		t.Errorf("error %v: want DeadlineExceeded and not ErrUnreachable", err)
	}
}

func TestUserAgent(t *testing.T) {
	f := newFakeNode(t)
	if err := f.client(t, WithUserAgent("mote/9.9.9")).Health(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ua := f.requests()[0].UserAgent; ua != "mote/9.9.9" {
		t.Errorf("User-Agent %q", ua)
	}
}
