package capability

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/internal/sandbox"
)

// callRemoteAddr is the client address a called service sees: the call
// comes from inside the node.
const callRemoteAddr = "127.0.0.1:0"

// Call sends req to another service in-process, if [allow] call names it
// (or "*"), and returns its response. req.URL is the path and query below
// the callee's route ("/users/42?full=1"; "" for the route itself). The
// callee serves it under the same request id, one call deeper: past
// sandbox.MaxCallDepth nested calls the call fails with ErrDepth, so a
// loop of services calling each other ends.
func (h *Host) Call(ctx context.Context, service string, req *abi.Request) (*abi.Response, error) {
	if d := sandbox.CallDepth(ctx); d >= sandbox.MaxCallDepth {
		return nil, errorf(sandbox.ErrDepth, "call to %s: calls are already nested %d deep, the limit; look for services that call each other in a loop", service, d)
	}
	if !validService(service) {
		return nil, errorf(sandbox.ErrInvalid, "call: %q is not a service name (1 to 63 of a-z, 0-9 and -)", truncate(service))
	}
	if !h.opts.Allow.AllowsCall(service) {
		return nil, h.deny(ctx, "call to %s is not allowed: add %q to [allow] call in mote.toml", service, service)
	}
	if h.opts.Caller == nil {
		return nil, fmt.Errorf("call to %s: calls are not available on this node", service)
	}
	sreq, err := callRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	resp, err := h.opts.Caller.Call(sandbox.WithCallDepth(ctx), service, sreq)
	if err != nil {
		return nil, callErr(service, sreq.ID, err)
	}
	if int64(len(resp.Body)) > h.opts.MaxResponse {
		return nil, errorf(sandbox.ErrTooLarge, "call to %s: the response body is larger than %d bytes, this service's [limits] response", service, h.opts.MaxResponse)
	}
	out := &abi.Response{Status: resp.Status, Body: resp.Body}
	out.Header = inboundHeader(resp.Header.Clone())
	return out, nil
}

// callErr turns the callee's failure into the capability's class.
func callErr(service, id string, err error) error {
	var ge *sandbox.GuestError
	switch {
	case errors.Is(err, sandbox.ErrNotFound):
		return errorf(sandbox.ErrNotFound, "call to %s: no service named %s is serving; deploy it, or check the name", service, service)
	case errors.Is(err, sandbox.ErrTooLarge):
		return errorf(sandbox.ErrTooLarge, "call to %s: %v", service, err)
	case errors.Is(err, sandbox.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return errorf(sandbox.ErrTimeout, "call to %s: it did not answer in time", service)
	case errors.As(err, &ge):
		return fmt.Errorf("call to %s: the service failed (%s); its logs have the details (request %s)", service, ge.Kind, id)
	case errors.Is(err, sandbox.ErrNoCapacity), errors.Is(err, sandbox.ErrClosed):
		return fmt.Errorf("call to %s: the service has no free instance; retry shortly", service)
	}
	return fmt.Errorf("call to %s failed: %v", service, err)
}

// callRequest makes the callee's request from the guest's: the path and
// query below the callee's route, the caller's request id, host and server
// name. The route is the gateway's to fill in.
func callRequest(ctx context.Context, req *abi.Request) (*sandbox.Request, error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if !validToken(method) {
		return nil, errorf(sandbox.ErrInvalid, "call: method %q is not an HTTP method", method)
	}
	target, _, _ := strings.Cut(req.URL, "#")
	path, query, _ := strings.Cut(target, "?")
	if path != "" && !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") {
		return nil, errorf(sandbox.ErrInvalid, "call: url %q is not a path below the service's route; write it like \"/users/42?full=1\", or \"\" for the route itself", truncate(req.URL))
	}
	if _, err := url.PathUnescape(path); err != nil || !validURLPart(target) {
		return nil, errorf(sandbox.ErrInvalid, "call: url %q is not an escaped path and query (bad %%-escape, space or control character)", truncate(req.URL))
	}
	hdr, err := outboundHeader(req.Header)
	if err != nil {
		return nil, fmt.Errorf("call: %w", err)
	}
	sreq := &sandbox.Request{
		Method:     method,
		Proto:      "HTTP/1.1",
		Scheme:     "http",
		Host:       req.Host,
		RemoteAddr: callRemoteAddr,
		RawPath:    path,
		RawQuery:   query,
		Header:     hdr,
		Body:       req.Body,
		ServerName: "localhost",
		ServerPort: "80",
	}
	if orig := sandbox.RequestFrom(ctx); orig != nil {
		sreq.ID = orig.ID
		if sreq.Host == "" {
			sreq.Host = orig.Host
		}
		sreq.Scheme, sreq.ServerName, sreq.ServerPort = orig.Scheme, orig.ServerName, orig.ServerPort
	}
	return sreq, nil
}

// validService reports whether name can be a service's: 1..63 of [a-z0-9-].
func validService(name string) bool {
	if name == "" || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validURLPart reports whether s holds no space, control byte or non-ASCII
// byte: an escaped path and query as a client sends them.
func validURLPart(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}
