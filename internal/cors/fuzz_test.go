package cors

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzOrigin checks that New never panics on an origin, and that an origin
// it accepts is then allowed when a browser sends it back.
func FuzzOrigin(f *testing.F) {
	for _, s := range []string{"https://a.example", "HTTP://LocalHost:8080", "https://a.example:443", "*", "null",
		"https://a.example/", "https://[::1]:8443", "https://u@a", "a.example", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, origin string) {
		p, err := New(Config{Origins: []string{origin}, Methods: []string{origin}, Headers: []string{origin}})
		if err != nil {
			p, err = New(Config{Origins: []string{origin}})
			if err != nil {
				return
			}
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Origin"] = []string{origin}
		h := http.Header{}
		p.Apply(h, r)
		if origin != "*" && h.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("accepted origin %q not allowed back: %v", origin, h)
		}
	})
}
