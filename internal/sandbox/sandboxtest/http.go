package sandboxtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/sandbox/sandboxtest/conform"
)

// allBytes holds every byte value once, 0x00 first.
var allBytes = func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

func testEcho(t *testing.T, h Harness) {
	r := h.load(t, "conform-echo", nil)
	tests := []struct {
		name    string
		method  string
		rawPath string
		query   string
		header  http.Header
		body    []byte
	}{
		{name: "get", method: "GET", rawPath: "/echo", header: http.Header{"Accept": {"*/*"}}},
		{name: "the route itself", method: "GET", rawPath: ""},
		{name: "escaped path", method: "GET", rawPath: "/a%20b/c%2Fd/%C3%A9/x+y"},
		{name: "sub-delims in the path", method: "GET", rawPath: "/sub/!$&'()*+,;=:@~"},
		{name: "query as sent", method: "GET", rawPath: "/q", query: "x=1&y=%20&x=2&empty=&flag&plus=a+b&enc=%26%3D"},
		{name: "binary body", method: "POST", rawPath: "/upload", header: http.Header{"Content-Type": {"application/octet-stream"}}, body: allBytes},
		{name: "headers", method: "GET", rawPath: "/h", header: http.Header{
			"X-Conform-Multi": {"a", "b", "c"},
			"X-Conform-Utf8":  {"café ☕"},
			"X-Conform-Space": {"inner  spaces kept"},
			"Cookie":          {"a=1; b=2"},
			"Authorization":   {"Bearer conform-token"},
		}},
		{name: "put", method: "PUT", rawPath: "/item/1", body: []byte("put body\n")},
		{name: "delete", method: "DELETE", rawPath: "/item/1"},
		{name: "patch", method: "PATCH", rawPath: "/item/1", body: []byte(`{"a":1}`), header: http.Header{"Content-Type": {"application/json"}}},
		{name: "options", method: "OPTIONS", rawPath: "/item"},
		{name: "extension method", method: "PURGE", rawPath: "/cache"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := newRequest(tc.method, tc.rawPath, tc.query)
			for k, v := range tc.header {
				req.Header[k] = slices.Clone(v)
			}
			req.Body = tc.body
			checkEcho(t, req, r.serve(t, req, http.StatusOK))
		})
	}
}

// checkEcho checks that the guest saw req exactly (see echoProblems).
func checkEcho(t *testing.T, req *sandbox.Request, resp *sandbox.Response) {
	t.Helper()
	for _, p := range echoProblems(req, resp) {
		t.Error(p)
	}
}

// echoProblems describes how the echo in resp differs from req: method,
// path, query, Host, every header sent with its values in order (drivers
// may add others), and the body.
func echoProblems(req *sandbox.Request, resp *sandbox.Response) []string {
	var problems []string
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		problems = append(problems, fmt.Sprintf("Content-Type %q, want application/json", ct))
	}
	var got conform.Echo
	if err := json.Unmarshal(resp.Body, &got); err != nil {
		return append(problems, fmt.Sprintf("the echo does not decode: %v; body %s", err, short(resp.Body)))
	}
	rawPath := Route + req.RawPath
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		return append(problems, fmt.Sprintf("bad test path %q: %v", rawPath, err))
	}
	for _, c := range []struct{ what, got, want string }{
		{"method", got.Method, req.Method},
		{"raw path (route + RawPath, as sent)", got.RawPath, rawPath},
		{"path (unescaped)", got.Path, path},
		{"query (as sent)", got.Query, req.RawQuery},
		{"Host", got.Host, req.Host},
	} {
		if c.got != c.want {
			problems = append(problems, fmt.Sprintf("the guest saw %s %q, want %q", c.what, c.got, c.want))
		}
	}
	for k, want := range req.Header {
		if v := got.Header[k]; !slices.Equal(v, want) {
			problems = append(problems, fmt.Sprintf("the guest saw header %s = %q, want %q", k, v, want))
		}
	}
	if !bytes.Equal(got.Body, req.Body) {
		problems = append(problems, fmt.Sprintf("the guest saw a body of %d bytes %s, want %d bytes %s", len(got.Body), short(got.Body), len(req.Body), short(req.Body)))
	}
	return problems
}

func testLargeBody(t *testing.T, h Harness) {
	r := h.load(t, "conform-large", nil)
	t.Run("request", func(t *testing.T) {
		body := make([]byte, 1<<20)
		rng := rand.NewChaCha8([32]byte{'c', 'o', 'n', 'f', 'o', 'r', 'm'})
		_, _ = rng.Read(body)
		body[0], body[len(body)-1] = 0, 0
		req := newRequest("POST", "/large", "")
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Body = body
		checkEcho(t, req, r.serve(t, req, http.StatusOK))
	})
	t.Run("response", func(t *testing.T) {
		n := 1 << 20
		resp := r.serve(t, get("/big", "n="+strconv.Itoa(n)), http.StatusOK)
		if want := conform.Pattern(n); !bytes.Equal(resp.Body, want) {
			t.Errorf("/big?n=%d answered %d bytes %s, want conform.Pattern(%d)", n, len(resp.Body), short(resp.Body), n)
		}
	})
}

func testStatus(t *testing.T, h Harness) {
	r := h.load(t, "conform-status", nil)
	for _, code := range []int{200, 201, 202, 204, 206, 301, 302, 304, 307, 400, 401, 404, 418, 429, 500, 502, 503, 599} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			// A Location would make a following client fetch it: the
			// driver must hand back the redirect itself.
			query := ""
			if code >= 300 && code < 400 {
				query = "Location=" + url.QueryEscape("http://conform.invalid/elsewhere")
			}
			resp := r.serve(t, get("/status/"+strconv.Itoa(code), query), code)
			want := fmt.Sprintf("status %d\n", code)
			if code == http.StatusNoContent || code == http.StatusNotModified {
				want = ""
			}
			if string(resp.Body) != want {
				t.Errorf("status %d: body %s, want %q", code, short(resp.Body), want)
			}
			if query != "" {
				if loc := resp.Header.Get("Location"); loc != "http://conform.invalid/elsewhere" {
					t.Errorf("status %d: Location %q, want the guest's", code, loc)
				}
			}
		})
	}
}

func testResponseHeaders(t *testing.T, h Harness) {
	r := h.load(t, "conform-headers", nil)
	want := http.Header{
		"X-Conform-One":    {"1"},
		"X-Conform-Multi":  {"a", "b", "c"},
		"X-Conform-Utf8":   {"café ☕"},
		"Content-Type":     {"text/x-conform; charset=utf-8"},
		"Set-Cookie":       {"a=1; Path=/", "b=2; HttpOnly"},
		"Cache-Control":    {"no-store"},
		"Www-Authenticate": {`Bearer realm="conform"`},
	}
	q := url.Values{}
	for k, vs := range want {
		q[k] = vs
	}
	resp := r.serve(t, get("/header", q.Encode()), http.StatusOK)
	for k, v := range want {
		if got := resp.Header[k]; !slices.Equal(got, v) {
			t.Errorf("response header %s = %q, want %q", k, got, v)
		}
	}
	if string(resp.Body) != "ok\n" {
		t.Errorf("body %s, want %q", short(resp.Body), "ok\n")
	}
}

// maxOutput is the Spec.MaxOutput of the MaxOutput sub-tests.
const maxOutput = 64 << 10

func testMaxOutput(t *testing.T, h Harness) {
	r := h.load(t, "conform-maxoutput", func(s *sandbox.Spec) { s.MaxOutput = maxOutput })
	resp := r.serve(t, get("/big", "n="+strconv.Itoa(maxOutput)), http.StatusOK)
	if !bytes.Equal(resp.Body, conform.Pattern(maxOutput)) {
		t.Errorf("a body of exactly MaxOutput (%d) bytes came back as %d bytes %s", maxOutput, len(resp.Body), short(resp.Body))
	}
	for _, n := range []int{maxOutput + 1, 1 << 20} {
		resp, err := r.try(t, get("/big", "n="+strconv.Itoa(n)))
		var ge *sandbox.GuestError
		if !errors.As(err, &ge) || !errors.Is(err, sandbox.ErrGuestFailed) {
			t.Errorf("a body of %d bytes over MaxOutput %d: got %v (response %v), want a *sandbox.GuestError", n, maxOutput, err, resp != nil)
		}
	}
	r.serve(t, get("/big", "n=10"), http.StatusOK)
}

func testMaxOutputKind(t *testing.T, h Harness) {
	r := h.load(t, "conform-maxoutputkind", func(s *sandbox.Spec) { s.MaxOutput = maxOutput })
	_, err := r.try(t, get("/big", "n="+strconv.Itoa(maxOutput+1)))
	var ge *sandbox.GuestError
	if !errors.As(err, &ge) {
		t.Fatalf("a body over MaxOutput: got %v, want a *sandbox.GuestError", err)
	}
	if ge.Kind != "output" {
		t.Errorf("a body over MaxOutput: GuestError Kind %q (%v), want \"output\"", ge.Kind, ge)
	}
}
