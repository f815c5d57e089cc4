// Command server is the container the oci driver's tests run: a static
// HTTP server on 127.0.0.1:$PORT with an endpoint per behaviour under
// test. It is built by the tests (CGO_ENABLED=0) into a temporary rootfs.
//
// Environment: IGNORE_TERM=1 ignores SIGTERM; READY_DELAY=dur waits
// before listening; CRASH_AT_START=1 exits with status 4 at once.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// unlistened is set when /unlisten closed the listener.
var unlistened atomic.Bool

// token names this process, so a test sees which instance served it.
var token = newToken()

func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func main() {
	if os.Getenv("CRASH_AT_START") == "1" {
		fmt.Fprintln(os.Stderr, "crashing at start as asked")
		os.Exit(4)
	}
	ctx := context.Background()
	if os.Getenv("IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, syscall.SIGTERM)
		defer stop()
	}
	if d, err := time.ParseDuration(os.Getenv("READY_DELAY")); err == nil {
		time.Sleep(d)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", slow)
	mux.HandleFunc("/big", big)
	mux.HandleFunc("/exit", func(http.ResponseWriter, *http.Request) { os.Exit(3) })
	mux.HandleFunc("/log", logLines)
	mux.HandleFunc("/read", readFile)
	mux.HandleFunc("/dial", dial)
	mux.HandleFunc("/ifaces", ifaces)
	mux.HandleFunc("/forkbomb", forkbomb)
	mux.HandleFunc("/eat", eat)
	mux.HandleFunc("/write", writeFile)
	mux.HandleFunc("/unlisten", func(w http.ResponseWriter, _ *http.Request) {
		unlistened.Store(true)
		w.Header().Set("Connection", "close")
		fmt.Fprint(w, "closing the listener")
		ln.Close()
	})
	mux.HandleFunc("/syscalls", syscalls)
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "uid=%d gid=%d pid=%d token=%s", os.Getuid(), os.Getgid(), os.Getpid(), token)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok ", token) })

	fmt.Println("listening on", ln.Addr())
	// /echo bypasses the mux, which would clean "//" out of paths.
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/echo") {
			echo(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})}
	go func() {
		<-ctx.Done()
		fmt.Println("SIGTERM: shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err = srv.Serve(ln)
	if unlistened.Load() {
		select {} // alive, but accepting no connection
	}
	if err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}

// echo answers with what it received, as JSON.
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Echo", "yes")
	w.WriteHeader(201)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"method": r.Method, "uri": r.RequestURI, "host": r.Host, "header": r.Header, "body": string(body),
	})
}

// slow sleeps ms milliseconds, then answers with the process's token.
func slow(w http.ResponseWriter, r *http.Request) {
	ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
	time.Sleep(time.Duration(ms) * time.Millisecond)
	fmt.Fprint(w, token)
}

// big writes n bytes.
func big(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	_, _ = w.Write([]byte(strings.Repeat("x", n)))
}

// logLines writes the lines of ?out= to stdout and ?err= to stderr.
func logLines(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if s := q.Get("out"); s != "" {
		fmt.Fprintln(os.Stdout, s)
	}
	if s := q.Get("err"); s != "" {
		fmt.Fprintln(os.Stderr, s)
	}
	if n, _ := strconv.Atoi(q.Get("long")); n > 0 {
		fmt.Fprintln(os.Stdout, strings.Repeat("L", n))
		fmt.Fprintln(os.Stdout, "after-long")
	}
	fmt.Fprint(w, "logged")
}

// readFile answers with ?path='s content, or 404 and the error.
func readFile(w http.ResponseWriter, r *http.Request) {
	b, err := os.ReadFile(r.URL.Query().Get("path"))
	if err != nil {
		http.Error(w, err.Error(), 404)
		return
	}
	_, _ = w.Write(b)
}

// dial connects to ?addr= with a 1 s timeout: 200 "connected" or 502 and
// the error.
func dial(w http.ResponseWriter, r *http.Request) {
	c, err := net.DialTimeout("tcp", r.URL.Query().Get("addr"), time.Second)
	if err != nil {
		http.Error(w, err.Error(), 502)
		return
	}
	c.Close()
	fmt.Fprint(w, "connected")
}

// ifaces lists the network interfaces and their addresses.
func ifaces(w http.ResponseWriter, _ *http.Request) {
	list, err := net.Interfaces()
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	for _, i := range list {
		addrs, _ := i.Addrs()
		fmt.Fprintln(w, i.Name, addrs)
	}
}

// forkbomb forks children that pause until a fork fails, then kills them
// and answers with how many it made and why it stopped.
func forkbomb(w http.ResponseWriter, _ *http.Request) {
	var pids []int
	var ferr error
	ts := syscall.Timespec{Sec: 3600}
	for len(pids) < 100000 {
		pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if errno != 0 {
			ferr = errno
			break
		}
		if pid == 0 { // the child: no Go runtime from here on
			for {
				syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
			}
		}
		pids = append(pids, int(pid))
	}
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	for _, p := range pids {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(p, &ws, 0, nil)
	}
	fmt.Fprintf(w, "forked %d, then: %v", len(pids), ferr)
}

// eat allocates and touches memory until it is killed.
func eat(http.ResponseWriter, *http.Request) {
	var keep [][]byte
	for {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = byte(i)
		}
		keep = append(keep, b)
	}
}

// writeFile writes "x" to ?path=: 200 "written" or 500 and the error.
func writeFile(w http.ResponseWriter, r *http.Request) {
	if err := os.WriteFile(r.URL.Query().Get("path"), []byte("x"), 0o644); err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	fmt.Fprint(w, "written")
}

// syscalls tries syscalls the seccomp filter decides on and answers with
// one "name: errno" line each ("ok" when it succeeded).
func syscalls(w http.ResponseWriter, _ *http.Request) {
	result := func(name string, errno syscall.Errno) {
		if errno == 0 {
			fmt.Fprintf(w, "%s: ok\n", name)
			return
		}
		fmt.Fprintf(w, "%s: %s\n", name, errno.Error())
	}
	_, _, e := syscall.RawSyscall(syscall.SYS_UNSHARE, syscall.CLONE_NEWNS, 0, 0)
	result("unshare", e)
	pid, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.CLONE_NEWUSER|syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if e == 0 && pid == 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
	if e == 0 {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(int(pid), &ws, 0, nil)
	}
	result("clone-newuser", e)
	_, _, e = syscall.RawSyscall(435, 0, 0, 0) // clone3 on amd64 and arm64
	result("clone3", e)
	_, _, e = syscall.RawSyscall(syscall.SYS_PERSONALITY, 0xffffffff, 0, 0)
	result("personality-query", e)
	_, _, e = syscall.RawSyscall(syscall.SYS_PERSONALITY, 0, 0, 0)
	result("personality-0", e)
	_, _, e = syscall.RawSyscall(syscall.SYS_KEYCTL, 0, 0, 0)
	result("keyctl", e)
	_, _, e = syscall.RawSyscall(unix.SYS_SETNS, 0, 0, 0)
	result("setns", e)
	_, _, e = syscall.RawSyscall(syscall.SYS_MOUNT, 0, 0, 0)
	result("mount", e)
	_, _, e = syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
	result("getpid", e)
}
