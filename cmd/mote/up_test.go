package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// get fetches url and returns the status and body, failing on a transport
// error.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// listenFlags make a node listen on free loopback ports.
var listenFlags = []string{"--http", "127.0.0.1:0", "--admin", "127.0.0.1:0"}

func TestUp(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	b := start(t, append([]string{"up", "--data", data}, listenFlags...)...)
	out := b.waitStdout(t, 30*time.Second, "  data     ")
	m := regexp.MustCompile(`(?m)^mote node ready\n  gateway  (http://\S+)\n  admin    (http://\S+)\n  data     (.+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no ready banner:\n%s", out)
	}
	gateway, admin := m[1], m[2]
	if m[3] != data {
		t.Errorf("data dir %q, want %q", m[3], data)
	}

	if status, body := get(t, admin+"/healthz"); status != 200 {
		t.Errorf("GET /healthz = %d %q", status, body)
	}
	tokenFile := client.TokenFile(data)
	info, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("%s has mode %o, want 600", tokenFile, mode)
	}
	token := strings.TrimSpace(string(nodetest.ReadFile(t, tokenFile)))

	// The node serves what the CLI deploys to it.
	dir := serviceDir(t, "name = \"hello\"\n\n[wasm]\nmodule = \"hello.wasm\"\n", map[string][]byte{"hello.wasm": nodetest.ReadFile(t, helloWasmPath)})
	must(t, "deploy", dir, "--addr", admin, "--token", token)
	if status, body := get(t, gateway+"/hello/x"); status != 200 || !strings.Contains(body, "You asked for /x") {
		t.Errorf("GET /hello/x = %d %q", status, body)
	}

	t.Run("a second node on the same data dir fails", func(t *testing.T) {
		fails(t, append([]string{"up", "--data", data}, listenFlags...), "Error: node: another mote node", "Try: ")
	})

	start := time.Now()
	if code := b.stop(t, 10*time.Second); code != 0 {
		t.Fatalf("mote up exited %d after cancel, want 0\n%s", code, b.stderr.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopping an idle node took %s", d)
	}
	if s := b.stderr.String(); !strings.Contains(s, "stopping") {
		t.Errorf("stderr does not say it is stopping:\n%s", s)
	}
	if _, err := http.Get(admin + "/healthz"); err == nil {
		t.Error("the admin API still answers after mote up returned")
	}

	t.Run("restart keeps services and token", func(t *testing.T) {
		b := start2(t, data)
		out := b.waitStdout(t, 30*time.Second, "  data     ")
		admin := regexp.MustCompile(`admin    (http://\S+)`).FindStringSubmatch(out)[1]
		r := must(t, "ls", "--addr", admin, "--token", token)
		if row(r.stdout, "hello") == "" {
			t.Errorf("hello is gone after a restart:\n%s", r.stdout)
		}
		if code := b.stop(t, 10*time.Second); code != 0 {
			t.Errorf("exit %d", code)
		}
	})
}

// start2 runs `mote up` on data.
func start2(t *testing.T, data string) *background {
	t.Helper()
	return start(t, append([]string{"up", "--data", data}, listenFlags...)...)
}

func TestUpErrors(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, nil)
	tests := []struct {
		name  string
		args  []string
		wants []string
	}{
		{"bad --log-level", append([]string{"up", "--data", t.TempDir(), "--log-level", "loud"}, listenFlags...), []string{`Error: --log-level "loud"`}},
		{"data dir is a file", append([]string{"up", "--data", file}, listenFlags...), []string{"Error: "}},
		{"bad --admin", []string{"up", "--data", t.TempDir(), "--http", "127.0.0.1:0", "--admin", "not an address"}, []string{"Error: ", "--admin"}},
		{"arguments", []string{"up", "extra"}, []string{"Error: unknown command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fails(t, tt.args, tt.wants...)
		})
	}
}

func TestDemo(t *testing.T) {
	if raceEnabled {
		t.Skip("mote demo compiles six Go modules from scratch, minutes under the race detector; it runs in the plain test pass")
	}
	t.Parallel()
	b := start(t, append([]string{"demo", "--data", t.TempDir()}, listenFlags...)...)
	// The first start compiles six Go modules (~10 s on 2 idle cores).
	out := b.waitStdout(t, 120*time.Second, "Ctrl-C stops the node.")
	m := regexp.MustCompile(`curl (http://\S+)/hello-c/world`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no curl line:\n%s", out)
	}
	gateway := m[1]
	for _, name := range []string{"hello-c", "hello-go", "echo-go", "hello-sdk", "counter-go", "todo-go", "call-go", "fetch-go"} {
		if !regexp.MustCompile(`(?m)^  ` + name + ` +` + regexp.QuoteMeta(gateway+"/"+name) + `$`).MatchString(out) {
			t.Errorf("no URL line for %s:\n%s", name, out)
		}
	}
	if status, body := get(t, gateway+"/hello-c/world"); status != 200 || !strings.Contains(body, "Hello from C on mote!") {
		t.Errorf("GET /hello-c/world = %d %q", status, body)
	}
	if code := b.stop(t, 10*time.Second); code != 0 {
		t.Errorf("mote demo exited %d after cancel, want 0\n%s", code, b.stderr.String())
	}
}
