package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// Test fixtures: prebuilt modules, so no test needs a toolchain.
var (
	helloWasmPath = filepath.Join("..", "..", "examples", "hello-c", "hello.wasm")
	guestWasmPath = filepath.Join("..", "..", "internal", "sandbox", "wasm", "testdata", "guest.wasm")
	garbagePath   = filepath.Join("..", "..", "internal", "sandbox", "wasm", "testdata", "garbage.wasm")
)

// TestMain keeps the developer's environment out of the tests: no
// MOTE_ADDR or MOTE_TOKEN, and MOTE_DATA naming an empty directory, so no
// test finds a real node's admin.token or node.json by accident. Tests that
// exercise discovery set these with t.Setenv.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mote-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, k := range []string{client.EnvAddr, client.EnvToken, "MOTE_HTTP", "MOTE_ADMIN"} {
		os.Unsetenv(k)
	}
	os.Setenv(client.EnvData, dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one CLI invocation did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// mote runs the CLI with args and stdin, as a shell would run `mote ARGS`.
func mote(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(stdin), &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// must runs the CLI and fails the test unless it exits 0.
func must(t *testing.T, args ...string) result {
	t.Helper()
	r := mote(t, "", args...)
	if r.code != 0 {
		t.Fatalf("mote %s: want exit 0, got %s", strings.Join(args, " "), r)
	}
	return r
}

// fails runs the CLI and checks that it exits 1 with a line starting
// "Error: " on stderr (after any output of a build it ran) and every one of
// wants in stderr.
func fails(t *testing.T, args []string, wants ...string) result {
	t.Helper()
	r := mote(t, "", args...)
	if r.code != 1 {
		t.Fatalf("mote %s: want exit 1, got %s", strings.Join(args, " "), r)
	}
	if !strings.HasPrefix(r.stderr, "Error: ") && !strings.Contains(r.stderr, "\nError: ") {
		t.Errorf("mote %s: no line of stderr starts with \"Error: \":\n%s", strings.Join(args, " "), r.stderr)
	}
	if c := strings.Count(r.stderr, "Error: "); c != 1 {
		t.Errorf("mote %s: \"Error: \" appears %d times on stderr, want once:\n%s", strings.Join(args, " "), c, r.stderr)
	}
	for _, w := range wants {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("mote %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, r.stderr)
		}
	}
	return r
}

// testNode is a live in-process node and the flags that reach it.
type testNode struct {
	*nodetest.Env
	addr, token string
}

func newTestNode(t *testing.T) *testNode {
	t.Helper()
	env := nodetest.Start(t)
	return &testNode{Env: env, addr: env.Node.AdminURL(), token: env.Node.Token()}
}

// flags appends --addr and --token to args.
func (n *testNode) flags(args ...string) []string {
	return append(args, "--addr", n.addr, "--token", n.token)
}

// mote runs the CLI against the node, with stdin.
func (n *testNode) mote(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return mote(t, stdin, n.flags(args...)...)
}

// must runs the CLI against the node and fails unless it exits 0.
func (n *testNode) must(t *testing.T, args ...string) result {
	t.Helper()
	return must(t, n.flags(args...)...)
}

// fails runs the CLI against the node and checks it fails with wants.
func (n *testNode) fails(t *testing.T, args []string, wants ...string) result {
	t.Helper()
	return fails(t, n.flags(args...), wants...)
}

// deployGuest deploys guest.wasm as service name through the SDK, with
// extra TOML appended to the manifest.
func (n *testNode) deployGuest(t *testing.T, name, extra string) {
	t.Helper()
	manifest := fmt.Sprintf("name = %q\n\n[wasm]\nmodule = \"guest.wasm\"\n%s", name, extra)
	n.Deploy(t, client.Package{Manifest: []byte(manifest), Module: nodetest.ReadFile(t, guestWasmPath)})
}

// serviceDir writes a service directory: mote.toml and files.
func serviceDir(t *testing.T, manifest string, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "mote.toml"), []byte(manifest))
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
	return dir
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// closedAddr returns an admin URL on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// syncBuffer is a bytes.Buffer that a running command writes to while the
// test reads it.
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

// background is a CLI invocation running in a goroutine until its context
// is cancelled.
type background struct {
	stdout, stderr syncBuffer
	cancel         context.CancelFunc
	done           chan int
}

// start runs `mote ARGS` in a goroutine. The test cleanup cancels it and
// waits for it to return.
func start(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	b := &background{cancel: cancel, done: make(chan int, 1)}
	go func() { b.done <- run(ctx, args, strings.NewReader(""), &b.stdout, &b.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-b.done:
		case <-time.After(30 * time.Second):
			t.Errorf("mote %s did not return 30s after its context was cancelled", strings.Join(args, " "))
		}
	})
	return b
}

// waitStdout polls until stdout contains want, failing the test if the
// command ends first or the deadline passes.
func (b *background) waitStdout(t *testing.T, timeout time.Duration, want string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := b.stdout.String()
		if strings.Contains(out, want) {
			return out
		}
		select {
		case code := <-b.done:
			b.done <- code // leave it for stop and the cleanup
			t.Fatalf("command exited %d before printing %q\n--- stdout:\n%s--- stderr:\n%s", code, want, out, b.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %q\n--- stdout:\n%s--- stderr:\n%s", timeout, want, out, b.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop cancels the command and returns its exit code, failing the test if
// it does not return within timeout.
func (b *background) stop(t *testing.T, timeout time.Duration) int {
	t.Helper()
	b.cancel()
	select {
	case code := <-b.done:
		b.done <- code
		return code
	case <-time.After(timeout):
		t.Fatalf("command did not return %s after cancel\n--- stderr:\n%s", timeout, b.stderr.String())
		return -1
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args  []string
		wants []string
	}{
		{[]string{"help", "deploy"}, []string{"Usage:\n  mote deploy [PATH]", "Examples:", "  mote deploy examples/hello-c", "--no-build", "--addr", "--token"}},
		{[]string{"invoke", "--help"}, []string{"Examples:", "mote invoke hello /world", "-X, --request", "-d, --data", "-H, --header", "-i, --include"}},
		{[]string{"help", "logs"}, []string{"mote logs hello -f", "--tail", "--since"}},
		{[]string{"help", "run"}, []string{"--env", "--dir", ":ro"}},
		{[]string{"--help"}, []string{"Run a node:", "Deploy and manage services:", "Write and run modules:", "  up ", "  deploy ", "  run "}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := must(t, tt.args...)
			for _, w := range tt.wants {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

func TestUnknownCommandAndArgs(t *testing.T) {
	t.Parallel()
	fails(t, []string{"frobnicate"}, `unknown command "frobnicate"`)
	fails(t, []string{"inspect"}, "accepts 1 arg(s)")
	fails(t, []string{"ls", "extra"}, "unknown command")
	fails(t, []string{"ls", "--bogus"}, "unknown flag: --bogus")
}

func TestVersion(t *testing.T) {
	t.Parallel()
	n := newTestNode(t)
	t.Run("node reachable", func(t *testing.T) {
		r := n.must(t, "version")
		if !strings.HasPrefix(r.stdout, "Client: mote "+version+" (") {
			t.Errorf("no client line:\n%s", r.stdout)
		}
		if want := "Node:   mote test at " + n.addr + " (gateway " + n.Gateway + ")"; !strings.Contains(r.stdout, want) {
			t.Errorf("want %q in:\n%s", want, r.stdout)
		}
	})
	t.Run("node unreachable", func(t *testing.T) {
		addr := closedAddr(t)
		r := must(t, "version", "--addr", addr)
		if !strings.HasPrefix(r.stdout, "Client: mote "+version) {
			t.Errorf("no client line:\n%s", r.stdout)
		}
		if want := "Node:   not reachable at " + addr; !strings.Contains(r.stdout, want) {
			t.Errorf("want %q in:\n%s", want, r.stdout)
		}
	})
}

// TestErrors checks that failures print "Error: ..." and a "Try: ..." line
// saying what to do.
func TestErrors(t *testing.T) {
	t.Parallel()
	n := newTestNode(t)
	t.Run("wrong token", func(t *testing.T) {
		r := fails(t, []string{"ls", "--addr", n.addr, "--token", "not-the-token"}, "Error: missing or wrong admin token", "\nTry: ", "--token", "MOTE_TOKEN", "admin.token")
		if strings.Contains(r.stderr, "not-the-token") {
			t.Errorf("the error repeats the token:\n%s", r.stderr)
		}
	})
	t.Run("no token", func(t *testing.T) {
		// TestMain points MOTE_DATA at an empty directory: no token anywhere.
		fails(t, []string{"ls", "--addr", n.addr}, "Error: ", "\nTry: ", "no admin token was sent", "--token")
	})
	t.Run("unreachable", func(t *testing.T) {
		addr := closedAddr(t)
		r := fails(t, []string{"ls", "--addr", addr, "--token", "x"}, "Error: cannot reach the mote node at "+addr, "mote up", "Try:")
		if c := strings.Count(r.stderr, "start a node with `mote up`"); c != 1 {
			t.Errorf("the hint appears %d times, want once:\n%s", c, r.stderr)
		}
	})
	t.Run("invalid addr", func(t *testing.T) {
		fails(t, []string{"ls", "--addr", "ftp://example.com", "--token", "x"}, "Error: ")
	})
	for _, args := range [][]string{
		{"ls", "-o", "yaml"},
		{"ps", "-o", "yaml"},
		{"versions", "x", "-o", "yaml"},
		{"logs", "x", "-o", "yaml"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			n.fails(t, args, "Error: -o yaml: want")
		})
	}
	t.Run("bad name", func(t *testing.T) {
		n.fails(t, []string{"inspect", "Not_A_Name"}, "Error: ")
	})
}

// TestDiscovery checks how client commands find the node: flags, then
// MOTE_ADDR / MOTE_TOKEN, then the node's files in MOTE_DATA. It sets the
// environment, so it cannot run in parallel.
func TestDiscovery(t *testing.T) {
	n := newTestNode(t)
	wantListed := func(t *testing.T, r result) {
		t.Helper()
		if r.code != 0 || !strings.Contains(r.stdout, "NAME") {
			t.Fatalf("want a listing, got %s", r)
		}
	}
	t.Run("MOTE_ADDR and MOTE_TOKEN", func(t *testing.T) {
		t.Setenv(client.EnvAddr, n.addr)
		t.Setenv(client.EnvToken, n.token)
		wantListed(t, mote(t, "", "ls"))
	})
	t.Run("token file and node.json in MOTE_DATA", func(t *testing.T) {
		t.Setenv(client.EnvData, n.DataDir)
		wantListed(t, mote(t, "", "ls"))
		r := must(t, "version")
		if !strings.Contains(r.stdout, "Node:   mote test at "+n.addr) {
			t.Errorf("version did not find the node:\n%s", r.stdout)
		}
	})
	t.Run("MOTE_ADDR wins over node.json", func(t *testing.T) {
		t.Setenv(client.EnvData, n.DataDir)
		addr := closedAddr(t)
		t.Setenv(client.EnvAddr, addr)
		fails(t, []string{"ls"}, "cannot reach the mote node at "+addr)
	})
	t.Run("MOTE_ADDR with the token file", func(t *testing.T) {
		t.Setenv(client.EnvData, n.DataDir)
		t.Setenv(client.EnvAddr, n.addr)
		wantListed(t, mote(t, "", "ls"))
	})
	t.Run("flags win over the environment", func(t *testing.T) {
		t.Setenv(client.EnvAddr, closedAddr(t))
		t.Setenv(client.EnvToken, "wrong")
		wantListed(t, n.mote(t, "", "ls"))
	})
	t.Run("wrong MOTE_TOKEN is named in the hint", func(t *testing.T) {
		t.Setenv(client.EnvAddr, n.addr)
		t.Setenv(client.EnvToken, "wrong")
		fails(t, []string{"ls"}, "Try: ", "MOTE_TOKEN")
	})
	t.Run("MOTE_ADDR malformed", func(t *testing.T) {
		t.Setenv(client.EnvAddr, "ftp://nowhere")
		fails(t, []string{"ls"}, "MOTE_ADDR")
	})
}
