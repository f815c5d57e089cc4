package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
)

// InvokeRequest is a request to send to a service through the admin API,
// as if it came through the gateway at the service's route.
type InvokeRequest struct {
	// Method is the HTTP method; "" means GET.
	Method string
	// Path is the path below the service's route, with an optional
	// "?query": "/users/7?full=1". "" means the route itself. Like curl,
	// Invoke resolves "." and ".." segments (never above the route) and
	// percent-encodes characters a URL cannot hold; existing %XX escapes
	// are kept, but for those of unreserved characters ("%2E" is ".").
	Path string
	// Header holds the request's headers. Authorization is dropped: it
	// carries the admin token, and the node never passes it to services (a
	// service that wants an API key gets it in X-API-Key).
	Header http.Header
	// Body is the request's body; nil means none. Its length is sent when
	// it is a *bytes.Buffer, *bytes.Reader or *strings.Reader, otherwise it
	// is sent chunked.
	Body io.Reader
}

// Invoke sends req to the service name and returns the service's response
// verbatim: status, headers (plus X-Request-Id) and body, which the caller
// must close. Only a failure to get any response is an error.
//
// A response the service did not write — unknown service, guest failed,
// guest timed out, and also a 401 when the admin token is wrong — comes
// back as a response too, with a JSON api.ErrorBody; ResponseError tells
// such a platform error from the service's own answer.
//
//	resp, err := c.Invoke(ctx, "hello", client.InvokeRequest{
//		Method: "POST",
//		Path:   "/greet?lang=en",
//		Header: http.Header{"Content-Type": {"application/json"}},
//		Body:   strings.NewReader(`{"name":"Ana"}`),
//	})
//	if err != nil {
//		return err
//	}
//	defer resp.Body.Close()
//	if e := client.ResponseError(resp); e != nil {
//		return e
//	}
//	io.Copy(os.Stdout, resp.Body)
func (c *Client) Invoke(ctx context.Context, name string, req InvokeRequest) (*http.Response, error) {
	p, q, err := invokePath(name, req.Path)
	if err != nil {
		return nil, err
	}
	u := c.base + p + q
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	hreq, err := http.NewRequestWithContext(ctx, method, u, req.Body)
	if err != nil {
		return nil, fmt.Errorf("client: invoke %s %s: %w", name, req.Path, err)
	}
	if req.Header != nil {
		hreq.Header = req.Header.Clone()
	}
	hreq.Header.Del("Authorization")
	c.authorize(hreq)
	if hreq.Header.Get("User-Agent") == "" {
		hreq.Header.Set("User-Agent", c.userAgent)
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return nil, c.transportError(method, p, err)
	}
	return resp, nil
}

// invokePath returns the escaped path and the query ("" or "?...") that
// invoke reqPath of service name.
func invokePath(name, reqPath string) (p, q string, err error) {
	base, err := servicePath(name, "/invoke")
	if err != nil {
		return "", "", err
	}
	p, _, _ = strings.Cut(reqPath, "#") // a fragment never leaves the client
	p, q, hasQuery := strings.Cut(p, "?")
	if hasQuery {
		q = "?" + escapeQuery(q)
	}
	return base + escapePath(cleanPath(decodeUnreserved(p))), q, nil
}

// decodeUnreserved decodes the %XX escapes of unreserved characters
// (letters, digits, "-", ".", "_", "~"), which RFC 3986 (6.2.2.2) makes
// equivalent to the characters themselves, so that "%2E%2E" is cleaned
// like "..".
func decodeUnreserved(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			if ch := unhex(s[i+1])<<4 | unhex(s[i+2]); unreserved(ch) {
				b.WriteByte(ch)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cleanPath roots p, resolves its dot segments and keeps a trailing slash:
// "" → "/", "a/../b/" → "/b/".
func cleanPath(p string) string {
	if p == "" || p == "/" {
		return "/"
	}
	trailing := strings.HasSuffix(p, "/")
	p = path.Clean("/" + p)
	if trailing && p != "/" {
		p += "/"
	}
	return p
}

// escapeQuery percent-encodes the bytes a URL query cannot hold as they
// are, keeping valid %XX escapes and the separators & and =.
func escapeQuery(q string) string { return escape(q, "?") }

// escapePath percent-encodes the bytes a URL path cannot hold as they are,
// keeping valid %XX escapes (so "%2F" stays an escaped slash).
func escapePath(p string) string { return escape(p, "") }

// escape percent-encodes every byte of s that RFC 3986 does not allow in a
// path (unreserved, sub-delims, ":", "@", "/") or in extra, except the "%"
// of a valid %XX escape.
func escape(s, extra string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]),
			unreserved(ch), strings.IndexByte("!$&'()*+,;=:@/", ch) >= 0,
			strings.IndexByte(extra, ch) >= 0:
			b.WriteByte(ch)
		default:
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

func unreserved(ch byte) bool {
	return 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' ||
		ch == '-' || ch == '.' || ch == '_' || ch == '~'
}

func unhex(ch byte) byte {
	switch {
	case '0' <= ch && ch <= '9':
		return ch - '0'
	case 'a' <= ch && ch <= 'f':
		return ch - 'a' + 10
	}
	return ch - 'A' + 10
}

func ishex(ch byte) bool {
	return '0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f' || 'A' <= ch && ch <= 'F'
}
