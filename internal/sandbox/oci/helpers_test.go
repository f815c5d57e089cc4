package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
)

// The test server's rootfs, built once per test binary.
var (
	buildOnce sync.Once
	buildDir  string // a temporary dir holding rootfs/
	buildSkip string // why tests that need it skip
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// testRootfs returns the rootfs holding /server (testdata/server), built
// with the go command; it skips t when containers cannot run here or there
// is no go command.
func testRootfs(t testing.TB) string {
	t.Helper()
	if err := Check(); err != nil {
		t.Skip(err.Error())
	}
	buildOnce.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			buildSkip = "no go command to build the test server: " + err.Error()
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "oci-test-"); buildErr != nil {
			return
		}
		// World-searchable, as a user namespace's root must reach the rootfs.
		if buildErr = os.Chmod(buildDir, 0o755); buildErr != nil {
			return
		}
		rootfs := filepath.Join(buildDir, "rootfs")
		if buildErr = os.Mkdir(rootfs, 0o755); buildErr != nil {
			return
		}
		// The mount points an image has: runc would create missing ones in
		// the rootfs, and gives a tmpfs the mode of its mount point.
		for dir, mode := range map[string]os.FileMode{"proc": 0o555, "sys": 0o555, "dev": 0o755, "etc": 0o755, "tmp": os.ModeSticky | 0o777} {
			if buildErr = os.Mkdir(filepath.Join(rootfs, dir), 0o755); buildErr != nil {
				return
			}
			if buildErr = os.Chmod(filepath.Join(rootfs, dir), mode); buildErr != nil {
				return
			}
		}
		if buildErr = os.WriteFile(filepath.Join(rootfs, "etc", "hosts"), nil, 0o644); buildErr != nil {
			return
		}
		cmd := exec.Command(gobin, "build", "-o", filepath.Join(rootfs, "server"), "./testdata/server")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building the test server: %v\n%s", err, out)
		}
	})
	if buildSkip != "" {
		t.Skip(buildSkip)
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "rootfs")
}

// newTestDriver returns a Driver with a fresh state dir, closed (and
// checked to leave nothing behind) at the end of the test.
func newTestDriver(t testing.TB) *Driver {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	d, err := New(Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ids, _ := d.runc.list(context.Background())
		if err := d.Close(context.Background()); err != nil {
			t.Errorf("driver Close: %v", err)
		}
		if len(ids) > 0 {
			t.Errorf("containers left after the runners closed: %v", ids)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("state dir %s left after Close (%v)", dir, err)
		}
	})
	return d
}

// testLogs collects log entries.
type testLogs struct {
	mu      sync.Mutex
	entries []api.LogEntry
}

func (l *testLogs) Log(e api.LogEntry) {
	l.mu.Lock()
	l.entries = append(l.entries, e)
	l.mu.Unlock()
}

// find returns the first entry on stream whose message contains s.
func (l *testLogs) find(stream, s string) (api.LogEntry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.entries {
		if e.Stream == stream && strings.Contains(e.Message, s) {
			return e, true
		}
	}
	return api.LogEntry{}, false
}

func (l *testLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range l.entries {
		fmt.Fprintf(&b, "  [%s %s] %s\n", e.Stream, e.Level, e.Message)
	}
	return b.String()
}

// waitLog waits up to 10 s for a line on stream containing s.
func (l *testLogs) waitLog(t testing.TB, stream, s string) api.LogEntry {
	t.Helper()
	var e api.LogEntry
	waitFor(t, 10*time.Second, func() bool {
		var ok bool
		e, ok = l.find(stream, s)
		return ok
	}, func() string { return fmt.Sprintf("a %s line with %q; logs:\n%s", stream, s, l) })
	return e
}

// testSpec is a Spec for the test server; adjust changes it.
func testSpec(t testing.TB, service string, logs *testLogs, adjust func(*sandbox.Spec)) sandbox.Spec {
	s := sandbox.Spec{
		Service:     service,
		Version:     1,
		ABI:         api.ABIContainer,
		MemoryLimit: 256 << 20,
		Timeout:     10 * time.Second,
		Logs:        logs,
		Container: &sandbox.Container{
			Rootfs:       testRootfs(t),
			Args:         []string{"/server"},
			Env:          []string{"PATH=/bin"},
			Grace:        2 * time.Second,
			StartTimeout: 10 * time.Second,
		},
	}
	if adjust != nil {
		adjust(&s)
	}
	return s
}

// load loads spec on d; the runner is closed at the end of the test.
func load(t testing.TB, d *Driver, spec sandbox.Spec) *runner {
	t.Helper()
	rn, err := d.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := rn.Close(ctx); err != nil {
			t.Errorf("runner Close: %v", err)
		}
	})
	return rn.(*runner)
}

// get serves GET path (with an optional query) through r.
func get(ctx context.Context, r sandbox.Runner, path string) (*sandbox.Response, error) {
	route, query, _ := strings.Cut(path, "?")
	return r.Serve(ctx, &sandbox.Request{
		ID: "req-" + route, Method: "GET", Proto: "HTTP/1.1", Scheme: "http", Host: "example.test",
		RemoteAddr: "192.0.2.7:5555", Route: route, RawQuery: query, Header: map[string][]string{},
	})
}

// mustGet serves GET path and fails t unless the answer is 200.
func mustGet(t testing.TB, r sandbox.Runner, path string) string {
	t.Helper()
	resp, err := get(t.Context(), r, path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.Status != 200 {
		t.Fatalf("GET %s: status %d: %s", path, resp.Status, resp.Body)
	}
	return string(resp.Body)
}

// waitFor polls cond every 10 ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// containers lists the containers under d's runc root.
func containers(t testing.TB, d *Driver) []string {
	t.Helper()
	ids, err := d.runc.list(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// states lists the states of r's instances.
func states(r *runner) []string {
	var out []string
	for _, i := range r.Instances() {
		out = append(out, i.State)
	}
	slices.Sort(out)
	return out
}
