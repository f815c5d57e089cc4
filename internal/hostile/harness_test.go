package hostile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node/nodetest"
)

const (
	mib = 1 << 20
	// logWait bounds how long a log line may take to reach the store: the
	// node publishes logs asynchronously.
	logWait = 10 * time.Second
)

// guest reads a prebuilt guest from testdata.
func guest(t testing.TB, name string) []byte {
	t.Helper()
	return nodetest.ReadFile(t, filepath.Join("testdata", name+".wasm"))
}

// manifest is a manifest for service name at /name running module.wasm;
// wasm is added to the [wasm] table (abi, files) and tables after it
// ([limits], [scale], [allow]).
func manifest(name, module, wasm, tables string) string {
	return fmt.Sprintf("name = %q\nroute = \"/%s\"\n\n[wasm]\nmodule = \"%s.wasm\"\n%s\n%s", name, name, module, wasm, tables)
}

// deploy deploys testdata/module.wasm as service name (see manifest).
func deploy(t testing.TB, env *nodetest.Env, name, module, wasm, tables string, files map[string][]byte) {
	t.Helper()
	env.Deploy(t, client.Package{Manifest: []byte(manifest(name, module, wasm, tables)), Module: guest(t, module), Files: files})
}

// newHTTP is a keep-alive client for many concurrent requests that does not
// follow redirects.
func newHTTP() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// result is one request's outcome.
type result struct {
	status int
	header http.Header
	body   string
	took   time.Duration
	err    error
}

func (r result) id() string { return r.header.Get("X-Request-Id") }

// String shortens the body for messages.
func (r result) String() string {
	if r.err != nil {
		return "error: " + r.err.Error()
	}
	b := r.body
	if len(b) > 300 {
		b = b[:300] + "…"
	}
	return fmt.Sprintf("%d %q in %s", r.status, b, r.took.Round(time.Millisecond))
}

// do sends one request and reads the whole answer.
func do(ctx context.Context, hc *http.Client, method, url string, body io.Reader) result {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return result{err: err}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return result{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: string(b), took: time.Since(start), err: err}
}

// errorOf decodes a mote JSON error body; nil when body is not one.
func errorOf(body string) *api.Error {
	var eb api.ErrorBody
	if json.Unmarshal([]byte(body), &eb) != nil || eb.Error == nil {
		return nil
	}
	return eb.Error
}

// wantError checks that r is mote's JSON error with status and code.
func wantError(t testing.TB, r result, status int, code string) *api.Error {
	t.Helper()
	if r.err != nil {
		t.Fatalf("want %d %s, got %v", status, code, r.err)
	}
	e := errorOf(r.body)
	if r.status != status || e == nil || e.Code != code || e.Message == "" {
		t.Fatalf("want %d %s with a message, got %s", status, code, r)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	return e
}

// mem is a memory reading: the Go heap's live and unswept objects, and the
// process's resident set (0 where /proc is missing).
type mem struct{ heap, rss uint64 }

var heapMetric = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

func readMem() mem {
	s := slices.Clone(heapMetric)
	metrics.Read(s)
	return mem{heap: s[0].Value.Uint64(), rss: rss()}
}

// rss is the process's resident set size from /proc/self/statm.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

// settle collects garbage and returns freed memory to the OS, twice so
// that sync.Pools (the linear memory pool among them) empty too.
func settle() mem {
	runtime.GC()
	debug.FreeOSMemory()
	return readMem()
}

// sampler records peak memory every few milliseconds until stopped.
type sampler struct {
	stop chan struct{}
	done chan struct{}
	peak mem
}

func startSampler() *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			m := readMem()
			s.peak.heap, s.peak.rss = max(s.peak.heap, m.heap), max(s.peak.rss, m.rss)
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) Stop() mem {
	close(s.stop)
	<-s.done
	return s.peak
}

func mibs(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/mib) }

// growth is how far peak went above base (0 when it did not).
func growth(peak, base uint64) uint64 {
	if peak < base {
		return 0
	}
	return peak - base
}

func p50(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// neighbour measures a well-behaved service's latency.
type neighbour struct {
	hc  *http.Client
	url string
}

// sample sends n requests one after another and returns their durations;
// every one must be a 200.
func (nb neighbour) sample(t testing.TB, n int) []time.Duration {
	t.Helper()
	var ds []time.Duration
	for range n {
		r := do(t.Context(), nb.hc, "GET", nb.url, nil)
		if r.err != nil || r.status != 200 {
			t.Fatalf("neighbour: %s", r)
		}
		ds = append(ds, r.took)
	}
	return ds
}

// during keeps requesting until stop is closed, and returns the durations
// and any failures.
func (nb neighbour) during(ctx context.Context, stop <-chan struct{}) (ds []time.Duration, failures []string) {
	for {
		select {
		case <-stop:
			return ds, failures
		default:
		}
		r := do(ctx, nb.hc, "GET", nb.url, nil)
		if r.err != nil || r.status != 200 {
			failures = append(failures, r.String())
			continue
		}
		ds = append(ds, r.took)
	}
}

// waitLog polls a service's logs until one of request id's lines satisfies
// match, and returns that line. It fails the test after logWait.
func waitLog(t testing.TB, c *client.Client, service, id, what string, match func(api.LogEntry) bool) api.LogEntry {
	t.Helper()
	deadline := time.Now().Add(logWait)
	for {
		var seen []string
		for e, err := range c.Logs(t.Context(), service, client.LogOptions{}) {
			if err != nil {
				break
			}
			if e.RequestID != id {
				continue
			}
			if match(e) {
				return e
			}
			seen = append(seen, fmt.Sprintf("[%s %s] %s", e.Stream, e.Level, e.Message))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line of request %s in %s's logs %s; its lines: %q", id, service, what, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// containsAll reports whether s holds every one of subs, ignoring case.
func containsAll(s string, subs ...string) bool {
	s = strings.ToLower(s)
	for _, sub := range subs {
		if !strings.Contains(s, strings.ToLower(sub)) {
			return false
		}
	}
	return true
}

// attack is one hostile-guest case: workers send requests to path
// concurrently, each at least once and until minTime has passed, while a
// neighbour's latency and the node's memory are measured.
type attack struct {
	service string
	path    string
	workers int
	minTime time.Duration
	// status and code are what every request must get (code: the JSON
	// error code; "" for a guest's own answer).
	status int
	code   string
	// maxTook bounds each request's duration.
	maxTook time.Duration
	// logs are words the line that explains the first request's failure
	// must hold (case-insensitive); logStream is its stream (default
	// "mote").
	logs      []string
	logStream string
	// peak bounds how far the Go heap may grow above its level before the
	// attack; the resident set may grow twice as far plus 64 MiB (the heap
	// runs ahead of the live set between collections).
	peak uint64
	// check, when set, checks each result instead of status and code.
	check func(t *testing.T, rs []result)
}

// bounds on the neighbour's median latency during an attack: at most
// neighbourFactor times its median before, or neighbourFloor, whichever is
// larger. Generous on purpose: the machine has 2 cores and a CPU-bound
// attack competes for them; what must not happen is the neighbour waiting
// for the attack to end (a timeout's length) or failing.
const (
	neighbourFactor = 50
	neighbourFloor  = 100 * time.Millisecond
)

// run carries out a and checks its outcome.
func (a attack) run(t *testing.T, env *nodetest.Env, nb neighbour) []result {
	t.Helper()
	hc := newHTTP()
	defer hc.CloseIdleConnections()
	base := settle()
	before := p50(nb.sample(t, 40))

	s := startSampler()
	stopNB := make(chan struct{})
	var nbDur []time.Duration
	var nbFail []string
	nbDone := make(chan struct{})
	go func() {
		defer close(nbDone)
		nbDur, nbFail = nb.during(t.Context(), stopNB)
	}()

	start := time.Now()
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	for range a.workers {
		wg.Go(func() {
			for first := true; first || time.Since(start) < a.minTime; first = false {
				r := do(t.Context(), hc, "GET", env.Gateway+"/"+a.service+a.path, nil)
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(stopNB)
	<-nbDone
	peak := s.Stop()
	after := settle()

	t.Logf("%d requests in %s; neighbour p50 %s before, %s during (%d requests); heap +%s at peak, +%s after; RSS +%s at peak",
		len(results), took.Round(time.Millisecond), before, p50(nbDur), len(nbDur),
		mibs(growth(peak.heap, base.heap)), mibs(growth(after.heap, base.heap)), mibs(growth(peak.rss, base.rss)))

	if a.check != nil {
		a.check(t, results)
	} else {
		var bad []string
		for _, r := range results {
			e := errorOf(r.body)
			if r.err != nil || r.status != a.status || (a.code != "" && (e == nil || e.Code != a.code)) {
				bad = append(bad, r.String())
			}
		}
		if len(bad) > 0 {
			t.Errorf("%d of %d requests did not get %d %s; first: %s", len(bad), len(results), a.status, a.code, bad[0])
		}
	}
	for _, r := range results {
		if r.took > a.maxTook {
			t.Errorf("a request took %s, more than %s: %s", r.took.Round(time.Millisecond), a.maxTook, r)
			break
		}
	}
	if len(a.logs) > 0 && results[0].err == nil {
		stream := a.logStream
		if stream == "" {
			stream = api.StreamMote
		}
		e := waitLog(t, env.Client, a.service, results[0].id(), fmt.Sprintf("on stream %s with %q", stream, a.logs), func(e api.LogEntry) bool {
			return e.Stream == stream && containsAll(e.Message, a.logs...)
		})
		t.Logf("log: [%s %s] %s", e.Stream, e.Level, e.Message)
	}

	if g := growth(peak.heap, base.heap); g > a.peak {
		t.Errorf("the heap grew by %s during the attack, more than %s", mibs(g), mibs(a.peak))
	}
	if g, bound := growth(peak.rss, base.rss), 2*a.peak+64*mib; base.rss > 0 && g > bound {
		t.Errorf("the resident set grew by %s during the attack, more than %s", mibs(g), mibs(bound))
	}
	if g := growth(after.heap, base.heap); g > 32*mib {
		t.Errorf("the heap is %s larger after the attack than before: something is retained", mibs(g))
	}
	if len(nbFail) > 0 {
		t.Errorf("the neighbour failed %d times during the attack; first: %s", len(nbFail), nbFail[0])
	}
	if d, bound := p50(nbDur), max(neighbourFactor*before, neighbourFloor); d > bound {
		t.Errorf("the neighbour's median latency was %s during the attack, %s before: over the bound of %s", d, before, bound)
	}
	return results
}
