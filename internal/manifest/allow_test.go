package manifest

import (
	"net/url"
	"testing"
)

func TestAllows(t *testing.T) {
	a := Allow{HTTP: []string{"api.example.com", "127.0.0.1:8090", "[::1]:443", "[fe80::1]"}, Call: []string{"users"}}
	for _, tc := range []struct {
		host, port string
		want       bool
	}{
		{"api.example.com", "443", true},
		{"api.example.com", "8080", true},
		{"example.com", "443", false},
		{"x.api.example.com", "443", false},
		{"127.0.0.1", "8090", true},
		{"127.0.0.1", "80", false},
		{"::1", "443", true},
		{"::1", "80", false},
		{"fe80::1", "1234", true},
		{"[::1]", "443", false},
	} {
		if got := a.AllowsHTTP(tc.host, tc.port); got != tc.want {
			t.Errorf("AllowsHTTP(%q, %q) = %v, want %v", tc.host, tc.port, got, tc.want)
		}
	}
	if !a.AllowsCall("users") || a.AllowsCall("billing") || a.AllowsCall("*") {
		t.Errorf("AllowsCall with [users] wrong")
	}
	if any := (Allow{Call: []string{"*"}}); !any.AllowsCall("billing") {
		t.Errorf(`AllowsCall with ["*"] denied billing`)
	}
	var none Allow
	if none.AllowsHTTP("api.example.com", "443") || none.AllowsCall("users") {
		t.Error("the zero Allow grants something")
	}
}

func TestSplitHostPort(t *testing.T) {
	for _, tc := range []struct{ in, host, port string }{
		{"a.com", "a.com", ""},
		{"a.com:80", "a.com", "80"},
		{"[::1]", "::1", ""},
		{"[::1]:8080", "::1", "8080"},
		{"::1", "::1", ""},
		{"[::1", "[::1", ""},
	} {
		if h, p := SplitHostPort(tc.in); h != tc.host || p != tc.port {
			t.Errorf("SplitHostPort(%q) = %q, %q; want %q, %q", tc.in, h, p, tc.host, tc.port)
		}
	}
}

// FuzzAllowHost checks that every [allow] http entry Parse accepts means
// what a URL with that host means to net/url, which the fetch capability
// matches against.
func FuzzAllowHost(f *testing.F) {
	for _, s := range []string{"api.example.com", "a.com:8443", "[::1]:80", "[::1]", "::1", "A.com", "a.com:0", "*", "a/b", "[1.2.3.4]", "a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		if checkAllowHost(entry) != "" {
			return
		}
		host, port := SplitHostPort(entry)
		u, err := url.Parse("http://" + entry + "/")
		if err != nil {
			t.Fatalf("accepted %q, which is no URL host: %v", entry, err)
		}
		if u.Hostname() != host || u.Port() != port {
			t.Fatalf("accepted %q: SplitHostPort says %q %q, net/url %q %q", entry, host, port, u.Hostname(), u.Port())
		}
		if !(Allow{HTTP: []string{entry}}).AllowsHTTP(u.Hostname(), "1") && port == "" {
			t.Fatalf("%q without a port does not allow every port", entry)
		}
	})
}
