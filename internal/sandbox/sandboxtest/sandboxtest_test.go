package sandboxtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/mote-run/mote/internal/sandbox/sandboxtest/conform"
)

// TestBuildServer builds the container guest and runs it as a plain
// process: it serves conform.Handler on 127.0.0.1:$PORT, and /panic ends
// it with conform.ExitCode.
func TestBuildServer(t *testing.T) {
	bin := BuildServer(t, t.TempDir())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	cmd := exec.CommandContext(t.Context(), bin)
	cmd.Env = []string{"PORT=" + strconv.Itoa(port), "CONFORM_GREETING=hi"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	waitFor(t, 10*time.Second, "the server accepts connections", func() (bool, string) {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	status, body := get("/svc/a%20b?x=1")
	var e conform.Echo
	if err := json.Unmarshal(body, &e); status != 200 || err != nil || e.RawPath != "/svc/a%20b" || e.Query != "x=1" {
		t.Errorf("echo: %d %s (%v)", status, body, err)
	}
	if status, body := get("/env?k=CONFORM_GREETING"); status != 200 || string(body) != "hi" {
		t.Errorf("env: %d %q", status, body)
	}
	if _, err := http.Get(base + "/panic"); err == nil {
		t.Errorf("/panic answered")
	}
	select {
	case err := <-exited:
		exited <- err
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != conform.ExitCode {
			t.Errorf("after /panic the server ended with %v, want exit status %d", err, conform.ExitCode)
		}
		if !bytes.Contains(stderr.Bytes(), []byte("serving on 127.0.0.1:"+strconv.Itoa(port))) {
			t.Errorf("stderr: %q", stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the server still runs after /panic")
	}
}
