package client

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mote-run/mote/api"
)

// FuzzParseAddr checks that any address either fails with ErrInvalidAddr
// or becomes a clean http(s) base URL that parses to itself again.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8081", ":8081", "http://[::1]:80/x/", "https://u:p@h", "h:", "http://h:99999",
		"http://h/%zz", "localhost", "http://h?x", " \thttp://h/ ", "[::1", "http://h/a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		base, err := parseAddr(addr)
		if err != nil {
			if !strings.Contains(err.Error(), ErrInvalidAddr.Error()) {
				t.Fatalf("error %q is not ErrInvalidAddr", err)
			}
			if strings.Contains(addr, "@") && strings.Contains(err.Error(), addr) {
				t.Fatalf("error %q shows an address with credentials", err)
			}
			return
		}
		u, err := url.Parse(base)
		if err != nil {
			t.Fatalf("parseAddr(%q) = %q, which does not parse: %v", addr, base, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(base, "/") {
			t.Fatalf("parseAddr(%q) = %q, not a clean base URL", addr, base)
		}
		if again, err := parseAddr(base); err != nil || again != base {
			t.Fatalf("parseAddr(%q) = %q, %v; want it unchanged", base, again, err)
		}
	})
}

// FuzzDecodeError checks that any error answer becomes an *api.Error with
// its status and a code, and text answers a short valid message.
func FuzzDecodeError(f *testing.F) {
	f.Add(400, []byte(`{"error":{"code":"invalid_manifest","message":"m","details":["a"]}}`))
	f.Add(500, []byte("<html>\xff</html>"))
	f.Add(401, []byte(""))
	f.Add(502, []byte(`{"error":null}`))
	f.Add(418, []byte(strings.Repeat("ü", 300)))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := decodeError(status, body)
		if e == nil || e.Status != status || e.Code == "" {
			t.Fatalf("decodeError(%d, %q) = %+v", status, body, e)
		}
		var eb api.ErrorBody
		if json.Unmarshal(body, &eb) == nil && eb.Error != nil && eb.Error.Code != "" {
			return // the node's own error, kept as it is
		}
		if e.Code != codeForStatus(status) || e.Message == "" || len(e.Message) > maxErrorText || !utf8.ValidString(e.Message) {
			t.Fatalf("decodeError(%d, %q) = %+v: want code %s and 1-%d bytes of UTF-8",
				status, body, e, codeForStatus(status), maxErrorText)
		}
	})
}

// FuzzResponseError checks that ResponseError never loses a byte of the
// body and only ever reports the node's own codes on error statuses.
func FuzzResponseError(f *testing.F) {
	f.Add(502, "application/json", `{"error":{"code":"guest_failed","message":"trap"}}`)
	f.Add(404, "application/json; charset=utf-8", `{"error":{"code":"nope","message":"x"}}`)
	f.Add(500, "text/plain", "boom")
	f.Add(200, "application/json", `{"error":{"code":"internal"}}`)
	f.Fuzz(func(t *testing.T, status int, contentType, body string) {
		resp := &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {contentType}},
			Body: io.NopCloser(strings.NewReader(body))}
		e := ResponseError(resp)
		if e != nil && (status < 400 || !knownCode(e.Code) || e.Status != status) {
			t.Fatalf("ResponseError = %+v for status %d", e, status)
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil || string(got) != body {
			t.Fatalf("body after ResponseError = %q, %v; want %q", got, err, body)
		}
	})
}

// FuzzInvokePath checks that any invoke path stays below the service's
// invoke route, has no dot segments, and survives URL parsing unchanged.
func FuzzInvokePath(f *testing.F) {
	for _, s := range []string{"", "/", "a/b?c=d", "/../..", "/%2e%2E/x", "/a b/%zz?q=%ff&x=#f", "?only", "//x//", "/%2F..%2F"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reqPath string) {
		p, q, err := invokePath("svc", reqPath)
		if err != nil {
			t.Fatal(err)
		}
		const prefix = "/v1/services/svc/invoke/"
		if !strings.HasPrefix(p, prefix) {
			t.Fatalf("invokePath(%q) = %q, not below %s", reqPath, p, prefix)
		}
		for seg := range strings.SplitSeq(p, "/") {
			if d, err := url.PathUnescape(seg); err != nil || d == "." || d == ".." {
				t.Fatalf("invokePath(%q) = %q: segment %q (%v)", reqPath, p, seg, err)
			}
		}
		u, err := url.Parse("http://h" + p + q)
		if err != nil {
			t.Fatalf("invokePath(%q) = %q %q, which does not parse: %v", reqPath, p, q, err)
		}
		if u.EscapedPath() != p || "?"+u.RawQuery != q && q != "" || u.Fragment != "" {
			t.Fatalf("invokePath(%q) = %q %q, parsed as %q %q", reqPath, p, q, u.EscapedPath(), u.RawQuery)
		}
		if escapeQuery(q) != q || escapePath(p) != p {
			t.Fatalf("escaping %q %q again changes it", p, q)
		}
	})
}
