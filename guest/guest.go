// Package guest is mote's Go SDK for pooled services: a service is an
// http.Handler, compiled to a WebAssembly reactor that mote keeps
// initialized and reuses across requests (docs/abi.md, "Pooled").
//
//	package main
//
//	import (
//		"fmt"
//		"net/http"
//
//		"github.com/mote-run/mote/guest"
//	)
//
//	func init() {
//		guest.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//			fmt.Fprintf(w, "Hello from %s\n", r.URL.Path)
//		}))
//	}
//
//	func main() {} // a reactor's main is never called
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hello.wasm .
//
// and deploy it with abi = "pooled" in mote.toml.
//
// The handler sees an ordinary *http.Request: the method, the path and raw
// query exactly as the client sent them (the service's route included:
// "/hello/a%20b?x=1"), Host, RemoteAddr, every header, the body and
// Proto "HTTP/1.1"; StripRoute takes the route off for handlers that do
// not want it. What it writes is buffered and sent when it returns;
// WriteHeader works as in net/http. A panic is logged and answered with a
// 500, and the instance lives on.
//
// Things to know about the pooled model:
//
//   - Register the handler in init (or a package variable's initializer):
//     init runs once when an instance starts, main never runs.
//   - One instance serves one request at a time, and keeps its globals
//     between requests; but requests are spread over several instances that
//     come and go, so keep lasting state in the key-value store (package
//     guest/kv), never in memory alone.
//   - Goroutines run only while a request is being served: one the handler
//     starts and does not wait for is frozen until the next request.
//
// The host's capabilities are in the packages below this one: guest/kv,
// guest/config, guest/fetch (outbound HTTP), guest/call (other services)
// and guest/log. Each but log is denied unless the manifest's [allow] table
// grants it. Their errors match the sentinels here with errors.Is. Outside a guest
// (GOOS other than wasip1) everything compiles, and the capabilities answer
// ErrNotInGuest, so handlers can be unit-tested on any machine; package
// guest/guesttest gives such tests an in-memory host.
package guest

import (
	"context"
	"net/http"
	"strings"

	"github.com/mote-run/mote/guest/internal/hostcall"
)

// Errors the capability packages return, by class: test with errors.Is.
// The error's text adds the host's explanation.
var (
	// ErrDenied: the manifest's [allow] table does not grant the capability
	// or the target (host, service).
	ErrDenied = hostcall.ErrDenied
	// ErrNotFound: no such key, config value or service.
	ErrNotFound = hostcall.ErrNotFound
	// ErrTooLarge: a key, value, request or response is over its limit
	// (keys 1 to 512 bytes, values up to 1 MiB).
	ErrTooLarge = hostcall.ErrTooLarge
	// ErrInvalid: a malformed argument: bad key, URL or encoding.
	ErrInvalid = hostcall.ErrInvalid
	// ErrTimeout: an outbound call ran out of time.
	ErrTimeout = hostcall.ErrTimeout
	// ErrFailed: the operation failed: network error, store unavailable,
	// the callee failed.
	ErrFailed = hostcall.ErrFailed
	// ErrDepth: service-to-service calls nested deeper than the node
	// allows (8).
	ErrDepth = hostcall.ErrDepth
	// ErrNotInGuest: the program is not running as a mote guest and no
	// test host is installed (see guest/guesttest).
	ErrNotInGuest = hostcall.ErrNotInGuest
)

// handler serves the requests; nil means http.DefaultServeMux.
var handler http.Handler

// Serve makes h the service's handler. Call it from init: a reactor's main
// never runs. A nil h, or never calling Serve, serves
// http.DefaultServeMux (as http.ListenAndServe does), so handlers
// registered with http.HandleFunc in init work too. The last call wins.
func Serve(h http.Handler) { handler = h }

// info is what the SDK puts in a request's context.
type info struct {
	id, route string
}

type infoKey struct{}

func requestInfo(r *http.Request) *info {
	if i, ok := r.Context().Value(infoKey{}).(*info); ok {
		return i
	}
	return &info{}
}

// RequestID returns the id mote gave the request r (also in the response's
// X-Request-Id and on the service's log lines), or "" for a request that
// did not come from mote.
func RequestID(r *http.Request) string { return requestInfo(r).id }

// Route returns the route of the service that matched r ("/hello"), as in
// mote.toml; "" for the route "/" and for a request that did not come from
// mote.
func Route(r *http.Request) string { return requestInfo(r).route }

// StripRoute returns a handler that serves h with the service's route
// (Route) cut off the front of the request's path, so h's patterns need
// not repeat it and the service can move to another route unchanged:
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("GET /todos/{id}", get) // serves /todo-go/todos/{id}
//	guest.Serve(guest.StripRoute(mux))
//
// The route itself ("/todo-go") becomes "/". URL.RawPath is cut the same
// way; RequestURI is left as sent. A path that does not start with the
// route (or a request without one) is served unchanged.
func StripRoute(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := strings.TrimSuffix(Route(r), "/")
		rest, ok := cutRoute(r.URL.Path, route)
		if route == "" || !ok {
			h.ServeHTTP(w, r)
			return
		}
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		r2.URL = &u
		u.Path = rest
		if u.RawPath != "" {
			u.RawPath, _ = cutRoute(u.RawPath, route) // "" when not cut: Go re-derives it from Path
		}
		h.ServeHTTP(w, r2)
	})
}

// cutRoute returns p with route cut off its front at a segment boundary,
// "/" when p is the route itself.
func cutRoute(p, route string) (string, bool) {
	rest, ok := strings.CutPrefix(p, route)
	switch {
	case !ok:
		return "", false
	case rest == "":
		return "/", true
	case rest[0] == '/':
		return rest, true
	}
	return "", false
}

// withInfo returns ctx carrying the request's id and route.
func withInfo(ctx context.Context, id, route string) context.Context {
	return context.WithValue(ctx, infoKey{}, &info{id: id, route: route})
}
