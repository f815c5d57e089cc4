package wasm

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
)

var guestWasm = mustRead("testdata/guest.wasm")

func mustRead(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return b
}

// logRecorder collects log entries.
type logRecorder struct {
	mu      sync.Mutex
	entries []api.LogEntry
}

func (l *logRecorder) Log(e api.LogEntry) {
	l.mu.Lock()
	l.entries = append(l.entries, e)
	l.mu.Unlock()
}

func (l *logRecorder) all() []api.LogEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]api.LogEntry(nil), l.entries...)
}

func newDriver(t testing.TB) *Driver {
	t.Helper()
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

// load returns a runner for the guest; edit adjusts the spec.
func load(t testing.TB, d *Driver, edit func(*sandbox.Spec)) sandbox.Runner {
	t.Helper()
	spec := sandbox.Spec{
		Service: "guest", Version: 1, ABI: api.ABIWAGI, Digest: "sha256:guest",
		Module: guestWasm, MemoryLimit: 64 << 20, Timeout: 5 * time.Second,
	}
	if edit != nil {
		edit(&spec)
	}
	r, err := d.Load(t.Context(), spec)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

func request(path, query string) *sandbox.Request {
	return &sandbox.Request{
		ID: "req-1", Method: "GET", Proto: "HTTP/1.1", Scheme: "http", Host: "example.com:8080",
		RemoteAddr: "192.0.2.7:5555", Route: "/svc", RawPath: path, RawQuery: query,
		Header: http.Header{}, ServerName: "example.com", ServerPort: "8080",
	}
}

func TestWAGIEnvironment(t *testing.T) {
	d := newDriver(t)
	r := load(t, d, func(s *sandbox.Spec) { s.Env = map[string]string{"GREETING": "hi", "REQUEST_METHOD": "shadowed"} })
	req := request("/env", "a=1&b=two%20words")
	req.Method = "POST"
	req.Header.Set("X-Custom", "yes")
	req.Header.Set("Authorization", "Bearer secret")
	req.Header.Set("Connection", "keep-alive")
	req.Header.Set("Content-Type", "text/plain")
	req.Body = []byte("the body")
	resp, err := r.Serve(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	out := string(resp.Body)
	want := map[string]string{
		"REQUEST_METHOD":    "POST",
		"SCRIPT_NAME":       "/svc",
		"PATH_INFO":         "/env",
		"PATH_TRANSLATED":   "/env",
		"QUERY_STRING":      "a=1&b=two%20words",
		"CONTENT_LENGTH":    "8",
		"CONTENT_TYPE":      "text/plain",
		"SERVER_NAME":       "example.com",
		"SERVER_PORT":       "8080",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"GATEWAY_INTERFACE": "CGI/1.1",
		"REMOTE_ADDR":       "192.0.2.7",
		"HTTP_X_CUSTOM":     "yes",
		"X_MATCHED_ROUTE":   "/svc/...",
		"X_RAW_PATH_INFO":   "/env",
		"X_FULL_URL":        "http://example.com:8080/svc/env?a=1&b=two%20words",
		"X_REQUEST_ID":      "req-1",
		"GREETING":          "hi",
	}
	for k, v := range want {
		t.Run(k, func(t *testing.T) {
			if !strings.Contains(out, "\n"+k+"="+v+"\n") && !strings.HasPrefix(out, k+"="+v+"\n") {
				t.Errorf("no %s=%s in:\n%s", k, v, out)
			}
		})
	}
	for _, absent := range []string{"HTTP_AUTHORIZATION=", "HTTP_CONNECTION=", "REQUEST_METHOD=shadowed", "PATH=", "HOME="} {
		if strings.Contains(out, absent) {
			t.Errorf("the guest saw %q:\n%s", absent, out)
		}
	}
	if !strings.Contains(out, "stdin=the body") {
		t.Errorf("no body on stdin:\n%s", out)
	}
}

func TestWAGIArgv(t *testing.T) {
	r := load(t, newDriver(t), nil)
	resp, err := r.Serve(t.Context(), request("/argv", "x=1&y=two"))
	if err != nil {
		t.Fatal(err)
	}
	out := string(resp.Body)
	for _, want := range []string{"argv[0]=/svc/argv", "argv[1]=x=1", "argv[2]=y=two"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

func TestWAGIResponses(t *testing.T) {
	r := load(t, newDriver(t), nil)
	tests := []struct {
		path       string
		status     int
		header     map[string][]string
		bodyPrefix string
	}{
		{path: "/status/404", status: 404},
		{path: "/status/201", status: 201},
		{path: "/location", status: 302, header: map[string][]string{"Location": {"http://example.com/x"}}},
		{path: "/headers", status: 200, header: map[string][]string{"X-One": {"1"}, "Set-Cookie": {"a=1", "b=2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := r.Serve(t.Context(), request(tt.path, ""))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.status {
				t.Errorf("status = %d, want %d", resp.Status, tt.status)
			}
			for k, v := range tt.header {
				if got := resp.Header.Values(k); strings.Join(got, "|") != strings.Join(v, "|") {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestWAGIEchoIsByteExact(t *testing.T) {
	r := load(t, newDriver(t), nil)
	body := make([]byte, 300<<10)
	for i := range body {
		body[i] = byte(i * 7)
	}
	req := request("/echo", "")
	req.Method = "PUT"
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Body = body
	resp, err := r.Serve(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp.Body, body) {
		t.Fatalf("echo changed the body: got %d bytes, want %d", len(resp.Body), len(body))
	}
}

func TestWAGIFailures(t *testing.T) {
	d := newDriver(t)
	r := load(t, d, func(s *sandbox.Spec) {
		s.Timeout = 300 * time.Millisecond
		s.MaxOutput = 1 << 20
		s.MemoryLimit = 16 << 20
	})
	tests := []struct {
		path, query string
		class       error
		kind        string
		exitCode    uint32
		detail      string
	}{
		{path: "/nohdr", class: sandbox.ErrGuestFailed, kind: "output"},
		{path: "/empty", class: sandbox.ErrGuestFailed, kind: "output", detail: "nothing"},
		{path: "/exit3", class: sandbox.ErrGuestFailed, kind: "exit", exitCode: 3},
		{path: "/trap", class: sandbox.ErrGuestFailed, kind: "trap", detail: "unreachable"},
		{path: "/flood", class: sandbox.ErrGuestFailed, kind: "output", detail: "larger than 1048576 bytes ([limits] response)"},
		{path: "/bighdr", class: sandbox.ErrGuestFailed, kind: "output"},
		{path: "/loop", class: sandbox.ErrTimeout},
		{path: "/sleep", class: sandbox.ErrTimeout},
		// One sleep far past the timeout ends at the timeout.
		{path: "/nap", query: "20000", class: sandbox.ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			start := time.Now()
			_, err := r.Serve(t.Context(), request(tt.path, tt.query))
			if !errors.Is(err, tt.class) {
				t.Fatalf("err = %v, want %v", err, tt.class)
			}
			if tt.class == sandbox.ErrTimeout && time.Since(start) > 3*time.Second {
				t.Errorf("the timeout took %s to fire", time.Since(start))
			}
			if tt.kind == "" {
				return
			}
			var ge *sandbox.GuestError
			if !errors.As(err, &ge) {
				t.Fatalf("err = %T, want *sandbox.GuestError", err)
			}
			if ge.Kind != tt.kind || ge.ExitCode != tt.exitCode {
				t.Errorf("kind, exit = %s, %d; want %s, %d", ge.Kind, ge.ExitCode, tt.kind, tt.exitCode)
			}
			if !strings.Contains(ge.Detail, tt.detail) {
				t.Errorf("detail %q does not mention %q", ge.Detail, tt.detail)
			}
		})
	}
	// After every failure, the next request is served normally.
	if _, err := r.Serve(t.Context(), request("/status/200", "")); err != nil {
		t.Fatalf("after failures: %v", err)
	}
}

func TestWAGIStackOverflowIsATrap(t *testing.T) {
	r := load(t, newDriver(t), func(s *sandbox.Spec) { s.Timeout = 30 * time.Second })
	_, err := r.Serve(t.Context(), request("/recurse", ""))
	var ge *sandbox.GuestError
	if !errors.As(err, &ge) || ge.Kind != "trap" || !strings.Contains(ge.Detail, "stack") {
		t.Fatalf("err = %v, want a stack overflow trap", err)
	}
}

func TestWAGIMemoryLimit(t *testing.T) {
	for _, limit := range []uint64{8 << 20, 32 << 20} {
		t.Run(strconv.FormatUint(limit>>20, 10)+"MiB", func(t *testing.T) {
			r := load(t, newDriver(t), func(s *sandbox.Spec) { s.MemoryLimit = limit })
			resp, err := r.Serve(t.Context(), request("/grow", ""))
			if err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile(`grew (\d+) MiB`).FindStringSubmatch(string(resp.Body))
			if m == nil {
				t.Fatalf("body = %q", resp.Body)
			}
			got, _ := strconv.ParseUint(m[1], 10, 64)
			if got >= limit>>20 || got < limit>>20-3 {
				t.Errorf("the guest got %d MiB under a %d MiB limit", got, limit>>20)
			}
		})
	}
}

func TestWAGIStderrGoesToLogs(t *testing.T) {
	var logs logRecorder
	r := load(t, newDriver(t), func(s *sandbox.Spec) { s.Logs = &logs })
	req := request("/stderr", "")
	req.ID = "abc123"
	if _, err := r.Serve(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	entries := logs.all()
	if len(entries) != 3 {
		t.Fatalf("got %d log entries, want 3: %+v", len(entries), entries)
	}
	for _, e := range entries {
		if e.RequestID != "abc123" || e.Stream != api.StreamStderr || e.Service != "guest" || e.Version != 1 || e.Message == "" {
			t.Errorf("entry %+v", e)
		}
	}
}

func TestWAGIFilesAreJailedAndReadOnly(t *testing.T) {
	files := fstest.MapFS{"data/hello.txt": {Data: []byte("package file")}}
	withFiles := load(t, newDriver(t), func(s *sandbox.Spec) { s.Files = files })
	noFiles := load(t, newDriver(t), nil)
	tests := []struct {
		r          sandbox.Runner
		path, q    string
		want       string
		wantAbsent string
	}{
		{withFiles, "/cat", "/data/hello.txt", "package file", ""},
		{withFiles, "/cat", "data/hello.txt", "package file", ""},
		{withFiles, "/cat", "/etc/passwd", "ERR", "root:"},
		{withFiles, "/cat", "../../../../etc/passwd", "ERR", "root:"},
		{withFiles, "/cat", "/data/../../etc/hostname", "ERR", ""},
		{withFiles, "/cat", "/proc/self/environ", "ERR", ""},
		{withFiles, "/ls", "/", "data", "etc"},
		{withFiles, "/write", "/data/new.txt", "ERR", "OK"},
		{noFiles, "/cat", "/etc/passwd", "ERR", "root:"},
		{noFiles, "/ls", "/", "ERR", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path+"?"+tt.q, func(t *testing.T) {
			resp, err := tt.r.Serve(t.Context(), request(tt.path, tt.q))
			if err != nil {
				t.Fatal(err)
			}
			out := string(resp.Body)
			if !strings.Contains(out, tt.want) || (tt.wantAbsent != "" && strings.Contains(out, tt.wantAbsent)) {
				t.Errorf("got %q, want %q and not %q", out, tt.want, tt.wantAbsent)
			}
		})
	}
}

func TestWAGIRealClockAndRandom(t *testing.T) {
	r := load(t, newDriver(t), nil)
	get := func() (int64, string) {
		resp, err := r.Serve(t.Context(), request("/time", ""))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`time=(\d+)\nmonotonic=\d+\nrandom=([0-9a-f]{32})`).FindStringSubmatch(string(resp.Body))
		if m == nil {
			t.Fatalf("body = %q", resp.Body)
		}
		sec, _ := strconv.ParseInt(m[1], 10, 64)
		return sec, m[2]
	}
	sec, rnd1 := get()
	if d := time.Since(time.Unix(sec, 0)); d < -time.Minute || d > time.Minute {
		t.Errorf("guest time is %s off the host's", d)
	}
	if _, rnd2 := get(); rnd1 == rnd2 {
		t.Errorf("two requests got the same random bytes %s", rnd1)
	}
}

func TestLoadRefusesBadModules(t *testing.T) {
	d := newDriver(t)
	tests := []struct {
		file  string
		limit uint64
		want  []string
	}{
		{"testdata/garbage.wasm", 64 << 20, []string{"not a WebAssembly module"}},
		{"testdata/noentry.wasm", 64 << 20, []string{"no _start"}},
		{"testdata/unknownimport.wasm", 64 << 20, []string{"env.mystery_fn", "wasi_snapshot_preview1.not_a_wasi_call"}},
		{"testdata/bigmem.wasm", 16 << 20, []string{"[limits] memory"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			_, err := d.Load(t.Context(), sandbox.Spec{Service: "x", ABI: api.ABIWAGI, Digest: tt.file, Module: mustRead(tt.file), MemoryLimit: tt.limit})
			if !errors.Is(err, sandbox.ErrInvalidModule) {
				t.Fatalf("err = %v, want ErrInvalidModule", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestCapacityAndQueue(t *testing.T) {
	r := load(t, newDriver(t), func(s *sandbox.Spec) {
		s.MaxInstances, s.MaxQueue, s.Timeout = 1, 1, 400*time.Millisecond
	})
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Go(func() {
			_, err := r.Serve(t.Context(), request("/sleep", ""))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	var timeouts, full int
	for err := range errs {
		switch {
		case errors.Is(err, sandbox.ErrTimeout):
			timeouts++
		case errors.Is(err, sandbox.ErrNoCapacity):
			full++
		default:
			t.Errorf("unexpected %v", err)
		}
	}
	// One runs (and times out), one waits, one finds the queue full; the
	// waiter then either runs or gives up waiting.
	if timeouts < 1 || full < 1 {
		t.Errorf("timeouts=%d full=%d", timeouts, full)
	}
}

func TestCloseDrainsInFlight(t *testing.T) {
	d := newDriver(t)
	r := load(t, d, func(s *sandbox.Spec) { s.Timeout = time.Second })
	done := make(chan error, 1)
	go func() {
		_, err := r.Serve(context.Background(), request("/sleep", ""))
		done <- err
	}()
	deadline := time.Now().Add(2 * time.Second)
	for len(r.Instances()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := len(r.Instances()); n != 1 {
		t.Fatalf("instances = %d, want 1 in flight", n)
	}
	start := time.Now()
	if err := r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The request sleeps until its 1 s timeout; Close must have waited for
	// most of it rather than cutting it short.
	if waited := time.Since(start); waited < 500*time.Millisecond {
		t.Errorf("Close returned after %s, before the in-flight request finished", waited)
	}
	select {
	case err := <-done:
		if !errors.Is(err, sandbox.ErrTimeout) {
			t.Errorf("in-flight request: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the in-flight request never finished")
	}
	if _, err := r.Serve(t.Context(), request("/status/200", "")); !errors.Is(err, sandbox.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

func TestCompilationCacheOnDisk(t *testing.T) {
	dir := t.TempDir()
	d, err := New(Options{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Load(t.Context(), sandbox.Spec{ABI: api.ABIWAGI, Digest: "sha256:g", Module: guestWasm, MemoryLimit: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Close(t.Context())
	_ = d.Close(t.Context())
	var n int
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, _ error) error {
		if info != nil && !info.IsDir() {
			n++
		}
		return nil
	})
	if n == 0 {
		t.Fatal("no compiled code was written to the cache dir")
	}
}

func TestConcurrentRequestsUnderRace(t *testing.T) {
	r := load(t, newDriver(t), func(s *sandbox.Spec) { s.MaxInstances = 4 })
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			req := request("/echo", "")
			req.Body = []byte(strconv.Itoa(i))
			resp, err := r.Serve(t.Context(), req)
			if err != nil {
				t.Error(err)
				return
			}
			if string(resp.Body) != strconv.Itoa(i) {
				t.Errorf("request %d got %q", i, resp.Body)
			}
		})
	}
	wg.Wait()
}

// BenchmarkWAGIServe is the sandbox's share of a request: a fresh instance
// of the hello module per iteration through the runner (env and argv built,
// limits, stdout capped and parsed), without HTTP. Compare with
// BenchmarkRawWazeroHello in internal/node (plain wazero) and
// BenchmarkGatewayWAGIHello (the whole path).
func BenchmarkWAGIServe(b *testing.B) {
	d := newDriver(b)
	r := load(b, d, func(s *sandbox.Spec) {
		s.Module, s.Digest, s.MemoryLimit = mustRead("../../../examples/hello-c/hello.wasm"), "sha256:hello", 16<<20
	})
	req := request("/bench", "")
	req.Header = http.Header{"User-Agent": {"Go-http-client/1.1"}, "Accept-Encoding": {"gzip"}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := r.Serve(context.Background(), req)
			if err != nil || resp.Status != 200 {
				b.Errorf("%v %v", resp, err)
				return
			}
		}
	})
}

// TestRunSleepEndsWithContext: Run's command sleeping far past ctx's
// deadline (one poll_oneoff) returns when ctx is done, not when it wakes.
func TestRunSleepEndsWithContext(t *testing.T) {
	d := newDriver(t)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	code, err := d.Run(ctx, guestWasm, RunOptions{Env: []string{"PATH_INFO=/nap", "QUERY_STRING=20000"}})
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Run returned after %s: the sleep was not ended by the context", took)
	}
	if code != 130 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run = %d, %v; want 130, context.DeadlineExceeded", code, err)
	}
}
