package cors

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		err  error
	}{
		{"minimal", Config{Origins: []string{"https://a.example"}}, nil},
		{"wildcard", Config{Origins: []string{"*"}}, nil},
		{"port and mixed case", Config{Origins: []string{"HTTP://LocalHost:8080"}}, nil},
		{"no origins", Config{}, ErrNoOrigins},
		{"wildcard with credentials", Config{Origins: []string{"*"}, Credentials: true}, ErrWildcardCredentials},
		{"path", Config{Origins: []string{"https://a.example/"}}, ErrOrigin},
		{"query", Config{Origins: []string{"https://a.example?x"}}, ErrOrigin},
		{"fragment", Config{Origins: []string{"https://a.example#x"}}, ErrOrigin},
		{"no scheme", Config{Origins: []string{"a.example"}}, ErrOrigin},
		{"user info", Config{Origins: []string{"https://u@a.example"}}, ErrOrigin},
		{"wildcard host", Config{Origins: []string{"https://*.a.example"}}, ErrOrigin},
		{"non-ASCII host", Config{Origins: []string{"https://bücher.example"}}, ErrOrigin},
		{"punycode host", Config{Origins: []string{"https://xn--bcher-kva.example"}}, nil},
		{"ipv6 host", Config{Origins: []string{"http://[::1]:8080"}}, nil},
		{"custom scheme", Config{Origins: []string{"chrome-extension://abcdef"}}, nil},
		{"bad scheme", Config{Origins: []string{"1http://a.example"}}, ErrOrigin},
		{"bad port", Config{Origins: []string{"https://a.example:99999"}}, ErrOrigin},
		{"null", Config{Origins: []string{"null"}}, ErrOrigin},
		{"empty origin", Config{Origins: []string{""}}, ErrOrigin},
		{"bad method", Config{Origins: []string{"*"}, Methods: []string{"GET POST"}}, ErrMethod},
		{"empty method", Config{Origins: []string{"*"}, Methods: []string{""}}, ErrMethod},
		{"bad header", Config{Origins: []string{"*"}, Headers: []string{"X Foo"}}, ErrHeader},
		{"bad expose", Config{Origins: []string{"*"}, Expose: []string{"X:Foo"}}, ErrHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.c)
			if tt.err == nil {
				if err != nil || p == nil {
					t.Fatalf("New = %v, %v", p, err)
				}
				return
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("New error = %v, want %v", err, tt.err)
			}
		})
	}
}

func mustNew(t *testing.T, c Config) *Policy {
	t.Helper()
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPreflight(t *testing.T) {
	shop := Config{
		Origins: []string{"https://shop.example.com", "http://localhost:8080"},
		Methods: []string{"GET", "put", "PURGE"},
		Headers: []string{"Content-Type", "x-request-id"},
		Expose:  []string{"X-Trace"},
		MaxAge:  10 * time.Minute,
	}
	tests := []struct {
		name   string
		c      Config
		method string            // request method, default OPTIONS
		hdr    map[string]string // request headers
		isPre  bool
		status int
		want   map[string]string // response headers ("" = absent)
		refuse string            // substring of the 403 message
	}{
		{name: "not options", c: shop, method: "GET",
			hdr: map[string]string{"Origin": "https://shop.example.com", "Access-Control-Request-Method": "PUT"}},
		{name: "options without origin", c: shop,
			hdr: map[string]string{"Access-Control-Request-Method": "PUT"}},
		{name: "options without request method", c: shop,
			hdr: map[string]string{"Origin": "https://shop.example.com"}},
		{name: "allowed", c: shop, isPre: true, status: 204,
			hdr: map[string]string{"Origin": "https://shop.example.com", "Access-Control-Request-Method": "PUT",
				"Access-Control-Request-Headers": "content-type,X-Request-ID"},
			want: map[string]string{
				"Access-Control-Allow-Origin":      "https://shop.example.com",
				"Access-Control-Allow-Methods":     "GET, PUT, PURGE",
				"Access-Control-Allow-Headers":     "Content-Type, X-Request-Id",
				"Access-Control-Max-Age":           "600",
				"Access-Control-Allow-Credentials": "",
				"Access-Control-Expose-Headers":    "",
				"Vary":                             "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
			}},
		{name: "origin case and default port", c: shop, isPre: true, status: 204,
			hdr: map[string]string{"Origin": "HTTPS://Shop.Example.com:443", "Access-Control-Request-Method": "GET"},
			want: map[string]string{"Access-Control-Allow-Origin": "HTTPS://Shop.Example.com:443",
				"Access-Control-Allow-Headers": ""}},
		{name: "non-default port must match", c: shop, isPre: true, status: 403, refuse: `origin "http://localhost:8081"`,
			hdr: map[string]string{"Origin": "http://localhost:8081", "Access-Control-Request-Method": "GET"}},
		{name: "scheme must match", c: shop, isPre: true, status: 403, refuse: "origin",
			hdr: map[string]string{"Origin": "http://shop.example.com", "Access-Control-Request-Method": "GET"}},
		{name: "null origin", c: shop, isPre: true, status: 403, refuse: `origin "null"`,
			hdr: map[string]string{"Origin": "null", "Access-Control-Request-Method": "GET"}},
		{name: "method refused", c: shop, isPre: true, status: 403, refuse: `method "DELETE" is not allowed (allowed: GET, PUT, PURGE)`,
			hdr: map[string]string{"Origin": "https://shop.example.com", "Access-Control-Request-Method": "DELETE"}},
		{name: "custom method is case-sensitive", c: shop, isPre: true, status: 403, refuse: `method "purge"`,
			hdr: map[string]string{"Origin": "https://shop.example.com", "Access-Control-Request-Method": "purge"}},
		{name: "standard method normalized", c: shop, isPre: true, status: 204,
			hdr: map[string]string{"Origin": "https://shop.example.com", "Access-Control-Request-Method": "put"}},
		{name: "safelisted method always allowed", c: shop, isPre: true, status: 204,
			hdr: map[string]string{"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"}},
		{name: "header refused", c: shop, isPre: true, status: 403, refuse: `request header "authorization" is not allowed`,
			hdr: map[string]string{"Origin": "https://shop.example.com", "Access-Control-Request-Method": "GET",
				"Access-Control-Request-Headers": "content-type, authorization"}},
		{name: "defaults", c: Config{Origins: []string{"https://a.example"}}, isPre: true, status: 204,
			hdr: map[string]string{"Origin": "https://a.example", "Access-Control-Request-Method": "HEAD"},
			want: map[string]string{"Access-Control-Allow-Methods": "GET, HEAD, POST", "Access-Control-Max-Age": "300",
				"Access-Control-Allow-Origin": "https://a.example"}},
		{name: "default headers refuse any", c: Config{Origins: []string{"https://a.example"}}, isPre: true, status: 403,
			refuse: `request header "content-type"`,
			hdr: map[string]string{"Origin": "https://a.example", "Access-Control-Request-Method": "POST",
				"Access-Control-Request-Headers": "Content-Type"}},
		{name: "wildcard origin", c: Config{Origins: []string{"*"}}, isPre: true, status: 204,
			hdr:  map[string]string{"Origin": "https://anything.example", "Access-Control-Request-Method": "GET"},
			want: map[string]string{"Access-Control-Allow-Origin": "*"}},
		{name: "credentials", c: Config{Origins: []string{"https://a.example"}, Credentials: true, MaxAge: -1}, isPre: true, status: 204,
			hdr: map[string]string{"Origin": "https://a.example", "Access-Control-Request-Method": "GET"},
			want: map[string]string{"Access-Control-Allow-Origin": "https://a.example",
				"Access-Control-Allow-Credentials": "true", "Access-Control-Max-Age": "0"}},
		{name: "wildcard methods and headers echo", c: Config{Origins: []string{"*"}, Methods: []string{"*"}, Headers: []string{"*"}},
			isPre: true, status: 204,
			hdr: map[string]string{"Origin": "https://a.example", "Access-Control-Request-Method": "DELETE",
				"Access-Control-Request-Headers": "Authorization, X-Foo"},
			want: map[string]string{"Access-Control-Allow-Methods": "DELETE", "Access-Control-Allow-Headers": "authorization, x-foo"}},
		{name: "wildcard headers still need tokens", c: Config{Origins: []string{"*"}, Headers: []string{"*"}},
			isPre: true, status: 403, refuse: "request header",
			hdr: map[string]string{"Origin": "https://a.example", "Access-Control-Request-Method": "GET",
				"Access-Control-Request-Headers": "x foo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, tt.c)
			method := tt.method
			if method == "" {
				method = http.MethodOptions
			}
			r := httptest.NewRequest(method, "/x", nil)
			for k, v := range tt.hdr {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			if got := p.Preflight(w, r); got != tt.isPre {
				t.Fatalf("Preflight = %v, want %v", got, tt.isPre)
			}
			if !tt.isPre {
				if w.Code != 200 || len(w.Header()) != 0 || w.Body.Len() != 0 || w.Flushed {
					t.Fatalf("not a preflight, but wrote %d %v %q", w.Code, w.Header(), w.Body)
				}
				return
			}
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d (body %s)", w.Code, tt.status, w.Body)
			}
			for k, v := range tt.want {
				if got := strings.Join(w.Header().Values(k), ", "); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if tt.status == 403 {
				for k := range w.Header() {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Errorf("refused preflight has %s", k)
					}
				}
				var body api.ErrorBody
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error == nil {
					t.Fatalf("body %q: %v", w.Body, err)
				}
				if body.Error.Code != api.CodeForbidden || !strings.Contains(body.Error.Message, tt.refuse) {
					t.Fatalf("error %+v, want forbidden mentioning %q", body.Error, tt.refuse)
				}
				if ct := w.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
			} else if w.Body.Len() != 0 {
				t.Errorf("204 with a body %q", w.Body)
			}
		})
	}
}

func TestApply(t *testing.T) {
	tests := []struct {
		name   string
		c      Config
		origin string
		want   map[string]string // "" = absent
	}{
		{name: "allowed", origin: "https://a.example",
			c: Config{Origins: []string{"https://a.example"}, Expose: []string{"x-trace", "X-Request-Id"}},
			want: map[string]string{"Access-Control-Allow-Origin": "https://a.example", "Vary": "Origin",
				"Access-Control-Expose-Headers": "X-Trace, X-Request-Id", "Access-Control-Allow-Credentials": ""}},
		{name: "credentials", origin: "https://a.example",
			c:    Config{Origins: []string{"https://a.example"}, Credentials: true},
			want: map[string]string{"Access-Control-Allow-Credentials": "true", "Access-Control-Expose-Headers": ""}},
		{name: "wildcard", origin: "https://b.example",
			c:    Config{Origins: []string{"*", "https://a.example"}, Expose: []string{"X-Trace"}},
			want: map[string]string{"Access-Control-Allow-Origin": "*", "Vary": "", "Access-Control-Expose-Headers": "X-Trace"}},
		{name: "refused origin adds only Vary", origin: "https://evil.example",
			c:    Config{Origins: []string{"https://a.example"}, Credentials: true, Expose: []string{"X-Trace"}},
			want: map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin", "Access-Control-Allow-Credentials": "", "Access-Control-Expose-Headers": ""}},
		{name: "no origin", c: Config{Origins: []string{"https://a.example"}},
			want: map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"}},
		{name: "no origin wildcard adds nothing", c: Config{Origins: []string{"*"}},
			want: map[string]string{"Access-Control-Allow-Origin": "", "Vary": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, tt.c)
			r := httptest.NewRequest("GET", "/", nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			h := http.Header{}
			p.Apply(h, r)
			for k, v := range tt.want {
				if got := strings.Join(h.Values(k), ", "); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestApplyKeepsVary(t *testing.T) {
	p := mustNew(t, Config{Origins: []string{"https://a.example"}})
	h := http.Header{"Vary": {"Accept-Encoding"}}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Origin", "https://a.example")
	p.Apply(h, r)
	if got := h.Values("Vary"); len(got) != 2 || got[0] != "Accept-Encoding" || got[1] != "Origin" {
		t.Fatalf("Vary = %q", got)
	}
}
