// Package fetch sends HTTP requests from a guest to the outside world
// through the node, to the hosts the manifest allows:
//
//	[allow]
//	http = ["api.example.com", "127.0.0.1:8090"]
//
// Client is an *http.Client ready to use; Transport plugs the same path
// into a client of your own:
//
//	resp, err := fetch.Client.Get("https://api.example.com/x")
//	if err != nil {
//		return err // errors.Is(err, guest.ErrDenied) for a host not allowed
//	}
//	defer resp.Body.Close()
//
// The node sends the request, follows redirects to allowed hosts, and
// enforces the timeout (the request's own, at most 30 s) and the response
// size limit; the whole response is read before RoundTrip returns.
package fetch

import (
	"fmt"
	"net/http"

	"github.com/mote-run/mote/guest/internal/hostcall"
)

// Client sends requests through Transport. Its zero Timeout is right: the
// node times outbound requests out, and a guest cannot interrupt a request
// in flight.
var Client = &http.Client{Transport: Transport{}}

// Transport is an http.RoundTripper that sends each request through the
// node (the http_fetch host function). The zero value is ready to use.
//
// The request's URL must be absolute (http or https). Its body is read
// whole and closed; Host, when set, is sent as the Host header. Errors from
// the node match guest.ErrDenied (host not allowed), guest.ErrTimeout,
// guest.ErrTooLarge (response over the limit), guest.ErrInvalid (bad URL)
// or guest.ErrFailed (network error).
type Transport struct{}

// RoundTrip sends req and returns the response; see Transport.
func (Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || !req.URL.IsAbs() {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("http_fetch: %w: the URL %v is not absolute", hostcall.ErrInvalid, req.URL)
	}
	if err := req.Context().Err(); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	in, err := hostcall.OutboundRequest(req, req.URL.String())
	if err != nil {
		return nil, fmt.Errorf("http_fetch: %w", err)
	}
	resp, err := hostcall.Fetch(in)
	if err != nil {
		return nil, err
	}
	return hostcall.HTTPResponse(req, resp), nil
}
