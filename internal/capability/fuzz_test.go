package capability

import (
	"net/url"
	"strings"
	"testing"

	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/internal/manifest"
)

// FuzzCallRequest checks that a call's url is either refused or becomes a
// path below the route and a query that a client could have sent.
func FuzzCallRequest(f *testing.F) {
	for _, s := range []string{"", "/", "/a/b?x=1", "?q", "/a%20b#f", "a", "//x", "/%zz", "/a b", "/\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := callRequest(t.Context(), &abi.Request{URL: raw})
		if err != nil {
			return
		}
		if r.RawPath != "" && !strings.HasPrefix(r.RawPath, "/") || strings.HasPrefix(r.RawPath, "//") {
			t.Fatalf("%q gave the path %q", raw, r.RawPath)
		}
		u, err := url.ParseRequestURI("/route" + r.RawPath + "?" + r.RawQuery)
		if err != nil {
			t.Fatalf("%q gave %q %q, which is no request URI: %v", raw, r.RawPath, r.RawQuery, err)
		}
		if u.Host != "" {
			t.Fatalf("%q reached host %q", raw, u.Host)
		}
	})
}

// FuzzFetchURL checks that a fetch goes only where [allow] http says: a
// URL is allowed exactly when its host (and port) is listed.
func FuzzFetchURL(f *testing.F) {
	for _, s := range []string{"http://a.example/x", "https://A.EXAMPLE:443/", "http://[::1]:80/", "http://a.example@b.example/", "ftp://a.example", "http://a.example:80"} {
		f.Add(s)
	}
	allow := manifest.Allow{HTTP: []string{"a.example", "[::1]:80"}}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := parseFetchURL(raw)
		if err != nil {
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" {
			t.Fatalf("accepted %q", raw)
		}
		h := New(Options{Service: "svc", Allow: allow})
		err = h.httpAllowed(t.Context(), u, "")
		host := strings.ToLower(u.Hostname())
		want := host == "a.example" || host == "::1" && (u.Port() == "80" || u.Port() == "" && u.Scheme == "http")
		if (err == nil) != want {
			t.Fatalf("%q (host %q port %q): allowed = %v, want %v", raw, host, u.Port(), err == nil, want)
		}
	})
}
