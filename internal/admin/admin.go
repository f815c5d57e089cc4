// Package admin serves mote's control-plane REST API (described by
// openapi.json, served at /v1/openapi.json): deploys, services, versions,
// traffic splits, rollbacks and scale overrides, configuration and secrets, logs, instances and invocation, API
// management (plans, API keys, JWT keys, lifecycle, stats and the API
// catalog), plus /healthz,
// /readyz and Prometheus /metrics. Everything but /healthz and /readyz needs
// the node's bearer token.
//
// Handlers only translate HTTP to calls on the controller and the store;
// errors become api.ErrorBody JSON with stable codes.
package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/analytics"
	"github.com/mote-run/mote/internal/apikey"
	"github.com/mote-run/mote/internal/control"
	"github.com/mote-run/mote/internal/gateway"
	"github.com/mote-run/mote/internal/metrics"
	"github.com/mote-run/mote/internal/store"
)

// Server limits for the admin listener.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 10 * time.Minute // blob uploads may be large
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10
	// writeTimeout bounds a non-streaming response.
	writeTimeout = 2 * time.Minute
	// maxJSONBody caps JSON request bodies (a deploy request is small).
	maxJSONBody = 4 << 20
)

//go:embed openapi.json
var openapiJSON []byte

// Options configure the handler. Token, Control, Store and Gateway are required.
type Options struct {
	Token   string
	Control *control.Controller
	Store   *store.Store
	Gateway *gateway.Gateway
	Metrics *metrics.Metrics
	// Keys is the gateway's key index; changes to plans and keys return
	// once it has them. nil returns at once.
	Keys *apikey.Index
	// Analytics answers GET /v1/services/{name}/stats; nil disables it.
	Analytics *analytics.Analytics
	// Info describes the node for GET /v1/info.
	Info func() api.NodeInfo
	// Ready reports whether the node serves its desired state.
	Ready  func() bool
	Logger *slog.Logger
}

type handler struct {
	opts      Options
	tokenHash [32]byte
	mux       *http.ServeMux
	byPattern map[string]route
	logger    *slog.Logger
}

// New returns the admin API handler.
func New(opts Options) http.Handler {
	h := &handler{opts: opts, tokenHash: sha256.Sum256([]byte(opts.Token)), mux: http.NewServeMux(), logger: opts.Logger}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	h.byPattern = map[string]route{}
	for _, rt := range h.routes() {
		h.mux.Handle(rt.pattern, rt.handler)
		h.byPattern[rt.pattern] = rt
	}
	return h
}

// Server returns an http.Server for the admin API with mote's limits.
func Server(h http.Handler, logger *slog.Logger) *http.Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
}

type route struct {
	pattern string
	// public routes need no token.
	public bool
	// stream routes manage their own write deadline.
	stream  bool
	handler http.HandlerFunc
}

func (h *handler) routes() []route {
	return []route{
		{pattern: "GET /healthz", public: true, handler: h.healthz},
		{pattern: "GET /readyz", public: true, handler: h.readyz},
		{pattern: "GET /metrics", handler: h.metrics},
		{pattern: "GET /v1/openapi.json", handler: h.openapi},
		{pattern: "GET /v1/info", handler: h.info},
		{pattern: "HEAD /v1/blobs/{digest}", handler: h.headBlob},
		{pattern: "PUT /v1/blobs/{digest}", handler: h.putBlob},
		{pattern: "POST /v1/deploy", handler: h.deploy},
		{pattern: "GET /v1/services", handler: h.listServices},
		{pattern: "GET /v1/services/{name}", handler: h.getService},
		{pattern: "DELETE /v1/services/{name}", handler: h.deleteService},
		{pattern: "GET /v1/services/{name}/versions", handler: h.listVersions},
		{pattern: "PUT /v1/services/{name}/config", handler: h.setConfig},
		{pattern: "GET /v1/services/{name}/config", handler: h.listConfig},
		{pattern: "DELETE /v1/services/{name}/config/{key}", handler: h.deleteConfig},
		{pattern: "GET /v1/services/{name}/logs", stream: true, handler: h.logs},
		{pattern: "/v1/services/{name}/invoke", stream: true, handler: h.invoke},
		{pattern: "/v1/services/{name}/invoke/{path...}", stream: true, handler: h.invoke},
		{pattern: "GET /v1/instances", handler: h.instances},
		{pattern: "POST /v1/plans", handler: h.createPlan},
		{pattern: "GET /v1/plans", handler: h.listPlans},
		{pattern: "GET /v1/plans/{name}", handler: h.getPlan},
		{pattern: "PUT /v1/plans/{name}", handler: h.updatePlan},
		{pattern: "DELETE /v1/plans/{name}", handler: h.deletePlan},
		{pattern: "POST /v1/keys", handler: h.createKey},
		{pattern: "GET /v1/keys", handler: h.listKeys},
		{pattern: "GET /v1/keys/{id}", handler: h.getKey},
		{pattern: "DELETE /v1/keys/{id}", handler: h.deleteKey},
		{pattern: "POST /v1/keys/{id}/revoke", handler: h.revokeKey},
		{pattern: "POST /v1/keys/{id}/rotate", handler: h.rotateKey},
		{pattern: "PUT /v1/jwt-keys/{id}", handler: h.putJWTKey},
		{pattern: "GET /v1/jwt-keys", handler: h.listJWTKeys},
		{pattern: "DELETE /v1/jwt-keys/{id}", handler: h.deleteJWTKey},
		{pattern: "GET /v1/services/{name}/stats", handler: h.stats},
		{pattern: "PUT /v1/services/{name}/lifecycle", handler: h.setLifecycle},
		{pattern: "DELETE /v1/services/{name}/lifecycle", handler: h.clearLifecycle},
		{pattern: "GET /v1/services/{name}/openapi", handler: h.apiDocument},
		{pattern: "GET /v1/apis", handler: h.apis},
		{pattern: "PUT /v1/services/{name}/traffic", handler: h.setTraffic},
		{pattern: "POST /v1/services/{name}/rollback", handler: h.rollback},
		{pattern: "PUT /v1/services/{name}/scale", handler: h.setScale},
		{pattern: "DELETE /v1/services/{name}/scale", handler: h.clearScale},
	}
}

// ServeHTTP authenticates, then dispatches; unknown routes and methods get
// JSON errors like everything else.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := h.mux.Handler(r)
	if pattern == "" {
		h.unmatched(w, r)
		return
	}
	rt := h.byPattern[pattern]
	if !rt.public && !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mote"`)
		gateway.WriteError(w, &api.Error{Code: api.CodeUnauthorized, Status: 401,
			Message: "missing or wrong admin token",
			Hint:    "send Authorization: Bearer TOKEN; the token is in DATA/admin.token on the node (mote up writes it), or set MOTE_TOKEN / --token"})
		return
	}
	if !rt.stream {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(writeTimeout))
	}
	h.mux.ServeHTTP(w, r)
}

// unmatched answers 405 or 404 in JSON.
func (h *handler) unmatched(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{header: http.Header{}}
	h.mux.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		gateway.WriteError(w, api.Errorf(api.CodeMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
		return
	}
	gateway.WriteError(w, api.Errorf(api.CodeNotFound, "no admin endpoint at %s; the API is described at /v1/openapi.json", r.URL.Path))
}

// authorized compares the bearer token in constant time (over digests, so
// the comparison does not leak the token's length either).
func (h *handler) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	// The scheme name is case-insensitive (RFC 9110 §11.1).
	if len(auth) < 7 || !strings.EqualFold(auth[:7], "Bearer ") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(auth[7:])))
	return subtle.ConstantTimeCompare(got[:], h.tokenHash[:]) == 1
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (h *handler) readyz(w http.ResponseWriter, r *http.Request) {
	if h.opts.Ready != nil && !h.opts.Ready() {
		gateway.WriteError(w, api.Errorf(api.CodeNotReady, "the node is starting: it has not yet applied its stored state"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ready\n"))
}

func (h *handler) metrics(w http.ResponseWriter, r *http.Request) {
	if h.opts.Metrics == nil {
		gateway.WriteError(w, api.Errorf(api.CodeNotFound, "metrics are disabled on this node"))
		return
	}
	promhttp.HandlerFor(h.opts.Metrics.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

func (h *handler) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openapiJSON)
}

func (h *handler) info(w http.ResponseWriter, r *http.Request) {
	var info api.NodeInfo
	if h.opts.Info != nil {
		info = h.opts.Info()
	}
	writeJSON(w, http.StatusOK, info)
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		gateway.WriteError(w, api.Errorf(api.CodeInternal, "encode response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeErr writes any error: *api.Error as is, store sentinels mapped to
// their codes, anything else as a 500.
func writeErr(w http.ResponseWriter, err error) {
	var ae *api.Error
	switch {
	case errors.As(err, &ae):
		gateway.WriteError(w, ae)
	case errors.Is(err, store.ErrNotFound):
		gateway.WriteError(w, api.Errorf(api.CodeNotFound, "%v", err))
	case errors.Is(err, store.ErrInvalidDigest), errors.Is(err, store.ErrDigestMismatch), errors.Is(err, store.ErrInvalidName),
		errors.Is(err, store.ErrInvalidKey):
		gateway.WriteError(w, api.Errorf(api.CodeBadRequest, "%v", err))
	case errors.Is(err, store.ErrTooLarge):
		gateway.WriteError(w, api.Errorf(api.CodeBodyTooLarge, "%v", err))
	case isOverloaded(err):
		w.Header().Set("Retry-After", "1")
		gateway.WriteError(w, api.Errorf(api.CodeNoCapacity, "the store is busy; retry shortly (%v)", err))
	default:
		gateway.WriteError(w, api.Errorf(api.CodeInternal, "%v", err))
	}
}

// decodeJSON reads a JSON body into v, refusing unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return api.Errorf(api.CodeBodyTooLarge, "the request body is over %d bytes", maxJSONBody)
		}
		return api.Errorf(api.CodeBadRequest, "the request body is not valid JSON for this endpoint: %v", err)
	}
	return nil
}

type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header         { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusRecorder) WriteHeader(code int)        { s.status = code }

// isOverloaded reports whether the store refused a request because it is
// busy (JetStream's "429 too many requests"): a retry will do, so it is a
// 503, not a 500.
func isOverloaded(err error) bool {
	var ae *jetstream.APIError
	if errors.As(err, &ae) && ae.Code == http.StatusTooManyRequests {
		return true
	}
	return strings.Contains(err.Error(), "too many requests")
}
