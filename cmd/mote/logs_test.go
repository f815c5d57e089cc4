package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// invokeStderr calls guest.wasm's /stderr path through the gateway and
// returns the request id its three log lines carry.
func invokeStderr(t *testing.T, n *testNode, service string) string {
	t.Helper()
	status, h, body := n.Get(t, "/"+service+"/stderr")
	if status != 200 || body != "wrote 3 lines to stderr\n" {
		t.Fatalf("GET /%s/stderr = %d %q", service, status, body)
	}
	id := h.Get("X-Request-Id")
	if id == "" {
		t.Fatal("no X-Request-Id")
	}
	return id
}

func TestLogs(t *testing.T) {
	t.Parallel()
	n := newTestNode(t)
	n.deployGuest(t, "guest", "")
	id := invokeStderr(t, n, "guest")

	// Guest output reaches the log store asynchronously.
	var out string
	nodetest.Eventually(t, 5*time.Second, "the guest's stderr in mote logs", func() bool {
		out = n.must(t, "logs", "guest").stdout
		return strings.Contains(out, "stderr line 3")
	})

	t.Run("text", func(t *testing.T) {
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 4 {
			t.Fatalf("want the deploy line and 3 stderr lines, got:\n%s", out)
		}
		if f := strings.Fields(lines[0]); len(f) < 6 || f[2] != "v1" || f[3] != "-" || f[4] != "mote/info" || !strings.HasPrefix(f[5], "deployed") {
			t.Errorf("deploy line: %q", lines[0])
		}
		for i, line := range lines[1:] {
			f := strings.Fields(line)
			if len(f) != 8 || f[2] != "v1" || f[3] != id || f[4] != "stderr" || strings.Join(f[5:], " ") != "stderr line "+string(rune('1'+i)) {
				t.Errorf("line %d: %q", i+1, line)
			}
			if _, err := time.Parse("2006-01-02 15:04:05.000", f[0]+" "+f[1]); err != nil {
				t.Errorf("line %d has no timestamp: %v", i+1, err)
			}
		}
	})
	t.Run("--tail 1", func(t *testing.T) {
		r := n.must(t, "logs", "guest", "--tail", "1")
		if strings.Count(r.stdout, "\n") != 1 || !strings.HasSuffix(r.stdout, "stderr line 3\n") {
			t.Errorf("want only the last line, got:\n%s", r.stdout)
		}
	})
	t.Run("-o json", func(t *testing.T) {
		r := n.must(t, "logs", "guest", "-o", "json")
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != 4 {
			t.Fatalf("want 4 JSON lines, got:\n%s", r.stdout)
		}
		for i, line := range lines {
			var e api.LogEntry
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("line %d is not a log entry: %v\n%s", i, err, line)
			}
			if e.Service != "guest" || e.Version != 1 || e.Time.IsZero() {
				t.Errorf("line %d: %+v", i, e)
			}
			if i > 0 && (e.RequestID != id || e.Stream != api.StreamStderr || e.Message != "stderr line "+string(rune('0'+i))) {
				t.Errorf("line %d: %+v", i, e)
			}
		}
	})
	t.Run("--since", func(t *testing.T) {
		if r := n.must(t, "logs", "guest", "--since", "1h"); r.stdout != out {
			t.Errorf("--since 1h lost lines:\n%s", r.stdout)
		}
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if r := n.must(t, "logs", "guest", "--since", future); r.stdout != "" {
			t.Errorf("--since %s printed:\n%s", future, r.stdout)
		}
		n.fails(t, []string{"logs", "guest", "--since", "yesterday"}, `--since "yesterday"`)
	})
	t.Run("unknown service", func(t *testing.T) {
		n.fails(t, []string{"logs", "nosuch"}, "Error: no service named nosuch", "Try: ")
	})
	t.Run("-f", func(t *testing.T) {
		b := start(t, n.flags("logs", "guest", "-f")...)
		b.waitStdout(t, 5*time.Second, id) // what was there already
		id2 := invokeStderr(t, n, "guest")
		got := b.waitStdout(t, 5*time.Second, id2+" stderr     stderr line 3\n")
		if c := strings.Count(got, "stderr line 3"); c != 2 {
			t.Errorf("want 2 copies of line 3 (one per request), got %d:\n%s", c, got)
		}
		if code := b.stop(t, 5*time.Second); code != 0 {
			t.Errorf("mote logs -f exited %d after cancel, want 0\n%s", code, b.stderr.String())
		}
		if s := b.stderr.String(); s != "" {
			t.Errorf("stderr: %q", s)
		}
	})
}
