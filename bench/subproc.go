package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mote-run/mote/client"
)

// buildMote compiles cmd/mote into dir and returns the binary's path.
func buildMote(dir string) (string, error) {
	// The module's root: the directory above this source file's (go run
	// ./bench), else the current module's.
	root := ""
	if _, file, _, ok := runtime.Caller(0); ok {
		if _, err := os.Stat(filepath.Join(filepath.Dir(file), "..", "cmd", "mote")); err == nil {
			root = filepath.Join(filepath.Dir(file), "..")
		}
	}
	if root == "" {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if gomod := strings.TrimSpace(string(out)); err != nil || gomod == "" || gomod == os.DevNull {
			return "", errors.New("cannot find mote's source to build cmd/mote; Try: run from the repository, or pass -mote PATH")
		}
		root = filepath.Dir(strings.TrimSpace(string(out)))
	}
	bin := filepath.Join(dir, "mote")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/mote")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/mote: %w\n%s", err, b)
	}
	return bin, nil
}

// moteProc is a `mote up` subprocess.
type moteProc struct {
	cmd      *exec.Cmd
	data     string
	admin    string // admin base URL
	gateway  string // gateway base URL
	client   *client.Client
	log      *os.File
	waitDone chan struct{} // closed when the process has exited
}

// startMote runs `bin up` on data and waits until /readyz answers 200; it
// returns the time from just before exec to that answer.
func startMote(bin, data string) (*moteProc, time.Duration, error) {
	ap, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	gp, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	logf, err := os.OpenFile(data+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, err
	}
	p := &moteProc{data: data, log: logf,
		admin:   fmt.Sprintf("http://127.0.0.1:%d", ap),
		gateway: fmt.Sprintf("http://127.0.0.1:%d", gp)}
	p.cmd = exec.Command(bin, "up", "--data", data, "--http", fmt.Sprintf("127.0.0.1:%d", gp),
		"--admin", fmt.Sprintf("127.0.0.1:%d", ap), "--log-level", "warn")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.Env = withoutEnv(os.Environ(), "GOGC", "GOMEMLIMIT", "MOTE_TOKEN", "MOTE_ADDR")
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	t0 := time.Now()
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, 0, fmt.Errorf("%s up: %w", bin, err)
	}
	exited := make(chan struct{})
	p.waitDone = exited
	go func() { p.cmd.Wait(); close(exited) }()
	deadline := t0.Add(2 * time.Minute)
	for {
		resp, err := hc.Get(p.admin + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-exited:
			logf.Close()
			b, _ := os.ReadFile(data + ".log")
			return nil, 0, fmt.Errorf("mote up exited before ready:\n%s", lastLines(string(b), 15))
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, 0, fmt.Errorf("mote up: not ready after 2m")
		}
		time.Sleep(time.Millisecond)
	}
	ready := time.Since(t0)
	token, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		p.stop()
		return nil, 0, err
	}
	p.client, err = client.New(p.admin, client.WithToken(strings.TrimSpace(string(token))))
	if err != nil {
		p.stop()
		return nil, 0, err
	}
	return p, ready, nil
}

func withoutEnv(env []string, names ...string) []string {
	var out []string
outer:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue outer
			}
		}
		out = append(out, kv)
	}
	return out
}

// stop sends SIGTERM and waits for the process to exit (SIGKILL after 30 s).
func (p *moteProc) stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.waitDone:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.waitDone
		}
	}
	p.log.Close()
}

// rss returns the process's resident memory (VmRSS), in bytes.
func (p *moteProc) rss() (int64, error) { return procRSS(p.cmd.Process.Pid) }

// procRSS reads VmRSS from /proc/PID/status.
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("resident memory: %w (Linux only)", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			fields := strings.Fields(string(rest))
			if len(fields) >= 1 {
				kb, err := strconv.ParseInt(fields[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// get requests url and reads the body; a status other than 200 is an error.
func get(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return err
}

// newHTTPClient returns a keep-alive client for serial requests.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 30 * time.Second}
}
