// Package client is the Go SDK for a mote node's admin API: deploy services,
// list and inspect them, set their configuration and secrets, stream their
// logs, invoke them, and read the node's health and metrics. The mote CLI talks to nodes only through this package.
//
// A Client is safe for concurrent use. Every method takes the caller's
// context, which bounds the whole call (the SDK adds no overall timeout, so
// that log streams can follow). Errors come in three kinds:
//
//   - *api.Error: the node answered with a non-2xx status. Switch on Code;
//     Message says what went wrong and Hint, when set, what to do next.
//   - an error matching ErrUnreachable: nothing answered at the address.
//   - anything else: bad arguments (ErrInvalidName, ErrInvalidDigest, ...),
//     a cancelled context, or a connection that broke mid-answer.
//
// For example:
//
//	c, err := client.FromEnv() // MOTE_ADDR, MOTE_TOKEN, or the token `mote up` wrote
//	if err != nil {
//		return err
//	}
//	svcs, err := c.Services(ctx)
//	var apiErr *api.Error
//	if errors.As(err, &apiErr) && apiErr.Code == api.CodeUnauthorized {
//		fmt.Println("Try:", apiErr.Hint)
//	}
//
// The package imports only the standard library and package api, so an SDK
// user pulls in nothing else (a test checks this).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultAddr is the admin API's base URL when neither an argument nor
// MOTE_ADDR names one: the default admin listener of `mote up`.
const DefaultAddr = "http://127.0.0.1:8081"

// modulePath is mote's Go module, whose version goes in the User-Agent.
const modulePath = "github.com/mote-run/mote"

// Transport timeouts of the default HTTP client. There is deliberately no
// overall timeout: `mote logs -f` streams for as long as the caller wants, so
// the caller's context bounds each call instead.
const (
	dialTimeout = 5 * time.Second
	tlsTimeout  = 10 * time.Second
	// responseHeaderTimeout bounds the wait for a response's headers. It is
	// long because an invoke waits for the guest, whose own timeout is
	// configurable, and a deploy may compile a large module.
	responseHeaderTimeout = 5 * time.Minute
)

// Client talks to one node's admin API. Create it with New or FromEnv; the
// zero value is not usable. A Client is safe for concurrent use.
type Client struct {
	base      string // scheme://host[/prefix] without a trailing slash
	token     string
	tokenFrom string // where token came from, for the 401 hint; "" when none
	http      *http.Client
	userAgent string

	// addr and addrFrom hold the unparsed address until New or FromEnv
	// parses it, so that WithAddr can override it.
	addr     string
	addrFrom string
}

// Option configures a Client in New or FromEnv. Options apply in order,
// after the address and token those functions find themselves.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests with hc instead of the
// default client (which has dial, TLS and response-header timeouts but no
// overall timeout). A nil hc leaves the default.
//
//	c, err := client.New(addr, client.WithHTTPClient(&http.Client{Transport: t}))
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// WithToken sets the admin token, sent as "Authorization: Bearer <token>"
// on every request but /healthz and /readyz. An empty token leaves the one
// already found, so a CLI can pass its --token flag unconditionally.
//
//	c, err := client.FromEnv(client.WithToken(tokenFlag))
func WithToken(token string) Option {
	return func(c *Client) {
		if token = strings.TrimSpace(token); token != "" {
			c.token, c.tokenFrom = token, "the token given to the client (--token)"
		}
	}
}

// WithUserAgent replaces the User-Agent header, "mote-client/<version>" by
// default. An empty ua leaves the default.
//
//	c, err := client.New(addr, client.WithUserAgent("mote/"+version))
func WithUserAgent(ua string) Option {
	return func(c *Client) {
		if ua != "" {
			c.userAgent = ua
		}
	}
}

// WithAddr overrides the address given to New or found by FromEnv. The
// address is validated as New says. An empty addr leaves the one already
// found, so a CLI can pass its --addr flag unconditionally.
//
//	c, err := client.FromEnv(client.WithAddr(addrFlag), client.WithToken(tokenFlag))
func WithAddr(addr string) Option {
	return func(c *Client) {
		if strings.TrimSpace(addr) != "" {
			c.addr, c.addrFrom = addr, ""
		}
	}
}

// New returns a Client for the admin API at baseURL. baseURL is an http or
// https URL, optionally with a path prefix ("https://example.com/mote"); a
// bare host:port ("127.0.0.1:8081") means http://host:port, and an empty host
// (":8081") means 127.0.0.1. An address that is not such a URL (a query,
// credentials, another scheme, a bad port) is an error matching
// ErrInvalidAddr. New sends no request and finds no token: use WithToken, or
// FromEnv.
//
//	c, err := client.New("127.0.0.1:8081", client.WithToken(token))
func New(baseURL string, opts ...Option) (*Client, error) {
	c := &Client{addr: baseURL}
	return c.init(opts)
}

// init applies opts, then parses the address and fills in defaults.
func (c *Client) init(opts []Option) (*Client, error) {
	for _, opt := range opts {
		if opt != nil {
			opt(c)
		}
	}
	base, err := parseAddr(c.addr)
	if err != nil {
		if c.addrFrom != "" {
			return nil, fmt.Errorf("%w (from %s)", err, c.addrFrom)
		}
		return nil, err
	}
	c.base = base
	if c.http == nil {
		c.http = defaultHTTPClient()
	}
	if c.userAgent == "" {
		c.userAgent = "mote-client/" + moduleVersion()
	}
	return c, nil
}

// Addr returns the base URL the Client sends requests to, normalized
// ("http://127.0.0.1:8081", no trailing slash). It never holds credentials.
//
//	fmt.Println("node:", c.Addr())
func (c *Client) Addr() string { return c.base }

// parseAddr validates an admin address and returns it as
// scheme://host[:port][/prefix] without a trailing slash.
func parseAddr(addr string) (string, error) {
	s := strings.TrimSpace(addr)
	if s == "" {
		return "", fmt.Errorf("%w: the address is empty", ErrInvalidAddr)
	}
	// Never echo credentials: an address with userinfo is shown redacted.
	shown := s
	if strings.Contains(s, "@") {
		shown = "<redacted>"
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("%w %q: %v", ErrInvalidAddr, shown, err)
	}
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidAddr, shown, why)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("the scheme must be http or https")
	case u.User != nil:
		return bad("credentials in the address are not supported; pass a token (--token or MOTE_TOKEN)")
	case u.Opaque != "":
		return bad("not a URL")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return bad("the address must not have a query or fragment")
	case u.Host == "":
		return bad("no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("the port must be 1-65535")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return bad("empty port")
	}
	host := u.Host
	if u.Hostname() == "" {
		host = "127.0.0.1" + host
	}
	return u.Scheme + "://" + host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// defaultHTTPClient is shared by every Client without WithHTTPClient, so
// they share idle connections.
var defaultHTTPClient = sync.OnceValue(func() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   dialTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   uploadConcurrency * 2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   tlsTimeout,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: responseHeaderTimeout,
	}}
})

// moduleVersion is mote's module version from the build info: the main
// module's when this is the mote binary, the dependency's when the SDK is
// used elsewhere, "devel" when unknown.
var moduleVersion = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := ""
	if bi.Main.Path == modulePath {
		v = bi.Main.Version
	} else {
		for _, d := range bi.Deps {
			if d.Path == modulePath {
				v = d.Version
				break
			}
		}
	}
	if v == "" || v == "(devel)" {
		return "devel"
	}
	return v
})

// request describes one admin API call.
type request struct {
	method string
	path   string // escaped, starting with "/"
	query  url.Values
	body   io.Reader
	// size is the body's length; with a body, 0 means an empty body.
	size        int64
	contentType string
	accept      string
	noAuth      bool // /healthz and /readyz need no token
}

// send sends r and returns the response whatever its status. A failed
// exchange is an *UnreachableError when nothing answered at the address.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	body := r.body
	if body != nil && r.size == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	if r.body != nil {
		req.ContentLength = r.size
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	if !r.noAuth {
		c.authorize(req)
	}
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(r.method, r.path, err)
	}
	return resp, nil
}

// authorize adds the admin token, if the Client has one.
func (c *Client) authorize(req *http.Request) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

// call sends r and turns a non-2xx answer into an *api.Error. The caller
// closes the body of the 2xx response it gets.
func (c *Client) call(ctx context.Context, r request) (*http.Response, error) {
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer closeBody(resp)
		return nil, c.errorFrom(resp)
	}
	return resp, nil
}

// callJSON sends r and decodes a 2xx answer's JSON body into out (unless
// out is nil).
func (c *Client) callJSON(ctx context.Context, r request, out any) error {
	if r.accept == "" {
		r.accept = "application/json"
	}
	resp, err := c.call(ctx, r)
	if err != nil {
		return err
	}
	defer closeBody(resp)
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("client: %s %s: decode the answer: %w", r.method, r.path, err)
	}
	return nil
}

// postJSON encodes in as the body of a JSON request and decodes the answer.
func (c *Client) postJSON(ctx context.Context, method, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	return c.callJSON(ctx, request{
		method: method, path: path,
		body: bytes.NewReader(b), size: int64(len(b)),
		contentType: "application/json",
	}, out)
}

// readAll returns a 2xx answer's body.
func (c *Client) readAll(ctx context.Context, r request) ([]byte, error) {
	resp, err := c.call(ctx, r)
	if err != nil {
		return nil, err
	}
	defer closeBody(resp)
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: read the answer: %w", r.method, r.path, err)
	}
	return b, nil
}

// closeBody drains a little of what is left, so the connection can be
// reused, and closes the body.
func closeBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}
