package wagi

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mote-run/mote/internal/sandbox"
)

// baseRequest is a request with every field set.
func baseRequest() *sandbox.Request {
	return &sandbox.Request{
		ID:         "req-42",
		Method:     "POST",
		Proto:      "HTTP/1.1",
		Scheme:     "https",
		Host:       "example.com:8443",
		RemoteAddr: "203.0.113.7:51234",
		Route:      "/hello",
		RawPath:    "/a%20b/c%2Fd",
		RawQuery:   "name=mote&x=%41",
		Header: http.Header{
			"Content-Type": {"text/plain"},
			"Accept":       {"text/html", "application/json"},
			"User-Agent":   {"curl/8.0"},
		},
		Body:       []byte("hello"),
		ServerName: "example.com",
		ServerPort: "8443",
	}
}

// envMap checks env's shape (pairs, valid unique keys, clean values) and
// returns it as a map.
func envMap(t *testing.T, env []string) map[string]string {
	t.Helper()
	if len(env)%2 != 0 {
		t.Fatalf("env has odd length %d", len(env))
	}
	m := make(map[string]string, len(env)/2)
	for i := 0; i < len(env); i += 2 {
		k, v := env[i], env[i+1]
		if !ValidEnvName(k) {
			t.Errorf("invalid env name %q", k)
		}
		if _, dup := m[k]; dup {
			t.Errorf("env key %q repeats", k)
		}
		if strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
			t.Errorf("env %s=%q: NUL or invalid UTF-8", k, v)
		}
		m[k] = v
	}
	return m
}

func TestEnvVariables(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*sandbox.Request)
		key    string
		want   string
	}{
		{"AUTH_TYPE", nil, "AUTH_TYPE", ""},
		{"CONTENT_LENGTH", nil, "CONTENT_LENGTH", "5"},
		{"CONTENT_LENGTH no body", func(r *sandbox.Request) { r.Body = nil }, "CONTENT_LENGTH", "0"},
		{"CONTENT_TYPE", nil, "CONTENT_TYPE", "text/plain"},
		{"CONTENT_TYPE absent", func(r *sandbox.Request) { r.Header.Del("Content-Type") }, "CONTENT_TYPE", ""},
		{"GATEWAY_INTERFACE", nil, "GATEWAY_INTERFACE", "CGI/1.1"},
		{"QUERY_STRING", nil, "QUERY_STRING", "name=mote&x=%41"},
		{"QUERY_STRING empty", func(r *sandbox.Request) { r.RawQuery = "" }, "QUERY_STRING", ""},
		{"REMOTE_ADDR", nil, "REMOTE_ADDR", "203.0.113.7"},
		{"REMOTE_ADDR IPv6", func(r *sandbox.Request) { r.RemoteAddr = "[2001:db8::1]:443" }, "REMOTE_ADDR", "2001:db8::1"},
		{"REMOTE_ADDR no port", func(r *sandbox.Request) { r.RemoteAddr = "198.51.100.1" }, "REMOTE_ADDR", "198.51.100.1"},
		{"REMOTE_HOST", nil, "REMOTE_HOST", "203.0.113.7"},
		{"REMOTE_USER", nil, "REMOTE_USER", ""},
		{"REQUEST_METHOD", nil, "REQUEST_METHOD", "POST"},
		{"REQUEST_METHOD default", func(r *sandbox.Request) { r.Method = "" }, "REQUEST_METHOD", "GET"},
		{"SCRIPT_NAME", nil, "SCRIPT_NAME", "/hello"},
		{"PATH_INFO", nil, "PATH_INFO", "/a b/c/d"},
		{"PATH_INFO empty", func(r *sandbox.Request) { r.RawPath = "" }, "PATH_INFO", ""},
		{"PATH_INFO bad escape kept raw", func(r *sandbox.Request) { r.RawPath = "/a%zzb" }, "PATH_INFO", "/a%zzb"},
		{"PATH_INFO NUL kept raw", func(r *sandbox.Request) { r.RawPath = "/a%00b" }, "PATH_INFO", "/a%00b"},
		{"PATH_INFO bad UTF-8 kept raw", func(r *sandbox.Request) { r.RawPath = "/%ff" }, "PATH_INFO", "/%ff"},
		{"PATH_INFO UTF-8", func(r *sandbox.Request) { r.RawPath = "/caf%C3%A9" }, "PATH_INFO", "/café"},
		{"PATH_INFO plus stays", func(r *sandbox.Request) { r.RawPath = "/a+b" }, "PATH_INFO", "/a+b"},
		{"PATH_TRANSLATED", nil, "PATH_TRANSLATED", "/a b/c/d"},
		{"SERVER_NAME", nil, "SERVER_NAME", "example.com"},
		{"SERVER_NAME from Host", func(r *sandbox.Request) { r.ServerName = "" }, "SERVER_NAME", "example.com"},
		{"SERVER_NAME fallback", func(r *sandbox.Request) { r.ServerName, r.Host = "", "" }, "SERVER_NAME", "localhost"},
		{"SERVER_PORT", nil, "SERVER_PORT", "8443"},
		{"SERVER_PORT from Host", func(r *sandbox.Request) { r.ServerPort, r.Host = "", "h:9000" }, "SERVER_PORT", "9000"},
		{"SERVER_PORT https default", func(r *sandbox.Request) { r.ServerPort, r.Host = "", "h" }, "SERVER_PORT", "443"},
		{"SERVER_PORT http default", func(r *sandbox.Request) { r.ServerPort, r.Host, r.Scheme = "", "h", "http" }, "SERVER_PORT", "80"},
		{"SERVER_PROTOCOL", nil, "SERVER_PROTOCOL", "HTTP/1.1"},
		{"SERVER_PROTOCOL HTTP/2", func(r *sandbox.Request) { r.Proto = "HTTP/2.0" }, "SERVER_PROTOCOL", "HTTP/2.0"},
		{"SERVER_PROTOCOL default", func(r *sandbox.Request) { r.Proto = "" }, "SERVER_PROTOCOL", "HTTP/1.1"},
		{"SERVER_SOFTWARE", nil, "SERVER_SOFTWARE", "mote/WAGI"},
		{"X_MATCHED_ROUTE", nil, "X_MATCHED_ROUTE", "/hello/..."},
		{"X_MATCHED_ROUTE root", func(r *sandbox.Request) { r.Route = "/" }, "X_MATCHED_ROUTE", "/..."},
		{"X_FULL_URL", nil, "X_FULL_URL", "https://example.com:8443/hello/a%20b/c%2Fd?name=mote&x=%41"},
		{"X_FULL_URL no query", func(r *sandbox.Request) { r.RawQuery = "" }, "X_FULL_URL", "https://example.com:8443/hello/a%20b/c%2Fd"},
		{"X_FULL_URL route only", func(r *sandbox.Request) { r.RawPath, r.RawQuery = "", "" }, "X_FULL_URL", "https://example.com:8443/hello"},
		{"X_FULL_URL root route", func(r *sandbox.Request) { r.Route, r.RawPath = "/", "/x" }, "X_FULL_URL", "https://example.com:8443/x?name=mote&x=%41"},
		{"X_FULL_URL no Host", func(r *sandbox.Request) { r.Host, r.RawQuery = "", "" }, "X_FULL_URL", "https://example.com:8443/hello/a%20b/c%2Fd"},
		{"X_FULL_URL default scheme", func(r *sandbox.Request) { r.Scheme, r.RawQuery = "", "" }, "X_FULL_URL", "http://example.com:8443/hello/a%20b/c%2Fd"},
		{"X_RAW_PATH_INFO", nil, "X_RAW_PATH_INFO", "/a%20b/c%2Fd"},
		{"X_REQUEST_ID", nil, "X_REQUEST_ID", "req-42"},
		{"HTTP_ single", nil, "HTTP_USER_AGENT", "curl/8.0"},
		{"HTTP_ multi-value", nil, "HTTP_ACCEPT", "text/html, application/json"},
		{"HTTP_COOKIE joined with semicolons", func(r *sandbox.Request) { r.Header["Cookie"] = []string{"a=1", "b=2"} }, "HTTP_COOKIE", "a=1; b=2"},
		{"HTTP_CONTENT_TYPE too", nil, "HTTP_CONTENT_TYPE", "text/plain"},
		{"HTTP_HOST from Host", nil, "HTTP_HOST", "example.com:8443"},
		{"HTTP_HOST from header", func(r *sandbox.Request) { r.Header["Host"] = []string{"other"} }, "HTTP_HOST", "other"},
		{"HTTP_ underscore name", func(r *sandbox.Request) { r.Header["X_Thing"] = []string{"v"} }, "HTTP_X_THING", "v"},
		{"HTTP_ dashed beats underscored", func(r *sandbox.Request) {
			r.Header["X_Forwarded_For"] = []string{"spoofed"}
			r.Header["X-Forwarded-For"] = []string{"real"}
		}, "HTTP_X_FORWARDED_FOR", "real"},
		{"HTTP_ NUL removed", func(r *sandbox.Request) { r.Header["X-A"] = []string{"a\x00b"} }, "HTTP_X_A", "ab"},
		{"HTTP_ invalid UTF-8 replaced", func(r *sandbox.Request) { r.Header["X-A"] = []string{"a\xffb"} }, "HTTP_X_A", "a\uFFFDb"},
		{"HTTP_ no values", func(r *sandbox.Request) { r.Header["X-Empty"] = nil }, "HTTP_X_EMPTY", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := baseRequest()
			if tt.modify != nil {
				tt.modify(req)
			}
			m := envMap(t, Env(req, nil))
			got, ok := m[tt.key]
			if !ok {
				t.Fatalf("%s not set", tt.key)
			}
			if got != tt.want {
				t.Errorf("%s = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestEnvSetsEveryVariable(t *testing.T) {
	m := envMap(t, Env(&sandbox.Request{}, nil))
	for _, k := range []string{
		"AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE",
		"PATH_INFO", "PATH_TRANSLATED", "QUERY_STRING", "REMOTE_ADDR",
		"REMOTE_HOST", "REMOTE_USER", "REQUEST_METHOD", "SCRIPT_NAME",
		"SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE",
		"X_FULL_URL", "X_MATCHED_ROUTE", "X_RAW_PATH_INFO", "X_REQUEST_ID",
	} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s not set on an empty request", k)
		}
		if !isRequestVar(k) {
			t.Errorf("isRequestVar(%q) = false", k)
		}
	}
	if len(m) != requestVars {
		t.Errorf("empty request: %d variables, want %d", len(m), requestVars)
	}
	if m["X_FULL_URL"] != "http://localhost:80/" {
		t.Errorf("X_FULL_URL = %q", m["X_FULL_URL"])
	}
	if got := Env(nil, nil); len(got) != 2*requestVars {
		t.Errorf("Env(nil) has %d entries", len(got))
	}
}

func TestEnvExcludedHeaders(t *testing.T) {
	req := baseRequest()
	for _, name := range []string{
		"Authorization", "Proxy-Authorization", "Connection", "Proxy",
		"Proxy_Authorization", // maps to an excluded name too
		"Bad Name", "Bad:Name", "Bad.Name", "Ünicode", "",
	} {
		req.Header[name] = []string{"secret"}
	}
	env := Env(req, nil)
	m := envMap(t, env)
	for _, k := range []string{"HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION", "HTTP_CONNECTION", "HTTP_PROXY"} {
		if v, ok := m[k]; ok {
			t.Errorf("%s = %q, want it unset", k, v)
		}
	}
	for k, v := range m {
		if v == "secret" {
			t.Errorf("%s carries an excluded header", k)
		}
	}
	// What is left of the headers: exactly the valid, allowed ones.
	var httpKeys []string
	for i := 0; i < len(env); i += 2 {
		if strings.HasPrefix(env[i], "HTTP_") {
			httpKeys = append(httpKeys, env[i])
		}
	}
	want := []string{"HTTP_ACCEPT", "HTTP_CONTENT_TYPE", "HTTP_HOST", "HTTP_USER_AGENT"}
	if !slices.Equal(httpKeys, want) {
		t.Errorf("HTTP_ keys = %v, want %v (sorted)", httpKeys, want)
	}
}

func TestEnvServiceVariables(t *testing.T) {
	req := baseRequest()
	service := map[string]string{
		"ZED":             "last",
		"APP_MODE":        "prod",
		"SERVER_SOFTWARE": "shadowed", // a CGI variable wins
		"HTTP_USER_AGENT": "shadowed", // so does a header
		"HTTP_UNSENT":     "kept",     // no such header: kept
		"1BAD":            "dropped",  // invalid names are dropped
		"A=B":             "dropped",
		"":                "dropped",
		"NUL":             "a\x00b", // cleaned
	}
	env := Env(req, service)
	m := envMap(t, env)
	wantStart := []string{"APP_MODE", "prod", "HTTP_UNSENT", "kept", "NUL", "ab", "ZED", "last"}
	if !slices.Equal(env[:len(wantStart)], wantStart) {
		t.Errorf("service env comes first, sorted: got %q, want %q", env[:len(wantStart)], wantStart)
	}
	if env[len(wantStart)] != "AUTH_TYPE" {
		t.Errorf("CGI variables start at %q, want AUTH_TYPE", env[len(wantStart)])
	}
	if m["SERVER_SOFTWARE"] != ServerSoftware || m["HTTP_USER_AGENT"] != "curl/8.0" {
		t.Errorf("request variables must win: SERVER_SOFTWARE=%q HTTP_USER_AGENT=%q", m["SERVER_SOFTWARE"], m["HTTP_USER_AGENT"])
	}
	for k, v := range m {
		if v == "dropped" || v == "shadowed" {
			t.Errorf("%s=%q should have been dropped", k, v)
		}
	}
}

func TestEnvStableOrder(t *testing.T) {
	req := baseRequest()
	for i := range 40 { // past the linear duplicate scan
		req.Header["X-H"+strings.Repeat("a", i)] = []string{"v"}
	}
	service := map[string]string{"A": "1", "B": "2", "C": "3", "HTTP_X_H": "s"}
	first := Env(req, service)
	for range 20 {
		if got := Env(req, service); !slices.Equal(got, first) {
			t.Fatal("Env's order changes between calls")
		}
	}
	m := envMap(t, first)
	if m["HTTP_X_H"] != "v" {
		t.Errorf("HTTP_X_H = %q, want the header's value", m["HTTP_X_H"])
	}
}

func TestEnvManyCollidingHeaders(t *testing.T) {
	req := &sandbox.Request{Header: http.Header{}}
	for i := range 50 {
		n := "H" + strings.Repeat("-x", 1+i%10) + strings.Repeat("y", i/10)
		req.Header[n] = []string{"dash"}
		req.Header[strings.ReplaceAll(n, "-", "_")+"_"] = []string{"under"}
		req.Header[strings.ReplaceAll(n, "-", "_")] = []string{"under"}
	}
	m := envMap(t, Env(req, nil))
	for k, v := range m {
		if strings.HasPrefix(k, "HTTP_H") && !strings.HasSuffix(k, "_") && v != "dash" {
			t.Errorf("%s = %q, want the dashed header's value", k, v)
		}
	}
}

func TestArgs(t *testing.T) {
	tests := []struct {
		name                  string
		route, rawPath, query string
		want                  []string
	}{
		{"route only", "/hello", "", "", []string{"/hello"}},
		{"with path", "/hello", "/a/b", "", []string{"/hello/a/b"}},
		{"encoded path stays raw", "/hello", "/a%20b", "", []string{"/hello/a%20b"}},
		{"root route", "/", "/x", "", []string{"/x"}},
		{"empty", "", "", "", []string{"/"}},
		{"params", "/env", "", "greet=matt&foo=bar", []string{"/env", "greet=matt", "foo=bar"}},
		{"duplicates kept in order", "/e", "", "a=1&a=2&a=1", []string{"/e", "a=1", "a=2", "a=1"}},
		{"empty items skipped", "/e", "", "&a=1&&b=&", []string{"/e", "a=1", "b="}},
		{"empty value kept", "/e", "", "a=", []string{"/e", "a="}},
		{"flag", "/e", "", "verbose", []string{"/e", "verbose"}},
		{"encoded stays raw", "/e", "", "q=a%20b+c&k%3D=v%26w", []string{"/e", "q=a%20b+c", "k%3D=v%26w"}},
		{"NUL removed", "/e", "", "a=\x00", []string{"/e", "a="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Args(&sandbox.Request{Route: tt.route, RawPath: tt.rawPath, RawQuery: tt.query})
			if !slices.Equal(got, tt.want) {
				t.Errorf("Args = %q, want %q", got, tt.want)
			}
		})
	}
	if got := Args(nil); !slices.Equal(got, []string{"/"}) {
		t.Errorf("Args(nil) = %q", got)
	}
}

func TestValidEnvName(t *testing.T) {
	for s, want := range map[string]bool{
		"A": true, "_": true, "a_1": true, "HTTP_X": true,
		"": false, "1A": false, "A-B": false, "A=B": false, "A B": false, "É": false,
	} {
		if got := ValidEnvName(s); got != want {
			t.Errorf("ValidEnvName(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestSplitHostPort(t *testing.T) {
	for in, want := range map[string][2]string{
		"a:1":        {"a", "1"},
		"a":          {"a", ""},
		"[::1]:80":   {"::1", "80"},
		"[::1]":      {"::1", ""},
		"::1":        {"::1", ""},
		"[::1":       {"[::1", ""},
		"":           {"", ""},
		"a:":         {"a", ""},
		"[fe80::1]x": {"fe80::1", ""},
	} {
		h, p := splitHostPort(in)
		if h != want[0] || p != want[1] {
			t.Errorf("splitHostPort(%q) = %q, %q; want %q, %q", in, h, p, want[0], want[1])
		}
	}
}

func FuzzEnv(f *testing.F) {
	f.Add("GET", "/hello", "/a%20b", "x=1&y=2", "1.2.3.4:5", "example.com", "User-Agent", "curl", "X_A", "v", "HTTP_X_A")
	f.Add("", "", "", "", "", "", "", "", "", "", "")
	f.Add("P\x00", "/\xff", "/%00", "&&", "[::1]:2", "[::1", "X-A", "a\x00", "x-a", "\xff", "SERVER_NAME")
	f.Fuzz(func(t *testing.T, method, route, rawPath, query, remote, host, h1, v1, h2, v2, svc string) {
		req := &sandbox.Request{
			Method: method, Route: route, RawPath: rawPath, RawQuery: query,
			RemoteAddr: remote, Host: host,
			Header: http.Header{h1: {v1}, h2: {v2, v1}},
			Body:   []byte(v2),
		}
		env := Env(req, map[string]string{svc: v1, "SVC": v2, h1: v2})
		envMap(t, env)
		for _, a := range Args(req) {
			if strings.IndexByte(a, 0) >= 0 || !utf8.ValidString(a) {
				t.Errorf("arg %q: NUL or invalid UTF-8", a)
			}
		}
	})
}

func BenchmarkEnv(b *testing.B) {
	req := &sandbox.Request{
		ID: "01J9Z8Q7X6W5V4T3S2R1", Method: "GET", Proto: "HTTP/1.1", Scheme: "http",
		Host: "localhost:8080", RemoteAddr: "127.0.0.1:53422", Route: "/hello",
		RawPath: "/world", RawQuery: "name=mote",
		Header: http.Header{
			"Accept":            {"text/html,application/xhtml+xml"},
			"Accept-Encoding":   {"gzip, deflate, br"},
			"Accept-Language":   {"en-US,en;q=0.9"},
			"Cache-Control":     {"no-cache"},
			"Cookie":            {"session=abc123"},
			"Referer":           {"http://localhost:8080/"},
			"User-Agent":        {"Mozilla/5.0 (X11; Linux x86_64)"},
			"X-Forwarded-For":   {"10.0.0.1"},
			"X-Forwarded-Proto": {"http"},
			"Authorization":     {"Bearer secret"},
		},
		ServerName: "localhost", ServerPort: "8080",
	}
	service := map[string]string{"GREETING": "hi", "MODE": "prod"}
	b.ReportAllocs()
	for b.Loop() {
		Env(req, service)
	}
}

func BenchmarkArgs(b *testing.B) {
	req := &sandbox.Request{Route: "/hello", RawPath: "/world", RawQuery: "name=mote&x=1"}
	b.ReportAllocs()
	for b.Loop() {
		Args(req)
	}
}
