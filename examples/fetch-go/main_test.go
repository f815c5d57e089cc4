package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mote-run/mote/guest/guesttest"
)

func TestFetch(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "a,b\n1,2\n")
	}))
	defer upstream.Close()
	tests := []struct {
		name   string
		host   *guesttest.Host
		status int
		body   string
		ctype  string
	}{
		{"fetched", &guesttest.Host{Config: map[string]string{"UPSTREAM": upstream.URL + "/data"}, Fetch: http.DefaultTransport}, 202, "a,b\n1,2\n", "text/csv"},
		{"not set", &guesttest.Host{Fetch: http.DefaultTransport}, 503, "UPSTREAM is not set; Try: mote config set fetch-go", "application/json"},
		{"not a URL", &guesttest.Host{Config: map[string]string{"UPSTREAM": "http://a b/"}, Fetch: http.DefaultTransport}, 500, "UPSTREAM is not a URL", "application/json"},
		{"not allowed", &guesttest.Host{Config: map[string]string{"UPSTREAM": upstream.URL}}, 502, "http_fetch: denied: Host.Fetch is nil", "application/json"},
		{"unreachable", &guesttest.Host{Config: map[string]string{"UPSTREAM": "http://127.0.0.1:1/"}, Fetch: http.DefaultTransport}, 502, "http_fetch: failed", "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			guesttest.Install(t, tt.host)
			resp := guesttest.Do(t, http.HandlerFunc(serve), "/fetch-go", httptest.NewRequest("GET", "/fetch-go", nil))
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.body) || resp.Header.Get("Content-Type") != tt.ctype {
				t.Errorf("got %d %q %q, want %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.status, tt.ctype, tt.body)
			}
		})
	}
}
