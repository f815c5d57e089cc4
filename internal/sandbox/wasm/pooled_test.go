package wasm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/wagi"
)

var pooledWasm = mustRead("testdata/pooled.wasm")

// fakeHost is a sandbox.Host whose answers depend on the key (or service
// name): "missing", "denied", "big", "bad", "slow", "deep", "boom" and
// "panic" fail with the matching class; anything else succeeds. It records
// every call.
type fakeHost struct {
	mu    sync.Mutex
	calls []string
}

func (h *fakeHost) record(ctx context.Context, format string, args ...any) error {
	id := "-"
	if r := sandbox.RequestFrom(ctx); r != nil {
		id = r.ID
	}
	call := fmt.Sprintf(format, args...)
	h.mu.Lock()
	h.calls = append(h.calls, call+" req="+id)
	h.mu.Unlock()
	_, rest, _ := strings.Cut(call, " ")
	key, _, _ := strings.Cut(rest, " ")
	switch key {
	case "missing":
		return fmt.Errorf("%w: no key %q", sandbox.ErrNotFound, key)
	case "denied":
		return fmt.Errorf("%w: the manifest does not allow this", sandbox.ErrDenied)
	case "big":
		return fmt.Errorf("%w: over the limit", sandbox.ErrTooLarge)
	case "bad":
		return fmt.Errorf("%w: bad argument", sandbox.ErrInvalid)
	case "slow":
		return fmt.Errorf("%w: the call took too long", sandbox.ErrTimeout)
	case "deep":
		return fmt.Errorf("%w: 8 calls deep", sandbox.ErrDepth)
	case "boom":
		return errors.New("the store is unavailable")
	case "panic":
		panic("fake host panics")
	}
	return nil
}

func (h *fakeHost) recorded() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

func (h *fakeHost) KVGet(ctx context.Context, key string) ([]byte, error) {
	if err := h.record(ctx, "KVGet %s", key); err != nil {
		return nil, err
	}
	return []byte("value-of-" + key), nil
}

func (h *fakeHost) KVSet(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return h.record(ctx, "KVSet %s %q %s", key, value, ttl)
}

func (h *fakeHost) KVDelete(ctx context.Context, key string) error {
	return h.record(ctx, "KVDelete %s", key)
}

func (h *fakeHost) KVList(ctx context.Context, prefix string) ([]string, error) {
	if err := h.record(ctx, "KVList %s", prefix); err != nil {
		return nil, err
	}
	return []string{prefix + "1", prefix + "2"}, nil
}

func (h *fakeHost) Config(ctx context.Context, key string) (string, error) {
	if err := h.record(ctx, "Config %s", key); err != nil {
		return "", err
	}
	return "config-" + key, nil
}

func (h *fakeHost) Fetch(ctx context.Context, req *abi.Request) (*abi.Response, error) {
	if err := h.record(ctx, "Fetch %s %s", req.URL, req.Method); err != nil {
		return nil, err
	}
	return &abi.Response{Status: 200, Header: []abi.Header{{Name: "X-Fetched", Value: req.URL}}, Body: []byte("fetched")}, nil
}

func (h *fakeHost) Call(ctx context.Context, service string, req *abi.Request) (*abi.Response, error) {
	if err := h.record(ctx, "Call %s %s", service, req.URL); err != nil {
		return nil, err
	}
	return &abi.Response{Status: 202, Body: []byte("called " + service)}, nil
}

func (h *fakeHost) Log(ctx context.Context, level int, msg string) {
	_ = h.record(ctx, "Log %d %s", level, msg)
}

// loadPooled returns a pooled runner for testdata/pooled.wasm.
func loadPooled(t testing.TB, d *Driver, edit func(*sandbox.Spec)) sandbox.Runner {
	t.Helper()
	return load(t, d, func(s *sandbox.Spec) {
		s.ABI, s.Module, s.Digest, s.Service = api.ABIPooled, pooledWasm, "sha256:pooled", "pooled"
		if edit != nil {
			edit(s)
		}
	})
}

// serve runs one request and returns its body, failing the test on error.
func serve(t testing.TB, r sandbox.Runner, req *sandbox.Request) *sandbox.Response {
	t.Helper()
	resp, err := r.Serve(t.Context(), req)
	if err != nil {
		t.Fatalf("%s: %v", req.RawPath, err)
	}
	return resp
}

// served returns the request count of the instance that served /counter.
func served(t testing.TB, r sandbox.Runner) int {
	t.Helper()
	body := string(serve(t, r, request("/counter", "")).Body)
	n, err := strconv.Atoi(strings.TrimPrefix(body, "served="))
	if err != nil {
		t.Fatalf("/counter answered %q", body)
	}
	return n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func countState(r sandbox.Runner, state string) int {
	n := 0
	for _, inst := range r.Instances() {
		if state == "" || inst.State == state {
			n++
		}
	}
	return n
}

func TestPooledEcho(t *testing.T) {
	var logs logRecorder
	r := loadPooled(t, newDriver(t), func(s *sandbox.Spec) { s.Logs = &logs })
	req := request("/echo", "x=1&y=%20")
	req.Method, req.ID, req.Body = "POST", "req-echo", []byte("the\x00body")
	req.Header = http.Header{"X-Multi": {"a", "b"}, "Accept": {"*/*"}}
	resp := serve(t, r, req)
	if resp.Status != 201 {
		t.Errorf("status = %d, want 201", resp.Status)
	}
	want := strings.Join([]string{
		"method=POST", "url=/svc/echo?x=1&y=%20", "route=/svc", "host=example.com:8080", "remote=192.0.2.7:5555",
		"id=req-echo", "header=Accept: */*", "header=X-Multi: a", "header=X-Multi: b", "body=the\x00body",
	}, "\n")
	if string(resp.Body) != want {
		t.Errorf("body:\n%q\nwant\n%q", resp.Body, want)
	}
	for k, v := range map[string][]string{
		"Content-Type": {"text/plain"}, "Set-Cookie": {"a=1", "b=2"}, "X-Served": {"1"},
		"X-Echo-X-Multi": {"a", "b"}, "X-Echo-Accept": {"*/*"}, "Connection": nil, "Content-Length": nil,
	} {
		if got := resp.Header[k]; !slices.Equal(got, v) {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	var dropped int
	for _, e := range logs.all() {
		if e.Stream == api.StreamMote && e.Level == "warn" && strings.Contains(e.Message, "dropped") && e.RequestID == "req-echo" {
			dropped++
		}
	}
	if dropped != 2 {
		t.Errorf("%d warnings about dropped headers, want 2 (Connection, Content-Length): %+v", dropped, logs.all())
	}
}

func TestPooledRequestURL(t *testing.T) {
	r := loadPooled(t, newDriver(t), nil)
	tests := []struct{ route, rawPath, query, url, wantRoute string }{
		{"/svc", "/echo", "", "/svc/echo", "/svc"},
		{"", "/echo", "a=%2F", "/echo?a=%2F", ""},
		{"/", "/echo", "", "/echo", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			req := request(tt.rawPath, tt.query)
			req.Route = tt.route
			body := string(serve(t, r, req).Body)
			if !strings.Contains(body, "\nurl="+tt.url+"\nroute="+tt.wantRoute+"\n") {
				t.Errorf("got\n%s\nwant url=%s route=%s", body, tt.url, tt.wantRoute)
			}
		})
	}
}

func TestPooledInstanceIsReused(t *testing.T) {
	r := loadPooled(t, newDriver(t), nil)
	for want := 1; want <= 3; want++ {
		if got := served(t, r); got != want {
			t.Fatalf("request %d was the instance's request %d: not reused", want, got)
		}
	}
	insts := r.Instances()
	if len(insts) != 1 || insts[0].State != "idle" || insts[0].Requests != 3 || insts[0].RequestID != "" ||
		insts[0].Service != "pooled" || insts[0].Version != 1 || insts[0].ID != "pooled.1.1" {
		t.Errorf("instances = %+v", insts)
	}
}

func TestPooledFailuresDiscardTheInstance(t *testing.T) {
	var logs logRecorder
	r := loadPooled(t, newDriver(t), func(s *sandbox.Spec) {
		s.Timeout, s.MaxOutput, s.Logs = time.Second, 1<<20, &logs
	})
	tests := []struct {
		path, query string
		class       error
		kind        string
		exitCode    uint32
		detail      string
	}{
		{path: "/trap", class: sandbox.ErrGuestFailed, kind: "trap", detail: "unreachable"},
		{path: "/ret1", class: sandbox.ErrGuestFailed, kind: "exit", exitCode: 1, detail: "mote_v1_handle returned 1"},
		{path: "/norespond", class: sandbox.ErrGuestFailed, kind: "output", detail: "without calling respond"},
		{path: "/malformed", class: sandbox.ErrGuestFailed, kind: "output", detail: "does not decode"},
		{path: "/badstatus", class: sandbox.ErrGuestFailed, kind: "output", detail: "status 101 is informational"},
		{path: "/badheader", class: sandbox.ErrGuestFailed, kind: "output", detail: `"Bad Name" is not an HTTP token`},
		{path: "/big", query: strconv.Itoa(1<<20 + 1), class: sandbox.ErrGuestFailed, kind: "output", detail: "[limits] response"},
		// A guest that gives up when its response is refused (as the Go
		// SDK does) failed for its response, not of its own accord.
		{path: "/bigret", query: strconv.Itoa(1<<20 + 1), class: sandbox.ErrGuestFailed, kind: "output", detail: "[limits] response (1048576 bytes); then mote_v1_handle returned 1"},
		{path: "/bigexit", query: strconv.Itoa(1<<20 + 1), class: sandbox.ErrGuestFailed, kind: "output", detail: "[limits] response (1048576 bytes); then exited with code 2"},
		{path: "/loop", class: sandbox.ErrTimeout},
		{path: "/sleep", class: sandbox.ErrTimeout},
		// One sleep far past the timeout ends at the timeout.
		{path: "/nap", query: "20000", class: sandbox.ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			served(t, r) // the instance has state to lose
			start := time.Now()
			_, err := r.Serve(t.Context(), request(tt.path, tt.query))
			if !errors.Is(err, tt.class) {
				t.Fatalf("err = %v, want %v", err, tt.class)
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
			if tt.kind != "" {
				var ge *sandbox.GuestError
				if !errors.As(err, &ge) {
					t.Fatalf("err = %T, want *sandbox.GuestError", err)
				}
				if ge.Kind != tt.kind || ge.ExitCode != tt.exitCode || !strings.Contains(ge.Detail, tt.detail) {
					t.Errorf("got %s/%d %q; want %s/%d, mentioning %q", ge.Kind, ge.ExitCode, ge.Detail, tt.kind, tt.exitCode, tt.detail)
				}
			}
			if n := served(t, r); n != 1 {
				t.Errorf("the next request was request %d of its instance: the failed instance was reused", n)
			}
		})
	}
	t.Run("big body within the limit", func(t *testing.T) {
		resp := serve(t, r, request("/big", strconv.Itoa(1<<20)))
		if len(resp.Body) != 1<<20 {
			t.Errorf("body is %d bytes", len(resp.Body))
		}
	})
	t.Run("exit after respond", func(t *testing.T) {
		served(t, r)
		resp := serve(t, r, request("/exit0", ""))
		if string(resp.Body) != "responded, then exited" {
			t.Errorf("body = %q", resp.Body)
		}
		if n := served(t, r); n != 1 {
			t.Errorf("an exited instance was reused (request %d)", n)
		}
	})
	t.Run("respond twice", func(t *testing.T) {
		req := request("/twice", "")
		req.ID = "req-twice"
		if resp := serve(t, r, req); string(resp.Body) != "first" {
			t.Errorf("body = %q, want the first response", resp.Body)
		}
		if !slices.ContainsFunc(logs.all(), func(e api.LogEntry) bool {
			return e.Stream == api.StreamLog && e.RequestID == "req-twice" && strings.Contains(e.Message, "second respond: -4 respond was already called")
		}) {
			t.Errorf("the guest did not log the second respond's error: %+v", logs.all())
		}
	})
}

// A pooled guest calls every capability with no Host: each is denied with
// a message naming the grant, and log still works.
func TestPooledCapabilitiesDeniedWithoutHost(t *testing.T) {
	var logs logRecorder
	r := loadPooled(t, newDriver(t), func(s *sandbox.Spec) { s.Logs = &logs })
	req := request("/caps", "")
	req.ID = "req-caps"
	lines := strings.Split(string(serve(t, r, req).Body), "\n")
	want := []string{
		"log 0 ",
		"kv_set -1 kv is not granted: add [allow] kv = true to mote.toml",
		"kv_get -1 kv is not granted: add [allow] kv = true to mote.toml",
		"kv_delete -1 kv is not granted: add [allow] kv = true to mote.toml",
		"kv_list -1 kv is not granted: add [allow] kv = true to mote.toml",
		"config_get -1 config is not granted: add [allow] config = true to mote.toml",
		`http_fetch -1 http is not granted: add [allow] http = ["api.example.com"] to mote.toml`,
		`call -1 call is not granted: add [allow] call = ["users"] to mote.toml`,
		"",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	var denials, guestLines int
	for _, e := range logs.all() {
		switch {
		case e.Stream == api.StreamMote && strings.Contains(e.Message, "not granted") && e.RequestID == "req-caps":
			denials++
		case e.Stream == api.StreamLog && e.Message == "caps log line" && e.Level == "info" && e.RequestID == "req-caps" && e.Service == "pooled":
			guestLines++
		}
	}
	if denials != 7 || guestLines != 1 {
		t.Errorf("%d denial lines (want 7), %d guest log lines (want 1): %+v", denials, guestLines, logs.all())
	}
	// A second request logs its denials again, once each.
	_ = serve(t, r, req)
	_ = serve(t, r, request("/one/kv_get", "k"))
	if n := len(logs.all()); n != 2*8+1 {
		t.Errorf("%d log lines, want %d", n, 2*8+1)
	}
}

func TestPooledCapabilitiesWithHost(t *testing.T) {
	host := &fakeHost{}
	r := loadPooled(t, newDriver(t), func(s *sandbox.Spec) { s.Host = host })
	req := request("/caps", "")
	req.ID = "req-host"
	body := string(serve(t, r, req).Body)
	result := func(name string, b []byte) string { return fmt.Sprintf("%s %d %s", name, len(b), b) }
	want := strings.Join([]string{
		"log 0 ",
		"kv_set 0 ",
		"kv_get 10 value-of-k",
		"kv_delete 0 ",
		result("kv_list", abi.AppendList(nil, []string{"p1", "p2"})),
		"config_get 8 config-c",
		result("http_fetch", abi.AppendResponse(nil, &abi.Response{Status: 200, Header: []abi.Header{{Name: "X-Fetched", Value: "http://api.example.com/x"}}, Body: []byte("fetched")})),
		result("call", abi.AppendResponse(nil, &abi.Response{Status: 202, Body: []byte("called users")})),
		"",
	}, "\n")
	if body != want {
		t.Errorf("got\n%q\nwant\n%q", body, want)
	}
	wantCalls := []string{
		`KVSet k "v" 1.5s req=req-host`,
		"KVGet k req=req-host",
		"KVDelete k req=req-host",
		"KVList p req=req-host",
		"Config c req=req-host",
		"Fetch http://api.example.com/x GET req=req-host",
		"Call users /x req=req-host",
	}
	if got := host.recorded(); !slices.Equal(got, wantCalls) {
		t.Errorf("host calls:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantCalls, "\n"))
	}
}

// Each error class of the Host, and each argument the driver refuses
// itself, reaches the guest as its code with the message in the result.
func TestCapabilityErrorCodes(t *testing.T) {
	var logs logRecorder
	r := loadPooled(t, newDriver(t), func(s *sandbox.Spec) { s.Host, s.Logs = &fakeHost{}, &logs })
	fetchReq := func(url string) []byte { return abi.AppendRequest(nil, &abi.Request{Method: "GET", URL: url}) }
	tests := []struct {
		fn, query string
		body      []byte
		header    string // X-Ttl
		ret       int64
		result    string
	}{
		{fn: "kv_get", query: "missing", ret: -abi.ErrNotFound, result: "not found: no key"},
		{fn: "kv_get", query: "denied", ret: -abi.ErrDenied, result: "capability not granted"},
		{fn: "kv_get", query: "big", ret: -abi.ErrTooLarge, result: "too large"},
		{fn: "kv_get", query: "bad", ret: -abi.ErrInvalid, result: "invalid argument"},
		{fn: "kv_get", query: "slow", ret: -abi.ErrTimeout, result: "guest timed out"},
		{fn: "kv_get", query: "deep", ret: -abi.ErrDepth, result: "call depth limit"},
		{fn: "kv_get", query: "boom", ret: -abi.ErrFailed, result: "the store is unavailable"},
		{fn: "kv_get", query: "panic", ret: -abi.ErrFailed, result: "internal error"},
		{fn: "kv_get", query: "", ret: -abi.ErrInvalid, result: "the key is empty"},
		{fn: "kv_get", query: strings.Repeat("k", 512), ret: 9 + 512},
		{fn: "kv_get", query: strings.Repeat("k", 513), ret: -abi.ErrTooLarge, result: "513 bytes, more than 512"},
		{fn: "kv_get", query: "%FF", ret: -abi.ErrInvalid, result: "not valid UTF-8"},
		{fn: "kv_set", query: "k", body: make([]byte, 1<<20), ret: 0},
		{fn: "kv_set", query: "k", body: make([]byte, 1<<20+1), ret: -abi.ErrTooLarge, result: "1 MiB"},
		{fn: "kv_set", query: "k", header: "-1", ret: -abi.ErrInvalid, result: "ttl_ms -1"},
		{fn: "kv_set", query: "k", header: "9223372036854775807", ret: -abi.ErrInvalid, result: "ttl_ms"},
		{fn: "kv_set", query: "deep", ret: -abi.ErrDepth},
		{fn: "kv_delete", query: "missing", ret: -abi.ErrNotFound},
		{fn: "kv_list", query: "", ret: 14, result: string(abi.AppendList(nil, []string{"1", "2"}))},
		{fn: "kv_list", query: "boom", ret: -abi.ErrFailed},
		{fn: "config_get", query: "denied", ret: -abi.ErrDenied},
		{fn: "config_get", query: "", ret: -abi.ErrInvalid},
		{fn: "http_fetch", body: []byte("garbage"), ret: -abi.ErrInvalid, result: "does not decode"},
		{fn: "http_fetch", body: fetchReq("slow"), ret: -abi.ErrTimeout},
		{fn: "call", query: "", body: fetchReq("/x"), ret: -abi.ErrInvalid, result: "the service name is empty"},
		{fn: "call", query: "deep", body: fetchReq("/x"), ret: -abi.ErrDepth},
		{fn: "call", query: "users", body: fetchReq("/x")[:10], ret: -abi.ErrInvalid, result: "does not decode"},
		{fn: "log", query: "9", body: []byte("x"), ret: 0},
		{fn: "log", query: "-1", body: []byte("x"), ret: 0},
		{fn: "log", query: "3", body: []byte("an error line"), ret: 0},
	}
	for _, tt := range tests {
		name := tt.fn + "/" + tt.query
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			req := request("/one/"+tt.fn, tt.query)
			req.Body = tt.body
			if tt.header != "" {
				req.Header.Set("X-Ttl", tt.header)
			}
			body := string(serve(t, r, req).Body)
			retLine, result, _ := strings.Cut(body, "\n")
			if retLine != "ret="+strconv.FormatInt(tt.ret, 10) {
				t.Errorf("%s (result %q), want ret=%d", retLine, result, tt.ret)
			}
			if !strings.Contains(result, tt.result) {
				t.Errorf("result %q does not contain %q", result, tt.result)
			}
		})
	}
	// The Host logs its own denials; the driver adds the guest's lines,
	// whatever their level, and the Host's panic.
	var levels []string
	for _, e := range logs.all() {
		switch {
		case e.Stream == api.StreamLog:
			levels = append(levels, e.Level)
		case e.Stream == api.StreamMote && e.Level == "error" && strings.Contains(e.Message, "kv_get: the node's capability host panicked: fake host panics"):
		default:
			t.Errorf("the driver logged %+v", e)
		}
	}
	if want := []string{"info", "info", "error"}; !slices.Equal(levels, want) {
		t.Errorf("guest log levels %q, want %q", levels, want)
	}
}

// Pointers outside memory give ErrMemory from every function that takes
// one, and the instance lives on.
func TestBadPointers(t *testing.T) {
	for _, host := range []sandbox.Host{nil, &fakeHost{}} {
		t.Run(fmt.Sprintf("host=%v", host != nil), func(t *testing.T) {
			r := loadPooled(t, newDriver(t), func(s *sandbox.Spec) { s.Host = host })
			body := string(serve(t, r, request("/badptr", "")).Body)
			lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
			if len(lines) != 14 {
				t.Fatalf("got %d lines:\n%s", len(lines), body)
			}
			for _, line := range lines {
				name, rest, _ := strings.Cut(line, " ")
				if !strings.HasPrefix(rest, "-8 ") || !strings.Contains(rest, "outside the guest's memory") {
					t.Errorf("%s: %s, want -8 and a message", name, rest)
				}
			}
			if n := served(t, r); n != 2 {
				t.Errorf("after bad pointers the next request was the instance's %d, want 2", n)
			}
		})
	}
}

func TestPooledEnvironmentAndStdio(t *testing.T) {
	var logs logRecorder
	r := loadPooled(t, newDriver(t), func(s *sandbox.Spec) {
		s.Env = map[string]string{"GREETING": "hi", "bad name": "x"}
		s.Logs = &logs
	})
	if body := string(serve(t, r, request("/env", "")).Body); body != "GREETING=hi\nREQUEST_METHOD=(unset)" {
		t.Errorf("env: %q", body)
	}
	req := request("/stdio", "")
	req.ID = "req-stdio"
	serve(t, r, req)
	var got []string
	for _, e := range logs.all() {
		got = append(got, e.Stream+":"+e.RequestID+":"+e.Message)
	}
	want := []string{"stdout:req-stdio:to stdout", "stderr:req-stdio:to stderr"}
	if !slices.Equal(got, want) {
		t.Errorf("logs = %q, want %q", got, want)
	}
}

func TestPooledMaxInstances(t *testing.T) {
	r := loadPooled(t, newDriver(t), func(s *sandbox.Spec) { s.MaxInstances, s.MaxQueue = 2, 20 })
	var peak atomic.Int64
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			n := int64(len(r.Instances()))
			if n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := r.Serve(t.Context(), request("/nap", "40")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-watched
	if p := peak.Load(); p > 2 {
		t.Errorf("peak of %d live instances, over MaxInstances (2)", p)
	}
	var total uint64
	for _, inst := range r.Instances() {
		total += inst.Requests
	}
	if n := countState(r, "idle"); n > 2 || total != 8 {
		t.Errorf("%d idle instances served %d requests; want at most 2 and 8", n, total)
	}
}

func TestPooledMinInstancesAreKept(t *testing.T) {
	r := loadPooled(t, newDriver(t), func(s *sandbox.Spec) { s.MinInstances, s.MaxInstances = 3, 4 })
	waitFor(t, "3 idle instances", func() bool { return countState(r, "idle") == 3 })
	if _, err := r.Serve(t.Context(), request("/trap", "")); !errors.Is(err, sandbox.ErrGuestFailed) {
		t.Fatal(err)
	}
	waitFor(t, "the trapped instance to be replaced", func() bool { return countState(r, "idle") == 3 })
	if n := countState(r, ""); n != 3 {
		t.Errorf("%d instances, want 3", n)
	}
}

func TestPooledIdleInstancesAreReaped(t *testing.T) {
	r := loadPooled(t, newDriver(t), func(s *sandbox.Spec) {
		s.MinInstances, s.MaxInstances, s.IdleTimeout = 1, 4, 50*time.Millisecond
	})
	var wg sync.WaitGroup
	var most atomic.Int64
	for range 4 {
		wg.Go(func() {
			if _, err := r.Serve(t.Context(), request("/nap", "100")); err != nil {
				t.Error(err)
			}
			most.Store(max(most.Load(), int64(countState(r, ""))))
		})
	}
	wg.Wait()
	if most.Load() < 2 {
		t.Fatalf("the pool never grew (%d instances)", most.Load())
	}
	waitFor(t, "idle instances beyond min to be stopped", func() bool { return countState(r, "") == 1 })
	// The one kept still serves.
	served(t, r)
}

func TestPooledCloseDrainsAndFreesMemory(t *testing.T) {
	before := liveMemories.Load()
	d := newDriver(t)
	r := loadPooled(t, d, func(s *sandbox.Spec) { s.MinInstances = 2 })
	waitFor(t, "2 instances", func() bool { return countState(r, "idle") == 2 })
	done := make(chan error, 1)
	go func() {
		_, err := r.Serve(context.Background(), request("/nap", "400"))
		done <- err
	}()
	waitFor(t, "a busy instance", func() bool { return countState(r, "busy") == 1 })
	start := time.Now()
	if err := r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("Close returned after %s, before the request finished", waited)
	}
	if err := <-done; err != nil {
		t.Errorf("in-flight request: %v", err)
	}
	if n := len(r.Instances()); n != 0 {
		t.Errorf("%d instances after Close", n)
	}
	if _, err := r.Serve(t.Context(), request("/counter", "")); !errors.Is(err, sandbox.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	if n := liveMemories.Load(); n != before {
		t.Errorf("%d linear memories not freed after Close", n-before)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := len(d.modules); n != 0 {
		t.Errorf("compiled code still held after Close: %d modules", n)
	}
}

func TestLoadPooledRefusesBadModules(t *testing.T) {
	d := newDriver(t)
	tests := []struct {
		file, abiName string
		want          []string
	}{
		{"testdata/guest.wasm", api.ABIPooled, []string{"no mote_v1_handle", `looks like a WAGI command (it exports _start): use abi = "wagi"`}},
		{"testdata/nohandle.wasm", api.ABIPooled, []string{"no mote_v1_handle", "reactor exporting mote_v1_handle () -> i32"}},
		{"testdata/badhandle.wasm", api.ABIPooled, []string{"mote_v1_handle is (i32) -> (i32); it must be () -> (i32)"}},
		{"testdata/noinit.wasm", api.ABIPooled, []string{"no _initialize", "reactor"}},
		{"testdata/badinit.wasm", api.ABIPooled, []string{"the first instance failed to start", "_initialize", "unreachable"}},
		{"testdata/motev2.wasm", api.ABIPooled, []string{"the module was built for mote ABI v2; this node speaks v1", "mote_v2.kv_get"}},
		{"testdata/motev2.wasm", api.ABIWAGI, []string{"the module was built for mote ABI v2; this node speaks v1", "mote_v2.kv_get"}},
		{"testdata/moteunknown.wasm", api.ABIWAGI, []string{"2 function(s)", "mote_v1.teleport (no such function in mote_v1)", "mote_v1.kv_get (i32) -> (i64) (mote's is (i32, i32) -> (i64))"}},
		{"testdata/pooled.wasm", api.ABIWAGI, []string{"no _start", `use abi = "pooled"`}},
		{"testdata/pooled.wasm", "cgi", []string{`unknown abi "cgi"`}},
	}
	for _, tt := range tests {
		t.Run(tt.abiName+"/"+filepath.Base(tt.file), func(t *testing.T) {
			_, err := d.Load(t.Context(), sandbox.Spec{Service: "x", ABI: tt.abiName, Digest: tt.file, Module: mustRead(tt.file), MemoryLimit: 16 << 20})
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
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := len(d.modules); n != 0 {
		t.Errorf("refused modules left %d compiled modules behind", n)
	}
}

// A WAGI guest may use capabilities too; the pooled-only functions are
// refused.
func TestWAGICapabilities(t *testing.T) {
	var logs logRecorder
	host := &fakeHost{}
	spec := func(h sandbox.Host) func(*sandbox.Spec) {
		return func(s *sandbox.Spec) {
			s.Module, s.Digest, s.Host, s.Logs = mustRead("testdata/wagicaps.wasm"), "sha256:wagicaps", h, &logs
		}
	}
	d := newDriver(t)
	withHost, noHost := load(t, d, spec(host)), load(t, d, spec(nil))
	tests := []struct {
		r           sandbox.Runner
		path, query string
		body        string
		want        string
	}{
		{withHost, "/kv_get", "name", "", "ret=13\nvalue-of-name"},
		{withHost, "/kv_get", "missing", "", "ret=-2\nnot found"},
		{withHost, "/kv_set", "name", "v", "ret=0\n"},
		{withHost, "/config_get", "c", "", "ret=8\nconfig-c"},
		{withHost, "/log", "2", "a warning", "ret=0\n"},
		{withHost, "/request_len", "", "", `ret=-4` + "\nrequest_len is only for pooled guests"},
		{withHost, "/respond", "", "", `ret=-4` + "\nrespond is only for pooled guests"},
		{noHost, "/kv_get", "name", "", "ret=-1\nkv is not granted"},
		{noHost, "/config_get", "c", "", "ret=-1\nconfig is not granted"},
	}
	for _, tt := range tests {
		t.Run(tt.path+"?"+tt.query, func(t *testing.T) {
			req := request(tt.path, tt.query)
			req.ID, req.Body = "req-wagi", []byte(tt.body)
			if body := string(serve(t, tt.r, req).Body); !strings.HasPrefix(body, tt.want) {
				t.Errorf("got %q, want %q...", body, tt.want)
			}
		})
	}
	if !slices.Contains(host.recorded(), `KVSet name "v" 0s req=req-wagi`) {
		t.Errorf("host calls: %q", host.recorded())
	}
	if !slices.ContainsFunc(logs.all(), func(e api.LogEntry) bool {
		return e.Stream == api.StreamLog && e.Level == "warn" && e.Message == "a warning" && e.RequestID == "req-wagi"
	}) {
		t.Errorf("no guest log line: %+v", logs.all())
	}
}

// Hundreds of concurrent requests, some trapping, through a small pool:
// every good request gets its own body back, every trap fails alone.
func TestPooledHammer(t *testing.T) {
	before := liveMemories.Load()
	r := loadPooled(t, newDriver(t), func(s *sandbox.Spec) { s.MaxInstances, s.MaxQueue, s.MinInstances = 4, 400, 2 })
	var wg sync.WaitGroup
	var traps, good atomic.Int64
	for i := range 300 {
		wg.Go(func() {
			if i%7 == 3 {
				_, err := r.Serve(t.Context(), request("/trap", ""))
				var ge *sandbox.GuestError
				if !errors.As(err, &ge) || ge.Kind != "trap" {
					t.Errorf("trap %d: %v", i, err)
				}
				traps.Add(1)
				return
			}
			req := request("/echo", "")
			req.ID, req.Body = "req-"+strconv.Itoa(i), []byte("body "+strconv.Itoa(i))
			resp, err := r.Serve(t.Context(), req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			if !strings.HasSuffix(string(resp.Body), "\nbody=body "+strconv.Itoa(i)) || !strings.Contains(string(resp.Body), "\nid=req-"+strconv.Itoa(i)+"\n") {
				t.Errorf("request %d got %q", i, resp.Body)
			}
			good.Add(1)
			_ = r.Instances()
		})
	}
	wg.Wait()
	if n := countState(r, ""); n > 4 {
		t.Errorf("%d instances live, over MaxInstances", n)
	}
	if good.Load()+traps.Load() != 300 {
		t.Errorf("good=%d traps=%d", good.Load(), traps.Load())
	}
	if err := r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := liveMemories.Load() - before; n != 0 {
		t.Errorf("%d linear memories not freed (trapped instances included)", n)
	}
}

func TestLogMessage(t *testing.T) {
	long := strings.Repeat("é", maxLogMessage) // 2 bytes each
	tests := []struct {
		in   string
		want func(string) bool
	}{
		{"plain", func(s string) bool { return s == "plain" }},
		{"bad \xff byte", func(s string) bool { return s == "bad \uFFFD byte" }},
		{long, func(s string) bool {
			return len(s) <= maxLogMessage && strings.HasSuffix(s, "é [truncated]") && !strings.Contains(s, "\uFFFD")
		}},
	}
	for _, tt := range tests {
		if got := logMessage([]byte(tt.in)); !tt.want(got) {
			t.Errorf("logMessage(%.20q) = %.40q (len %d)", tt.in, got, len(got))
		}
	}
}

func TestDecodeResponse(t *testing.T) {
	enc := func(status int, body string, h ...abi.Header) []byte {
		return abi.AppendResponse(nil, &abi.Response{Status: status, Header: h, Body: []byte(body)})
	}
	manyHeaders := make([]abi.Header, 101)
	for i := range manyHeaders {
		manyHeaders[i] = abi.Header{Name: "X-H", Value: "v"}
	}
	tests := []struct {
		name string
		in   []byte
		code int
		msg  string
	}{
		{"ok", enc(200, "hi", abi.Header{Name: "x-a", Value: "1"}), 0, ""},
		{"999", enc(999, ""), 0, ""},
		{"truncated", enc(200, "hi")[:9], abi.ErrInvalid, "does not decode"},
		{"1xx", enc(103, ""), abi.ErrInvalid, "informational"},
		{"bad name", enc(200, "", abi.Header{Name: "a:b", Value: "1"}), abi.ErrInvalid, "not an HTTP token"},
		{"empty name", enc(200, "", abi.Header{Name: "", Value: "1"}), abi.ErrInvalid, "not an HTTP token"},
		{"newline in value", enc(200, "", abi.Header{Name: "X", Value: "a\r\nSet-Cookie: x"}), abi.ErrInvalid, "control byte 0x0d"},
		{"too many headers", enc(200, "", manyHeaders...), abi.ErrInvalid, "101 headers"},
		{"huge header", enc(200, "", abi.Header{Name: "X", Value: strings.Repeat("a", 64<<10)}), abi.ErrInvalid, "longer than"},
		{"body over the limit", enc(200, strings.Repeat("b", 101)), abi.ErrTooLarge, "101 bytes"},
		{"encoding far over the limit", make([]byte, 200<<10), abi.ErrTooLarge, "[limits] response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _, code, msg := decodeResponse(tt.in, 100)
			if code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Errorf("code %d %q, want %d %q", code, msg, tt.code, tt.msg)
			}
			if code == 0 && resp == nil {
				t.Error("no response")
			}
		})
	}
	resp, warnings, _, _ := decodeResponse(enc(200, "b", abi.Header{Name: "transfer-encoding", Value: "chunked"}, abi.Header{Name: "x-a", Value: "1"}, abi.Header{Name: "X-A", Value: "2"}), 100)
	if !slices.Equal(resp.Header["X-A"], []string{"1", "2"}) || resp.Header["Transfer-Encoding"] != nil || len(warnings) != 1 {
		t.Errorf("header %v, warnings %q", resp.Header, warnings)
	}
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add(abi.AppendResponse(nil, &abi.Response{Status: 200, Header: []abi.Header{{Name: "A", Value: "b"}}, Body: []byte("x")}))
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, _, code, msg := decodeResponse(b, 1<<10)
		if (resp == nil) == (code == 0) || (code == 0) != (msg == "") {
			t.Fatalf("resp %v, code %d, msg %q", resp, code, msg)
		}
		if resp == nil {
			return
		}
		if resp.Status < 200 || resp.Status > 999 || len(resp.Body) > 1<<10 {
			t.Fatalf("accepted status %d, body %d bytes", resp.Status, len(resp.Body))
		}
		for k, vs := range resp.Header {
			if !wagi.ValidHeaderName(k) || wagi.FramingHeader(k) {
				t.Fatalf("accepted header %q", k)
			}
			for _, v := range vs {
				if _, bad := controlByte(v); bad {
					t.Fatalf("accepted value %q", v)
				}
			}
		}
	})
}
