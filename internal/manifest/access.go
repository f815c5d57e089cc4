package manifest

import (
	"fmt"
	"net/netip"
	"net/textproto"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/mote-run/mote/api"
)

// Defaults and bounds of the API management tables ([auth], [cors], [ip],
// [lifecycle], [openapi]).
const (
	DefaultJWTLeeway = Duration(30 * time.Second)
	MaxJWTLeeway     = Duration(5 * time.Minute)
	// MaxJWTClaims bounds [auth.jwt] claims; MaxClaimNameLen each name.
	MaxJWTClaims    = 32
	MaxClaimNameLen = 64
	// MaxJWTValueLen bounds [auth.jwt] issuer and audience.
	MaxJWTValueLen = 1024

	DefaultCORSMaxAge = Duration(5 * time.Minute)
	MaxCORSMaxAge     = Duration(24 * time.Hour)
	// MaxCORSEntries bounds each [cors] list.
	MaxCORSEntries = 100

	// MaxIPRules bounds each of [ip] allow and deny.
	MaxIPRules = 1024

	// MaxLinkLen bounds [lifecycle] link.
	MaxLinkLen = 2048
)

// DefaultCORSMethods are the methods [cors] allows when it lists none.
var DefaultCORSMethods = []string{"GET", "HEAD", "POST"}

// Auth is the [auth] table: what a caller must present. The zero value
// asks for nothing.
type Auth struct {
	// RequireKey makes callers present an API key, as X-API-Key or
	// Authorization: Bearer.
	RequireKey bool
	// JWT, when set, makes callers present a valid JSON Web Token as
	// Authorization: Bearer. nil when there is no [auth.jwt].
	JWT *JWT
}

// JWT is the [auth.jwt] table. A token must be signed by one of the node's
// JWT keys (the admin API's /v1/jwt-keys), with the algorithm that key
// names, and be within its "nbf" and "exp" give or take Leeway.
type JWT struct {
	// Issuer, when non-empty, is the "iss" a token must carry.
	Issuer string
	// Audience, when non-empty, must be the token's "aud" or one of them.
	Audience string
	// Leeway is the clock skew allowed when checking "exp" and "nbf":
	// 0 to 5m, default 30s.
	Leeway Duration
	// Claims names the claims passed to the guest, each as the header
	// Mote-Claim-<Name> (canonicalized: "sub" is Mote-Claim-Sub): 1 to 64
	// of [A-Za-z0-9_-], at most 32, no two with the same header. nil when
	// none.
	Claims []string
}

// ClaimHeader is the request header that carries claim to the guest:
// "sub" is "Mote-Claim-Sub".
func ClaimHeader(claim string) string {
	return textproto.CanonicalMIMEHeaderKey("Mote-Claim-" + claim)
}

// CORS is the [cors] table: the gateway answers preflight requests and adds
// the CORS response headers for the origins listed.
type CORS struct {
	// Origins lists the origins allowed: ["*"] for any, or each as
	// "scheme://host[:port]" (lowercase, no path, no trailing slash, no
	// default port), at most 100. Never empty.
	Origins []string
	// Methods lists the methods allowed, as uppercase HTTP method tokens;
	// default GET, HEAD, POST. Never empty.
	Methods []string
	// Headers lists the request headers allowed beyond the CORS-safelisted
	// ones, canonicalized (textproto.CanonicalMIMEHeaderKey); nil when none.
	Headers []string
	// Expose lists the response headers a page may read beyond the
	// safelisted ones, canonicalized; nil when none.
	Expose []string
	// Credentials allows cookies and Authorization with cross-origin
	// requests (Access-Control-Allow-Credentials); refused with origins
	// ["*"].
	Credentials bool
	// MaxAge is how long a browser may cache a preflight's answer: 0 to
	// 24h, default 5m.
	MaxAge Duration
}

// AllowsOrigin reports whether origin (as a browser sends it in Origin)
// may make cross-origin requests.
func (c *CORS) AllowsOrigin(origin string) bool {
	for _, o := range c.Origins {
		if o == "*" || o == origin {
			return true
		}
	}
	return false
}

// IPRules is the [ip] table: which client addresses may call the service.
// Entries are masked prefixes (a single address is a /32 or /128) of plain
// IPv4 or IPv6 addresses; together the lists hold at least one.
type IPRules struct {
	// Allow, when non-empty, admits only clients in one of its prefixes.
	Allow []netip.Prefix
	// Deny refuses clients in one of its prefixes; it wins over Allow.
	Deny []netip.Prefix
}

// Admits reports whether a client at addr may call the service: it is not
// in Deny, and Allow is empty or holds it. An IPv4-mapped IPv6 address is
// treated as the IPv4 address.
func (r *IPRules) Admits(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	for _, p := range r.Deny {
		if p.Contains(addr) {
			return false
		}
	}
	if len(r.Allow) == 0 {
		return true
	}
	for _, p := range r.Allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Lifecycle is the [lifecycle] table: the state of the service's API and
// what clients are told about it.
type Lifecycle struct {
	// State is api.LifecycleDraft, api.LifecyclePublished (the default),
	// api.LifecycleDeprecated or api.LifecycleRetired.
	State string
	// Deprecated, when set, is when the API was (or will be) deprecated,
	// in UTC (the Deprecation header). Only with state deprecated or
	// retired.
	Deprecated *time.Time
	// Sunset, when set, is when the API stops answering, in UTC (the
	// Sunset header); not before Deprecated. Only with state deprecated or
	// retired.
	Sunset *time.Time
	// Link, when non-empty, is an absolute http or https URL documenting
	// the change (Link: <...>; rel="deprecation"). Only with state
	// deprecated or retired.
	Link string
}

// OpenAPI is the [openapi] table: the service's OpenAPI document, listed
// in the node's API catalog.
type OpenAPI struct {
	// Spec is the document's path relative to the manifest's directory,
	// slash-separated and cleaned; it ends in ".json". ReadPackage ships it
	// with the package files even when [wasm] files does not select it.
	Spec string
	// Validate makes the gateway check requests against the document and
	// answer 400 naming the rule a request breaks.
	Validate bool
}

// lifecycleStates are the [lifecycle] states, in the order messages list them.
var lifecycleStates = []string{api.LifecycleDraft, api.LifecyclePublished, api.LifecycleDeprecated, api.LifecycleRetired}

// validateAccess checks the rules of [auth], [cors], [ip], [lifecycle]
// and [openapi].
func validateAccess(m *Manifest, report reporter) {
	say := func(msg string, path ...string) { report(path, false, msg) }
	sayf := func(path []string, format string, args ...any) { report(path, false, fmt.Sprintf(format, args...)) }

	if j := m.Auth.JWT; j != nil {
		for _, v := range []struct{ key, value string }{{"issuer", j.Issuer}, {"audience", j.Audience}} {
			switch {
			case len(v.value) > MaxJWTValueLen:
				sayf([]string{"auth", "jwt", v.key}, "is %d bytes; keep it under %d", len(v.value), MaxJWTValueLen)
			case strings.IndexFunc(v.value, unicode.IsControl) >= 0:
				sayf([]string{"auth", "jwt", v.key}, "%q contains control characters; remove them", truncate(v.value))
			}
		}
		if j.Leeway < 0 || j.Leeway > MaxJWTLeeway {
			sayf([]string{"auth", "jwt", "leeway"}, "%s is out of range; write a duration from 0s to %s, like \"30s\"", j.Leeway, MaxJWTLeeway)
		}
		if len(j.Claims) > MaxJWTClaims {
			sayf([]string{"auth", "jwt", "claims"}, "lists %d claims; at most %d may be passed to the guest", len(j.Claims), MaxJWTClaims)
		}
		headers := map[string]string{}
		for _, c := range j.Claims {
			if !isClaimName(c) {
				sayf([]string{"auth", "jwt", "claims"}, "%q is not a claim name the guest can get as a header; use 1 to %d letters, digits, '_' and '-', like \"sub\"", truncate(c), MaxClaimNameLen)
				continue
			}
			h := ClaimHeader(c)
			if prev, ok := headers[h]; ok {
				if prev == c {
					sayf([]string{"auth", "jwt", "claims"}, "%q is listed twice; list each claim once", c)
				} else {
					sayf([]string{"auth", "jwt", "claims"}, "%q and %q both become the header %s; list one of them", prev, c, h)
				}
				continue
			}
			headers[h] = c
		}
	}

	if c := m.CORS; c != nil {
		validateCORS(c, report)
	}

	if r := m.IP; r != nil {
		if len(r.Allow) == 0 && len(r.Deny) == 0 {
			report([]string{"ip"}, true, `lists no addresses; add allow = ["10.0.0.0/8"] (only these may call) or deny = ["192.0.2.7"] (these may not), or remove [ip]`)
		}
		for _, l := range []struct {
			key  string
			list []netip.Prefix
		}{{"allow", r.Allow}, {"deny", r.Deny}} {
			if len(l.list) > MaxIPRules {
				sayf([]string{"ip", l.key}, "lists %d entries; at most %d are allowed", len(l.list), MaxIPRules)
			}
			seen := map[netip.Prefix]bool{}
			for _, p := range l.list {
				if msg := checkPrefix(p); msg != "" {
					say(msg, "ip", l.key)
				} else if seen[p] {
					sayf([]string{"ip", l.key}, "%q is listed twice; list each once", prefixText(p))
				}
				seen[p] = true
			}
		}
	}

	l := m.Lifecycle
	if !contains(lifecycleStates, l.State) {
		msg := fmt.Sprintf("%q is not a lifecycle state; write %s", truncate(l.State), quotedList(lifecycleStates))
		if c := closest(l.State, lifecycleStates); c != "" {
			msg = fmt.Sprintf("%q is not a lifecycle state; did you mean %q?", l.State, c)
		}
		say(msg, "lifecycle", "state")
	}
	ending := l.State == api.LifecycleDeprecated || l.State == api.LifecycleRetired
	for _, k := range []struct {
		key string
		set bool
	}{{"deprecated", l.Deprecated != nil}, {"sunset", l.Sunset != nil}, {"link", l.Link != ""}} {
		if k.set && !ending && contains(lifecycleStates, l.State) {
			sayf([]string{"lifecycle", k.key}, "applies only to a deprecated or retired API, and state is %q; set state = \"deprecated\", or remove %s", l.State, k.key)
		}
	}
	for _, k := range []struct {
		key string
		t   *time.Time
	}{{"deprecated", l.Deprecated}, {"sunset", l.Sunset}} {
		if k.t != nil && k.t.Year() < 1970 {
			sayf([]string{"lifecycle", k.key}, "%s is before 1970; write the date and time it applies from, like 2026-11-01T00:00:00Z", k.t.Format(time.RFC3339))
		}
	}
	if l.Deprecated != nil && l.Sunset != nil && l.Sunset.Before(*l.Deprecated) {
		sayf([]string{"lifecycle", "sunset"}, "%s is before deprecated (%s); an API is deprecated first, then sunset", l.Sunset.Format(time.RFC3339), l.Deprecated.Format(time.RFC3339))
	}
	if l.Link != "" {
		if msg := checkLink(l.Link); msg != "" {
			say(msg, "lifecycle", "link")
		}
	}

	if o := m.OpenAPI; o != nil {
		p := []string{"openapi", "spec"}
		switch {
		case o.Spec == "":
			say(`is missing or empty; add spec = "openapi.json" (the OpenAPI document's path relative to mote.toml) under [openapi]`, p...)
		case checkRelPath(o.Spec, false) != "":
			say(checkRelPath(o.Spec, false), p...)
		case !strings.HasSuffix(o.Spec, ".json"):
			sayf(p, "%q does not end in \".json\"; write the OpenAPI document as JSON, like %q", truncate(o.Spec), strings.TrimSuffix(path.Base(o.Spec), path.Ext(o.Spec))+".json")
		}
	}
}

// validateCORS checks the [cors] table.
func validateCORS(c *CORS, report reporter) {
	sayf := func(key, format string, args ...any) {
		report([]string{"cors", key}, false, fmt.Sprintf(format, args...))
	}

	if len(c.Origins) == 0 {
		sayf("origins", `is missing or empty; add origins = ["https://shop.example.com"] (the pages allowed to call the service), or ["*"] for any`)
	}
	star := contains(c.Origins, "*")
	if star && len(c.Origins) > 1 {
		sayf("origins", `"*" allows any origin; write origins = ["*"] alone, or list the origins without it`)
	}
	if star && c.Credentials {
		report([]string{"cors", "credentials"}, false, `browsers refuse credentials with origins = ["*"]; list the origins allowed, or set credentials = false`)
	}
	lists := []struct {
		key   string
		list  []string
		check func(string) string
	}{
		{"origins", c.Origins, checkOrigin},
		{"methods", c.Methods, checkMethod},
		{"headers", c.Headers, checkHeaderName},
		{"expose", c.Expose, checkHeaderName},
	}
	for _, l := range lists {
		if len(l.list) > MaxCORSEntries {
			sayf(l.key, "lists %d entries; at most %d are allowed", len(l.list), MaxCORSEntries)
		}
		seen := map[string]bool{}
		for _, e := range l.list {
			if msg := l.check(e); msg != "" {
				sayf(l.key, "%s", msg)
			} else if seen[e] {
				sayf(l.key, "%q is listed twice; list each once", e)
			}
			seen[e] = true
		}
	}
	if len(c.Methods) == 0 {
		sayf("methods", `is empty; list the methods allowed, like ["GET", "POST"], or leave methods out for GET, HEAD and POST`)
	}
	if c.MaxAge < 0 || c.MaxAge > MaxCORSMaxAge {
		sayf("max_age", "%s is out of range; write a duration from 0s to %s, like \"10m\"", c.MaxAge, MaxCORSMaxAge)
	}
}

// checkOrigin returns what is wrong with a [cors] origins entry, or "".
func checkOrigin(o string) string {
	const example = `write "*" or an origin like "https://shop.example.com"`
	if o == "*" {
		return ""
	}
	if o == "" {
		return `"" is not an origin; ` + example
	}
	if o == "null" {
		return `"null" is the origin of sandboxed pages and local files, which any site can make; list real origins instead`
	}
	if lower := asciiLower(o); lower != o {
		if checkOrigin(lower) == "" {
			return fmt.Sprintf("%q has uppercase letters; write %q", truncate(o), lower)
		}
		return checkOrigin(lower)
	}
	if strings.Contains(o, "*") {
		return fmt.Sprintf(`%q: wildcards are not allowed in an origin; write "*" alone for any origin, or list each origin`, truncate(o))
	}
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok {
		if checkOrigin("https://"+o) == "" {
			return fmt.Sprintf("%q has no scheme; write %q", truncate(o), "https://"+o)
		}
		return fmt.Sprintf("%q is not an origin; %s", truncate(o), example)
	}
	if !isScheme(scheme) {
		return fmt.Sprintf("%q: %q is not a scheme; %s", truncate(o), truncate(scheme), example)
	}
	if strings.ContainsAny(rest, "/?#@") {
		host := rest
		if j := strings.IndexAny(host, "/?#"); j >= 0 {
			host = host[:j]
		}
		host = host[strings.LastIndexByte(host, '@')+1:]
		if fix := scheme + "://" + host; host != "" && checkOrigin(fix) == "" {
			return fmt.Sprintf("%q is not an origin: an origin has no path, query or user; write %q", truncate(o), fix)
		}
		return fmt.Sprintf("%q is not an origin: an origin has no path, query or user; %s", truncate(o), example)
	}
	if rest == "" || checkAllowHost(rest) != "" {
		return fmt.Sprintf("%q does not name a host (and port); %s", truncate(o), example)
	}
	_, port := SplitHostPort(rest)
	if scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		fix := scheme + "://" + rest[:len(rest)-len(port)-1]
		return fmt.Sprintf("%q: browsers leave the default port out of Origin; write %q", truncate(o), fix)
	}
	return ""
}

// isScheme reports whether s is a URL scheme: a letter, then letters,
// digits, '+', '-' and '.'.
func isScheme(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// checkMethod returns what is wrong with a [cors] methods entry, or "".
func checkMethod(m string) string {
	switch {
	case m == "*":
		return `"*": list the methods allowed, like "GET" and "POST"`
	case !isToken(m):
		return fmt.Sprintf(`%q is not an HTTP method; write one like "GET" or "POST"`, truncate(m))
	case strings.ToUpper(m) != m:
		return fmt.Sprintf("%q: methods are case-sensitive and written in uppercase; write %q", m, strings.ToUpper(m))
	}
	return ""
}

// checkHeaderName returns what is wrong with a [cors] headers or expose
// entry, or "".
func checkHeaderName(h string) string {
	switch {
	case h == "*":
		return `"*": list the header names, like "Content-Type"`
	case !isToken(h):
		return fmt.Sprintf(`%q is not a header name; write one like "Content-Type"`, truncate(h))
	case textproto.CanonicalMIMEHeaderKey(h) != h:
		return fmt.Sprintf("%q is not canonical; write %q", h, textproto.CanonicalMIMEHeaderKey(h))
	}
	return ""
}

// isToken reports whether s is an RFC 9110 token, as method and header
// names are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func isClaimName(s string) bool {
	if s == "" || len(s) > MaxClaimNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// parsePrefix reads an [ip] entry: a CIDR prefix or a single address. The
// message says what is wrong, or is "".
func parsePrefix(s string) (netip.Prefix, string) {
	const example = `write an address like "192.168.1.7" or a prefix like "10.0.0.0/8"`
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			if strings.Contains(s, "%") {
				return netip.Prefix{}, fmt.Sprintf("%q: zones (%%eth0) are not allowed; %s", truncate(s), example)
			}
			return netip.Prefix{}, fmt.Sprintf("%q is not a CIDR prefix; %s", truncate(s), example)
		}
		return p, ""
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil && (s == "*" || s == "all" || s == "any"):
		return netip.Prefix{}, fmt.Sprintf(`%q: write "0.0.0.0/0" and "::/0" for every address, or leave the list out`, s)
	case err != nil:
		return netip.Prefix{}, fmt.Sprintf("%q is not an IP address; %s", truncate(s), example)
	case a.Zone() != "":
		return netip.Prefix{}, fmt.Sprintf("%q: zones (%%%s) are not allowed; write %q", truncate(s), a.Zone(), a.WithZone("").String())
	}
	return netip.PrefixFrom(a, a.BitLen()), ""
}

// checkPrefix returns what is wrong with a parsed [ip] entry, or "".
func checkPrefix(p netip.Prefix) string {
	switch {
	case !p.IsValid():
		return fmt.Sprintf("%q is not a valid prefix; write an address like \"192.168.1.7\" or a prefix like \"10.0.0.0/8\"", p)
	case p.Addr().Zone() != "":
		return fmt.Sprintf("%q has a zone; write it without one", p)
	case p.Addr().Is4In6():
		if p.Bits() >= 96 {
			v4 := netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked()
			return fmt.Sprintf("%q is an IPv4-mapped IPv6 address; clients are matched by their IPv4 address, so write %q", prefixText(p), prefixText(v4))
		}
		return fmt.Sprintf("%q mixes IPv4-mapped and other IPv6 addresses; write IPv4 addresses as IPv4, like \"10.0.0.0/8\"", prefixText(p))
	case p.Masked() != p:
		return fmt.Sprintf("%q has bits set after the /%d; write %q", prefixText(p), p.Bits(), prefixText(p.Masked()))
	}
	return ""
}

// prefixText writes an [ip] entry as a manifest does: a single address
// bare, anything else as a prefix.
func prefixText(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// checkLink returns what is wrong with [lifecycle] link, or "".
func checkLink(s string) string {
	const example = `write an absolute URL like "https://example.com/migrate"`
	if len(s) > MaxLinkLen {
		return fmt.Sprintf("is %d bytes; keep it under %d", len(s), MaxLinkLen)
	}
	if strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>' || r == '"'
	}) >= 0 {
		return fmt.Sprintf("%q contains spaces, control characters, '<', '>' or '\"'; percent-encode them", truncate(s))
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Sprintf("%q is not an absolute URL; %s", truncate(s), example)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Sprintf("%q: the scheme must be https or http; %s", truncate(s), example)
	}
	return ""
}

// asciiLower lowercases the ASCII letters of s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// quotedList writes a list for a message: "a", "b" or "c".
func quotedList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
