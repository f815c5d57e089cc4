package builder

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/internal/manifest"
)

// old and recent are the mtimes tests give files: sources "changed" after
// the module was built are recent.
var (
	old    = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	recent = old.Add(time.Hour)
)

// write creates dir/name (slash-separated) with mtime at.
func write(t *testing.T, dir, name string, at time.Time) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
}

// parse reads a manifest for a test.
func parse(t *testing.T, doc string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const (
	noBuild   = "name = \"hello\"\n[wasm]\nmodule = \"hello.wasm\"\n"
	withBuild = noBuild + "[build]\ncommand = \"make\"\n"
)

func TestStale(t *testing.T) {
	for _, tc := range []struct {
		name   string
		doc    string
		files  map[string]time.Time
		stale  bool
		reason string
	}{
		{"container image missing", "name = \"web\"\n[container]\nimage = \"./image\"\n[build]\ncommand = \"make\"\n", nil, true, "image is missing"},
		{"container archive up to date", "name = \"web\"\n[container]\nimage = \"./app.tar\"\n[build]\ncommand = \"make\"\n", map[string]time.Time{"app.tar": recent, "main.go": old}, false, ""},
		{"container source newer", "name = \"web\"\n[container]\nimage = \"./app.tar\"\n[build]\ncommand = \"make\"\n", map[string]time.Time{"app.tar": old, "main.go": recent}, true, "main.go is newer than app.tar"},
		{"container in a registry", "name = \"web\"\n[container]\nimage = \"ghcr.io/x/web:1\"\n[build]\ncommand = \"make\"\n", nil, false, ""},
		{"missing", withBuild, map[string]time.Time{"main.c": old}, true, "hello.wasm is missing"},
		{"missing without build", noBuild, nil, true, "hello.wasm is missing"},
		{"missing in a subdir", "name = \"hello\"\n[wasm]\nmodule = \"./out/hello.wasm\"\n", nil, true, "out/hello.wasm is missing"},
		{"up to date", withBuild, map[string]time.Time{"hello.wasm": recent, "main.c": old, "src/lib.c": old}, false, ""},
		{"same mtime is up to date", withBuild, map[string]time.Time{"hello.wasm": old, "main.c": old}, false, ""},
		{"source newer", withBuild, map[string]time.Time{"hello.wasm": old, "main.c": recent}, true, "main.c is newer than hello.wasm"},
		{"first newer source in order", withBuild, map[string]time.Time{"hello.wasm": old, "b.c": recent, "a.c": recent}, true, "a.c is newer than hello.wasm"},
		{"nested source newer", withBuild, map[string]time.Time{"hello.wasm": old, "src/lib/x.c": recent}, true, "src/lib/x.c is newer than hello.wasm"},
		{"no build ignores sources", noBuild, map[string]time.Time{"hello.wasm": old, "main.c": recent}, false, ""},
		{"hidden file ignored", withBuild, map[string]time.Time{"hello.wasm": old, ".env": recent}, false, ""},
		{"hidden dir ignored", withBuild, map[string]time.Time{"hello.wasm": old, ".git/index": recent, "src/.cache/x": recent}, false, ""},
		{"manifest ignored", withBuild, map[string]time.Time{"hello.wasm": old, "mote.toml": recent}, false, ""},
		{"module in subdir", "name = \"hello\"\n[wasm]\nmodule = \"out/hello.wasm\"\n[build]\ncommand = \"make\"\n",
			map[string]time.Time{"out/hello.wasm": old, "main.c": recent}, true, "main.c is newer than out/hello.wasm"},
		{"watch selects", withBuild + "watch = [\"src/*.c\"]\n", map[string]time.Time{"hello.wasm": old, "src/a.c": recent}, true, "src/a.c is newer than hello.wasm"},
		{"watch skips others", withBuild + "watch = [\"src/*.c\"]\n", map[string]time.Time{"hello.wasm": old, "README.md": recent, "src/a.h": recent, "lib/a.c": recent}, false, ""},
		{"watch dir", withBuild + "watch = [\"src\"]\n", map[string]time.Time{"hello.wasm": old, "src/a/b/c.go": recent}, true, "src/a/b/c.go is newer than hello.wasm"},
		{"watch doublestar", withBuild + "watch = [\"**/*.go\"]\n", map[string]time.Time{"hello.wasm": old, "x/y/z.go": recent}, true, "x/y/z.go is newer than hello.wasm"},
		{"watch hidden never", withBuild + "watch = [\"*\"]\n", map[string]time.Time{"hello.wasm": old, ".hidden": recent}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, at := range tc.files {
				write(t, dir, name, at)
			}
			stale, reason, err := Stale(dir, parse(t, tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			if stale != tc.stale || reason != tc.reason {
				t.Errorf("Stale = %v, %q; want %v, %q", stale, reason, tc.stale, tc.reason)
			}
		})
	}
}

func TestStaleModuleIsDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "hello.wasm"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Stale(dir, parse(t, withBuild)); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Stale error = %v; want not a regular file", err)
	}
}

func TestStaleSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	dir, outside := t.TempDir(), t.TempDir()
	write(t, dir, "hello.wasm", old)
	write(t, outside, "shared.h", recent)
	if err := os.Symlink(filepath.Join(outside, "shared.h"), filepath.Join(dir, "shared.h")); err != nil {
		t.Fatal(err)
	}
	// A link to a directory is not followed (it could loop).
	if err := os.Symlink(outside, filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	stale, reason, err := Stale(dir, parse(t, withBuild))
	if err != nil || !stale || reason != "shared.h is newer than hello.wasm" {
		t.Errorf("Stale = %v, %q, %v; want the linked file newer", stale, reason, err)
	}
}

// needShell skips tests that run shell commands where there is no sh.
func needShell(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the build tests use sh commands")
	}
}

func TestRun(t *testing.T) {
	needShell(t)
	t.Setenv("MOTE_BUILD_TEST", "from-host")
	for _, tc := range []struct {
		name       string
		doc        string
		wantErr    error
		wantText   string // part of the error, or of the module's content on success
		wantStdout string
		wantStderr string
	}{
		{name: "copies", doc: "[build]\ncommand = \"cp src.txt out.wasm\"\n", wantText: "source"},
		{name: "output", doc: "[build]\ncommand = \"echo to-out; echo to-err >&2; cp src.txt out.wasm\"\n",
			wantText: "source", wantStdout: "to-out\n", wantStderr: "to-err\n"},
		{name: "host environment", doc: "[build]\ncommand = 'printf %s \"$MOTE_BUILD_TEST\" > out.wasm'\n", wantText: "from-host"},
		{name: "multi-line", doc: "[build]\ncommand = '''\nset -e\nmkdir -p tmp\ncp src.txt tmp/x\nmv tmp/x out.wasm\n'''\n", wantText: "source"},
		{name: "exit code", doc: "[build]\ncommand = \"echo broken >&2; exit 3\"\n", wantErr: ErrFailed,
			wantText: `build command "echo broken >&2; exit 3" failed with exit code 3`, wantStderr: "broken\n"},
		{name: "no such command", doc: "[build]\ncommand = \"no-such-command-for-mote 2>/dev/null\"\n", wantErr: ErrFailed, wantText: "exit code 127"},
		{name: "no module", doc: "[build]\ncommand = \"true\"\n", wantErr: ErrNoModule,
			wantText: `build command "true" succeeded but out.wasm does not exist; Try:`},
		{name: "no build", doc: "", wantErr: ErrNoCommand,
			wantText: `out.wasm is missing and mote.toml has no [build] command; Try: add [build] command = "..."`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "src.txt", old)
			if err := os.WriteFile(filepath.Join(dir, "src.txt"), []byte("source"), 0o644); err != nil {
				t.Fatal(err)
			}
			m := parse(t, "name = \"out\"\n[wasm]\nmodule = \"out.wasm\"\n"+tc.doc)
			var stdout, stderr bytes.Buffer
			err := Run(t.Context(), dir, m, &stdout, &stderr)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantText) {
					t.Fatalf("Run error %v; want %v containing %q", err, tc.wantErr, tc.wantText)
				}
			} else {
				if err != nil {
					t.Fatalf("Run: %v (stderr %q)", err, stderr.String())
				}
				got, err := os.ReadFile(filepath.Join(dir, "out.wasm"))
				if err != nil || string(got) != tc.wantText {
					t.Fatalf("module = %q, %v; want %q", got, err, tc.wantText)
				}
				if stale, reason, err := Stale(dir, m); err != nil || stale {
					t.Errorf("Stale after Run = %v, %q, %v", stale, reason, err)
				}
			}
			if stdout.String() != tc.wantStdout || stderr.String() != tc.wantStderr {
				t.Errorf("stdout %q, stderr %q; want %q, %q", stdout.String(), stderr.String(), tc.wantStdout, tc.wantStderr)
			}
		})
	}
}

func TestRunModuleExistsNoBuild(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "hello.wasm", old)
	err := Run(t.Context(), dir, parse(t, noBuild), nil, nil)
	if !errors.Is(err, ErrNoCommand) || strings.Contains(err.Error(), "missing") {
		t.Errorf("Run error %v; want ErrNoCommand without \"missing\"", err)
	}
}

func TestRunContainer(t *testing.T) {
	needShell(t)
	dir := t.TempDir()
	m := parse(t, "name = \"web\"\n[container]\nimage = \"./image\"\n[build]\ncommand = \"mkdir image\"\n")
	if err := Run(t.Context(), dir, m, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "image")); err != nil {
		t.Errorf("command did not run: %v", err)
	}
}

func TestRunCancel(t *testing.T) {
	needShell(t)
	dir := t.TempDir()
	m := parse(t, "name = \"out\"\n[wasm]\nmodule = \"out.wasm\"\n[build]\ncommand = \"sleep 30\"\n")
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Run(ctx, dir, m, &bytes.Buffer{}, &bytes.Buffer{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run error %v; want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %v after its context ended", d)
	}
}

// Stopping a build stops what the shell started, not just the shell.
func TestRunCancelStopsChildren(t *testing.T) {
	needShell(t)
	dir := t.TempDir()
	m := parse(t, "name = \"out\"\n[wasm]\nmodule = \"out.wasm\"\n[build]\ncommand = \"(sleep 0.5; touch late) & echo started; wait\"\n")
	ctx, cancel := context.WithCancel(t.Context())
	var stdout syncBuffer
	done := make(chan error, 1)
	go func() { done <- Run(ctx, dir, m, &stdout, &bytes.Buffer{}) }()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(stdout.String(), "started"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the command never started")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error %v; want context.Canceled", err)
	}
	time.Sleep(time.Second) // past when the child would have written
	if _, err := os.Stat(filepath.Join(dir, "late")); err == nil {
		t.Error("a child of the stopped command kept running")
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A process the command leaves behind may hold the output pipe open; Run
// must not wait for it.
func TestRunBackgroundChild(t *testing.T) {
	needShell(t)
	defer func(d time.Duration) { waitDelay = d }(waitDelay)
	waitDelay = 100 * time.Millisecond
	dir := t.TempDir()
	write(t, dir, "src.txt", old)
	m := parse(t, "name = \"out\"\n[wasm]\nmodule = \"out.wasm\"\n[build]\ncommand = \"(sleep 5 &); cp src.txt out.wasm\"\n")
	start := time.Now()
	if err := Run(t.Context(), dir, m, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Run waited %v for a background child", d)
	}
}
