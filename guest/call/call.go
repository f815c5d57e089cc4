// Package call sends requests to other services on the same node, in
// process: no network, no gateway, the callee's own limits and logs. Grant
// the callees in mote.toml:
//
//	[allow]
//	call = ["users", "billing"] # or ["*"] for any service
//
//	resp, err := call.Get("users", "/42")
//	if err != nil {
//		return err // guest.ErrDenied, guest.ErrNotFound (no such service), ...
//	}
//	defer resp.Body.Close()
//
// The callee sees the path below its route: call.Get("users", "/42")
// reaches what a client would with GET /users/42. Calls may nest at most 8
// deep (guest.ErrDepth beyond).
package call

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/mote-run/mote/guest/internal/hostcall"
)

// Do sends req to service and returns its response, whatever the status:
// a callee's 404 or 500 is a response, not an error. The request's path
// and query (req.URL.RequestURI()) are the path below the callee's route;
// the scheme and host of req.URL, if any, are ignored. The body is read
// whole and closed. Errors match guest.ErrDenied (service not granted),
// guest.ErrNotFound (no such service), guest.ErrDepth, guest.ErrTimeout or
// guest.ErrFailed (the callee trapped or timed out).
func Do(service string, req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("call %s: %w: the request has no URL", service, hostcall.ErrInvalid)
	}
	if err := req.Context().Err(); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	in, err := hostcall.OutboundRequest(req, req.URL.RequestURI())
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", service, err)
	}
	resp, err := hostcall.Call(service, in)
	if err != nil {
		return nil, err
	}
	return hostcall.HTTPResponse(req, resp), nil
}

// Get sends GET path to service; path is below the service's route and may
// hold a query ("/items?limit=10"). A path without a leading "/" gets one.
func Get(service, path string) (*http.Response, error) {
	return send(service, http.MethodGet, path, "", nil)
}

// Post sends POST path to service with body of the given content type.
func Post(service, path, contentType string, body io.Reader) (*http.Response, error) {
	return send(service, http.MethodPost, path, contentType, body)
}

func send(service, method, path, contentType string, body io.Reader) (*http.Response, error) {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequest(method, path, body)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w: %v", service, hostcall.ErrInvalid, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return Do(service, req)
}
