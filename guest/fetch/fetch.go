// Package fetch sends HTTP requests from a guest to the outside world
// through the node, to the hosts the manifest allows:
//
//	[allow]
//	http = ["api.example.com", "127.0.0.1:8090"]
//
// Get and Do send a request and return the response:
//
//	resp, err := fetch.Get("https://api.example.com/x")
//	if err != nil {
//		return err // errors.Is(err, guest.ErrDenied) for a host not allowed
//	}
//	defer resp.Body.Close()
//
// Client is an *http.Client doing the same, for code that wants one
// (fetch.Client.Get works as well), and Transport plugs the path into a
// client of your own. Using an http.Client costs about 5 MB of module size,
// though: it links net/http's own transport (HTTP/2, TLS) even when it is
// never used. Get and Do do not.
//
// The node sends the request, follows redirects to allowed hosts, and
// enforces the timeout (the request's own, at most 30 s) and the response
// size limit; the whole response is read before the response is returned.
package fetch

import (
	"fmt"
	"net/http"

	"github.com/mote-run/mote/guest/internal/hostcall"
)

// Get sends GET url (absolute) and returns the response; see Transport for
// the errors.
func Get(url string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("http_fetch: %w: %v", hostcall.ErrInvalid, err)
	}
	return Transport{}.RoundTrip(req)
}

// Do sends req (absolute URL) and returns the response, whatever its
// status; see Transport for the errors. Unlike an http.Client it does not
// follow redirects itself (the node does, to allowed hosts), keep cookies
// or wrap errors in *url.Error.
func Do(req *http.Request) (*http.Response, error) {
	return Transport{}.RoundTrip(req)
}

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
