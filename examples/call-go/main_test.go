package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mote-run/mote/guest/guesttest"
)

func TestCall(t *testing.T) {
	count := 0
	counter := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			count++
		}
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"count\":%d}\n", count)
	})
	tests := []struct {
		name     string
		services map[string]http.Handler
		method   string
		status   int
		body     string
	}{
		{"get", map[string]http.Handler{callee: counter}, "GET", 200, `{"service":"counter-go","status":200,"body":{"count":0}}`},
		{"post", map[string]http.Handler{callee: counter}, "POST", 200, `{"service":"counter-go","status":200,"body":{"count":1}}`},
		{"get after post", map[string]http.Handler{callee: counter}, "GET", 200, `{"service":"counter-go","status":200,"body":{"count":1}}`},
		{"not JSON", map[string]http.Handler{callee: http.NotFoundHandler()}, "GET", 200, `{"service":"counter-go","status":404,"body":"404 page not found\n"}`},
		{"not deployed", nil, "GET", 502, `"code":"call_failed","message":"call \"counter-go\": not found: no such service in Host.Services; Try: mote deploy examples/counter-go"`},
		{"method", nil, "PUT", 405, `"code":"method_not_allowed"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			guesttest.Install(t, &guesttest.Host{Services: tt.services})
			resp := guesttest.Do(t, http.HandlerFunc(serve), "/call-go", httptest.NewRequest(tt.method, "/call-go", nil))
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.body) {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, body, tt.status, tt.body)
			}
		})
	}
}
