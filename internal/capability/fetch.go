package capability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/internal/sandbox"
)

// maxRedirects is how many redirects a fetch follows.
const maxRedirects = 10

// defaultClient sends fetches when Options.HTTPClient is nil. It ignores
// the node's proxy environment (a guest's traffic goes where its URL says)
// and bounds the response header.
var defaultClient = &http.Client{Transport: &http.Transport{
	DialContext:            (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	ForceAttemptHTTP2:      true,
	MaxIdleConns:           256,
	MaxIdleConnsPerHost:    16,
	IdleConnTimeout:        90 * time.Second,
	TLSHandshakeTimeout:    10 * time.Second,
	ExpectContinueTimeout:  time.Second,
	MaxResponseHeaderBytes: 64 << 10,
}}

// hopHeaders are the hop-by-hop headers (RFC 9110 §7.6.1, and the old
// Keep-Alive and Proxy-Connection): they describe one connection, so a
// fetch drops them both ways. Host and Content-Length are set from the URL
// and the body.
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// Fetch sends req to its absolute http or https URL, if [allow] http lists
// the host, and returns the response. Redirects are followed (up to 10)
// only to allowed hosts. The whole exchange is bounded by the fetch
// timeout and the guest's deadline (ErrTimeout), the response body by
// [limits] response (ErrTooLarge). The Host header is always the URL's:
// req.Host and a Host header are ignored, so an allowed address cannot be
// used to reach another virtual host.
func (h *Host) Fetch(ctx context.Context, req *abi.Request) (*abi.Response, error) {
	u, err := parseFetchURL(req.URL)
	if err != nil {
		return nil, err
	}
	if err := h.httpAllowed(ctx, u, ""); err != nil {
		return nil, err
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if !validToken(method) {
		return nil, errorf(sandbox.ErrInvalid, "http_fetch: method %q is not an HTTP method", method)
	}
	hdr, err := outboundHeader(req.Header)
	if err != nil {
		return nil, err
	}
	var body io.Reader = http.NoBody
	if len(req.Body) > 0 {
		body = bytes.NewReader(req.Body)
	}
	fctx, cancel := context.WithTimeout(ctx, h.opts.FetchTimeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(fctx, method, u.String(), body)
	if err != nil {
		return nil, errorf(sandbox.ErrInvalid, "http_fetch: %v", err)
	}
	hr.Header = hdr
	target := hostPort(u)
	start := time.Now()

	resp, err := h.client.Do(hr)
	if err != nil {
		return nil, h.fetchErr(ctx, fctx, err, target, start)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, h.opts.MaxResponse+1))
	if err != nil {
		return nil, h.fetchErr(ctx, fctx, err, target, start)
	}
	if int64(len(data)) > h.opts.MaxResponse {
		return nil, errorf(sandbox.ErrTooLarge, "http to %s: the response body is larger than %d bytes, the service's [limits] response", target, h.opts.MaxResponse)
	}
	return &abi.Response{Status: resp.StatusCode, Header: inboundHeader(resp.Header), Body: data}, nil
}

// fetchErr classifies a failed exchange: a denied redirect, a timeout, or
// a failure.
func (h *Host) fetchErr(ctx, fctx context.Context, err error, target string, start time.Time) error {
	var capErr *Error
	if errors.As(err, &capErr) { // from checkRedirect
		return capErr
	}
	var ne net.Error
	if fctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		if ctx.Err() != nil {
			return errorf(sandbox.ErrTimeout, "http to %s: the request ran out of time after %s", target, time.Since(start).Round(time.Millisecond))
		}
		return errorf(sandbox.ErrTimeout, "http to %s did not answer within %s", target, h.opts.FetchTimeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("http to %s failed: %w", target, err)
}

// checkRedirect follows a redirect only to an allowed host.
func (h *Host) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return errorf(sandbox.ErrInvalid, "http to %s redirected to a %s URL; only http and https can be fetched", hostPort(via[0].URL), req.URL.Scheme)
	}
	return h.httpAllowed(req.Context(), req.URL, hostPort(via[len(via)-1].URL))
}

// httpAllowed denies a URL whose host [allow] http does not list; from
// names the host that redirected there, if any.
func (h *Host) httpAllowed(ctx context.Context, u *url.URL, from string) error {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if h.opts.Allow.AllowsHTTP(host, port) {
		return nil
	}
	target := hostPort(u)
	via := ""
	if from != "" {
		via = " (redirected from " + from + ")"
	}
	if u.Port() != "" {
		return h.deny(ctx, "http to %s is not allowed%s: add %q (or %q for any port) to [allow] http in mote.toml",
			target, via, target, bracket(host))
	}
	return h.deny(ctx, "http to %s is not allowed%s: add %q to [allow] http in mote.toml", target, via, target)
}

// hostPort is how a URL's host appears in [allow] http: lowercase, the
// port only when the URL has one.
func hostPort(u *url.URL) string {
	host := bracket(strings.ToLower(u.Hostname()))
	if p := u.Port(); p != "" {
		return host + ":" + p
	}
	return host
}

func bracket(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// parseFetchURL accepts absolute http and https URLs with a host.
func parseFetchURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errorf(sandbox.ErrInvalid, "http_fetch: %q is not a URL: %v", truncate(raw), errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errorf(sandbox.ErrInvalid, "http_fetch: %q is not an absolute http or https URL, like \"https://api.example.com/v1\"", truncate(raw))
	}
	if u.Hostname() == "" {
		return nil, errorf(sandbox.ErrInvalid, "http_fetch: %q has no host", truncate(raw))
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// outboundHeader builds a request header from the guest's for a fetch or a
// call, dropping hop-by-hop headers, those Connection names, Host (a fetch
// takes it from the URL, a call from the caller's request) and
// Content-Length.
func outboundHeader(hs []abi.Header) (http.Header, error) {
	hdr := make(http.Header, len(hs))
	for _, kv := range hs {
		if !validToken(kv.Name) {
			return nil, errorf(sandbox.ErrInvalid, "header name %q is not an HTTP token", truncate(kv.Name))
		}
		if !validHeaderValue(kv.Value) {
			return nil, errorf(sandbox.ErrInvalid, "header %s: the value holds a control character", kv.Name)
		}
		hdr.Add(kv.Name, kv.Value)
	}
	dropHop(hdr)
	hdr.Del("Host")
	hdr.Del("Content-Length")
	return hdr, nil
}

// inboundHeader is a response's header for the guest, hop-by-hop headers
// dropped, sorted by name.
func inboundHeader(hdr http.Header) []abi.Header {
	dropHop(hdr)
	var out []abi.Header
	for _, name := range slices.Sorted(maps.Keys(hdr)) {
		for _, v := range hdr[name] {
			out = append(out, abi.Header{Name: name, Value: v})
		}
	}
	return out
}

func dropHop(hdr http.Header) {
	for _, c := range hdr.Values("Connection") {
		for _, name := range strings.Split(c, ",") {
			if name = strings.TrimSpace(name); name != "" {
				hdr.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		hdr.Del(name)
	}
}

// validToken reports whether s is an HTTP token (RFC 9110 §5.6.2).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s holds no control byte but tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
