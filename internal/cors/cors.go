// Package cors implements the server side of the CORS protocol (WHATWG Fetch
// standard, "CORS protocol") for the gateway: it answers preflight requests
// and adds the response headers of actual requests.
//
// A Policy is built once from a Config (the manifest's [cors] table) and is
// immutable and safe for concurrent use.
package cors

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mote-run/mote/api"
)

// Errors returned by New (wrapped with the offending value).
var (
	// ErrWildcardCredentials means Origins holds "*" while Credentials is set;
	// browsers refuse that combination.
	ErrWildcardCredentials = errors.New(`origin "*" cannot be used with credentials`)
	// ErrOrigin means an origin is not "*" or scheme://host[:port].
	ErrOrigin = errors.New("malformed origin")
	// ErrMethod means a method is not an HTTP token.
	ErrMethod = errors.New("bad method")
	// ErrHeader means a header name is not an HTTP token.
	ErrHeader = errors.New("bad header name")
	// ErrNoOrigins means Origins is empty.
	ErrNoOrigins = errors.New("no origins")
)

// Defaults applied by New.
const (
	// DefaultMaxAge is how long browsers may cache a preflight answer.
	DefaultMaxAge = 5 * time.Minute
)

// defaultMethods are the methods allowed when Config.Methods is empty.
var defaultMethods = []string{"GET", "HEAD", "POST"}

// Config is a CORS policy as written in a manifest.
type Config struct {
	// Origins allowed to read responses: exact origins
	// ("https://shop.example.com", "http://localhost:8080") or "*" for any.
	// Scheme and host compare case-insensitively and a default port
	// (:443 for https, :80 for http) is dropped. Required.
	Origins []string
	// Methods a preflight may ask for; default GET, HEAD, POST. Methods
	// compare case-sensitively (as Fetch does), except that the standard
	// ones (DELETE, GET, HEAD, OPTIONS, POST, PUT, PATCH) are upper-cased.
	// GET, HEAD and POST are always allowed in a preflight because browsers
	// never need permission for them. "*" allows any method.
	Methods []string
	// Headers a request may carry beyond the CORS-safelisted ones
	// (case-insensitive); "*" allows any. Default none.
	Headers []string
	// Expose lists response headers scripts may read beyond the safelisted ones.
	Expose []string
	// Credentials allows cookies and HTTP authentication
	// (Access-Control-Allow-Credentials: true). Not allowed with origin "*".
	Credentials bool
	// MaxAge is how long a preflight answer may be cached; zero means
	// DefaultMaxAge, a negative value sends 0 (do not cache). Sent in whole
	// seconds.
	MaxAge time.Duration
}

// Policy answers CORS requests for one service. Build it with New.
type Policy struct {
	anyOrigin   bool
	origins     map[string]bool // normalized origin -> allowed
	methods     []string
	anyMethod   bool
	headers     map[string]bool // lower-case header name -> allowed
	anyHeader   bool
	credentials bool

	allowMethods  string // Access-Control-Allow-Methods value
	allowHeaders  string // Access-Control-Allow-Headers value ("" when none or "*")
	exposeHeaders string
	maxAge        string
}

// New validates c and builds its Policy. Errors wrap ErrNoOrigins,
// ErrWildcardCredentials, ErrOrigin, ErrMethod or ErrHeader.
func New(c Config) (*Policy, error) {
	p := &Policy{origins: map[string]bool{}, headers: map[string]bool{}, credentials: c.Credentials}
	if len(c.Origins) == 0 {
		return nil, fmt.Errorf("cors: %w: list the origins allowed, or \"*\"", ErrNoOrigins)
	}
	for _, o := range c.Origins {
		if o == "*" {
			p.anyOrigin = true
			continue
		}
		n, err := normalizeConfigOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("cors: origin %q: %w", o, err)
		}
		p.origins[n] = true
	}
	if p.anyOrigin && c.Credentials {
		return nil, fmt.Errorf("cors: %w: list the origins explicitly", ErrWildcardCredentials)
	}

	methods := c.Methods
	if len(methods) == 0 {
		methods = defaultMethods
	}
	for _, m := range methods {
		if m == "*" {
			p.anyMethod = true
			continue
		}
		if !isToken(m) {
			return nil, fmt.Errorf("cors: method %q: %w: want a token like GET or PUT", m, ErrMethod)
		}
		m = normalizeMethod(m)
		if !slices.Contains(p.methods, m) {
			p.methods = append(p.methods, m)
		}
	}
	p.allowMethods = strings.Join(p.methods, ", ")

	var allowHeaders []string
	for _, h := range c.Headers {
		if h == "*" {
			p.anyHeader = true
			continue
		}
		if !isToken(h) {
			return nil, fmt.Errorf("cors: header %q: %w", h, ErrHeader)
		}
		if l := strings.ToLower(h); !p.headers[l] {
			p.headers[l] = true
			allowHeaders = append(allowHeaders, http.CanonicalHeaderKey(h))
		}
	}
	p.allowHeaders = strings.Join(allowHeaders, ", ")

	var expose []string
	for _, h := range c.Expose {
		if !isToken(h) {
			return nil, fmt.Errorf("cors: expose header %q: %w", h, ErrHeader)
		}
		expose = append(expose, http.CanonicalHeaderKey(h))
	}
	p.exposeHeaders = strings.Join(expose, ", ")

	switch {
	case c.MaxAge == 0:
		p.maxAge = strconv.Itoa(int(DefaultMaxAge / time.Second))
	case c.MaxAge < 0:
		p.maxAge = "0"
	default:
		p.maxAge = strconv.FormatInt(int64(c.MaxAge/time.Second), 10)
	}
	return p, nil
}

// Preflight answers a CORS preflight request (OPTIONS carrying Origin and
// Access-Control-Request-Method) completely and returns true. An allowed
// preflight gets 204 with Access-Control-Allow-Origin, -Methods, -Headers
// (when headers were requested), -Credentials (when configured), -Max-Age
// and Vary. A refused one gets 403 with no CORS headers and a JSON error
// body (code "forbidden") naming the refused origin, method or header.
// Any other request is not a preflight: Preflight returns false and writes
// nothing.
func (p *Policy) Preflight(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	if r.Method != http.MethodOptions || origin == "" || method == "" {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	if !p.originAllowed(origin) {
		forbid(w, fmt.Sprintf("CORS: origin %q is not allowed", origin))
		return true
	}
	if !p.methodAllowed(method) {
		forbid(w, fmt.Sprintf("CORS: method %q is not allowed (allowed: %s)", method, p.allowMethods))
		return true
	}
	requested := requestedHeaders(r.Header.Values("Access-Control-Request-Headers"))
	for _, name := range requested {
		if !isToken(name) || (!p.anyHeader && !p.headers[name]) {
			forbid(w, fmt.Sprintf("CORS: request header %q is not allowed", name))
			return true
		}
	}

	p.allowOrigin(h, origin)
	if p.anyMethod {
		h.Set("Access-Control-Allow-Methods", method)
	} else {
		h.Set("Access-Control-Allow-Methods", p.allowMethods)
	}
	switch {
	case len(requested) > 0 && p.anyHeader:
		// Echo rather than "*": "*" does not cover Authorization and is
		// not honoured with credentials.
		h.Set("Access-Control-Allow-Headers", strings.Join(requested, ", "))
	case len(requested) > 0:
		h.Set("Access-Control-Allow-Headers", p.allowHeaders)
	}
	h.Set("Access-Control-Max-Age", p.maxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}

// Apply adds the CORS response headers for an actual (non-preflight)
// request from an allowed origin: Access-Control-Allow-Origin (the origin
// echoed, or "*" for a wildcard policy without credentials),
// Access-Control-Allow-Credentials and Access-Control-Expose-Headers when
// configured. Unless the policy is a wildcard one, it always adds
// "Vary: Origin" — also when Origin is absent or refused — so that a shared
// cache never serves one origin's answer to another (Fetch, "CORS protocol
// and HTTP caches"). Nothing else is added when Origin is absent or refused.
func (p *Policy) Apply(h http.Header, r *http.Request) {
	if !p.anyOrigin {
		h.Add("Vary", "Origin")
	}
	origin := r.Header.Get("Origin")
	if origin == "" || !p.originAllowed(origin) {
		return
	}
	p.allowOrigin(h, origin)
	if p.exposeHeaders != "" {
		h.Set("Access-Control-Expose-Headers", p.exposeHeaders)
	}
}

func (p *Policy) allowOrigin(h http.Header, origin string) {
	if p.anyOrigin {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if p.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

func (p *Policy) originAllowed(origin string) bool {
	if p.anyOrigin {
		return true
	}
	n, ok := normalizeRequestOrigin(origin)
	return ok && p.origins[n]
}

func (p *Policy) methodAllowed(m string) bool {
	if p.anyMethod {
		return isToken(m)
	}
	m = normalizeMethod(m)
	return slices.Contains(p.methods, m) || m == "GET" || m == "HEAD" || m == "POST"
}

// forbid writes a 403 with the gateway's JSON error body and no CORS headers.
func forbid(w http.ResponseWriter, msg string) {
	body, _ := json.Marshal(api.ErrorBody{Error: &api.Error{Code: api.CodeForbidden, Message: msg}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(http.StatusForbidden)
	w.Write(append(body, '\n'))
}

// requestedHeaders splits Access-Control-Request-Headers values into names.
func requestedHeaders(values []string) []string {
	var names []string
	for _, v := range values {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				names = append(names, strings.ToLower(name))
			}
		}
	}
	return names
}

// normalizeMethod upper-cases the methods Fetch normalizes.
func normalizeMethod(m string) string {
	switch u := strings.ToUpper(m); u {
	case "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH":
		return u
	}
	return m
}

// normalizeConfigOrigin checks that o is scheme://host[:port] and returns
// it lower-cased without a default port.
func normalizeConfigOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: %v", ErrOrigin, err)
	case u.Scheme == "" || u.Host == "" || u.Opaque != "":
		return "", fmt.Errorf("%w: want scheme://host[:port], like https://app.example.com", ErrOrigin)
	case u.User != nil:
		return "", fmt.Errorf("%w: remove the user info", ErrOrigin)
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(o, "?#"):
		return "", fmt.Errorf("%w: remove the path, query or fragment (an origin is scheme://host[:port])", ErrOrigin)
	case !validScheme(u.Scheme):
		return "", fmt.Errorf("%w: bad scheme %q", ErrOrigin, u.Scheme)
	case strings.Trim(u.Host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]*") != "":
		return "", fmt.Errorf("%w: host %q has characters browsers never send; write international names in punycode (xn--...)", ErrOrigin, u.Host)
	case strings.Contains(u.Host, "*"):
		return "", fmt.Errorf(`%w: wildcards in host names are not supported; list each origin or use "*"`, ErrOrigin)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%w: bad port %q", ErrOrigin, port)
		}
	}
	n, ok := normalizeRequestOrigin(o)
	if !ok {
		return "", fmt.Errorf("%w: want scheme://host[:port], like https://app.example.com", ErrOrigin)
	}
	return n, nil
}

// validScheme reports whether s is an RFC 3986 scheme.
func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := lower(s[i])
		if !('a' <= c && c <= 'z' || i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return s != ""
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// normalizeRequestOrigin lower-cases an Origin header value and drops a
// default port. It reports false for values that cannot be an origin
// (including the opaque origin "null").
func normalizeRequestOrigin(o string) (string, bool) {
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || scheme == "" || rest == "" || strings.ContainsAny(rest, "/?#@ \t") {
		return "", false
	}
	scheme = strings.ToLower(scheme)
	rest = strings.ToLower(rest)
	switch {
	case scheme == "https" && strings.HasSuffix(rest, ":443"):
		rest = strings.TrimSuffix(rest, ":443")
	case scheme == "http" && strings.HasSuffix(rest, ":80"):
		rest = strings.TrimSuffix(rest, ":80")
	}
	return scheme + "://" + rest, true
}

// isToken reports whether s is an RFC 9110 token (method or field name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || !tchar[c] {
			return false
		}
	}
	return true
}

var tchar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
