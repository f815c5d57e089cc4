package capability

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/internal/manifest"
	"github.com/mote-run/mote/internal/sandbox"
)

// server starts an httptest server and returns it with its "host:port".
func server(t *testing.T, h http.HandlerFunc) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return srv, u.Host
}

func header(r *abi.Response, name string) string {
	for _, h := range r.Header {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

func TestFetch(t *testing.T) {
	var seen atomic.Pointer[http.Request]
	var seenBody atomic.Value
	_, apiHost := server(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen.Store(r)
		seenBody.Store(string(b))
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Reply", "yes")
		w.Header().Set("Connection", "X-Conn-Only")
		w.Header().Set("X-Conn-Only", "drop me")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.WriteHeader(201)
		io.WriteString(w, "created "+r.URL.RequestURI())
	})
	_, other := server(t, func(w http.ResponseWriter, r *http.Request) {
		t.Error("a denied host was reached")
	})
	_, apiPort, _ := net.SplitHostPort(apiHost)
	logs := &logSink{}
	h := New(Options{Service: "svc", Allow: manifest.Allow{HTTP: []string{apiHost}}, Logs: logs})
	ctx := requestCtx(t, "req-1")

	resp, err := h.Fetch(ctx, &abi.Request{
		Method: "POST", URL: "http://" + apiHost + "/v1/things?x=1#frag", Host: "evil.example",
		Header: []abi.Header{
			{Name: "Content-Type", Value: "application/json"}, {Name: "X-Multi", Value: "a"}, {Name: "X-Multi", Value: "b"},
			{Name: "Host", Value: "evil.example"}, {Name: "Connection", Value: "X-Secret-Hop"}, {Name: "X-Secret-Hop", Value: "1"},
			{Name: "Upgrade", Value: "websocket"}, {Name: "Content-Length", Value: "999"},
		},
		Body: []byte(`{"a":1}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 201 || string(resp.Body) != "created /v1/things?x=1" || header(resp, "X-Reply") != "yes" {
		t.Errorf("response %d %q %+v", resp.Status, resp.Body, resp.Header)
	}
	for _, hop := range []string{"Connection", "X-Conn-Only", "Keep-Alive"} {
		if header(resp, hop) != "" {
			t.Errorf("the response kept the hop-by-hop header %s", hop)
		}
	}
	r := seen.Load()
	if r.Method != "POST" || r.Host != apiHost || seenBody.Load() != `{"a":1}` || r.ContentLength != 7 {
		t.Errorf("server saw %s host %q body %q length %d", r.Method, r.Host, seenBody.Load(), r.ContentLength)
	}
	if got := r.Header.Values("X-Multi"); strings.Join(got, ",") != "a,b" {
		t.Errorf("X-Multi = %q", got)
	}
	for _, hop := range []string{"X-Secret-Hop", "Upgrade"} {
		if r.Header.Get(hop) != "" {
			t.Errorf("the request kept the hop-by-hop header %s", hop)
		}
	}

	// Denied: another port of the same host, and the message says how to grant it.
	_, err = h.Fetch(ctx, &abi.Request{URL: "http://" + other + "/"})
	checkDenied(t, err, logs, `add "`+other+`" (or "127.0.0.1" for any port) to [allow] http`)
	_, err = h.Fetch(ctx, &abi.Request{URL: "https://api.example.com/v1"})
	checkDenied(t, err, logs, `http to api.example.com is not allowed: add "api.example.com" to [allow] http in mote.toml`)

	// A host without a port allows every port; names are case-insensitive.
	anyPort := New(Options{Service: "svc", Allow: manifest.Allow{HTTP: []string{"localhost"}}})
	if resp, err := anyPort.Fetch(ctx, &abi.Request{URL: "http://LOCALHOST:" + apiPort + "/x"}); err != nil || resp.Status != 201 {
		t.Errorf("fetch by an allowed host on any port: %v, %v", resp, err)
	}
}

func TestFetchInvalid(t *testing.T) {
	h := New(Options{Service: "svc", Allow: manifest.Allow{HTTP: []string{"127.0.0.1"}}})
	ctx := requestCtx(t, "req-1")
	for _, req := range []*abi.Request{
		{URL: "/relative"},
		{URL: "ftp://127.0.0.1/x"},
		{URL: "http://"},
		{URL: "http://127.0.0.1/%zz"},
		{URL: "127.0.0.1:80"},
		{URL: "http://127.0.0.1/", Method: "GE T"},
		{URL: "http://127.0.0.1/", Header: []abi.Header{{Name: "Bad Name", Value: "x"}}},
		{URL: "http://127.0.0.1/", Header: []abi.Header{{Name: "X", Value: "a\r\nInjected: 1"}}},
	} {
		if _, err := h.Fetch(ctx, req); !errors.Is(err, sandbox.ErrInvalid) {
			t.Errorf("Fetch(%+v): %v, want ErrInvalid", req, err)
		}
	}
}

func TestFetchRedirects(t *testing.T) {
	var deniedHits atomic.Int32
	_, denied := server(t, func(w http.ResponseWriter, r *http.Request) { deniedHits.Add(1) })
	_, target := server(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "arrived") })
	_, deniedPort, _ := net.SplitHostPort(denied)
	_, start := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-allowed":
			http.Redirect(w, r, "http://"+target+"/", http.StatusFound)
		case "/to-denied":
			// Another name for the same machine: the allow list is by name.
			http.Redirect(w, r, "http://localhost:"+deniedPort+"/", http.StatusTemporaryRedirect)
		case "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	})
	logs := &logSink{}
	h := New(Options{Service: "svc", Allow: manifest.Allow{HTTP: []string{start, target}}, Logs: logs})
	ctx := requestCtx(t, "req-1")

	if resp, err := h.Fetch(ctx, &abi.Request{URL: "http://" + start + "/to-allowed"}); err != nil || string(resp.Body) != "arrived" {
		t.Errorf("redirect to an allowed host: %v, %v", resp, err)
	}
	_, err := h.Fetch(ctx, &abi.Request{Method: "POST", URL: "http://" + start + "/to-denied", Body: []byte("x")})
	checkDenied(t, err, logs, `"localhost:`+deniedPort+`"`)
	if !strings.Contains(err.Error(), "redirected from "+start) {
		t.Errorf("denial %q does not name the redirecting host", err)
	}
	if deniedHits.Load() != 0 {
		t.Error("the redirect reached a denied host")
	}
	if _, err := h.Fetch(ctx, &abi.Request{URL: "http://" + start + "/to-file"}); err == nil || errors.Is(err, sandbox.ErrDenied) {
		t.Errorf("redirect to file://: %v, want a failure", err)
	}
	if _, err := h.Fetch(ctx, &abi.Request{URL: "http://" + start + "/loop"}); err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("redirect loop: %v, want a failure after 10", err)
	}
}

func TestFetchLimits(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	_, big := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 2048))
	})
	_, exact := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 1024))
	})
	_, slow := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	h := New(Options{Service: "svc", Allow: manifest.Allow{HTTP: []string{big, exact, slow, closed}},
		MaxResponse: 1024, FetchTimeout: 200 * time.Millisecond})
	ctx := requestCtx(t, "req-1")

	if _, err := h.Fetch(ctx, &abi.Request{URL: "http://" + big + "/"}); !errors.Is(err, sandbox.ErrTooLarge) {
		t.Errorf("oversized body: %v, want ErrTooLarge", err)
	}
	if resp, err := h.Fetch(ctx, &abi.Request{URL: "http://" + exact + "/"}); err != nil || len(resp.Body) != 1024 {
		t.Errorf("a body of exactly the limit: %v", err)
	}
	for _, path := range []string{"/", "/body"} {
		start := time.Now()
		_, err := h.Fetch(ctx, &abi.Request{URL: "http://" + slow + path})
		if !errors.Is(err, sandbox.ErrTimeout) || !strings.Contains(err.Error(), "did not answer within 200ms") {
			t.Errorf("slow server %s: %v, want ErrTimeout", path, err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("the timeout took %s", el)
		}
	}
	// The guest's own deadline cuts the fetch shorter.
	long := New(Options{Service: "svc", Allow: manifest.Allow{HTTP: []string{slow}}})
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := long.Fetch(dctx, &abi.Request{URL: "http://" + slow + "/"}); !errors.Is(err, sandbox.ErrTimeout) || !strings.Contains(err.Error(), "ran out of time") {
		t.Errorf("fetch past the request's deadline: %v, want ErrTimeout", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("the request's deadline took %s to stop the fetch", el)
	}
	_, err = h.Fetch(ctx, &abi.Request{URL: "http://" + closed + "/"})
	if err == nil || errors.Is(err, sandbox.ErrDenied) || errors.Is(err, sandbox.ErrTimeout) || !strings.Contains(err.Error(), "http to "+closed+" failed") {
		t.Errorf("fetch from a closed port: %v, want a plain failure", err)
	}
}
