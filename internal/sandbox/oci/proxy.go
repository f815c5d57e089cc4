package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/wagi"
)

// exitWait is how long a failed request waits to learn whether the
// process exited (to say so, with its status).
const exitWait = 250 * time.Millisecond

// newTransport returns p's HTTP/1.1 client transport: connections are
// made inside p's network namespace and kept alive, up to Concurrency.
func (r *runner) newTransport(p *process) *http.Transport {
	ns := p.netns
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return r.d.dialIn(ctx, ns, r.addr)
		},
		MaxIdleConns:           r.c.Concurrency,
		MaxIdleConnsPerHost:    r.c.Concurrency,
		IdleConnTimeout:        90 * time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 1 << 20,
	}
}

// forward sends req to p and reads its response, within the Spec's
// Timeout and MaxOutput.
func (r *runner) forward(ctx context.Context, p *process, req *sandbox.Request) (*sandbox.Response, error) {
	tctx, cancel := context.WithTimeout(ctx, r.spec.Timeout)
	defer cancel()
	stop := context.AfterFunc(p.ctx, cancel) // the process exited: give up at once
	defer stop()
	hreq, err := r.outgoing(tctx, req)
	if err != nil {
		return nil, err
	}
	resp, err := p.transport.RoundTrip(hreq)
	if err != nil {
		return nil, r.failure(ctx, tctx, p, err)
	}
	defer resp.Body.Close()
	if resp.ContentLength > r.spec.MaxOutput {
		return nil, r.tooLarge()
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, r.spec.MaxOutput+1))
	if err != nil {
		return nil, r.failure(ctx, tctx, p, err)
	}
	if n > r.spec.MaxOutput {
		return nil, r.tooLarge()
	}
	if resp.StatusCode < 200 || resp.StatusCode > 999 {
		return nil, &sandbox.GuestError{Kind: "output", Detail: fmt.Sprintf("status %d is not a final response", resp.StatusCode)}
	}
	return &sandbox.Response{Status: resp.StatusCode, Header: responseHeader(resp.Header), Body: buf.Bytes()}, nil
}

func (r *runner) tooLarge() error {
	return &sandbox.GuestError{Kind: "output", Detail: fmt.Sprintf("the response body is larger than [limits] response (%d bytes)", r.spec.MaxOutput)}
}

// failure classifies a failed round trip: the client gone (ctx's error),
// the Timeout (ErrTimeout), the process exited (GuestError "exit" with its
// status), or the connection failing before a response (GuestError
// "exit"; a process that no longer accepts connections is killed, so that
// it is restarted).
func (r *runner) failure(ctx, tctx context.Context, p *process, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if p.ctx.Err() == nil && tctx.Err() != nil {
		return fmt.Errorf("%w: no response within %s ([limits] timeout)", sandbox.ErrTimeout, r.spec.Timeout)
	}
	t := time.NewTimer(exitWait)
	defer t.Stop()
	select {
	case <-p.exited:
		return &sandbox.GuestError{Kind: "exit", ExitCode: uint32(max(p.code, 0)),
			Detail: fmt.Sprintf("the process exited with %s while serving the request", describeStatus(p.code))}
	case <-t.C:
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		logf(&r.spec, "warn", "a process no longer accepts connections on %s: killed, to be restarted", r.addr)
		ctx, cancel := context.WithTimeout(context.Background(), killWait)
		defer cancel()
		_ = r.d.runc.kill(ctx, r.containerOf(p), "KILL")
		return &sandbox.GuestError{Kind: "exit", Detail: fmt.Sprintf("the process no longer accepts connections on %s; it is restarted", r.addr)}
	}
	return &sandbox.GuestError{Kind: "exit", Detail: "the connection to the process failed before a complete response: " + err.Error()}
}

// containerOf returns the container id of the instance running p, or "".
func (r *runner) containerOf(p *process) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, inst := range r.insts {
		if inst.proc == p {
			return inst.id
		}
	}
	return ""
}

// outgoing builds the request to the container: the full original path
// (Route then RawPath) and query, the client's headers less hop-by-hop
// ones, Host as sent, and X-Request-Id and X-Forwarded-{For,Proto,Host,
// Prefix} set by the node (replacing any the client sent).
func (r *runner) outgoing(ctx context.Context, req *sandbox.Request) (*http.Request, error) {
	route, rest := req.Route, req.RawPath
	if strings.HasSuffix(route, "/") && strings.HasPrefix(rest, "/") {
		rest = rest[1:]
	}
	p := route + rest
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	u := &url.URL{Scheme: "http", Host: r.addr, RawQuery: req.RawQuery}
	if strings.HasPrefix(p, "//") {
		// Opaque would be taken for an authority: go through Path.
		unescaped, err := url.PathUnescape(p)
		if err != nil {
			return nil, fmt.Errorf("oci: request path %q: %w", p, err)
		}
		u.Path, u.RawPath = unescaped, p
	} else {
		u.Opaque = p // sent exactly as the client sent it
	}

	h := make(http.Header, len(req.Header)+6)
	drop := connectionTokens(req.Header)
	for k, vs := range req.Header {
		if wagi.FramingHeader(k) || drop[k] || k == "Host" {
			continue
		}
		h[k] = vs
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""} // none, rather than Go's
	}
	h["X-Request-Id"] = []string{req.ID}
	delete(h, "X-Forwarded-For")
	if ip := clientIP(req.RemoteAddr); ip != "" {
		h["X-Forwarded-For"] = []string{ip}
	}
	scheme := req.Scheme
	if scheme == "" {
		scheme = "http"
	}
	h["X-Forwarded-Proto"] = []string{scheme}
	h["X-Forwarded-Host"] = []string{req.Host}
	delete(h, "X-Forwarded-Prefix")
	if req.Route != "" && req.Route != "/" {
		h["X-Forwarded-Prefix"] = []string{req.Route}
	}

	hreq := &http.Request{
		Method:     req.Method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       req.Host,
		Body:       http.NoBody,
	}
	if n := len(req.Body); n > 0 {
		body := req.Body
		hreq.Body = io.NopCloser(bytes.NewReader(body))
		hreq.ContentLength = int64(n)
		hreq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	} else {
		hreq.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	return hreq.WithContext(ctx), nil
}

// connectionTokens are the headers the Connection header names: hop-by-hop
// headers of the client's connection, not to be forwarded.
func connectionTokens(h http.Header) map[string]bool {
	var drop map[string]bool
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				if drop == nil {
					drop = map[string]bool{}
				}
				drop[textproto.CanonicalMIMEHeaderKey(tok)] = true
			}
		}
	}
	return drop
}

// responseHeader is the container's response header less hop-by-hop and
// framing headers (the gateway frames the response).
func responseHeader(h http.Header) http.Header {
	drop := connectionTokens(h)
	out := make(http.Header, len(h))
	for k, vs := range h {
		if wagi.FramingHeader(k) || drop[k] {
			continue
		}
		out[k] = vs
	}
	return out
}

// clientIP is the host part of a RemoteAddr ("ip:port"), or the whole of
// it when it has no port.
func clientIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}
