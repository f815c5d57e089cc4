package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// split cuts a WAGI response into its header lines and body.
func split(t *testing.T, out []byte) (map[string]string, []byte) {
	t.Helper()
	head, body, ok := bytes.Cut(out, []byte("\n\n"))
	if !ok {
		t.Fatalf("no blank line after the headers in %q", out)
	}
	h := make(map[string]string)
	for _, line := range strings.Split(string(head), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("malformed header line %q", line)
		}
		h[k] = v
	}
	return h, body
}

func TestRespond(t *testing.T) {
	environ := []string{
		"REQUEST_METHOD=POST",
		"PATH_INFO=/a/b",
		"QUERY_STRING=x=1&x=2&y=%3Cz%3E",
		"CONTENT_TYPE=text/plain",
		"CONTENT_LENGTH=5",
		"HTTP_USER_AGENT=curl/8",
		"HTTP_X_CUSTOM_THING=v=1",
		"X_REQUEST_ID=req-1",
		"SERVER_NAME=localhost",
	}
	h, body := split(t, respond(environ, []byte("hello")))
	if h["Content-Type"] != "application/json" || h["X-Echo"] != "yes" {
		t.Errorf("headers = %v, want Content-Type application/json and X-Echo yes", h)
	}
	if _, ok := h["Status"]; ok {
		t.Errorf("Status set without ?status: %v", h)
	}
	var got reply
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	if got.Method != "POST" || got.Path != "/a/b" || got.RequestID != "req-1" || got.BodyBytes != 5 {
		t.Errorf("got %+v", got)
	}
	if got.Body == nil || *got.Body != "hello" {
		t.Errorf("body = %v, want hello", got.Body)
	}
	if q := got.Query; len(q["x"]) != 2 || q["x"][1] != "2" || q["y"][0] != "<z>" {
		t.Errorf("query = %v", q)
	}
	want := map[string]string{
		"User-Agent": "curl/8", "X-Custom-Thing": "v=1",
		"Content-Type": "text/plain", "Content-Length": "5",
	}
	if len(got.Headers) != len(want) {
		t.Errorf("headers = %v, want %v", got.Headers, want)
	}
	for k, v := range want {
		if got.Headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, got.Headers[k], v)
		}
	}
	if !bytes.Contains(body, []byte(`"<z>"`)) {
		t.Errorf("HTML characters escaped in %s", body)
	}
}

func TestRespondStatus(t *testing.T) {
	tests := []struct {
		query, status string
	}{
		{"", ""},
		{"status=201", "201"},
		{"status=599", "599"},
		{"status=404&status=500", "404"},
		{"status=99", "400"},
		{"status=600", "400"},
		{"status=abc", "400"},
		{"status=%zz", ""}, // malformed query: the parameter is dropped
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			h, body := split(t, respond([]string{"QUERY_STRING=" + tt.query}, nil))
			if h["Status"] != tt.status {
				t.Errorf("Status = %q, want %q", h["Status"], tt.status)
			}
			if h["X-Echo"] != "yes" {
				t.Errorf("X-Echo = %q, want yes", h["X-Echo"])
			}
			if !json.Valid(body) {
				t.Errorf("body is not JSON: %s", body)
			}
		})
	}
}

func TestRespondBinaryBody(t *testing.T) {
	_, body := split(t, respond(nil, []byte{0xff, 0xfe, 0}))
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["body"]; ok {
		t.Errorf("non-UTF-8 body echoed: %s", body)
	}
	if got["body_bytes"] != 3.0 {
		t.Errorf("body_bytes = %v, want 3", got["body_bytes"])
	}
	_, body = split(t, respond(nil, nil))
	if !bytes.Contains(body, []byte(`"body": ""`)) {
		t.Errorf("empty body not echoed as \"\": %s", body)
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"USER_AGENT": "User-Agent", "X_REQUEST_ID": "X-Request-Id", "ACCEPT": "Accept",
		"": "", "_A": "-A", "A__B": "A--B", "X1_2Y": "X1-2y",
	} {
		if got := canonical(in); got != want {
			t.Errorf("canonical(%q) = %q, want %q", in, got, want)
		}
	}
}
