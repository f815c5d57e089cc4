package conform

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func do(t *testing.T, method, target string, body []byte, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, req)
	return w
}

func TestEcho(t *testing.T) {
	body := []byte("a\x00b\xffc")
	w := do(t, "PURGE", "/svc/a%20b/c%2Fd?x=1&x=2&y=%20", body, http.Header{"X-Multi": {"a", "b"}})
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("echo: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	var e Echo
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	want := Echo{Method: "PURGE", Path: "/svc/a b/c/d", RawPath: "/svc/a%20b/c%2Fd", Query: "x=1&x=2&y=%20", Host: "example.com", Body: body}
	if e.Method != want.Method || e.Path != want.Path || e.RawPath != want.RawPath || e.Query != want.Query || e.Host != want.Host || !bytes.Equal(e.Body, want.Body) {
		t.Errorf("echo = %+v, want %+v", e, want)
	}
	if !slices.Equal(e.Header["X-Multi"], []string{"a", "b"}) {
		t.Errorf("header X-Multi = %q", e.Header["X-Multi"])
	}
}

func TestCommands(t *testing.T) {
	t.Setenv("CONFORM_TEST_VAR", "v=1")
	tests := []struct {
		name, target string
		status       int
		body         string
		header       http.Header
	}{
		{"status", "/svc/status/418", 418, "status 418\n", nil},
		{"status without body", "/status/204", 204, "", nil},
		{"status with headers", "/x/status/302?Location=/there", 302, "status 302\n", http.Header{"Location": {"/there"}}},
		{"status out of range", "/status/99", 400, "", nil},
		{"status not a number", "/status/abc", 400, "", nil},
		{"header", "/svc/header?X-A=1&X-A=2&Set-Cookie=a%3D1", 200, "ok\n", http.Header{"X-A": {"1", "2"}, "Set-Cookie": {"a=1"}}},
		{"big", "/big?n=5", 200, "\x00\x01\x02\x03\x04", http.Header{"Content-Type": {"application/octet-stream"}}},
		{"big zero", "/big?n=0", 200, "", nil},
		{"big negative", "/big?n=-1", 400, "", nil},
		{"big too large", "/big?n=999999999999", 400, "", nil},
		{"sleep", "/svc/sleep?ms=1", 200, "slept 1\n", nil},
		{"sleep bad", "/sleep?ms=x", 400, "", nil},
		{"env set", "/env?k=CONFORM_TEST_VAR", 200, "v=1", nil},
		{"env unset", "/env?k=CONFORM_TEST_NOT_SET", 404, "unset\n", nil},
		{"stderr", "/stderr?line=hello", 200, "ok\n", nil},
		{"a command's name inside the path echoes", "/status/x/y", 200, "", http.Header{"Content-Type": {"application/json"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, "GET", tc.target, nil, nil)
			if w.Code != tc.status {
				t.Fatalf("%s: status %d (%q), want %d", tc.target, w.Code, w.Body.String(), tc.status)
			}
			if tc.body != "" || tc.status == 204 {
				if got := w.Body.String(); got != tc.body {
					t.Errorf("%s: body %q, want %q", tc.target, got, tc.body)
				}
			}
			for k, v := range tc.header {
				if got := w.Header()[k]; !slices.Equal(got, v) {
					t.Errorf("%s: header %s = %q, want %q", tc.target, k, got, v)
				}
			}
		})
	}
}

func TestPattern(t *testing.T) {
	p := Pattern(600)
	if p[0] != 0 || p[250] != 250 || p[251] != 0 || p[599] != byte(599%251) {
		t.Errorf("Pattern: %v…", p[:8])
	}
	if len(Pattern(0)) != 0 {
		t.Error("Pattern(0) is not empty")
	}
}

// TestSleepSleeps checks /sleep waits as long as asked.
func TestSleepSleeps(t *testing.T) {
	began := time.Now()
	do(t, "GET", "/sleep?ms=30", nil, nil)
	if took := time.Since(began); took < 30*time.Millisecond {
		t.Errorf("/sleep?ms=30 returned after %s", took)
	}
}

// TestStderrAndPanic runs /stderr and /panic in a child process (this test
// binary, re-run): /panic must end it with ExitCode and no answer.
func TestStderrAndPanic(t *testing.T) {
	if target := os.Getenv("CONFORM_CHILD"); target != "" {
		w := httptest.NewRecorder()
		Handler().ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		os.Stdout.WriteString("answered " + w.Body.String())
		os.Exit(0)
	}
	tests := []struct {
		target, stdout, stderr string
		code                   int
	}{
		{"/svc/stderr?line=one&line=two+words", "answered ok\n", "one\ntwo words\n", 0},
		{"/svc/panic", "", "", ExitCode},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestStderrAndPanic$")
			cmd.Env = append(os.Environ(), "CONFORM_CHILD="+tc.target)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			code := 0
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || stdout.String() != tc.stdout || stderr.String() != tc.stderr {
				t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.target, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}
