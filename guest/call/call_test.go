package call_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mote-run/mote/guest"
	"github.com/mote-run/mote/guest/call"
	"github.com/mote-run/mote/guest/guesttest"
)

func TestCall(t *testing.T) {
	if _, err := call.Get("users", "/"); !errors.Is(err, guest.ErrNotInGuest) {
		t.Errorf("outside a guest: %v, want ErrNotInGuest", err)
	}
	var loop http.HandlerFunc
	loop = func(w http.ResponseWriter, r *http.Request) {
		resp, err := call.Get("loop", "/")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}
	guesttest.Install(t, &guesttest.Host{Services: map[string]http.Handler{
		"users": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Route", guest.Route(r))
			w.WriteHeader(201)
			fmt.Fprintf(w, "%s %s q=%s ct=%s body=%s", r.Method, r.URL.Path, r.URL.Query().Get("q"), r.Header.Get("Content-Type"), body)
		}),
		"loop": loop,
	}})
	tests := []struct {
		name string
		send func() (*http.Response, error)
		want string
	}{
		{"Get", func() (*http.Response, error) { return call.Get("users", "/42?q=a%20b") }, "GET /42 q=a b ct= body="},
		{"Get without a slash", func() (*http.Response, error) { return call.Get("users", "42") }, "GET /42 q= ct= body="},
		{"Post", func() (*http.Response, error) {
			return call.Post("users", "/", "text/plain", strings.NewReader("hi"))
		}, "POST / q= ct=text/plain body=hi"},
		{"Do ignores the URL's host", func() (*http.Response, error) {
			req, _ := http.NewRequest("DELETE", "http://elsewhere.example/7", nil)
			return call.Do("users", req)
		}, "DELETE /7 q= ct= body="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.send()
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 201 || string(body) != tt.want || resp.Header.Get("X-Route") != "" {
				t.Errorf("got %d %q route %q, want 201 %q", resp.StatusCode, body, resp.Header.Get("X-Route"), tt.want)
			}
		})
	}

	if _, err := call.Get("nobody", "/"); !errors.Is(err, guest.ErrNotFound) || !strings.HasPrefix(err.Error(), `call "nobody": not found`) {
		t.Errorf("an unknown service: %v, want ErrNotFound", err)
	}
	resp, err := call.Get("loop", "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "call depth limit") {
		t.Errorf("a call loop: %d %q, want 502 and the depth error", resp.StatusCode, body)
	}
}
