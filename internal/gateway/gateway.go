// Package gateway is mote's public HTTP front door: it refuses ambiguous
// framing, routes a request by the longest matching route prefix to a
// service, picks one of the service's versions per request (by weight, or
// by tag: the route ROUTE@TAG or the header X-Mote-Tag), applies the
// version's policy (lifecycle, IP rules, CORS, API keys with their plans'
// rate limits and quotas, JWT, OpenAPI validation), enforces the body
// limit, tags every response with X-Request-Id, records analytics, and
// turns failures into the JSON errors of PRODUCT.md (400 bad request,
// 401/403 auth, 404 unknown route or tag, 410 retired, 413 body too large,
// 429 over a limit, 502 guest failed, 503 no capacity, 504 guest timed
// out). Call serves the same routes to other services' guests, in-process
// (the call capability).
package gateway

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/analytics"
	"github.com/mote-run/mote/internal/httpguard"
	"github.com/mote-run/mote/internal/sandbox"
)

// Server limits. Every listener has timeouts and size limits.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 60 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10
	// writeGrace is how long a client gets to take a response.
	writeGrace = 30 * time.Second
	// DefaultMaxBody applies when a target has no limit of its own.
	DefaultMaxBody = 10 << 20
)

// Options configure a Gateway. The zero value is valid.
type Options struct {
	// Logs receives the gateway's lines about services (guest failures).
	Logs sandbox.LogSink
	// Logger receives node-level diagnostics; nil discards them.
	Logger *slog.Logger
	// Access enforces services' policies (keys, limits, tokens).
	Access Access
	// Trusted names the proxies whose X-Forwarded-For is believed; nil
	// believes none, so a client's address is its TCP peer.
	Trusted *httpguard.Trusted
	// Analytics records every request; nil records nothing.
	Analytics *analytics.Analytics
	// AccessLog receives one JSON line per request; nil writes none.
	AccessLog *analytics.AccessLog
}

// Gateway is an http.Handler serving the current route table.
type Gateway struct {
	table     atomic.Pointer[Table]
	logs      sandbox.LogSink
	logger    *slog.Logger
	trusted   *httpguard.Trusted
	analytics *analytics.Analytics
	accessLog *analytics.AccessLog
	policyState
}

// New returns a Gateway with an empty table.
func New(opts Options) *Gateway {
	g := &Gateway{logs: opts.Logs, logger: opts.Logger, trusted: opts.Trusted, analytics: opts.Analytics, accessLog: opts.AccessLog}
	g.access = opts.Access
	if g.trusted == nil {
		g.trusted = httpguard.NewTrusted(nil)
	}
	if g.logs == nil {
		g.logs = sandbox.LogFunc(func(api.LogEntry) {})
	}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	g.table.Store(NewTable(nil))
	return g
}

// SetTable swaps in a new route table. Requests already routed finish on the
// target they started on.
func (g *Gateway) SetTable(t *Table) { g.table.Store(t) }

// Table returns the current route table.
func (g *Gateway) Table() *Table { return g.table.Load() }

// Server returns an http.Server for the gateway with mote's timeouts and
// header limit. Serve it on a listener wrapped by httpguard.Listen, so the
// gateway sees framing the standard library hides (a request with both
// Content-Length and Transfer-Encoding is refused).
func (g *Gateway) Server() *http.Server {
	return &http.Server{
		Handler:           g,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(g.logger.Handler(), slog.LevelDebug),
		ConnContext:       httpguard.ConnContext,
	}
}

// ServeHTTP checks a request's framing and headers, routes it by its path
// and applies the service's policy.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := NewRequestID()
	w.Header().Set("X-Request-Id", id)
	if err := httpguard.Check(r); err != nil {
		w.Header().Set("Connection", "close")
		WriteError(w, api.Errorf(api.CodeBadRequest, "%v", err))
		return
	}
	httpguard.StripHopByHop(r.Header)
	httpguard.StripReserved(r.Header, ReservedPrefix)
	path := r.URL.EscapedPath()
	m, ok := g.table.Load().Lookup(path)
	if !ok {
		WriteError(w, api.Errorf(api.CodeNotFound, "no service is routed at %s", truncate(path, 200)))
		return
	}
	tag := m.Tag
	if tag == "" {
		tag = r.Header.Get(api.HeaderTag)
	}
	tg, ok := m.Pick(tag)
	if !ok {
		WriteError(w, noTag(m.Service, tag))
		return
	}
	g.serve(w, r, tg, routeOf(m.Prefix), m.Rest, tag, id, start, true)
}

// noTag is the answer to a request for a tag no version has, or, when tag
// is "", for a service none of whose versions takes traffic (they failed
// to load).
func noTag(service, tag string) *api.Error {
	if tag == "" {
		return api.Errorf(api.CodeNotReady, "no version of %s can take requests now; its logs say why", service)
	}
	return api.Errorf(api.CodeNotFound, "no version of %s is tagged %q", service, truncate(tag, 40))
}

// ServeService sends a request to a service by name, as if it had arrived at
// the service's route followed by rawPath (escaped, "" or starting with "/"):
// to a version drawn by weight, or to the one tagged as the X-Mote-Tag
// header says. The admin API's invoke endpoint uses it: the operator's
// requests skip the service's policy (keys, limits, lifecycle), so a draft
// can be tried.
func (g *Gateway) ServeService(w http.ResponseWriter, r *http.Request, service, rawPath string) {
	start := time.Now()
	id := NewRequestID()
	w.Header().Set("X-Request-Id", id)
	tag := r.Header.Get(api.HeaderTag)
	tg, ok := g.table.Load().Pick(service, tag)
	if !ok {
		if _, known := g.table.Load().Service(service); known {
			WriteError(w, noTag(service, tag))
			return
		}
		WriteError(w, api.Errorf(api.CodeNotFound, "service %q is not serving on this node", service))
		return
	}
	g.serve(w, r, tg, routeOf(tg.Route), rawPath, tag, id, start, false)
}

// serve admits (when public and the target has a policy), invokes and
// records one request. route is the prefix the guest sees; tag, the tag
// the request asked for.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, tg *Target, route, rest, tag, id string, start time.Time, public bool) {
	var st reqState
	status := 0
	if public && tg.Policy != nil {
		status = g.admit(w, r, tg, rest, &st, start)
	}
	var out int64
	if status == 0 {
		status, out, tg = g.invoke(w, r, tg, route, rest, tag, id, &st)
	}
	end := time.Now()
	elapsed := end.Sub(start)
	if tg.Metrics != nil {
		tg.Metrics.Request(status)
		tg.Metrics.Duration.Observe(elapsed.Seconds())
	}
	if g.analytics != nil {
		g.analytics.Record(analytics.Event{Service: tg.Service, Version: tg.Version, Route: st.route, Status: status, App: st.app, Duration: elapsed, Time: end})
	}
	if g.accessLog != nil {
		g.accessLog.Write(analytics.AccessEntry{
			Time: start, RequestID: id, Service: tg.Service, Version: tg.Version, App: st.app,
			Method: r.Method, Path: r.URL.EscapedPath(), Status: status, Latency: elapsed,
			BytesIn: max(r.ContentLength, 0), BytesOut: out, ClientIP: g.trusted.ClientIP(r).String(),
		})
	}
}

// invoke runs the request and writes the response; it returns the status,
// the response body's size and the target that answered.
func (g *Gateway) invoke(w http.ResponseWriter, r *http.Request, tg *Target, route, rest, tag, id string, st *reqState) (int, int64, *Target) {
	limit := tg.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return WriteError(w, api.Errorf(api.CodeBodyTooLarge, "the request body is larger than %s's limit of %d bytes", tg.Service, limit)), 0, tg
		}
		return WriteError(w, api.Errorf(api.CodeBadRequest, "reading the request body: %v", err)), 0, tg
	}
	if st.doc != nil {
		if status := validate(w, r, st.doc, rest, body); status != 0 {
			return status, 0, tg
		}
	}
	host, port := splitHost(r)
	req := &sandbox.Request{
		ID:         id,
		Method:     r.Method,
		Proto:      r.Proto,
		Scheme:     scheme(r),
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
		Route:      route,
		RawPath:    rest,
		RawQuery:   r.URL.RawQuery,
		Header:     r.Header,
		Body:       body,
		ServerName: host,
		ServerPort: port,
	}
	resp, tg, err := g.run(r.Context(), tg, tag, req)
	if err != nil {
		return g.fail(w, r, tg, id, err), 0, tg
	}
	h := w.Header()
	for k, v := range resp.Header {
		// Headers the gateway set (request id, CORS, rate limits,
		// lifecycle) win over the guest's.
		if _, set := h[k]; !set {
			h[k] = v
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(writeGrace))
	w.WriteHeader(resp.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(resp.Body)
	}
	return resp.Status, int64(len(resp.Body)), tg
}

// run serves req with tg's runner. A change may have stopped routing and
// closed the version between routing and Serve: ErrClosed means the
// request did not start, so it is safe to send it again, to the same
// version if it is still routed (reloaded), else to the one the service's
// route picks now (by tag, when the request named one). run returns the
// target that answered.
func (g *Gateway) run(ctx context.Context, tg *Target, tag string, req *sandbox.Request) (*sandbox.Response, *Target, error) {
	resp, err := tg.Runner.Serve(ctx, req)
	for errors.Is(err, sandbox.ErrClosed) {
		t := g.table.Load()
		next, ok := t.Version(tg.Service, tg.Version)
		if !ok {
			next, ok = t.Pick(tg.Service, tag)
		}
		if !ok || next == tg {
			break
		}
		tg = next
		resp, err = tg.Runner.Serve(ctx, req)
	}
	return resp, tg, err
}

// fail answers a request the guest could not, and says why in the logs.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, tg *Target, id string, err error) int {
	apiErr := g.failure(r.Context(), tg, id, r.Method, r.URL.EscapedPath(), err)
	if apiErr == nil {
		return statusClientGone
	}
	if apiErr.Code == api.CodeNoCapacity {
		w.Header().Set("Retry-After", "1")
	}
	return WriteError(w, apiErr)
}

// statusClientGone is nginx's "client closed request", kept for the
// metrics when nobody reads the answer.
const statusClientGone = 499

// failure classifies a request's failure, counts and logs it, and returns
// the error to answer with; nil when ctx ended (the client went away).
func (g *Gateway) failure(ctx context.Context, tg *Target, id, method, path string, err error) *api.Error {
	var (
		apiErr *api.Error
		kind   string
		level  = "error"
		ge     *sandbox.GuestError
	)
	switch {
	case errors.As(err, &ge):
		kind = ge.Kind
		apiErr = api.Errorf(api.CodeGuestFailed, "the service failed to answer (%s); its logs have the details (request %s)", ge.Kind, id)
	case errors.Is(err, sandbox.ErrTimeout):
		kind = "timeout"
		apiErr = api.Errorf(api.CodeGuestTimeout, "the service did not answer within its time limit (request %s)", id)
	case errors.Is(err, sandbox.ErrNoCapacity), errors.Is(err, sandbox.ErrClosed):
		kind, level = "capacity", "warn"
		apiErr = api.Errorf(api.CodeNoCapacity, "the service has no free instance; retry shortly")
	case ctx.Err() != nil:
		g.log(tg, id, "info", "the client closed the connection before the response")
		return nil
	default:
		kind = "internal"
		apiErr = api.Errorf(api.CodeInternal, "internal error serving the request (request %s)", id)
	}
	if tg.Metrics != nil {
		tg.Metrics.Failure(kind)
	}
	g.log(tg, id, level, fmt.Sprintf("%s %s: %v", method, truncate(path, 200), err))
	return apiErr
}

// Call serves a request from another service (the call capability) with
// a version of the named service picked as for a client's request (by
// weight, or by an X-Mote-Tag header in req.Header), in-process: it sets
// req.Route to the callee's route, enforces the callee's body limit and
// counts the request in the callee's metrics; failures go to the callee's
// logs as they do for requests through ServeHTTP. req.RawPath and
// req.RawQuery are below the callee's route; req.ID is the caller's
// request id. Errors: sandbox.ErrNotFound when no such service is serving
// or no version has the tag, sandbox.ErrTooLarge for a body over the
// callee's limit, and the runner's errors.
func (g *Gateway) Call(ctx context.Context, service string, req *sandbox.Request) (*sandbox.Response, error) {
	start := time.Now()
	tag := req.Header.Get(api.HeaderTag)
	tg, ok := g.table.Load().Pick(service, tag)
	if !ok {
		if tag != "" {
			return nil, fmt.Errorf("%w: no version of %s is tagged %q", sandbox.ErrNotFound, service, truncate(tag, 40))
		}
		return nil, fmt.Errorf("%w: service %q is not serving on this node", sandbox.ErrNotFound, service)
	}
	limit := tg.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	if int64(len(req.Body)) > limit {
		if tg.Metrics != nil {
			tg.Metrics.Request(http.StatusRequestEntityTooLarge)
		}
		return nil, fmt.Errorf("%w: the request body is %d bytes, over %s's [limits] body of %d bytes", sandbox.ErrTooLarge, len(req.Body), service, limit)
	}
	req.Route = routeOf(tg.Route)
	resp, tg, err := g.run(ctx, tg, tag, req)
	status := 0
	if err != nil {
		if apiErr := g.failure(ctx, tg, req.ID, req.Method, req.Route+req.RawPath, err); apiErr != nil {
			status = api.StatusOf(apiErr.Code)
		} else {
			status = statusClientGone
		}
	} else {
		status = resp.Status
	}
	if tg.Metrics != nil {
		tg.Metrics.Request(status)
		tg.Metrics.Duration.Observe(time.Since(start).Seconds())
	}
	return resp, err
}

func (g *Gateway) log(tg *Target, id, level, msg string) {
	g.logs.Log(api.LogEntry{
		Time: time.Now(), Service: tg.Service, Version: tg.Version, RequestID: id,
		Stream: api.StreamMote, Level: level, Message: msg,
	})
}

// routeOf is a route as the guest sees it: the root route adds nothing
// before PATH_INFO.
func routeOf(route string) string {
	if route == "/" {
		return ""
	}
	return route
}

// readBody reads the whole body up to limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	rd := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength > 0 {
		buf := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(rd)
}

func splitHost(r *http.Request) (host, port string) {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, ""
	}
	if port == "" {
		port = "80"
		if r.TLS != nil {
			port = "443"
		}
	}
	if host == "" {
		host = "localhost"
	}
	return host, port
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// WriteError writes err as mote's JSON error body and returns the status.
func WriteError(w http.ResponseWriter, err *api.Error) int {
	status := err.Status
	if status == 0 {
		status = api.StatusOf(err.Code)
	}
	b, _ := json.Marshal(api.ErrorBody{Error: err})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return status
}

// NewRequestID returns a random 16-hex-digit request id.
func NewRequestID() string {
	var b [8]byte
	u := rand.Uint64()
	for i := range b {
		b[i] = byte(u >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
