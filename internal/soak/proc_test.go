package soak

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
)

// moteProc is a `mote up` subprocess: the node under test, in a process of
// its own so that its memory, goroutines and files are not mixed with the
// load generator's.
type moteProc struct {
	cmd         *exec.Cmd
	admin       string // admin API base URL
	gateway     string // gateway base URL
	gatewayPort int
	token       string
	client      *client.Client
	logPath     string
	exited      chan struct{} // closed when the process has exited
	hc          *http.Client  // for /metrics: one kept-alive connection
}

// buildMote compiles cmd/mote into dir and returns the binary's path.
func buildMote(t *testing.T, dir string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the module's source")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(dir, "mote")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/mote")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/mote: %v\n%s", err, b)
	}
	return bin
}

// startMote runs `bin up` on a fresh data dir under dir, waits until
// /readyz answers 200, and stops the node (SIGTERM) when the test ends.
func startMote(t *testing.T, bin, dir string) *moteProc {
	t.Helper()
	data := filepath.Join(dir, "data")
	gp, ap := freePort(t), freePort(t)
	p := &moteProc{
		admin:       fmt.Sprintf("http://127.0.0.1:%d", ap),
		gateway:     fmt.Sprintf("http://127.0.0.1:%d", gp),
		gatewayPort: gp,
		logPath:     filepath.Join(dir, "node.log"),
		exited:      make(chan struct{}),
		hc:          &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}},
	}
	logf, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, "up", "--data", data, "--http", fmt.Sprintf("127.0.0.1:%d", gp),
		"--admin", fmt.Sprintf("127.0.0.1:%d", ap), "--log-level", "warn")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.Env = withoutEnv(os.Environ(), "GOGC", "GOMEMLIMIT", "MOTE_TOKEN", "MOTE_ADDR", "MOTE_DATA", "MOTE_HTTP", "MOTE_ADMIN")
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("%s up: %v", bin, err)
	}
	go func() { p.cmd.Wait(); logf.Close(); close(p.exited) }()
	t.Cleanup(p.stop)

	probe := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := probe.Get(p.admin + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if !p.alive() {
			t.Fatalf("mote up exited before it was ready; its log:\n%s", p.logTail())
		}
		if time.Now().After(deadline) {
			t.Fatalf("mote up not ready after 2m; its log:\n%s", p.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	p.token = strings.TrimSpace(string(tok))
	if p.client, err = client.New(p.admin, client.WithToken(p.token)); err != nil {
		t.Fatal(err)
	}
	return p
}

// alive reports whether the process is still running.
func (p *moteProc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for the exit (SIGKILL after 30 s).
func (p *moteProc) stop() {
	if p.cmd.Process == nil || !p.alive() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// logTail is the last lines of the node's log.
func (p *moteProc) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// usage is one reading of the node's resources.
type usage struct {
	rss        int64 // VmRSS from /proc/PID/status, bytes
	heapInuse  int64 // go_memstats_heap_inuse_bytes
	heapGoal   int64 // go_memstats_next_gc_bytes: set at each GC from the live heap
	goroutines int64 // go_goroutines
	fds        int64 // process_open_fds
	conns      int64 // client connections to the gateway (ESTABLISHED, from /proc/net/tcp)
	gogc       int64 // go_gc_gogc_percent: the GOGC in force
	stack      int64 // go_memstats_stack_inuse_bytes
	gcs        int64 // go_gc_duration_seconds_count: collections so far
}

// heapLive estimates the heap that the last collection found live, from
// the goal it set: Go sets goal = live + (live + stacks) × GOGC/100
// (globals, a few MiB at most, are left out), so live = (goal − g ×
// stacks) / (1 + g) with g = GOGC/100. It is 0 when GOGC is off or
// unknown.
func (u usage) heapLive() int64 {
	if u.gogc <= 0 {
		return 0
	}
	g := float64(u.gogc) / 100
	return max(0, int64((float64(u.heapGoal)-g*float64(u.stack))/(1+g)))
}

// usage reads VmRSS from /proc and the Go and process gauges from the
// node's /metrics.
func (p *moteProc) usage(ctx context.Context) (usage, error) {
	var u usage
	rss, err := procRSS(p.cmd.Process.Pid)
	if err != nil {
		return u, err
	}
	u.rss = rss
	if u.conns, err = established(p.gatewayPort); err != nil {
		return u, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.admin+"/metrics", nil)
	if err != nil {
		return u, err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := p.hc.Do(req)
	if err != nil {
		return u, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return u, fmt.Errorf("metrics: status %d", resp.StatusCode)
	}
	g, err := gauges(resp.Body, "go_memstats_heap_inuse_bytes", "go_memstats_next_gc_bytes", "go_goroutines", "process_open_fds",
		"go_gc_gogc_percent", "go_memstats_stack_inuse_bytes", "go_gc_duration_seconds_count")
	if err != nil {
		return u, err
	}
	u.heapInuse, u.heapGoal, u.goroutines, u.fds = g[0], g[1], g[2], g[3]
	u.gogc, u.stack, u.gcs = g[4], g[5], g[6]
	return u, nil
}

// gauges reads the values of the unlabelled metrics names from Prometheus
// text exposition; a missing one is an error.
func gauges(r io.Reader, names ...string) ([]int64, error) {
	out := make([]int64, len(names))
	found := make([]bool, len(names))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for i, n := range names {
			rest, ok := strings.CutPrefix(line, n+" ")
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return nil, fmt.Errorf("metrics: %s: %w", n, err)
			}
			out[i], found[i] = int64(v), true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	for i, ok := range found {
		if !ok {
			return nil, fmt.Errorf("metrics: no %s", names[i])
		}
	}
	return out, nil
}

// procRSS reads VmRSS from /proc/PID/status, in bytes (Linux only).
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("resident memory: %w (Linux only)", err)
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(rest))
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
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

// cpuTicks are CPU times in clock ticks (USER_HZ, 100 a second on Linux).
const ticksPerSecond = 100

// procCPU returns the user+system CPU time of process pid ("self" for
// this one) in ticks, from /proc/PID/stat.
func procCPU(pid string) (int64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, fmt.Errorf("cpu time: %w (Linux only)", err)
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing parenthesis (state is field 3, utime 14).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("cpu time: malformed /proc/%s/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("cpu time: short /proc/%s/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("cpu time: malformed /proc/%s/stat", pid)
	}
	return u + s, nil
}

// machineCPU returns the machine's busy and total CPU time in ticks, from
// the first line of /proc/stat (idle and iowait are not busy).
func machineCPU() (busy, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("cpu time: %w (Linux only)", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("cpu time: malformed /proc/stat")
	}
	for i, s := range f[1:9] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("cpu time: malformed /proc/stat")
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, nil
}

// cpuMeter turns CPU-time counters into cores used between readings.
type cpuMeter struct {
	pid                     string
	at                      time.Time
	node, self, busy, total int64
}

// cpuUse is the cores used over an interval: by the node, by this process
// (the load generator), and by everything on the machine.
type cpuUse struct{ node, loadgen, machine float64 }

// read returns the use since the last read (zero the first time).
func (m *cpuMeter) read() (cpuUse, error) {
	node, err := procCPU(m.pid)
	if err != nil {
		return cpuUse{}, err
	}
	self, err := procCPU("self")
	if err != nil {
		return cpuUse{}, err
	}
	busy, total, err := machineCPU()
	if err != nil {
		return cpuUse{}, err
	}
	now := time.Now()
	var u cpuUse
	if !m.at.IsZero() {
		secs := now.Sub(m.at).Seconds() * ticksPerSecond
		u.node = float64(node-m.node) / secs
		u.loadgen = float64(self-m.self) / secs
		if total > m.total {
			u.machine = float64(busy-m.busy) / float64(total-m.total) * float64(runtime.NumCPU())
		}
	}
	m.at, m.node, m.self, m.busy, m.total = now, node, self, busy, total
	return u, nil
}

// established counts the TCP connections in state ESTABLISHED whose local
// port is port, from /proc/net/tcp and tcp6 (the node's accepted client
// connections when port is its gateway's).
func established(port int) (int64, error) {
	var n int64
	want := fmt.Sprintf(":%04X", port)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			if f == "/proc/net/tcp6" {
				continue // no IPv6
			}
			return 0, fmt.Errorf("connections: %w (Linux only)", err)
		}
		n += countEstablished(b, want)
	}
	return n, nil
}

// countEstablished counts the rows of a /proc/net/tcp table whose local
// address ends in portSuffix (":01BB") and whose state is 01.
func countEstablished(table []byte, portSuffix string) int64 {
	var n int64
	for line := range bytes.Lines(table) {
		f := strings.Fields(string(line))
		if len(f) < 4 || !strings.HasSuffix(f[1], portSuffix) || f[3] != "01" {
			continue
		}
		n++
	}
	return n
}

// instances counts the live instances (starting, idle or busy) of each of
// pooledServices, from the admin API.
func (p *moteProc) instances(ctx context.Context) ([]int, error) {
	all, err := p.client.Instances(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("instances: %w", err)
	}
	return countInstances(all, pooledServices), nil
}

// countInstances counts the instances of each of services.
func countInstances(all []api.Instance, services []string) []int {
	n := make([]int, len(services))
	for _, in := range all {
		if i := slices.Index(services, in.Service); i >= 0 {
			n[i]++
		}
	}
	return n
}
