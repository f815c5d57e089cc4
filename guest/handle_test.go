package guest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/guest/internal/hostcall"
)

// logHost records log lines; the test host for this package (guesttest
// imports guest, so it cannot be used here).
type logHost struct {
	hostcall.Host // nil: any other call panics
	logs          []string
}

func (h *logHost) Log(level int, msg string) {
	h.logs = append(h.logs, fmt.Sprintf("%d %s", level, msg))
}

func captureLogs(t *testing.T) *logHost {
	h := &logHost{}
	t.Cleanup(hostcall.SetHost(h))
	return h
}

func TestNewRequest(t *testing.T) {
	body := make([]byte, 256)
	for i := range body {
		body[i] = byte(i)
	}
	in := &abi.Request{
		Method: "POST", URL: "/hello/a%20b/c%2Fd?x=1&x=2&q=%3D%26+ok&flag", Route: "/hello",
		Host: "example.com:8080", RemoteAddr: "192.0.2.1:5555", RequestID: "req-1",
		Header: []abi.Header{
			{Name: "content-type", Value: "application/octet-stream"},
			{Name: "X-Two", Value: "a"}, {Name: "x-two", Value: "b"},
			{Name: "Host", Value: "ignored.example"},
			{Name: "Cookie", Value: "a=1"}, {Name: "Cookie", Value: "b=2"},
		},
		Body: body,
	}
	r, err := newRequest(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Method", r.Method, "POST"},
		{"URL.Path", r.URL.Path, "/hello/a b/c/d"},
		{"URL.RawPath", r.URL.RawPath, "/hello/a%20b/c%2Fd"},
		{"URL.EscapedPath", r.URL.EscapedPath(), "/hello/a%20b/c%2Fd"},
		{"URL.RawQuery", r.URL.RawQuery, "x=1&x=2&q=%3D%26+ok&flag"},
		{"query q", r.URL.Query().Get("q"), "=& ok"},
		{"query x", r.URL.Query()["x"], []string{"1", "2"}},
		{"RequestURI", r.RequestURI, in.URL},
		{"Host", r.Host, "example.com:8080"},
		{"URL.Host", r.URL.Host, ""},
		{"RemoteAddr", r.RemoteAddr, "192.0.2.1:5555"},
		{"Proto", r.Proto, "HTTP/1.1"},
		{"ProtoMajor.Minor", fmt.Sprint(r.ProtoMajor, ".", r.ProtoMinor), "1.1"},
		{"Content-Type", r.Header.Get("Content-Type"), "application/octet-stream"},
		{"X-Two", r.Header["X-Two"], []string{"a", "b"}},
		{"Host header", r.Header["Host"], []string(nil)},
		{"Cookie", r.Header["Cookie"], []string{"a=1", "b=2"}},
		{"ContentLength", r.ContentLength, int64(256)},
		{"RequestID", RequestID(r), "req-1"},
		{"Route", Route(r), "/hello"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	got, err := io.ReadAll(r.Body)
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("body = %v, %v; want the 256 byte values", got, err)
	}
	if c, err := r.Cookie("b"); err != nil || c.Value != "2" {
		t.Errorf("Cookie(b) = %v, %v", c, err)
	}
	if r.Context().Err() != nil {
		t.Errorf("context done before the handler ran")
	}
}

func TestNewRequestDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   abi.Request
		host string
	}{
		{"no method is GET", abi.Request{URL: "/"}, ""},
		{"Host header when Host is empty", abi.Request{URL: "/", Header: []abi.Header{{Name: "host", Value: "h.example"}}}, "h.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := newRequest(t.Context(), &tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if r.Method != "GET" || r.Host != tt.host || r.Body != http.NoBody || r.ContentLength != 0 || len(r.Header["Host"]) != 0 {
				t.Errorf("method %q host %q body %v length %d header %v", r.Method, r.Host, r.Body, r.ContentLength, r.Header)
			}
			if RequestID(r) != "" || Route(r) != "" {
				t.Errorf("id %q route %q, want empty", RequestID(r), Route(r))
			}
		})
	}
}

func TestHandleBadURL(t *testing.T) {
	logs := captureLogs(t)
	for _, u := range []string{"", "a/b", "/a%zz", "/\x00"} {
		called := false
		resp := Handle(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }), &abi.Request{Method: "GET", URL: u})
		if resp.Status != 400 || called {
			t.Errorf("URL %q: status %d, handler called %v; want 400 without the handler", u, resp.Status, called)
		}
	}
	if len(logs.logs) != 4 || !strings.HasPrefix(logs.logs[0], "2 guest: bad request URL") {
		t.Errorf("logs = %q, want a warning per bad URL", logs.logs)
	}
}

// TestServeRoundTrip sends encoded requests through serve, as the export
// does, with a handler that echoes what it got.
func TestServeRoundTrip(t *testing.T) {
	binary := make([]byte, 1<<16)
	for i := range binary {
		binary[i] = byte(i * 7)
	}
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header()["X-Path"] = []string{r.URL.Path}
		w.Header()["X-Query"] = []string{r.URL.RawQuery}
		w.Header()["X-In"] = r.Header["X-In"]
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.WriteHeader(207)
		w.Write(body)
	})
	tests := []struct {
		name string
		req  abi.Request
	}{
		{"binary body", abi.Request{Method: "PUT", URL: "/x", Body: binary}},
		{"no body", abi.Request{Method: "GET", URL: "/x"}},
		{"escaped query", abi.Request{Method: "GET", URL: "/p%2Fq?a=%20&b=%zz&&c"}},
		{"repeated headers", abi.Request{Method: "GET", URL: "/", Header: []abi.Header{{Name: "X-In", Value: "1"}, {Name: "X-In", Value: ""}, {Name: "X-In", Value: "3, 4"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := abi.AppendRequest(nil, &tt.req)
			out, err := serve(echo, raw, []byte("prefix"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(out, []byte("prefix")) {
				t.Fatalf("serve did not append to out")
			}
			resp, err := abi.DecodeResponse(out[len("prefix"):])
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 207 || !bytes.Equal(resp.Body, tt.req.Body) {
				t.Errorf("status %d, body of %d bytes; want 207 and the %d bytes sent", resp.Status, len(resp.Body), len(tt.req.Body))
			}
			h := hostcall.HTTPHeader(resp.Header)
			path, query, _ := strings.Cut(tt.req.URL, "?")
			if r, _ := newRequest(t.Context(), &tt.req); h.Get("X-Path") != r.URL.Path || h.Get("X-Query") != query {
				t.Errorf("X-Path %q X-Query %q, want the path of %q and query %q", h.Get("X-Path"), h.Get("X-Query"), path, query)
			}
			var in []string
			for _, kv := range tt.req.Header {
				in = append(in, kv.Value)
			}
			if !reflect.DeepEqual(h["X-In"], in) && len(in) > 0 {
				t.Errorf("X-In = %q, want %q", h["X-In"], in)
			}
			if !reflect.DeepEqual(h["Set-Cookie"], []string{"a=1", "b=2"}) {
				t.Errorf("Set-Cookie = %q", h["Set-Cookie"])
			}
		})
	}
	if _, err := serve(echo, []byte("not a request"), nil); !errors.Is(err, abi.ErrMalformed) {
		t.Errorf("serve(garbage) error = %v, want abi.ErrMalformed", err)
	}
}

func TestResponseWriter(t *testing.T) {
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter)
		status  int
		header  http.Header // exactly the headers sent
		body    string
		warn    bool
	}{
		{
			name:    "nothing written",
			handler: func(w http.ResponseWriter) {},
			status:  200, header: http.Header{},
		},
		{
			name:    "text is sniffed",
			handler: func(w http.ResponseWriter) { io.WriteString(w, "hello") },
			status:  200, header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, body: "hello",
		},
		{
			name:    "HTML is sniffed",
			handler: func(w http.ResponseWriter) { w.Write([]byte("<!DOCTYPE html><p>hi")) },
			status:  200, header: http.Header{"Content-Type": {"text/html; charset=utf-8"}}, body: "<!DOCTYPE html><p>hi",
		},
		{
			name:    "binary is sniffed",
			handler: func(w http.ResponseWriter) { w.Write([]byte{0, 1, 2}) },
			status:  200, header: http.Header{"Content-Type": {"application/octet-stream"}}, body: "\x00\x01\x02",
		},
		{
			name: "Content-Type set",
			handler: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte("<html>"))
			},
			status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: "<html>",
		},
		{
			name: "Content-Type nil: none sent, none sniffed",
			handler: func(w http.ResponseWriter) {
				w.Header()["Content-Type"] = nil
				w.Write([]byte("<html>"))
			},
			status: 200, header: http.Header{}, body: "<html>",
		},
		{
			name: "Content-Encoding: not sniffed",
			handler: func(w http.ResponseWriter) {
				w.Header().Set("Content-Encoding", "gzip")
				w.Write([]byte("\x1f\x8b"))
			},
			status: 200, header: http.Header{"Content-Encoding": {"gzip"}}, body: "\x1f\x8b",
		},
		{
			name: "first WriteHeader wins",
			handler: func(w http.ResponseWriter) {
				w.WriteHeader(201)
				w.WriteHeader(500)
			},
			status: 201, header: http.Header{}, warn: true,
		},
		{
			name: "header changes after WriteHeader are ignored",
			handler: func(w http.ResponseWriter) {
				w.Header().Set("X-Before", "1")
				w.WriteHeader(404)
				w.Header().Set("X-After", "1")
				w.Header().Set("Content-Type", "text/csv")
				io.WriteString(w, "a,b")
			},
			status: 404, header: http.Header{"X-Before": {"1"}, "Content-Type": {"text/plain; charset=utf-8"}}, body: "a,b",
		},
		{
			name: "header changes after Write are ignored",
			handler: func(w http.ResponseWriter) {
				w.Write([]byte("x"))
				w.Header().Set("X-After", "1")
				w.WriteHeader(500)
			},
			status: 200, header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, body: "x", warn: true,
		},
		{
			name: "Flush fixes the header",
			handler: func(w http.ResponseWriter) {
				w.Header().Set("X-Early", "1")
				w.(http.Flusher).Flush()
				w.Header().Set("X-Late", "1")
				io.WriteString(w, "a")
				w.(http.Flusher).Flush()
				io.WriteString(w, "b")
			},
			status: 200, header: http.Header{"X-Early": {"1"}, "Content-Type": {"text/plain; charset=utf-8"}}, body: "ab",
		},
		{
			name: "204 has no body",
			handler: func(w http.ResponseWriter) {
				w.WriteHeader(204)
				if n, err := w.Write([]byte("x")); n != 0 || err != http.ErrBodyNotAllowed {
					panic(fmt.Sprintf("Write after 204 = %d, %v", n, err))
				}
			},
			status: 204, header: http.Header{},
		},
		{
			name: "304 has no body",
			handler: func(w http.ResponseWriter) {
				w.WriteHeader(304)
				if _, err := io.WriteString(w, "x"); err != http.ErrBodyNotAllowed {
					panic(err)
				}
			},
			status: 304, header: http.Header{},
		},
		{
			name: "1xx is ignored",
			handler: func(w http.ResponseWriter) {
				w.WriteHeader(103)
				w.WriteHeader(202)
			},
			status: 202, header: http.Header{},
		},
		{
			name: "repeated values and trailers",
			handler: func(w http.ResponseWriter) {
				w.Header().Add("Set-Cookie", "a=1")
				w.Header().Add("set-cookie", "b=2")
				w.Header().Set(http.TrailerPrefix+"X-Sum", "9")
				w.Header()["X-Empty"] = []string{}
				w.WriteHeader(999)
			},
			status: 999, header: http.Header{"Set-Cookie": {"a=1", "b=2"}},
		},
		{
			name:    "invalid code is a panic: 500",
			handler: func(w http.ResponseWriter) { w.WriteHeader(99) },
			status:  500, header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "X-Content-Type-Options": {"nosniff"}}, body: "Internal Server Error\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := captureLogs(t)
			resp := Handle(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { tt.handler(w) }), &abi.Request{Method: "GET", URL: "/"})
			if resp.Status != tt.status || string(resp.Body) != tt.body {
				t.Errorf("got %d %q, want %d %q", resp.Status, resp.Body, tt.status, tt.body)
			}
			if h := hostcall.HTTPHeader(resp.Header); !reflect.DeepEqual(h, tt.header) {
				t.Errorf("header = %v, want %v", h, tt.header)
			}
			warned := len(logs.logs) > 0 && strings.HasPrefix(logs.logs[0], "2 guest: superfluous WriteHeader")
			if warned != tt.warn {
				t.Errorf("logs = %q, want a superfluous WriteHeader warning: %v", logs.logs, tt.warn)
			}
		})
	}
}

func TestHandlePanic(t *testing.T) {
	tests := []struct {
		name  string
		value any
		log   bool
	}{
		{"string", "boom", true},
		{"error", errors.New("bad"), true},
		{"abort", http.ErrAbortHandler, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := captureLogs(t)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Partial", "1")
				w.WriteHeader(201)
				io.WriteString(w, "partial")
				panic(tt.value)
			})
			resp := Handle(h, &abi.Request{Method: "POST", URL: "/p?q=1"})
			if resp.Status != 500 || string(resp.Body) != "Internal Server Error\n" {
				t.Errorf("got %d %q, want 500 Internal Server Error", resp.Status, resp.Body)
			}
			if hostcall.HTTPHeader(resp.Header).Get("X-Partial") != "" {
				t.Errorf("the panicking handler's header was sent: %v", resp.Header)
			}
			if tt.log {
				want := fmt.Sprintf("3 guest: panic serving POST /p?q=1: %v\n", tt.value)
				if len(logs.logs) != 1 || !strings.HasPrefix(logs.logs[0], want) || !strings.Contains(logs.logs[0], "handle_test.go") {
					t.Errorf("logs = %q, want one error line starting %q with a stack", logs.logs, want)
				}
			} else if len(logs.logs) != 0 {
				t.Errorf("logs = %q, want none for http.ErrAbortHandler", logs.logs)
			}
			// The next request is served as if nothing happened.
			ok := Handle(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), &abi.Request{URL: "/"})
			if ok.Status != 200 {
				t.Errorf("after a panic: %d", ok.Status)
			}
		})
	}
}

func TestHandleContextCanceledAfter(t *testing.T) {
	var r *http.Request
	Handle(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) { r = req }), &abi.Request{URL: "/"})
	if r.Context().Err() == nil {
		t.Error("the request's context is not canceled when the handler has returned")
	}
}

func TestServeNilIsDefaultServeMux(t *testing.T) {
	http.HandleFunc("/guest-test-default-mux", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "default") })
	old := handler
	t.Cleanup(func() { handler = old })
	Serve(nil)
	out, err := serve(handler, abi.AppendRequest(nil, &abi.Request{URL: "/guest-test-default-mux"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := abi.DecodeResponse(out); resp == nil || string(resp.Body) != "default" {
		t.Errorf("Serve(nil) did not serve http.DefaultServeMux: %+v", resp)
	}
	Serve(http.NotFoundHandler())
	if resp := Handle(handler, &abi.Request{URL: "/guest-test-default-mux"}); resp.Status != 404 {
		t.Errorf("after Serve(NotFoundHandler): %d", resp.Status)
	}
}

func TestStripRoute(t *testing.T) {
	tests := []struct {
		url, route        string
		path, raw, method string
	}{
		{url: "/todo/items/1", route: "/todo", path: "/items/1"},
		{url: "/todo", route: "/todo", path: "/"},
		{url: "/todo/", route: "/todo", path: "/"},
		{url: "/todo?x=1", route: "/todo", path: "/"},
		{url: "/todo/a%2Fb", route: "/todo", path: "/a/b", raw: "/a%2Fb"},
		{url: "/todos", route: "/todo", path: "/todos"}, // not on a segment boundary
		{url: "/other/x", route: "/todo", path: "/other/x"},
		{url: "/x", route: "", path: "/x"},
		{url: "/a/b/c", route: "/a/b", path: "/c"},
		{url: "/a/b/c", route: "/a/b/", path: "/c"},
	}
	for _, tt := range tests {
		t.Run(tt.url+" "+tt.route, func(t *testing.T) {
			var got *http.Request
			h := StripRoute(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r }))
			Handle(h, &abi.Request{Method: "GET", URL: tt.url, Route: tt.route})
			if got.URL.Path != tt.path || got.URL.RawPath != tt.raw || got.RequestURI != tt.url {
				t.Errorf("path %q raw %q uri %q, want %q %q %q", got.URL.Path, got.URL.RawPath, got.RequestURI, tt.path, tt.raw, tt.url)
			}
		})
	}
	t.Run("mux patterns without the route", func(t *testing.T) {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "item "+r.PathValue("id")) })
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "root") })
		for url, want := range map[string]string{"/svc/items/7": "item 7", "/svc": "root", "/svc/": "root"} {
			resp := Handle(StripRoute(mux), &abi.Request{Method: "GET", URL: url, Route: "/svc"})
			if resp.Status != 200 || string(resp.Body) != want {
				t.Errorf("%s: %d %q, want %q", url, resp.Status, resp.Body, want)
			}
		}
	})
}

// FuzzServe feeds arbitrary bytes to serve, as a host would: it must never
// panic, and whatever decodes as a request is answered with a response
// that decodes.
func FuzzServe(f *testing.F) {
	for _, r := range []*abi.Request{
		{Method: "GET", URL: "/"},
		{Method: "POST", URL: "/a%20b?x=%zz&y", Route: "/a", Header: []abi.Header{{Name: "Content-Type", Value: "text/plain"}, {Name: "Host", Value: "h"}}, Body: []byte("hi")},
		{Method: "", URL: "*"},
		{Method: "GET", URL: "http://example.com/x?y=1#frag"},
	} {
		f.Add(abi.AppendRequest(nil, r))
	}
	f.Add([]byte{})
	f.Cleanup(hostcall.SetHost(&logHost{})) // the bad URLs' warnings are not interesting here
	echo := StripRoute(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		for k, vs := range r.Header {
			w.Header()[k] = vs
		}
		r.ParseForm()
		w.Header().Set("X-Path", r.URL.Path)
		w.Write(body)
	}))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := serve(echo, raw, nil)
		if err != nil {
			return
		}
		if _, err := abi.DecodeResponse(out); err != nil {
			t.Fatalf("response does not decode: %v", err)
		}
	})
}
