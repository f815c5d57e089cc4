package wagi

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mote-run/mote/internal/sandbox"
)

// ServerSoftware is the SERVER_SOFTWARE a guest sees.
const ServerSoftware = "mote/WAGI"

// requestVars is how many variables Env sets from the request itself, not
// counting HTTP_* ones.
const requestVars = 20

// isRequestVar reports whether name is one of the variables Env sets from
// the request (other than HTTP_*). A service variable of that name is
// dropped.
func isRequestVar(name string) bool {
	switch name {
	case "AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE",
		"PATH_INFO", "PATH_TRANSLATED", "QUERY_STRING", "REMOTE_ADDR",
		"REMOTE_HOST", "REMOTE_USER", "REQUEST_METHOD", "SCRIPT_NAME",
		"SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE",
		"X_FULL_URL", "X_MATCHED_ROUTE", "X_RAW_PATH_INFO", "X_REQUEST_ID":
		return true
	}
	return false
}

// Env returns the guest environment as alternating key, value pairs, in a
// stable order: first serviceEnv (the manifest's [env]) sorted by key, then
// the CGI/WAGI variables in alphabetical order, then one HTTP_<NAME> per
// request header sorted by header name. A request variable wins over a
// service variable of the same name, which is dropped; service variables
// whose names fail ValidEnvName are dropped too. No key repeats.
//
// The request variables (a nil req is treated as an empty request):
//
//	AUTH_TYPE          ""
//	CONTENT_LENGTH     len(req.Body), always set ("0" for no body)
//	CONTENT_TYPE       the Content-Type header, "" if none
//	GATEWAY_INTERFACE  "CGI/1.1"
//	PATH_INFO          req.RawPath percent-decoded; kept raw if it does not
//	                   decode, or decodes to NUL or invalid UTF-8
//	PATH_TRANSLATED    = PATH_INFO
//	QUERY_STRING       req.RawQuery, undecoded, without '?'
//	REMOTE_ADDR        the IP of req.RemoteAddr, without port or brackets
//	REMOTE_HOST        = REMOTE_ADDR (mote does no reverse lookups)
//	REMOTE_USER        ""
//	REQUEST_METHOD     req.Method ("GET" if empty)
//	SCRIPT_NAME        req.Route
//	SERVER_NAME        req.ServerName, else the host of req.Host, else "localhost"
//	SERVER_PORT        req.ServerPort, else the port of req.Host, else 443
//	                   for https and 80 otherwise
//	SERVER_PROTOCOL    req.Proto ("HTTP/1.1" if empty)
//	SERVER_SOFTWARE    "mote/WAGI"
//	X_FULL_URL         scheme "://" host route rawpath ["?" query]: scheme
//	                   defaults to "http", host is req.Host else
//	                   SERVER_NAME:SERVER_PORT, one '/' where a route
//	                   ending in '/' meets a path starting with one
//	X_MATCHED_ROUTE    req.Route + "/..." ("/..." for the root route)
//	X_RAW_PATH_INFO    req.RawPath, undecoded
//	X_REQUEST_ID       req.ID (a mote extension)
//
// HTTP_<NAME>: the header name upper-cased with '-' turned into '_';
// several values are joined with ", " (Cookie with "; "). Skipped: names
// with bytes outside [A-Za-z0-9_-]; Authorization, Proxy-Authorization and
// Connection (CGI/1.1 §4.1.18: credentials and hop-by-hop); and Proxy, so a
// client cannot set HTTP_PROXY (httpoxy, CVE-2016-5385). When two header
// names map to one variable (X-Foo and X_Foo) the first in byte order wins,
// so the dashed form beats the underscored one. HTTP_HOST comes from
// req.Host when the header map has no Host (net/http moves it out).
//
// Every value is made valid UTF-8 without NUL bytes (NULs removed,
// invalid sequences replaced by U+FFFD).
func Env(req *sandbox.Request, serviceEnv map[string]string) []string {
	if req == nil {
		req = &sandbox.Request{}
	}
	env := make([]string, 0, 2*(len(serviceEnv)+requestVars+len(req.Header)+1))

	shadowable := false // a service variable may clash with an HTTP_* one
	if len(serviceEnv) > 0 {
		var keyArr [16]string
		keys := keyArr[:0]
		for k := range serviceEnv {
			if ValidEnvName(k) && !isRequestVar(k) {
				keys = append(keys, k)
				shadowable = shadowable || strings.HasPrefix(k, "HTTP_")
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			env = append(env, k, clean(serviceEnv[k]))
		}
	}
	nService := len(env)

	route, rawPath, query := clean(req.Route), clean(req.RawPath), clean(req.RawQuery)
	pathInfo := decodePath(rawPath)
	remote, _ := splitHostPort(clean(req.RemoteAddr))
	reqHost := clean(req.Host)
	hostName, hostPort := splitHostPort(reqHost)
	scheme := clean(req.Scheme)
	if scheme == "" {
		scheme = "http"
	}
	serverName := clean(req.ServerName)
	if serverName == "" {
		serverName = hostName
	}
	if serverName == "" {
		serverName = "localhost"
	}
	serverPort := clean(req.ServerPort)
	if serverPort == "" {
		serverPort = hostPort
	}
	if serverPort == "" {
		serverPort = "80"
		if scheme == "https" {
			serverPort = "443"
		}
	}
	host := reqHost
	if host == "" {
		host = serverName + ":" + serverPort
	}
	method := clean(req.Method)
	if method == "" {
		method = http.MethodGet
	}
	proto := clean(req.Proto)
	if proto == "" {
		proto = "HTTP/1.1"
	}
	contentType := ""
	if vs := req.Header["Content-Type"]; len(vs) > 0 {
		contentType = clean(vs[0])
	}
	pathRoute, pathRest := requestPath(route, rawPath)
	var fullURL string
	if query == "" {
		fullURL = scheme + "://" + host + pathRoute + pathRest
	} else {
		fullURL = scheme + "://" + host + pathRoute + pathRest + "?" + query
	}

	env = append(env,
		"AUTH_TYPE", "",
		"CONTENT_LENGTH", strconv.Itoa(len(req.Body)),
		"CONTENT_TYPE", contentType,
		"GATEWAY_INTERFACE", "CGI/1.1",
		"PATH_INFO", pathInfo,
		"PATH_TRANSLATED", pathInfo,
		"QUERY_STRING", query,
		"REMOTE_ADDR", remote,
		"REMOTE_HOST", remote,
		"REMOTE_USER", "",
		"REQUEST_METHOD", method,
		"SCRIPT_NAME", route,
		"SERVER_NAME", serverName,
		"SERVER_PORT", serverPort,
		"SERVER_PROTOCOL", proto,
		"SERVER_SOFTWARE", ServerSoftware,
		"X_FULL_URL", fullURL,
		"X_MATCHED_ROUTE", strings.TrimSuffix(route, "/")+"/...",
		"X_RAW_PATH_INFO", rawPath,
		"X_REQUEST_ID", clean(req.ID),
	)
	nFixed := len(env)
	env = appendHeaders(env, req.Header, reqHost)
	if shadowable && len(env) > nFixed {
		env = dropShadowed(env, nService, env[nFixed:])
	}
	return env
}

// dropShadowed removes from env[:nService] the service variables whose key
// is also a key of headerVars (a tail of env), keeping the order.
func dropShadowed(env []string, nService int, headerVars []string) []string {
	out := env[:0]
	for i := 0; i < nService; i += 2 {
		if strings.HasPrefix(env[i], "HTTP_") && hasKey(headerVars, env[i]) {
			continue
		}
		out = append(out, env[i], env[i+1])
	}
	return append(out, env[nService:]...)
}

func hasKey(pairs []string, key string) bool {
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i] == key {
			return true
		}
	}
	return false
}

// headerVar is one HTTP_* variable being built: its key is
// keys[start:end] of the shared key buffer.
type headerVar struct {
	start, end int
	value      string
}

// appendHeaders appends one HTTP_* pair per usable header of h, sorted by
// header name. host stands in for a missing Host header. All keys share
// one allocation.
func appendHeaders(env []string, h http.Header, host string) []string {
	var fieldArr [24]field
	fields := fieldArr[:0]
	hasHost := false
	for name, values := range h {
		fields = append(fields, field{name: name, values: values})
		hasHost = hasHost || name == "Host"
	}
	if !hasHost && host != "" {
		fields = append(fields, field{name: "Host", host: host})
	}
	if len(fields) == 0 {
		return env
	}
	sortFields(fields)

	var keyArr [512]byte
	var varArr [24]headerVar
	buf, vars := keyArr[:0], varArr[:0]
	var seen map[string]struct{} // only for many headers; else a linear scan
	for _, f := range fields {
		start := len(buf)
		buf = appendEnvKey(buf, f.name)
		if len(buf) == start {
			continue // not a valid name
		}
		key := buf[start:]
		switch string(key) {
		case "HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION", "HTTP_CONNECTION", "HTTP_PROXY":
			buf = buf[:start]
			continue
		}
		if isDuplicate(buf, vars, key, &seen) {
			buf = buf[:start]
			continue
		}
		value := f.host
		if value == "" {
			value = joinValues(f.name, f.values)
		}
		vars = append(vars, headerVar{start, len(buf), value})
	}
	keys := string(buf)
	for _, v := range vars {
		env = append(env, keys[v.start:v.end], v.value)
	}
	return env
}

// field is one request header. host is set, instead of values, for a
// Host header made up from req.Host.
type field struct {
	name   string
	values []string
	host   string
}

// sortFields sorts fields by name: insertion sort for the usual handful,
// which beats the generic sort there.
func sortFields(fields []field) {
	if len(fields) > 16 {
		slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
		return
	}
	for i := 1; i < len(fields); i++ {
		for j := i; j > 0 && fields[j].name < fields[j-1].name; j-- {
			fields[j], fields[j-1] = fields[j-1], fields[j]
		}
	}
}

// isDuplicate reports whether key was already taken by one of vars, whose
// keys are in buf. Past 16 variables it keeps a set in *seen.
func isDuplicate(buf []byte, vars []headerVar, key []byte, seen *map[string]struct{}) bool {
	const linear = 16
	if len(vars) < linear {
		for _, v := range vars {
			if string(buf[v.start:v.end]) == string(key) {
				return true
			}
		}
		return false
	}
	if *seen == nil {
		*seen = make(map[string]struct{}, 2*linear)
		for _, v := range vars {
			(*seen)[string(buf[v.start:v.end])] = struct{}{}
		}
	}
	if _, ok := (*seen)[string(key)]; ok {
		return true
	}
	(*seen)[string(key)] = struct{}{}
	return false
}

func joinValues(name string, values []string) string {
	switch len(values) {
	case 0:
		return ""
	case 1:
		return clean(values[0])
	}
	sep := ", "
	if name == "Cookie" {
		sep = "; " // RFC 6265 §5.4: one Cookie line, pairs joined by "; "
	}
	return clean(strings.Join(values, sep))
}

// envKeyByte maps a header name's byte to its byte in an HTTP_* key; 0
// marks a byte a name may not hold for that (outside [A-Za-z0-9_-]).
var envKeyByte = func() (t [256]byte) {
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c], t[c+'a'-'A'] = byte(c), byte(c)
	}
	t['_'], t['-'] = '_', '_'
	return t
}()

// appendEnvKey appends "HTTP_" and name upper-cased with '-' as '_'. If
// name is empty or holds a byte outside [A-Za-z0-9_-] it appends nothing.
func appendEnvKey(buf []byte, name string) []byte {
	if name == "" {
		return buf
	}
	start := len(buf)
	buf = append(buf, "HTTP_"...)
	buf = slices.Grow(buf, len(name))
	key := buf[len(buf) : len(buf)+len(name)]
	for i := 0; i < len(name); i++ {
		c := envKeyByte[name[i]]
		if c == 0 {
			return buf[:start]
		}
		key[i] = c
	}
	return buf[:len(buf)+len(name)]
}

// decodePath percent-decodes a raw path. It returns raw unchanged if raw has
// no escapes, has a bad one, or decodes to a NUL or invalid UTF-8.
func decodePath(raw string) string {
	if strings.IndexByte(raw, '%') < 0 {
		return raw
	}
	s, err := url.PathUnescape(raw)
	if err != nil || strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
		return raw
	}
	return s
}

// splitHostPort splits "host:port", "[v6]:port", "host", "[v6]" or a bare
// IPv6 address. It never fails and does not allocate.
func splitHostPort(hp string) (host, port string) {
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return hp, ""
		}
		host, rest := hp[1:end], hp[end+1:]
		if strings.HasPrefix(rest, ":") {
			port = rest[1:]
		}
		return host, port
	}
	i := strings.LastIndexByte(hp, ':')
	if i < 0 || strings.IndexByte(hp[:i], ':') >= 0 { // no port, or bare IPv6
		return hp, ""
	}
	return hp[:i], hp[i+1:]
}

// requestPath returns the request path as two pieces to concatenate:
// route and the raw rest, without doubling the '/' where they meet. An
// empty path is "/".
func requestPath(route, rawPath string) (string, string) {
	if strings.HasSuffix(route, "/") && strings.HasPrefix(rawPath, "/") {
		rawPath = rawPath[1:]
	}
	if route == "" && rawPath == "" {
		return "/", ""
	}
	return route, rawPath
}

// Args returns the guest's argv, following the deislabs WAGI
// implementation: argv[0] is the request path as sent, undecoded
// (req.Route + req.RawPath, i.e. SCRIPT_NAME + X_RAW_PATH_INFO; "/" if both
// are empty); then one argument per '&'-separated item of req.RawQuery, in
// order, undecoded, duplicates kept ("a=1&a=2" gives "a=1", "a=2"; "flag"
// gives "flag"). Empty items ("a&&b", a trailing '&') are skipped. Values
// are made valid UTF-8 without NUL as in Env. A nil req gives ["/"].
func Args(req *sandbox.Request) []string {
	if req == nil {
		return []string{"/"}
	}
	query := req.RawQuery
	args := make([]string, 1, 2+strings.Count(query, "&"))
	route, rest := requestPath(req.Route, req.RawPath)
	args[0] = clean(route + rest)
	for query != "" {
		item, after, _ := strings.Cut(query, "&")
		if item != "" {
			args = append(args, clean(item))
		}
		query = after
	}
	return args
}
