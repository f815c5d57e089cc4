package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/apikey"
	"github.com/mote-run/mote/internal/cors"
	"github.com/mote-run/mote/internal/ipfilter"
	"github.com/mote-run/mote/internal/jwt"
	"github.com/mote-run/mote/internal/openapi"
	"github.com/mote-run/mote/internal/ratelimit"
)

// ReservedPrefix starts the names of the headers the gateway sets for a
// guest (Mote-App, Mote-Key-Id, Mote-Claim-<Name>). A client's own headers
// with this prefix are dropped, so a guest can trust them.
const ReservedPrefix = "Mote-"

// Headers the gateway sets for the guest after authenticating a caller.
const (
	HeaderApp   = "Mote-App"
	HeaderKeyID = "Mote-Key-Id"
	// HeaderClaimPrefix + a claim's canonical name carries a JWT claim.
	HeaderClaimPrefix = "Mote-Claim-"
)

// Policy is a service's API management rules, compiled from its manifest
// when the version loads. A nil *Policy (the common case) costs nothing:
// the request goes straight to the guest. The policy applies to requests
// through the gateway's listener only; the admin API's invoke (the
// operator) and service-to-service calls bypass it.
type Policy struct {
	// RequireKey makes callers present an API key of a plan.
	RequireKey bool
	// JWT, when set, makes callers present a valid token.
	JWT *JWTRule
	// CORS answers preflights and marks responses; nil sends no CORS headers.
	CORS *cors.Policy
	// IP admits callers by address; nil admits everyone.
	IP *ipfilter.Rules
	// Lifecycle is the API's state; "" counts as published.
	Lifecycle api.Lifecycle
	// Deprecated is when the API was deprecated (the Deprecation header).
	Deprecated *time.Time
	// OpenAPI is the service's API document, used for route classes in
	// analytics and, when Validate is set, to refuse invalid requests.
	OpenAPI  *openapi.Doc
	Validate bool

	lifeHeaders [][2]string
}

// JWTRule is how a service checks tokens.
type JWTRule struct {
	Options jwt.Options
	// Claims are passed to the guest, each as HeaderClaimPrefix+Name.
	Claims  []string
	headers []string
}

// Prepare computes what the policy sends on every response. Call it once
// after setting the fields, before the policy serves.
func (p *Policy) Prepare() *Policy {
	p.lifeHeaders = nil
	switch p.Lifecycle.State {
	case api.LifecycleDeprecated, api.LifecycleRetired:
		dep := "@" + strconv.FormatInt(time.Now().Unix(), 10)
		if p.Deprecated != nil {
			dep = "@" + strconv.FormatInt(p.Deprecated.Unix(), 10)
		}
		p.lifeHeaders = append(p.lifeHeaders, [2]string{"Deprecation", dep})
	}
	if p.Lifecycle.State != api.LifecycleDraft {
		if p.Lifecycle.Sunset != nil {
			p.lifeHeaders = append(p.lifeHeaders, [2]string{"Sunset", p.Lifecycle.Sunset.UTC().Format(http.TimeFormat)})
		}
		if p.Lifecycle.Link != "" && p.Lifecycle.State != api.LifecyclePublished && p.Lifecycle.State != "" {
			p.lifeHeaders = append(p.lifeHeaders, [2]string{"Link", "<" + p.Lifecycle.Link + `>; rel="deprecation"; type="text/html"`})
		}
	}
	if p.JWT != nil {
		p.JWT.headers = make([]string, len(p.JWT.Claims))
		for i, c := range p.JWT.Claims {
			p.JWT.headers[i] = http.CanonicalHeaderKey(HeaderClaimPrefix + c)
		}
	}
	return p
}

// Access is what the gateway needs to enforce policies: the key index, the
// limiters, and where analytics go. Any field may be nil; a service that
// requires a key is then refused (503) rather than served unchecked.
type Access struct {
	Keys    *apikey.Index
	Limiter *ratelimit.Limiter
	Quotas  *ratelimit.Quotas
	// JWTCache verifies tokens, remembering good ones; nil verifies every time.
	JWTCache *jwt.Cache
}

// reqState is what admission learned about a request, for the guest and
// for analytics.
type reqState struct {
	app   string
	route string
	doc   *openapi.Doc // set when the request must be validated
}

// admit applies tg's policy to a request from a client that arrived at
// now. It returns 0 when the request may go to the guest, or the status it
// answered with.
func (g *Gateway) admit(w http.ResponseWriter, r *http.Request, tg *Target, rest string, st *reqState, now time.Time) int {
	p := tg.Policy
	h := w.Header()
	switch p.Lifecycle.State {
	case api.LifecycleDraft:
		return WriteError(w, api.Errorf(api.CodeNotFound, "no service is routed at %s", truncate(r.URL.EscapedPath(), 200)))
	case api.LifecycleRetired:
		setAll(h, p.lifeHeaders)
		return WriteError(w, api.Errorf(api.CodeGone, "the %s API was retired and answers no more requests", tg.Service))
	}
	setAll(h, p.lifeHeaders)
	if p.IP != nil {
		if ip := g.trusted.ClientIP(r); !p.IP.Allowed(ip) {
			return WriteError(w, api.Errorf(api.CodeForbidden, "requests from %s may not call %s", ip, tg.Service))
		}
	}
	if p.CORS != nil {
		if r.Method == http.MethodOptions {
			sw := &statusWriter{ResponseWriter: w}
			if p.CORS.Preflight(sw, r) {
				return sw.status
			}
		}
		p.CORS.Apply(h, r)
	}
	if p.RequireKey {
		if status := g.checkKey(w, r, tg, st, now); status != 0 {
			return status
		}
	}
	if p.JWT != nil {
		if status := g.checkJWT(w, r, tg); status != 0 {
			return status
		}
	}
	if p.OpenAPI != nil {
		st.route, _ = p.OpenAPI.Match(r.Method, rest)
		if p.Validate {
			st.doc = p.OpenAPI
		}
	}
	return 0
}

// checkKey authenticates the caller's API key and applies its plan's
// limits at now. A request it lets through costs, besides the key index's
// lookup and the limiters, a few map writes and the RateLimit header's
// value: the guest's identity headers and RateLimit-Policy are values made
// once per key and per plan.
func (g *Gateway) checkKey(w http.ResponseWriter, r *http.Request, tg *Target, st *reqState, now time.Time) int {
	p := tg.Policy
	// With a JWT, the token travels in Authorization and the key in X-API-Key.
	presented, from := apikey.Find(r.Header, p.JWT == nil)
	if presented == "" {
		where := "X-API-Key or Authorization: Bearer"
		if p.JWT != nil {
			where = "X-API-Key (Authorization carries the token)"
		}
		return WriteError(w, &api.Error{Code: api.CodeUnauthorized, Status: http.StatusUnauthorized,
			Message: fmt.Sprintf("%s needs an API key: send it as %s", tg.Service, where),
			Hint:    "get a key with `mote keys create --app APP --plan PLAN`"})
	}
	if g.access.Keys == nil {
		return WriteError(w, api.Errorf(api.CodeNotReady, "the node cannot check API keys yet; retry shortly"))
	}
	id, err := g.access.Keys.Authenticate(presented, tg.Service, now)
	switch {
	case err == nil:
	case errors.Is(err, apikey.ErrNotForService):
		return WriteError(w, api.Errorf(api.CodeForbidden, "this API key may not call %s", tg.Service))
	case errors.Is(err, apikey.ErrRevoked):
		return WriteError(w, api.Errorf(api.CodeUnauthorized, "the API key was revoked"))
	case errors.Is(err, apikey.ErrExpired):
		return WriteError(w, api.Errorf(api.CodeUnauthorized, "the API key has expired"))
	default:
		return WriteError(w, api.Errorf(api.CodeUnauthorized, "the API key is not valid"))
	}
	// The guest never sees the key. An X-API-Key with only spaces, which
	// Find passed over for Authorization, goes too.
	delete(r.Header, from)
	if from != apikey.HeaderName {
		delete(r.Header, apikey.HeaderName)
	}
	st.app = id.Key.App
	r.Header[HeaderApp] = id.AppValue
	r.Header[HeaderKeyID] = id.IDValue
	if id.Plan == nil {
		return WriteError(w, api.Errorf(api.CodeForbidden, "the API key's plan %q no longer exists; ask the API's operator to move the key to another plan", id.Key.Plan))
	}
	lim := id.Plan.Limits
	var rd, qd ratelimit.Decision
	limited := false
	if lim.Rate.N > 0 && g.access.Limiter != nil {
		rd = g.access.Limiter.Allow(id.Key.ID, lim.Rate, lim.Burst, now)
		limited = true
	}
	if lim.Quota.N > 0 && g.access.Quotas != nil && (!limited || rd.Allowed) {
		qd = g.access.Quotas.Use(r.Context(), id.Key.ID, lim.Quota, now)
		limited = true
	}
	if !limited {
		return 0
	}
	// A Decision that was not made has Limit 0, which the writers skip.
	h := w.Header()
	if (rd.Limit <= 0 || rd.Allowed) && (qd.Limit <= 0 || qd.Allowed) {
		// The IETF pair on every limited response.
		lim.WriteIETFHeaders(h, &rd, &qd)
		return 0
	}
	// The common X-RateLimit-* trio too on a 429, where clients look for it.
	ratelimit.WriteHeaders(h, &rd, &qd)
	if rd.Limit > 0 && !rd.Allowed {
		return WriteError(w, api.Errorf(api.CodeRateLimited, "the API key is over its plan's rate of %s; retry after %s", lim.Rate, ceilSeconds(rd.RetryAfter)))
	}
	if qd.Err != nil {
		return WriteError(w, api.Errorf(api.CodeNotReady, "the node cannot count the API key's quota right now; retry shortly"))
	}
	_, end := lim.Quota.Window(now)
	return WriteError(w, api.Errorf(api.CodeRateLimited, "the API key used up its plan's quota of %s; it renews at %s", lim.Quota, end.UTC().Format(time.RFC3339)))
}

// checkJWT verifies the caller's token and hands the chosen claims to the
// guest.
func (g *Gateway) checkJWT(w http.ResponseWriter, r *http.Request, tg *Target) int {
	rule := tg.Policy.JWT
	token, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+tg.Service+`"`)
		return WriteError(w, api.Errorf(api.CodeUnauthorized, "%s needs a token: send it as Authorization: Bearer TOKEN", tg.Service))
	}
	keys := g.jwtKeys()
	var (
		claims jwt.Claims
		err    error
	)
	if g.access.JWTCache != nil {
		claims, err = g.access.JWTCache.Verify(token, keys, rule.Options)
	} else {
		claims, err = jwt.Verify(token, keys, rule.Options)
	}
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+tg.Service+`", error="invalid_token"`)
		return WriteError(w, api.Errorf(api.CodeUnauthorized, "the token was refused: %v", err))
	}
	for i, name := range rule.Claims {
		if v, ok := claims.String(name); ok {
			r.Header.Set(rule.headers[i], v)
		}
	}
	return 0
}

// jwtKeySet is the parsed JWT keys of one version of the key index.
type jwtKeySet struct {
	version uint64
	keys    jwt.KeySet
}

// jwtKeys returns the current JWT keys, parsing them again only when the
// index changed.
func (g *Gateway) jwtKeys() jwt.KeySet {
	ix := g.access.Keys
	if ix == nil {
		return jwt.NewKeySet()
	}
	v := ix.Version()
	if cur := g.jwtSet.Load(); cur != nil && cur.version == v {
		return cur.keys
	}
	var keys []*jwt.Key
	for _, rec := range ix.JWTKeys() {
		material := rec.PEM
		if rec.Alg == "HS256" {
			material = rec.Secret
		}
		k, err := jwt.ParseKey(rec.ID, rec.Alg, material)
		if err != nil {
			g.logger.Warn("skipping a JWT key that does not parse", "kid", rec.ID, "err", err)
			continue
		}
		keys = append(keys, k)
	}
	set := &jwtKeySet{version: v, keys: jwt.NewKeySet(keys...)}
	g.jwtSet.Store(set)
	return set.keys
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// bearer returns the credentials of an "Authorization: Bearer X" value.
func bearer(v string) (string, bool) {
	const prefix = "bearer "
	if len(v) <= len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(v[len(prefix):])
	return tok, tok != ""
}

func setAll(h http.Header, kvs [][2]string) {
	for _, kv := range kvs {
		h.Set(kv[0], kv[1])
	}
}

// ceilSeconds renders d rounded up to whole seconds, at least 1s.
func ceilSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10) + "s"
}

// policyState is the gateway's part of enforcing policies.
type policyState struct {
	access Access
	jwtSet atomic.Pointer[jwtKeySet]
}

// validate checks a request against the service's API document; it
// returns 0 when the request conforms, or the 400 it answered with.
func validate(w http.ResponseWriter, r *http.Request, doc *openapi.Doc, rest string, body []byte) int {
	err := doc.Validate(&openapi.Request{Method: r.Method, Path: rest, Query: r.URL.Query(), Header: r.Header, Body: body})
	if err == nil {
		return 0
	}
	return WriteError(w, api.Errorf(api.CodeBadRequest, "the request does not match the API document: %v", err))
}
