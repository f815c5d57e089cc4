package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
)

// fakeRunner answers with fn.
type fakeRunner struct {
	fn func(*sandbox.Request) (*sandbox.Response, error)
}

func (f fakeRunner) Serve(_ context.Context, r *sandbox.Request) (*sandbox.Response, error) {
	return f.fn(r)
}
func (fakeRunner) Instances() []api.Instance   { return nil }
func (fakeRunner) Close(context.Context) error { return nil }

func echoRunner() fakeRunner {
	return fakeRunner{fn: func(r *sandbox.Request) (*sandbox.Response, error) {
		b, _ := json.Marshal(map[string]string{"route": r.Route, "rest": r.RawPath, "query": r.RawQuery, "body": string(r.Body), "id": r.ID})
		return &sandbox.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: b}, nil
	}}
}

// single gives each target all of its service's traffic.
func single(targets []*Target) []Backend {
	out := make([]Backend, len(targets))
	for i, tg := range targets {
		out[i] = Backend{Target: tg, Weight: 100}
	}
	return out
}

func TestLookup(t *testing.T) {
	tb := NewTable(single([]*Target{
		{Service: "hello", Route: "/hello"},
		{Service: "api", Route: "/api"},
		{Service: "apiv2", Route: "/api/v2"},
		{Service: "root", Route: "/"},
	}))
	tests := []struct {
		path, service, rest string
	}{
		{"/hello", "hello", ""},
		{"/hello/", "hello", "/"},
		{"/hello/a/b", "hello", "/a/b"},
		{"/helloworld", "root", "/helloworld"},
		{"/api/v2/x", "apiv2", "/x"},
		{"/api/v2", "apiv2", ""},
		{"/api/v3", "api", "/v3"},
		{"/", "root", "/"},
		{"/other", "root", "/other"},
	}
	for _, tt := range tests {
		m, ok := tb.Lookup(tt.path)
		if !ok || m.Service != tt.service || m.Rest != tt.rest {
			t.Errorf("Lookup(%q) = %+v %v, want %s %q", tt.path, m, ok, tt.service, tt.rest)
		}
	}
	noRoot := NewTable(single([]*Target{{Service: "hello", Route: "/hello"}}))
	for _, p := range []string{"/", "/hell", "/helloo", "/x/hello"} {
		if m, ok := noRoot.Lookup(p); ok {
			t.Errorf("Lookup(%q) matched %s", p, m.Service)
		}
	}
}

func TestGatewayErrors(t *testing.T) {
	fail := func(err error) fakeRunner {
		return fakeRunner{fn: func(*sandbox.Request) (*sandbox.Response, error) { return nil, err }}
	}
	g := New(Options{})
	g.SetTable(NewTable(single([]*Target{
		{Service: "ok", Route: "/ok", Runner: echoRunner(), MaxBody: 10},
		{Service: "trap", Route: "/trap", Runner: fail(&sandbox.GuestError{Kind: "trap", Detail: "unreachable"})},
		{Service: "slow", Route: "/slow", Runner: fail(sandbox.ErrTimeout)},
		{Service: "full", Route: "/full", Runner: fail(sandbox.ErrNoCapacity)},
		{Service: "boom", Route: "/boom", Runner: fail(errors.New("disk on fire"))},
	})))
	srv := httptest.NewServer(g)
	defer srv.Close()
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/nope", "", 404, api.CodeNotFound},
		{"POST", "/ok/x", "0123456789A", 413, api.CodeBodyTooLarge},
		{"GET", "/trap", "", 502, api.CodeGuestFailed},
		{"GET", "/slow", "", 504, api.CodeGuestTimeout},
		{"GET", "/full", "", 503, api.CodeNoCapacity},
		{"GET", "/boom", "", 500, api.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body api.ErrorBody
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || body.Error == nil || body.Error.Code != tt.code || body.Error.Message == "" {
				t.Errorf("got %d %+v, want %d %s", resp.StatusCode, body.Error, tt.status, tt.code)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
			if tt.status == 503 && resp.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if strings.Contains(body.Error.Message, "disk on fire") {
				t.Error("an internal error's detail leaked to the client")
			}
		})
	}
}

func TestGatewayPassesRequest(t *testing.T) {
	g := New(Options{})
	g.SetTable(NewTable(single([]*Target{{Service: "ok", Route: "/ok", Runner: echoRunner()}})))
	srv := httptest.NewServer(g)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/ok/a%20b/c?x=1&y=%2F", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"route": "/ok", "rest": "/a%20b/c", "query": "x=1&y=%2F", "body": "hello", "id": resp.Header.Get("X-Request-Id")}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestRequestIDsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		id := NewRequestID()
		if len(id) != 16 || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestServeServiceByName(t *testing.T) {
	g := New(Options{})
	g.SetTable(NewTable(single([]*Target{{Service: "ok", Route: "/ok", Runner: echoRunner()}})))
	rec := httptest.NewRecorder()
	g.ServeService(rec, httptest.NewRequest("GET", "/v1/services/ok/invoke/x", nil), "ok", "/x")
	b, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || !strings.Contains(string(b), `"rest":"/x"`) {
		t.Errorf("got %d %s", rec.Code, b)
	}
	rec = httptest.NewRecorder()
	g.ServeService(rec, httptest.NewRequest("GET", "/", nil), "missing", "")
	if rec.Code != 404 {
		t.Errorf("missing service: %d", rec.Code)
	}
}

func BenchmarkLookup(b *testing.B) {
	var targets []*Target
	for i := range 10000 {
		targets = append(targets, &Target{Service: "s" + strconv.Itoa(i), Route: "/svc-" + strconv.Itoa(i)})
	}
	tb := NewTable(single(targets))
	b.ReportAllocs()
	for b.Loop() {
		tb.Lookup("/svc-42/some/deeper/path")
	}
}
