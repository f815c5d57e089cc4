package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mote-run/mote/guest/guesttest"
)

func TestCounter(t *testing.T) {
	host := guesttest.Install(t, nil)
	h := http.HandlerFunc(serve)
	steps := []struct {
		method string
		status int
		body   string
	}{
		{"GET", 200, `{"count":0}`},
		{"POST", 200, `{"count":1}`},
		{"POST", 200, `{"count":2}`},
		{"GET", 200, `{"count":2}`},
		{"DELETE", 405, `{"error":{"code":"method_not_allowed","message":"GET reads the count, POST adds one"}}`},
	}
	for _, s := range steps {
		resp := guesttest.Do(t, h, "/counter-go", httptest.NewRequest(s.method, "/counter-go", nil))
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != s.status || string(body) != s.body+"\n" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %q, want %d %s", s.method, resp.StatusCode, body, s.status, s.body)
		}
	}
	if got := string(host.KV()[key]); got != "2" {
		t.Errorf("stored count %q, want 2", got)
	}

	host.SetKV(key, []byte("many"))
	resp := guesttest.Do(t, h, "/counter-go", httptest.NewRequest("POST", "/counter-go", nil))
	if resp.StatusCode != 500 {
		t.Errorf("a corrupt count: %d, want 500", resp.StatusCode)
	}
	if logs := host.Logs(); len(logs) != 1 {
		t.Errorf("logs = %q, want the failure logged", logs)
	}
}
