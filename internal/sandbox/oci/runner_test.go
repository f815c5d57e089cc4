package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
)

func TestServe(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	logs := &testLogs{}
	r := load(t, d, testSpec(t, "echo", logs, nil))

	tests := []struct {
		name, route, rawPath, query, wantURI string
		body                                 string
	}{
		{"route and path", "/echo", "/a%20b/c%2Fd", "x=1&y=%2F", "/echo/a%20b/c%2Fd?x=1&y=%2F", "hello body"},
		{"route with a slash", "/echo/", "/z", "", "/echo/z", ""},
		{"double slash", "/echo/", "//two", "", "/echo//two", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &sandbox.Request{
				ID: "rid-1", Method: "POST", Proto: "HTTP/1.1", Scheme: "https", Host: "api.example.test",
				RemoteAddr: "192.0.2.7:5555", Route: tt.route, RawPath: tt.rawPath, RawQuery: tt.query,
				Header: http.Header{
					"X-Custom":        {"a", "b"},
					"Connection":      {"X-Hop"},
					"X-Hop":           {"dropped"},
					"Keep-Alive":      {"timeout=5"},
					"X-Forwarded-For": {"6.6.6.6"},
				},
				Body: []byte(tt.body),
			}
			resp, err := r.Serve(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 201 || resp.Header.Get("X-Echo") != "yes" {
				t.Fatalf("status %d, header %v", resp.Status, resp.Header)
			}
			if _, ok := resp.Header["Content-Length"]; ok {
				t.Errorf("Content-Length was not dropped: %v", resp.Header)
			}
			var got struct {
				Method, URI, Host, Body string
				Header                  http.Header
			}
			if err := json.Unmarshal(resp.Body, &got); err != nil {
				t.Fatalf("%v: %s", err, resp.Body)
			}
			if got.Method != "POST" || got.URI != tt.wantURI || got.Host != "api.example.test" || got.Body != tt.body {
				t.Errorf("got %+v; want uri %s, body %q", got, tt.wantURI, tt.body)
			}
			want := map[string]string{
				"X-Custom":           "a",
				"X-Request-Id":       "rid-1",
				"X-Forwarded-For":    "192.0.2.7",
				"X-Forwarded-Proto":  "https",
				"X-Forwarded-Host":   "api.example.test",
				"X-Forwarded-Prefix": strings.TrimSuffix(tt.route, "/"),
			}
			if tt.route == "/echo/" {
				want["X-Forwarded-Prefix"] = "/echo/"
			}
			for k, v := range want {
				if got.Header.Get(k) != v {
					t.Errorf("header %s = %q, want %q (all: %v)", k, got.Header.Get(k), v, got.Header)
				}
			}
			if len(got.Header["X-Custom"]) != 2 || len(got.Header["X-Forwarded-For"]) != 1 {
				t.Errorf("multi-valued headers: %v", got.Header)
			}
			for _, k := range []string{"X-Hop", "Keep-Alive", "User-Agent"} {
				if _, ok := got.Header[k]; ok {
					t.Errorf("header %s was forwarded: %v", k, got.Header)
				}
			}
		})
	}
	if n := len(r.Instances()); n != 1 {
		t.Errorf("%d instances, want 1 (keep-alive reuse of one instance)", n)
	}
	logs.waitLog(t, api.StreamStdout, "listening on 127.0.0.1:8080")
	logs.waitLog(t, api.StreamMote, "started in")
}

func TestConcurrency(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	var cold, waits atomic.Int64
	r := load(t, d, testSpec(t, "conc", &testLogs{}, func(s *sandbox.Spec) {
		s.Container.Concurrency = 3
		s.MaxInstances = 2
		s.OnColdStart = func(time.Duration) { cold.Add(1) }
		s.OnWaitForInstance = func() { waits.Add(1) }
	}))

	// 7 slow requests: two instances of 3 take 6, the seventh queues.
	const n = 7
	var wg sync.WaitGroup
	tokens := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			resp, err := get(t.Context(), r, "/slow?ms=2500")
			if err == nil {
				tokens[i] = string(resp.Body)
			}
			errs[i] = err
		})
	}
	waitFor(t, 10*time.Second, func() bool { return r.InFlight() == n && r.Ready() == 2 },
		func() string { return fmt.Sprintf("7 in flight on 2 ready instances: %d, %d", r.InFlight(), r.Ready()) })
	r.mu.Lock()
	queued, loads := len(r.queue), []int{}
	for _, inst := range r.insts {
		loads = append(loads, inst.load)
	}
	r.mu.Unlock()
	if queued != 1 || len(loads) != 2 || loads[0] != 3 || loads[1] != 3 {
		t.Errorf("queued %d, loads %v; want 1 queued, 2 instances with 3 each", queued, loads)
	}
	wg.Wait()
	per := map[string]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		per[tokens[i]]++
	}
	if len(per) != 2 {
		t.Errorf("served by %d instances (%v), want 2", len(per), per)
	}
	if cold.Load() < 1 || cold.Load() > 6 || waits.Load() != cold.Load() {
		t.Errorf("OnColdStart %d times, OnWaitForInstance %d times; want both between 1 and 6, equal", cold.Load(), waits.Load())
	}
	if got := r.InFlight(); got != 0 {
		t.Errorf("InFlight %d after all requests, want 0", got)
	}

	// The least-loaded instance takes a request: both serve now.
	var ready sync.WaitGroup
	for range 2 {
		ready.Go(func() { mustGet(t, r, "/slow?ms=300") })
	}
	ready.Wait()
	for _, inst := range r.Instances() {
		if inst.Requests < 3 {
			t.Errorf("instance %s served %d requests, want at least 3", inst.ID, inst.Requests)
		}
	}
}

// TestHammer races requests against SetDesired and SetScale.
func TestHammer(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	r := load(t, d, testSpec(t, "hammer", &testLogs{}, func(s *sandbox.Spec) {
		s.Container.Concurrency = 4
		s.Container.Grace = 100 * time.Millisecond
		s.MaxInstances = 3
		s.IdleTimeout = 50 * time.Millisecond
	}))
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var served atomic.Int64
	for range 16 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := get(ctx, r, "/slow?ms=5"); err == nil {
					served.Add(1)
				} else if ctx.Err() == nil && !errors.Is(err, sandbox.ErrNoCapacity) {
					t.Errorf("request: %v", err)
				}
			}
		})
	}
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			r.SetDesired(i % 3)
			r.SetScale(0, 1+i%3)
			_ = r.Instances()
			time.Sleep(20 * time.Millisecond)
		}
	})
	wg.Wait()
	if served.Load() == 0 {
		t.Error("no request was served")
	}
	if got := r.InFlight(); got != 0 {
		t.Errorf("InFlight %d after the hammer, want 0", got)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	r := load(t, d, testSpec(t, "limits", &testLogs{}, func(s *sandbox.Spec) {
		s.MaxOutput = 1000
		s.Timeout = 300 * time.Millisecond
	}))
	t.Run("output under the limit", func(t *testing.T) {
		if got := mustGet(t, r, "/big?n=1000"); len(got) != 1000 {
			t.Errorf("%d bytes", len(got))
		}
	})
	t.Run("output over the limit", func(t *testing.T) {
		_, err := get(t.Context(), r, "/big?n=1001")
		var ge *sandbox.GuestError
		if !errors.As(err, &ge) || ge.Kind != "output" {
			t.Fatalf("err %v, want a GuestError of kind output", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		began := time.Now()
		_, err := get(t.Context(), r, "/slow?ms=3000")
		if !errors.Is(err, sandbox.ErrTimeout) {
			t.Fatalf("err %v, want ErrTimeout", err)
		}
		if el := time.Since(began); el > 2*time.Second {
			t.Errorf("the timeout took %s", el)
		}
		mustGet(t, r, "/") // the instance still serves
	})
	t.Run("client gone", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if _, err := get(ctx, r, "/slow?ms=200"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want the context's", err)
		}
	})
}

func TestCrashRestart(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	logs := &testLogs{}
	r := load(t, d, testSpec(t, "crash", logs, func(s *sandbox.Spec) { s.MinInstances = 1 }))
	first := mustGet(t, r, "/")

	_, err := get(t.Context(), r, "/exit")
	var ge *sandbox.GuestError
	if !errors.As(err, &ge) || ge.Kind != "exit" || ge.ExitCode != 3 {
		t.Fatalf("err %v, want a GuestError of kind exit, code 3", err)
	}
	logs.waitLog(t, api.StreamMote, "exited with status 3")
	logs.waitLog(t, api.StreamMote, "restarting in 1s")
	if got := states(r); len(got) != 1 || got[0] != stateRestarting {
		// A request may have started a second instance meanwhile; none did.
		t.Errorf("states %v, want [restarting]", got)
	}
	waitFor(t, 10*time.Second, func() bool {
		is := r.Instances()
		return len(is) == 1 && is[0].State == stateIdle && is[0].Restarts == 1
	}, func() string { return fmt.Sprintf("one idle instance restarted once: %+v", r.Instances()) })
	if again := mustGet(t, r, "/"); again == first {
		t.Errorf("the same process answered after the restart: %q", again)
	}
}

// TestNotListening: a process that is alive but refuses connections is
// killed and restarted.
func TestNotListening(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	logs := &testLogs{}
	r := load(t, d, testSpec(t, "unlisten", logs, func(s *sandbox.Spec) { s.MinInstances = 1 }))
	mustGet(t, r, "/unlisten")
	_, err := get(t.Context(), r, "/")
	var ge *sandbox.GuestError
	if !errors.As(err, &ge) || ge.Kind != "exit" || !strings.Contains(ge.Detail, "no longer accepts connections") {
		t.Fatalf("err %v, want a GuestError of kind exit saying it no longer accepts connections", err)
	}
	logs.waitLog(t, api.StreamMote, "killed, to be restarted")
	waitFor(t, 10*time.Second, func() bool {
		is := r.Instances()
		return len(is) == 1 && is[0].State == stateIdle && is[0].Restarts == 1
	}, func() string { return fmt.Sprintf("restarted once: %+v", r.Instances()) })
	mustGet(t, r, "/")
}

func TestStartFailure(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	logs := &testLogs{}
	r := load(t, d, testSpec(t, "startfail", logs, func(s *sandbox.Spec) {
		s.Container.Env = append(s.Container.Env, "CRASH_AT_START=1")
	}))
	_, err := get(t.Context(), r, "/")
	var ge *sandbox.GuestError
	if !errors.As(err, &ge) || ge.Kind != "start" || !strings.Contains(ge.Detail, "status 4") {
		t.Fatalf("err %v, want a GuestError of kind start naming status 4", err)
	}
	if h := r.Health(); h.ConsecutiveStartFailures != 1 || !strings.Contains(h.LastError, "status 4") {
		t.Errorf("health %+v", h)
	}
	logs.waitLog(t, api.StreamStderr, "crashing at start as asked")
	// Not wanted (min 0): not restarted, no container left.
	waitFor(t, 5*time.Second, func() bool { return len(r.Instances()) == 0 && len(containers(t, d)) == 0 },
		func() string { return fmt.Sprintf("no instance: %+v", r.Instances()) })
}

func TestLogs(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	logs := &testLogs{}
	r := load(t, d, testSpec(t, "logs", logs, nil))
	mustGet(t, r, "/log?out=hello+stdout&err=hello+stderr&long=20000")
	e := logs.waitLog(t, api.StreamStdout, "hello stdout")
	if e.Service != "logs" || e.Version != 1 || e.Time.IsZero() {
		t.Errorf("entry %+v", e)
	}
	logs.waitLog(t, api.StreamStderr, "hello stderr")
	long := logs.waitLog(t, api.StreamStdout, "LLLL")
	if len(long.Message) != maxLine {
		t.Errorf("a 20000-byte line was logged as %d bytes, want %d", len(long.Message), maxLine)
	}
	logs.waitLog(t, api.StreamStdout, "after-long")
}

func TestReadLines(t *testing.T) {
	long := strings.Repeat("x", maxLine+10)
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a\nb\r\n\nc", []string{"a", "b", "", "c"}},
		{long + "\nnext\n", []string{long[:maxLine], "next"}},
		{strings.Repeat("y", 3*maxLine) + "\n", []string{strings.Repeat("y", maxLine)}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.20q", tt.in), func(t *testing.T) {
			var got []string
			readLines(strings.NewReader(tt.in), func(b []byte) { got = append(got, string(b)) })
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %d lines %.60q, want %d %.60q", len(got), got, len(tt.want), tt.want)
			}
		})
	}
}

func TestScaleToZero(t *testing.T) {
	t.Parallel()
	t.Run("SetDesired", func(t *testing.T) {
		t.Parallel()
		d := newTestDriver(t)
		r := load(t, d, testSpec(t, "desired", &testLogs{}, nil))
		r.SetDesired(2)
		waitFor(t, 10*time.Second, func() bool { return r.Ready() == 2 },
			func() string { return fmt.Sprintf("2 ready: %+v", r.Instances()) })
		if n := len(containers(t, d)); n != 2 {
			t.Errorf("%d containers, want 2", n)
		}
		r.SetDesired(0)
		if n := len(r.Instances()); n != 0 {
			t.Errorf("%d instances listed after SetDesired(0)", n)
		}
		waitFor(t, 10*time.Second, func() bool { return len(containers(t, d)) == 0 },
			func() string { return fmt.Sprintf("no container: %v", containers(t, d)) })
	})
	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		d := newTestDriver(t)
		r := load(t, d, testSpec(t, "idle", &testLogs{}, func(s *sandbox.Spec) { s.IdleTimeout = 200 * time.Millisecond }))
		mustGet(t, r, "/")
		waitFor(t, 10*time.Second, func() bool { return len(r.Instances()) == 0 && len(containers(t, d)) == 0 },
			func() string { return fmt.Sprintf("no instance: %+v, %v", r.Instances(), containers(t, d)) })
		mustGet(t, r, "/") // from zero again
	})
	t.Run("min instances", func(t *testing.T) {
		t.Parallel()
		d := newTestDriver(t)
		r := load(t, d, testSpec(t, "min", &testLogs{}, func(s *sandbox.Spec) {
			s.MinInstances = 1
			s.IdleTimeout = 50 * time.Millisecond
		}))
		waitFor(t, 10*time.Second, func() bool { return r.Ready() == 1 },
			func() string { return fmt.Sprintf("1 ready: %+v", r.Instances()) })
		time.Sleep(200 * time.Millisecond) // four idle timeouts: min keeps it
		if r.Ready() != 1 {
			t.Errorf("instances %+v, want min 1 kept", r.Instances())
		}
		r.SetScale(0, 5)
		waitFor(t, 10*time.Second, func() bool { return len(containers(t, d)) == 0 },
			func() string { return fmt.Sprintf("no container once min is 0: %v", containers(t, d)) })
	})
}

func TestGrace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		ignoreTerm bool
		grace      time.Duration
		min, max   time.Duration
	}{
		{"exits on SIGTERM", false, 10 * time.Second, 0, 5 * time.Second},
		{"ignores SIGTERM", true, time.Second, time.Second, 6 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newTestDriver(t)
			logs := &testLogs{}
			spec := testSpec(t, "grace", logs, func(s *sandbox.Spec) {
				s.Container.Grace = tt.grace
				if tt.ignoreTerm {
					s.Container.Env = append(s.Container.Env, "IGNORE_TERM=1")
				}
			})
			rn, err := d.Load(t.Context(), spec)
			if err != nil {
				t.Fatal(err)
			}
			mustGet(t, rn, "/")
			began := time.Now()
			if err := rn.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			el := time.Since(began)
			if el < tt.min || el > tt.max {
				t.Errorf("Close took %s, want %s..%s", el, tt.min, tt.max)
			}
			if n := len(containers(t, d)); n != 0 {
				t.Errorf("%d containers after Close", n)
			}
			_, killed := logs.find(api.StreamMote, "after SIGTERM")
			if killed != tt.ignoreTerm {
				t.Errorf("killed-after-grace logged: %v, want %v; logs:\n%s", killed, tt.ignoreTerm, logs)
			}
			if !tt.ignoreTerm {
				logs.waitLog(t, api.StreamStdout, "SIGTERM: shutting down")
			}
		})
	}
}

func TestCloseLeavesNothing(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "run")
	d, err := New(Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rn, err := d.Load(t.Context(), testSpec(t, "close", &testLogs{}, func(s *sandbox.Spec) {
		s.Container.Concurrency = 1
		s.Container.Grace = 100 * time.Millisecond
	}))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { mustGet(t, rn, "/slow?ms=1000") })
	}
	wg.Wait()
	ids := containers(t, d)
	if len(ids) != 3 {
		t.Fatalf("containers %v, want 3", ids)
	}
	var cgroups []string
	for _, parent := range cgroupParents() {
		for _, id := range ids {
			if _, err := os.Stat(filepath.Join(parent, id)); err == nil {
				cgroups = append(cgroups, filepath.Join(parent, id))
			}
		}
	}
	if len(cgroups) == 0 {
		t.Fatalf("no cgroup of %v found under %v", ids, cgroupParents())
	}
	if err := rn.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := get(t.Context(), rn, "/"); !errors.Is(err, sandbox.ErrClosed) {
		t.Errorf("Serve after Close: %v, want ErrClosed", err)
	}
	if ids := containers(t, d); len(ids) != 0 {
		t.Errorf("containers %v after Close", ids)
	}
	if entries, _ := os.ReadDir(d.bundles); len(entries) != 0 {
		t.Errorf("%d bundles after Close", len(entries))
	}
	for _, cg := range cgroups {
		if _, err := os.Stat(cg); err == nil {
			t.Errorf("cgroup %s left after Close", cg)
		}
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir left after the driver's Close: %v", err)
	}
}

// TestStaleContainers: a node killed with SIGKILL leaves its containers
// running; the next New under the same state dir removes them.
func TestStaleContainers(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "run")
	d := newTestDriverAt(t, dir)
	// What a killed node leaves: a detached container and its bundle.
	id := d.containerID("stale", 1, 1)
	bundle := filepath.Join(d.bundles, id)
	spec := testSpec(t, "stale", nil, nil)
	if err := os.MkdirAll(bundle, 0o711); err != nil {
		t.Fatal(err)
	}
	hosts := filepath.Join(bundle, "hosts")
	if err := os.WriteFile(hosts, []byte(hostsFile(spec.Service)), 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(Spec(spec, id, hosts))
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	// The container keeps runc's stdio: a file, not a pipe Run would wait on.
	errFile, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	run := d.runc.command(t.Context(), "run", "--detach", "--bundle", bundle, id)
	run.Stderr = errFile
	if err := run.Run(); err != nil {
		out, _ := os.ReadFile(errFile.Name())
		t.Fatalf("runc run: %v: %s", err, out)
	}
	if ids := containers(t, d); len(ids) != 1 {
		t.Fatalf("containers %v, want the stale one", ids)
	}

	d2, err := New(Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close(context.Background())
	if ids := containers(t, d2); len(ids) != 0 {
		t.Errorf("containers %v after New, want none", ids)
	}
	if _, err := os.Stat(bundle); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale bundle left: %v", err)
	}
}

// newTestDriverAt returns a Driver on dir, not closed by the test.
func newTestDriverAt(t *testing.T, dir string) *Driver {
	t.Helper()
	d, err := New(Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return d
}
