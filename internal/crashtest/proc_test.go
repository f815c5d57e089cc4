package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/client"
)

// Files `mote up` writes in its data dir (package node's InfoFileName and
// TokenFileName; not imported, so that this package builds alone).
const (
	infoFile  = "node.json"
	tokenFile = "admin.token"
)

// nodeInfo is the part of node.json the test reads.
type nodeInfo struct {
	PID        int    `json:"pid"`
	GatewayURL string `json:"gateway_url"`
	AdminURL   string `json:"admin_url"`
}

// Deadlines of the node's life cycle.
const (
	// startTimeout bounds a start, from exec to /readyz answering 200.
	startTimeout = 60 * time.Second
	// exitTimeout bounds the wait for a killed node to be reaped.
	exitTimeout = 10 * time.Second
	// outputTail is how much of a node's output a failure message shows.
	outputTail = 32 << 10
)

var (
	buildOnce sync.Once
	binDir    string // holds the mote binary; removed by TestMain
	binPath   string
	buildErr  error
	buildSkip string // why the binary cannot be built here, if it cannot
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// moteBinary builds cmd/mote once per test run and returns its path;
// $MOTE_CRASH_BIN names a binary to test instead.
func moteBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("MOTE_CRASH_BIN"); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		goCmd, err := exec.LookPath("go")
		if err != nil {
			goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
			if _, err := os.Stat(goCmd); err != nil {
				buildSkip = "the go command is not available to build cmd/mote"
				return
			}
		}
		out, err := exec.Command(goCmd, "env", "GOMOD").Output()
		gomod := strings.TrimSpace(string(out))
		if err != nil || gomod == "" || gomod == os.DevNull {
			buildErr = fmt.Errorf("find the module root (go env GOMOD = %q): %v", gomod, err)
			return
		}
		if binDir, err = os.MkdirTemp("", "mote-crashtest-"); err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(binDir, "mote")
		cmd := exec.Command(goCmd, "build", "-o", binPath, "./cmd/mote")
		cmd.Dir = filepath.Dir(gomod)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/mote: %v\n%s", err, out)
		}
	})
	switch {
	case buildSkip != "":
		t.Skip(buildSkip)
	case buildErr != nil:
		t.Fatal(buildErr)
	}
	return binPath
}

// tail keeps the last max bytes written to it; safe for concurrent use.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if over := len(w.b) - w.max; over > 0 {
		w.b = append(w.b[:0], w.b[over:]...)
	}
	return len(p), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.b)
}

// proc is one `mote up` subprocess.
type proc struct {
	cmd     *exec.Cmd
	out     *tail // stdout and stderr
	exited  chan struct{}
	waitErr error // set before exited closes
}

// spawn starts `mote up` on dir with listeners on free ports, and extra
// flags; t.Cleanup kills it.
func spawn(t *testing.T, bin, dir string, extra ...string) *proc {
	t.Helper()
	p := &proc{out: &tail{max: outputTail}, exited: make(chan struct{})}
	args := append([]string{"up", "--data", dir, "--http", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-level", logLevel()}, extra...)
	p.cmd = exec.Command(bin, args...)
	dieWithTest(p.cmd)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start mote up: %v", err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if err := p.kill(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return p
}

// logLevel is the node's: $MOTE_CRASH_LOG_LEVEL, "info" by default.
func logLevel() string {
	if l := os.Getenv("MOTE_CRASH_LOG_LEVEL"); l != "" {
		return l
	}
	return "info"
}

// kill SIGKILLs the node and waits for it to be reaped.
func (p *proc) kill() error {
	_ = p.cmd.Process.Kill() // an error means it has exited already
	select {
	case <-p.exited:
		return nil
	case <-time.After(exitTimeout):
		return fmt.Errorf("node pid %d still running %v after SIGKILL", p.cmd.Process.Pid, exitTimeout)
	}
}

// output is the tail of the node's output, for failure messages.
func (p *proc) output() string {
	return fmt.Sprintf("--- node pid %d output (last %d KiB) ---\n%s--- end of node output ---", p.cmd.Process.Pid, outputTail>>10, p.out)
}

// moteNode is a started node and the clients that reach it.
type moteNode struct {
	*proc
	admin   *client.Client
	gateway string // base URL
	http    *http.Client
}

// startNode spawns a node on dir and waits until it is ready: node.json
// names this process and GET /readyz answers 200.
func startNode(t *testing.T, bin, dir string, extra ...string) *moteNode {
	t.Helper()
	p := spawn(t, bin, dir, extra...)
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		select {
		case <-p.exited:
			t.Fatalf("node exited before it was ready: %v\n%s", p.waitErr, p.output())
		case <-ctx.Done():
			t.Fatalf("node not ready after %v (last: %v)\n%s", startTimeout, last, p.output())
		case <-tick.C:
		}
		n, err := reach(ctx, p, dir)
		if err == nil {
			return n
		}
		last = err
	}
}

// errStale: node.json was written by an earlier process.
var errStale = errors.New("node.json names another process")

// reach reads node.json and the admin token and asks /readyz.
func reach(ctx context.Context, p *proc, dir string) (*moteNode, error) {
	b, err := os.ReadFile(filepath.Join(dir, infoFile))
	if err != nil {
		return nil, err
	}
	var info nodeInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("%s: %w", infoFile, err)
	}
	if info.PID != p.cmd.Process.Pid {
		return nil, fmt.Errorf("%w (pid %d, want %d)", errStale, info.PID, p.cmd.Process.Pid)
	}
	tok, err := os.ReadFile(filepath.Join(dir, tokenFile))
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	c, err := client.New(info.AdminURL, client.WithToken(string(tok)), client.WithHTTPClient(hc))
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.Ready(rctx); err != nil {
		return nil, err
	}
	return &moteNode{proc: p, admin: c, gateway: strings.TrimRight(info.GatewayURL, "/"), http: hc}, nil
}

// get sends GET path to the gateway, with key as X-API-Key unless it is
// "", and returns the status and headers; the body is discarded.
func (n *moteNode) get(ctx context.Context, path, key string) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.gateway+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := n.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header, nil
}
