package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
)

// TestIsolation checks from inside a container what it can reach: not the
// host's files or network, not its own root for writing, not the syscalls
// the seccomp filter denies.
func TestIsolation(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	r := load(t, d, testSpec(t, "isolation", &testLogs{}, func(s *sandbox.Spec) {
		s.Container.UID, s.Container.GID = 1000, 1000
	}))

	// Host things the container must not reach.
	secret := filepath.Join(filepath.Dir(testRootfs(t)), "secret.txt")
	if err := os.WriteFile(secret, []byte("host secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	dials := []string{"10.0.2.2:80", "1.1.1.1:53", "127.0.0.1:" + port}
	if ip := hostIP(); ip != "" {
		dials = append(dials, net.JoinHostPort(ip, port))
	}

	tests := []struct {
		name, path string
		status     int
		contains   string
	}{
		{"host file", "/read?path=" + secret, 404, "no such file"},
		{"host passwd is the image's", "/read?path=/etc/passwd", 404, "no such file"},
		{"hosts file", "/read?path=/etc/hosts", 200, "localhost"},
		{"only loopback", "/ifaces", 200, "lo ["},
		{"read-only root", "/write?path=/server", 500, ""},
		{"read-only root, new file", "/write?path=/newfile", 500, "read-only file system"},
		{"private /tmp", "/write?path=/tmp/x", 200, "written"},
		{"user", "/whoami", 200, "uid=1000 gid=1000 pid=1 "},
		{"no capabilities", "/read?path=/proc/self/status", 200, "CapEff:\t0000000000000000"},
		{"no new privileges", "/read?path=/proc/self/status", 200, "NoNewPrivs:\t1"},
		{"seccomp mode", "/read?path=/proc/self/status", 200, "Seccomp:\t2"},
		{"hostname", "/read?path=/proc/sys/kernel/hostname", 200, "isolation"},
	}
	for _, addr := range dials {
		tests = append(tests, struct {
			name, path string
			status     int
			contains   string
		}{"dial " + addr, "/dial?addr=" + addr, 502, ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := get(t.Context(), r, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.status || !strings.Contains(string(resp.Body), tt.contains) {
				t.Errorf("status %d, body %q; want %d with %q", resp.Status, resp.Body, tt.status, tt.contains)
			}
		})
	}
	t.Run("interfaces", func(t *testing.T) {
		body := strings.TrimSpace(mustGet(t, r, "/ifaces"))
		if lines := strings.Split(body, "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "lo ") {
			t.Errorf("interfaces %q, want only lo", body)
		}
	})
	t.Run("seccomp", func(t *testing.T) {
		body := mustGet(t, r, "/syscalls")
		want := map[string]string{
			"unshare":           "operation not permitted",
			"clone-newuser":     "operation not permitted",
			"clone3":            "function not implemented",
			"personality-query": "operation not permitted",
			"personality-0":     "ok",
			"keyctl":            "operation not permitted",
			"setns":             "operation not permitted",
			"mount":             "operation not permitted",
			"getpid":            "ok",
		}
		for name, w := range want {
			if !strings.Contains(body, name+": "+w+"\n") {
				t.Errorf("%s: want %q in\n%s", name, w, body)
			}
		}
	})
}

// hostIP is one of the host's non-loopback IPv4 addresses, or "".
func hostIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// TestForkBomb: the pids limit stops a fork bomb; the node and the
// instance are fine after it.
func TestForkBomb(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	r := load(t, d, testSpec(t, "forkbomb", &testLogs{}, func(s *sandbox.Spec) { s.Container.Pids = 64 }))
	resp, err := get(t.Context(), r, "/forkbomb")
	var ge *sandbox.GuestError
	switch {
	case err == nil:
		body := string(resp.Body)
		t.Log(body)
		var n int
		var rest string
		if _, err := fmt.Sscanf(body, "forked %d, then: %s", &n, &rest); err != nil || n >= 64 || !strings.Contains(body, "resource temporarily unavailable") {
			t.Errorf("fork bomb: %q; want fewer than 64 forks, stopped by EAGAIN", body)
		}
	case errors.As(err, &ge) && ge.Kind == "exit":
		// The Go runtime itself may need a thread while the limit is
		// reached, and dies of it (status 2): contained all the same.
		t.Logf("the server died at the pids limit: %v", err)
	default:
		t.Fatalf("GET /forkbomb: %v", err)
	}
	if err := exec.Command("true").Run(); err != nil {
		t.Errorf("the host cannot fork after the bomb: %v", err)
	}
	waitFor(t, 30*time.Second, func() bool {
		_, err := get(t.Context(), r, "/")
		return err == nil
	}, func() string { return "the instance serving again after the fork bomb" })
}

// TestOutOfMemory: a process over its memory limit is killed, and
// restarted.
func TestOutOfMemory(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	logs := &testLogs{}
	r := load(t, d, testSpec(t, "oom", logs, func(s *sandbox.Spec) {
		s.MemoryLimit = 64 << 20
		s.MinInstances = 1
	}))
	mustGet(t, r, "/")
	_, err := get(t.Context(), r, "/eat")
	var ge *sandbox.GuestError
	if !errors.As(err, &ge) || ge.Kind != "exit" || ge.ExitCode != 137 {
		t.Fatalf("err %v, want a GuestError of kind exit, code 137", err)
	}
	logs.waitLog(t, api.StreamMote, "out of memory")
	waitFor(t, 10*time.Second, func() bool {
		is := r.Instances()
		return len(is) == 1 && is[0].State == stateIdle && is[0].Restarts == 1
	}, func() string { return fmt.Sprintf("restarted once: %+v", r.Instances()) })
	mustGet(t, r, "/")
}

// TestUserNamespace: with UIDShift the container's root is an unprivileged
// host user.
func TestUserNamespace(t *testing.T) {
	t.Parallel()
	const shift = 200000
	d := newTestDriver(t)
	r := load(t, d, testSpec(t, "userns", &testLogs{}, func(s *sandbox.Spec) { s.Container.UIDShift = shift }))
	if body := mustGet(t, r, "/whoami"); !strings.HasPrefix(body, "uid=0 gid=0 ") {
		t.Errorf("whoami %q, want uid 0 inside", body)
	}
	ids := containers(t, d)
	if len(ids) != 1 {
		t.Fatalf("containers %v", ids)
	}
	out, err := d.runc.do(context.Background(), "state", ids[0])
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Pid int }
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Uid:\t%d\t%d\t%d\t%d", shift, shift, shift, shift); !strings.Contains(string(status), want) {
		t.Errorf("host view of the process: want %q in\n%s", want, status)
	}
}

// TestRootfsUntouched: running containers writes nothing to the image's
// root filesystem (it has the mount points; see testRootfs).
func TestRootfsUntouched(t *testing.T) {
	t.Parallel()
	root := testRootfs(t)
	list := func() string {
		var b strings.Builder
		err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			st, err := e.Info()
			if err != nil {
				return err
			}
			fmt.Fprintln(&b, p, st.Mode(), st.Size(), st.ModTime().UnixNano())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	before := list()
	d := newTestDriver(t)
	for _, shift := range []uint32{0, 300000} {
		r := load(t, d, testSpec(t, "untouched", &testLogs{}, func(s *sandbox.Spec) { s.Container.UIDShift = shift }))
		mustGet(t, r, "/write?path=/tmp/x")
		if err := r.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if after := list(); after != before {
		t.Errorf("the rootfs changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
