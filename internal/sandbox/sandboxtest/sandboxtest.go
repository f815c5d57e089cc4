// Package sandboxtest is the conformance suite every sandbox driver passes
// (as containerd's SnapshotterSuite is for snapshotters): Run loads the
// conformance guest (package conform) through a driver and checks what the
// node relies on: requests and responses pass through byte for byte, limits
// fail with the right error classes, logs and environment reach the guest
// and only them, instances scale (to zero and back), capacity is bounded,
// and Close drains.
//
// A driver's test supplies a Harness:
//
//	func TestConformance(t *testing.T) {
//		d := newDriver(t)
//		sandboxtest.Run(t, sandboxtest.Harness{
//			Driver: d,
//			Spec: func(t *testing.T, name string) sandbox.Spec {
//				return sandbox.Spec{Service: name, ABI: api.ABIPooled, Module: conformWasm, …}
//			},
//		})
//	}
//
// The guest is conform.Handler, built as a pooled Wasm guest
// (conform/wasm/conform.wasm, committed) and as a static HTTP server for
// containers (BuildServer builds it at test time).
package sandboxtest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
)

// Harness is what Run needs to test a driver.
type Harness struct {
	// Driver loads the runners. Run never closes it.
	Driver sandbox.Driver
	// Spec returns a Spec for the conformance guest whose Service is name:
	// the ABI, the module (or Container) and whatever else the driver
	// needs. Each sub-test calls it once per runner and sets on a copy
	// the fields it tests: Version (7), Env (for a container also appended
	// to Container.Env, after the image's, as the node does), Logs,
	// Timeout, MaxOutput, MaxInstances, MaxQueue, MinInstances,
	// IdleTimeout, OnColdStart, OnWaitForInstance and
	// Container.Concurrency. Container is copied before it is changed.
	Spec func(t *testing.T, name string) sandbox.Spec
	// Concurrent says one instance serves several requests at once (a
	// container, up to Container.Concurrency); false says one at a time
	// (a pooled Wasm instance). The Concurrency sub-test checks which.
	Concurrent bool
	// StartBudget bounds how long starting instances may take: a cold
	// start, SetDesired or MinInstances reaching Ready, Scale to zero.
	// 0 means 10 s.
	StartBudget time.Duration
	// Timeout is the Spec.Timeout of the Timeout sub-tests, whose guest
	// sleeps 3× it (Timeout) or longer (TimeoutPrompt). A request to a
	// warm instance must finish well within it, and so must an instance's
	// start where the driver bounds it by Timeout (Wasm's _initialize).
	// 0 means 300 ms.
	Timeout time.Duration
	// Slack is how late past Timeout a timed-out Serve may return
	// (TimeoutPrompt). 0 means 1 s.
	Slack time.Duration
	// HammerRequests is how many requests each of the Hammer sub-test's
	// 50 goroutines sends. 0 means 20.
	HammerRequests int
	// Skip names sub-tests this driver is known to fail, each with why (a
	// tracked gap); they are skipped with that message. A name that is not
	// a sub-test fails the run, so a renamed test is not skipped silently.
	Skip map[string]string
}

func (h Harness) withDefaults() Harness {
	if h.StartBudget <= 0 {
		h.StartBudget = 10 * time.Second
	}
	if h.Timeout <= 0 {
		h.Timeout = 300 * time.Millisecond
	}
	if h.Slack <= 0 {
		h.Slack = time.Second
	}
	if h.HammerRequests <= 0 {
		h.HammerRequests = 20
	}
	return h
}

// Run runs the conformance suite against h.Driver, one sub-test each (the
// names Harness.Skip takes):
//
//	Echo           method, full path (raw and unescaped), query, Host,
//	               headers and body (every byte value) reach the guest
//	LargeBody      a 1 MiB request body and a 1 MiB response body, exact
//	Status         status codes pass through, bodies exact, no redirects
//	               followed
//	ResponseHeaders response headers (repeated, Set-Cookie, Content-Type)
//	               pass through; no hop-by-hop header comes back
//	MaxOutput      a body of MaxOutput bytes passes; one byte more is a
//	               *GuestError; the runner serves afterwards
//	MaxOutputKind  that error's Kind is "output"
//	Timeout        a request past Spec.Timeout fails with ErrTimeout; the
//	               runner serves afterwards
//	TimeoutPrompt  that failure comes within Timeout + Slack while the
//	               guest still sleeps
//	Exit           a guest that exits (os.Exit(3)) is a *GuestError of
//	               Kind "exit"; the next request is served
//	Env            Spec.Env reaches the guest; the host's environment does
//	               not
//	Logs           stderr lines reach Spec.Logs with Service and Version
//	Instances      Instances lists live instances with Service, Version, a
//	               unique ID and a known State
//	ScaleToZero    SetDesired(2) makes 2 Ready; SetDesired(0) makes 0; a
//	               request then cold starts (OnWaitForInstance,
//	               OnColdStart) and is served
//	MinInstances   MinInstances are Ready after Load and stay, idle or not
//	NoCapacity     beyond MaxInstances busy and MaxQueue waiting, Serve
//	               fails at once with ErrNoCapacity; the others succeed
//	Concurrency    one instance serves requests concurrently, or one at a
//	               time, as Harness.Concurrent says
//	Hammer         50 goroutines × HammerRequests requests, all answered
//	               correctly
//	Close          Close waits for the request in flight; Serve then fails
//	               with ErrClosed; a second Close is safe
func Run(t *testing.T, h Harness) {
	if h.Driver == nil || h.Spec == nil {
		t.Fatal("sandboxtest: Harness needs a Driver and a Spec")
	}
	h = h.withDefaults()
	for name := range h.Skip {
		if !slices.ContainsFunc(subtests, func(st subtest) bool { return st.name == name }) {
			t.Errorf("Harness.Skip names %q, which is not a sub-test of the suite", name)
		}
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			if why, ok := h.Skip[st.name]; ok {
				t.Skip("known gap: " + why)
			}
			st.run(t, h)
		})
	}
}

type subtest struct {
	name string
	run  func(*testing.T, Harness)
}

// subtests are Run's sub-tests, in order.
var subtests = []subtest{
	{"Echo", testEcho},
	{"LargeBody", testLargeBody},
	{"Status", testStatus},
	{"ResponseHeaders", testResponseHeaders},
	{"MaxOutput", testMaxOutput},
	{"MaxOutputKind", testMaxOutputKind},
	{"Timeout", testTimeout},
	{"TimeoutPrompt", testTimeoutPrompt},
	{"Exit", testExit},
	{"Env", testEnv},
	{"Logs", testLogs},
	{"Instances", testInstances},
	{"ScaleToZero", testScaleToZero},
	{"MinInstances", testMinInstances},
	{"NoCapacity", testNoCapacity},
	{"Concurrency", testConcurrency},
	{"Hammer", testHammer},
	{"Close", testClose},
}

// Route is the route every request of the suite comes through; the guest
// sees it in front of RawPath.
const Route = "/conform"

// Version is the Spec.Version the suite loads.
const Version = 7

// runner is a loaded conformance guest and what the suite watches of it.
type runner struct {
	sandbox.Runner
	spec  sandbox.Spec
	logs  *logRecorder
	cold  atomic.Int64 // OnColdStart calls
	waits atomic.Int64 // OnWaitForInstance calls
}

// load loads the guest as service name, with the suite's defaults (a
// 10 s Timeout, a 4 MiB MaxOutput) and then edit applied to the spec.
// The runner is closed when the test ends.
func (h Harness) load(t *testing.T, name string, edit func(*sandbox.Spec)) *runner {
	t.Helper()
	spec := h.Spec(t, name)
	if spec.Service != name {
		t.Fatalf("Harness.Spec(%q) returned Service %q", name, spec.Service)
	}
	if spec.Container != nil {
		c := *spec.Container
		c.Env = slices.Clone(c.Env)
		spec.Container = &c
	}
	r := &runner{logs: &logRecorder{}}
	spec.Version = Version
	spec.Logs = r.logs
	spec.Timeout = 10 * time.Second
	spec.MaxOutput = 4 << 20
	spec.OnColdStart = func(time.Duration) { r.cold.Add(1) }
	spec.OnWaitForInstance = func() { r.waits.Add(1) }
	if edit != nil {
		edit(&spec)
	}
	r.spec = spec
	ctx, cancel := context.WithTimeout(t.Context(), h.StartBudget+time.Minute)
	defer cancel()
	var err error
	if r.Runner, err = h.Driver.Load(ctx, spec); err != nil {
		t.Fatalf("Load %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("Close %s: %v", name, err)
		}
	})
	return r
}

// setEnv sets spec's [env]; a container gets it after its image's env, as
// the node resolves it.
func setEnv(spec *sandbox.Spec, env map[string]string) {
	spec.Env = env
	if spec.Container != nil {
		for _, k := range slices.Sorted(maps.Keys(env)) {
			spec.Container.Env = append(spec.Container.Env, k+"="+env[k])
		}
	}
}

// scalable returns r as a sandbox.Scalable, failing the test if it is not
// one: every driver's runners are.
func (r *runner) scalable(t *testing.T) sandbox.Scalable {
	t.Helper()
	s, ok := r.Runner.(sandbox.Scalable)
	if !ok {
		t.Fatalf("the runner (%T) does not implement sandbox.Scalable", r.Runner)
	}
	return s
}

// warm makes sure n instances are ready, so that what follows does not
// wait for a cold start.
func (r *runner) warm(t *testing.T, h Harness, n int) {
	t.Helper()
	s := r.scalable(t)
	s.SetDesired(n)
	waitFor(t, h.StartBudget, fmt.Sprintf("SetDesired(%d) makes %d instances Ready", n, n), func() (bool, string) {
		got := s.Ready()
		return got >= n, fmt.Sprintf("Ready() = %d", got)
	})
}

var requestSeq atomic.Uint64

// newRequest returns a request through Route with a unique ID.
func newRequest(method, rawPath, rawQuery string) *sandbox.Request {
	return &sandbox.Request{
		ID:         fmt.Sprintf("conform-%d", requestSeq.Add(1)),
		Method:     method,
		Proto:      "HTTP/1.1",
		Scheme:     "http",
		Host:       "conform.example:8443",
		RemoteAddr: "192.0.2.7:5555",
		Route:      Route,
		RawPath:    rawPath,
		RawQuery:   rawQuery,
		Header:     http.Header{},
		ServerName: "conform.example",
		ServerPort: "8443",
	}
}

// get returns a GET request for rawPath?rawQuery.
func get(rawPath, rawQuery string) *sandbox.Request { return newRequest("GET", rawPath, rawQuery) }

// try serves req, bounded by a minute in case the driver hangs.
func (r *runner) try(t *testing.T, req *sandbox.Request) (*sandbox.Response, error) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	return r.Serve(ctx, req)
}

// serve serves req and fails the test unless it succeeds with want.
func (r *runner) serve(t *testing.T, req *sandbox.Request, want int) *sandbox.Response {
	t.Helper()
	resp, err := r.try(t, req)
	if err != nil {
		t.Fatalf("%s %s?%s: %v", req.Method, req.RawPath, req.RawQuery, err)
	}
	if resp.Status != want {
		t.Fatalf("%s %s?%s: status %d (body %q), want %d", req.Method, req.RawPath, req.RawQuery, resp.Status, short(resp.Body), want)
	}
	checkFraming(t, req, resp)
	return resp
}

// hopByHop are the headers a Response must not carry: the gateway frames
// the response itself.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// checkFraming checks that resp carries no hop-by-hop header, and a
// Content-Length only if it is the body's.
func checkFraming(t *testing.T, req *sandbox.Request, resp *sandbox.Response) {
	t.Helper()
	for _, k := range hopByHop {
		if v, ok := resp.Header[k]; ok {
			t.Errorf("%s %s: the response carries the hop-by-hop header %s: %q", req.Method, req.RawPath, k, v)
		}
	}
	if v, ok := resp.Header["Content-Length"]; ok && (len(v) != 1 || v[0] != fmt.Sprint(len(resp.Body))) {
		t.Errorf("%s %s: Content-Length %q, but the body is %d bytes", req.Method, req.RawPath, v, len(resp.Body))
	}
}

// short quotes at most 200 bytes of b, for messages.
func short(b []byte) string {
	if len(b) > 200 {
		return fmt.Sprintf("%q… (%d bytes)", b[:200], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// waitFor polls cond until it reports true, failing the test with what
// and cond's last description of the state when within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for d := 100 * time.Microsecond; ; d = min(2*d, 10*time.Millisecond) {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (%s)", what, within, state)
		}
		time.Sleep(d)
	}
}

// logRecorder is a sandbox.LogSink that keeps every entry.
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
	return slices.Clone(l.entries)
}

// BuildServer builds the conformance guest's HTTP server (conform/server)
// as a static Linux binary for the host's architecture (CGO_ENABLED=0)
// into dir and returns its path. It needs the go command (go test puts it
// on PATH) and a working directory inside this module, as a package's
// test has; it fails the test otherwise.
func BuildServer(t testing.TB, dir string) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building the conformance server: no go command: %v", err)
	}
	out := filepath.Join(dir, "conform-server")
	cmd := exec.CommandContext(t.Context(), goCmd, "build", "-o", out,
		"github.com/mote-run/mote/internal/sandbox/sandboxtest/conform/server")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the conformance server: %v\n%s", err, strings.TrimSpace(string(b)))
	}
	return out
}
