package soak

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"image"
	"image/color"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/examples"
)

var (
	soakOn       = flag.Bool("soak", false, "run the soak test (TestSoak); it takes -soak.duration plus about a minute")
	soakDuration = flag.Duration("soak.duration", 10*time.Minute, "how long the open-loop load runs")
	soakInterval = flag.Duration("soak.interval", 5*time.Second, "how often the node's resources are sampled")
	soakMax      = flag.Duration("soak.max", 5*time.Second, "how long the closed-loop maximum-throughput measurement runs")
	soakConns    = flag.Int("soak.conns", 32, "connections of the closed-loop maximum-throughput measurement")
	soakRate     = flag.Float64("soak.rate", 0, "open-loop rate in requests per second (0: half the measured maximum)")
	soakOut      = flag.String("soak.out", "", "directory for soak.csv, soak.png, summary.txt and node.log (default: none written)")
	soakBin      = flag.String("soak.bin", "", "run this mote binary instead of building ./cmd/mote (e.g. a build with a profiling listener)")
)

// pooledServices are the mix's pooled services, whose live instances each
// sample counts: every instance holds its guest's linear memory on the
// node's Go heap, so their number drives the heap.
var pooledServices = []string{"hello-sdk", "counter-go"}

// Growth rules for the second half of the run (see growthRule). Memory may
// drift by 10% of its level per hour: RSS as the highest reading of each
// interval (what an operator provisions for), the Go heap as its goal
// (go_memstats_next_gc_bytes, which each collection sets from the live
// heap, so a leak raises it while the garbage between collections does
// not). Heap in use, which swings with the garbage, is recorded and
// plotted but not judged. Counts may gain
// at most max(5% of their level, 20) per hour, which a leak of one
// goroutine or file a minute (60/h) exceeds at any level up to 1200.
// Counts are judged less the client connections open to the gateway at
// the time (each holds a socket and a goroutine in the node): how many the
// load generator keeps open follows its requests in flight and its
// connection pool, not the node's health. The idle check below counts
// everything.
var (
	ruleRSS        = growthRule{name: "RSS (interval max)", frac: 0.10, bytes: true}
	ruleHeap       = growthRule{name: "heap goal", frac: 0.10, bytes: true}
	ruleGoroutines = growthRule{name: "goroutines less client connections", frac: 0.05, floor: 20}
	ruleFDs        = growthRule{name: "open fds less client connections", frac: 0.05, floor: 20}
)

// idleSlack is how many goroutines or open files the idle node may hold,
// once the load has stopped and its connections are closed, beyond what
// it held idle before the load.
const idleSlack = 10

// openConns bounds the open loop's requests in flight.
const openConns = 128

// sample is one row of the soak's series. Memory is also read ten times
// per interval: the node's heap swings between collections (by up to its
// GOGC's share of the live heap), and a reading every interval alone would
// alias that sawtooth.
type sample struct {
	t          time.Duration // since the open loop started
	u          usage         // at the interval's end
	rssMax     int64         // the highest RSS read in the interval
	heapMin    int64         // the lowest heap in use read in the interval
	cpu        cpuUse        // cores used over the interval
	done, errs int           // requests that ended in the interval
	total      int64         // answered since the start
	p50, p99   time.Duration
	instances  []int // live instances of each of pooledServices, at the interval's end
}

// TestSoak is the sustained-load run (only with -soak): a `mote up`
// subprocess with several services over both ABIs and an API-key route,
// a short closed-loop run for the maximum throughput, then open-loop load
// at half of it for -soak.duration, sampling the node's RSS, Go heap,
// goroutines and open files every -soak.interval. It fails on any request
// error, on growth in the second half (the rules above), or on goroutines
// or files the idle node keeps after the load.
//
// The node runs as a subprocess so that its memory and goroutines are its
// own: the load generator's (thousands of requests in flight, their
// latencies) would otherwise be counted as the node's.
func TestSoak(t *testing.T) {
	if !*soakOn {
		t.Skip("the soak runs only with -soak (see docs/soak.md)")
	}
	if dl, ok := t.Deadline(); ok && time.Until(dl) < *soakDuration+5*time.Minute {
		t.Fatalf("-timeout leaves %s, the soak needs -soak.duration (%s) plus 5m; Try: -timeout %s",
			time.Until(dl).Round(time.Second), *soakDuration, (*soakDuration + 10*time.Minute).Round(time.Minute))
	}
	ctx := t.Context()
	dir := t.TempDir()
	bin := *soakBin
	if bin == "" {
		bin = buildMote(t, dir)
	}
	node := startMote(t, bin, dir)
	m := deployMix(t, node)

	// Warm up: every target answers, and the pools have started.
	hc := newHTTPClient(1)
	for _, tg := range m {
		if err := tg.do(ctx, hc); err != nil {
			t.Fatalf("warm-up: %v", err)
		}
	}
	hc.CloseIdleConnections()
	if _, err := closedLoop(ctx, m, *soakConns, 2*time.Second); err != nil {
		t.Fatalf("closed-loop warm-up: %v", err)
	}
	maxRate, err := closedLoop(ctx, m, *soakConns, *soakMax)
	if err != nil {
		t.Fatalf("closed loop: %v", err)
	}
	rate := *soakRate
	if rate <= 0 {
		rate = maxRate / 2
	}
	t.Logf("closed loop, %d connections, %s: %.0f req/s; open loop at %.0f req/s for %s", *soakConns, *soakMax, maxRate, rate, *soakDuration)

	before := settle(t, node)
	instBefore, err := node.instances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("idle before the load: %s; pooled instances %v", before, instBefore)

	ol := &openLoop{m: m, rate: rate, conns: openConns}
	loadCtx, stopLoad := context.WithTimeout(ctx, *soakDuration)
	defer stopLoad()
	loadDone := make(chan struct{})
	start := time.Now()
	go func() { ol.run(loadCtx); close(loadDone) }()

	var (
		series          []sample
		rssMax, heapMin int64 = 0, math.MaxInt64
	)
	peek := func() (usage, bool) {
		u, err := node.usage(ctx)
		if err != nil {
			if !node.alive() {
				t.Fatalf("the node exited during the soak; its log:\n%s", node.logTail())
			}
			t.Errorf("sample: %v", err)
			return u, false
		}
		rssMax, heapMin = max(rssMax, u.rss), min(heapMin, u.heapInuse)
		return u, true
	}
	meter := &cpuMeter{pid: strconv.Itoa(node.cmd.Process.Pid)}
	record := func() {
		u, ok := peek()
		iv := ol.take()
		cpu, err := meter.read()
		if err != nil {
			t.Errorf("sample: %v", err)
		}
		if !ok {
			return
		}
		inst, err := node.instances(ctx)
		if err != nil {
			t.Errorf("sample: %v", err)
		}
		s := sample{t: time.Since(start), u: u, rssMax: rssMax, heapMin: heapMin, cpu: cpu,
			done: iv.done, errs: iv.errors, total: iv.totalDone, p50: iv.p50, p99: iv.p99, instances: inst}
		rssMax, heapMin = 0, math.MaxInt64
		series = append(series, s)
		t.Logf("%6s  rss %6.1f MiB (max %6.1f)  heap %6.1f MiB (min %6.1f, goal %6.1f, live ~%6.1f, GOGC %d, %d GCs)  instances %v  goroutines %4d  fds %4d  conns %4d  cpu node %.2f loadgen %.2f machine %.2f  %6d req (%d errors)  p50 %-9s p99 %s",
			s.t.Round(time.Second), mib(u.rss), mib(s.rssMax), mib(u.heapInuse), mib(s.heapMin), mib(u.heapGoal), mib(u.heapLive()), u.gogc, u.gcs, inst,
			u.goroutines, u.fds, u.conns,
			cpu.node, cpu.loadgen, cpu.machine, s.done, s.errs, s.p50.Round(time.Microsecond), s.p99.Round(time.Microsecond))
	}
	record()
	fast := time.NewTicker(*soakInterval / 10)
	defer fast.Stop()
	next := start.Add(*soakInterval)
sampling:
	for {
		select {
		case <-fast.C:
			if time.Now().Before(next) {
				peek()
				continue
			}
			next = next.Add(*soakInterval)
			record()
		case <-loadDone:
			break sampling
		}
	}
	record() // the requests that ended after the last interval
	elapsed := time.Since(start)

	after := settle(t, node)
	instAfter, err := node.instances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("idle after the load: %s; pooled instances %v", after, instAfter)

	r := judge(series, *soakDuration)
	r.before, r.after = before, after
	r.instBefore, r.instAfter = instBefore, instAfter
	r.maxRate, r.rate, r.elapsed = maxRate, rate, elapsed
	r.errorsSeen = ol.errorsSeen()
	r.mix = m
	sum := r.summary()
	t.Log("\n" + sum)
	if *soakOut != "" {
		if err := writeOut(*soakOut, series, sum, node.logPath, *soakDuration/2); err != nil {
			t.Error(err)
		}
	}
	for _, f := range r.failures() {
		t.Error(f)
	}
}

// deployMix deploys the soak's services and returns the request mix:
//
//	hello-c      WAGI C, GET                               3 in 11
//	hello-sdk    pooled Go SDK, GET                        3 in 11
//	keyed-c      WAGI C behind require_key + a plan        2 in 11
//	counter-go   pooled Go + KV: GET reads, POST writes    1 + 1 in 11
//	echo-go      WAGI Go, POST with a 1 KiB body           1 in 11
func deployMix(t *testing.T, p *moteProc) mix {
	t.Helper()
	ctx := t.Context()
	get := func(name string) examples.Example {
		ex, err := examples.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}
	helloC := get("hello-c")
	pkgs := []client.Package{
		{Manifest: helloC.Manifest, Module: helloC.Module, Files: helloC.Files},
		{Manifest: []byte("name = \"keyed-c\"\n[wasm]\nmodule = \"hello.wasm\"\nabi = \"wagi\"\n[auth]\nrequire_key = true\n"), Module: helloC.Module},
	}
	for _, name := range []string{"hello-sdk", "counter-go", "echo-go"} {
		ex := get(name)
		pkgs = append(pkgs, client.Package{Manifest: ex.Manifest, Module: ex.Module, Files: ex.Files})
	}
	for _, pkg := range pkgs {
		if _, err := p.client.Deploy(ctx, pkg); err != nil {
			t.Fatalf("deploy: %v", err)
		}
	}
	// A plan that never refuses over the run: a rate far above the load and
	// a daily quota far above a day of it.
	if _, err := p.client.CreatePlan(ctx, api.Plan{Name: "soak", Rate: "1000000/s", Burst: 100000, Quota: "1000000000000/day"}); err != nil {
		t.Fatal(err)
	}
	key, err := p.client.CreateKey(ctx, api.KeyRequest{App: "soak", Plan: "soak", Services: []string{"keyed-c"}})
	if err != nil {
		t.Fatal(err)
	}
	gw := p.gateway
	body := []byte(strings.Repeat("soak-body-", 103)[:1024])
	return newMix([]*target{
		{name: "GET /hello-c (WAGI C)", method: "GET", url: gw + "/hello-c/soak", weight: 3},
		{name: "GET /hello-sdk (pooled Go)", method: "GET", url: gw + "/hello-sdk/soak", weight: 3},
		{name: "GET /keyed-c (WAGI C, API key)", method: "GET", url: gw + "/keyed-c/soak", header: http.Header{"X-Api-Key": {key.Secret}}, weight: 2},
		{name: "GET /counter-go (pooled Go, KV read)", method: "GET", url: gw + "/counter-go", weight: 1},
		{name: "POST /counter-go (pooled Go, KV write)", method: "POST", url: gw + "/counter-go", weight: 1},
		{name: "POST /echo-go 1 KiB (WAGI Go)", method: "POST", url: gw + "/echo-go/soak?n=1", header: http.Header{"Content-Type": {"application/octet-stream"}}, body: body, weight: 1},
	})
}

// settle waits (up to a minute) until the idle node's goroutines and open
// files hold still over two readings a second apart, and returns the last.
func settle(t *testing.T, p *moteProc) usage {
	t.Helper()
	prev, err := p.usage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		time.Sleep(time.Second)
		u, err := p.usage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if (u.goroutines == prev.goroutines && u.fds == prev.fds) || time.Now().After(deadline) {
			return u
		}
		prev = u
	}
}

func (u usage) String() string {
	return fmt.Sprintf("RSS %.1f MiB, heap in use %.1f MiB (goal %.1f, live ~%.1f, GOGC %d), %d goroutines, %d open fds",
		mib(u.rss), mib(u.heapInuse), mib(u.heapGoal), mib(u.heapLive()), u.gogc, u.goroutines, u.fds)
}

// instanceList names the count of each of pooledServices: "hello-sdk 3,
// counter-go 1".
func instanceList(n []int) string {
	var parts []string
	for i, svc := range pooledServices {
		if i < len(n) {
			parts = append(parts, fmt.Sprintf("%s %d", svc, n[i]))
		}
	}
	return strings.Join(parts, ", ")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// result is the verdict of a soak run.
type result struct {
	series            []sample
	duration, elapsed time.Duration
	maxRate, rate     float64
	mix               mix
	before, after     usage
	instBefore        []int // pooled instances idle before the load (pooledServices)
	instAfter         []int // and after it
	growth            []growth
	total, errs       int64
	errorsSeen        []string
	p50First, p50Last time.Duration // medians of the first and last minute's interval p50s
	p99First, p99Last time.Duration // same for p99
	p99Max            time.Duration // the worst interval's p99
}

// judge computes the growth verdicts (over samples at or after half the
// duration) and the latency trend.
func judge(series []sample, duration time.Duration) *result {
	r := &result{series: series, duration: duration}
	var ts []float64
	col := map[string][]float64{}
	for _, s := range series {
		ts = append(ts, s.t.Seconds())
		col["rss"] = append(col["rss"], float64(s.rssMax))
		col["heap"] = append(col["heap"], float64(s.u.heapGoal))
		col["g"] = append(col["g"], float64(s.u.goroutines-s.u.conns))
		col["fd"] = append(col["fd"], float64(s.u.fds-s.u.conns))
		r.errs += int64(s.errs)
		r.p99Max = max(r.p99Max, s.p99)
		r.total = s.total
	}
	// From half the duration to the load's end: the sample taken as the
	// load stops (its connections closing) is not part of it.
	from, to := (duration / 2).Seconds(), (duration - time.Second).Seconds()
	r.growth = []growth{
		ruleRSS.check(ts, col["rss"], from, to), ruleHeap.check(ts, col["heap"], from, to),
		ruleGoroutines.check(ts, col["g"], from, to), ruleFDs.check(ts, col["fd"], from, to),
	}
	var f50, f99, l50, l99 []time.Duration
	for _, s := range series {
		if s.done == 0 {
			continue
		}
		if s.t <= time.Minute {
			f50, f99 = append(f50, s.p50), append(f99, s.p99)
		}
		if s.t >= duration-time.Minute {
			l50, l99 = append(l50, s.p50), append(l99, s.p99)
		}
	}
	r.p50First, r.p99First, r.p50Last, r.p99Last = median(f50), median(f99), median(l50), median(l99)
	return r
}

func median(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	return quantile(s, 0.5)
}

// failures lists why the run fails (none: it passes).
func (r *result) failures() []string {
	var fs []string
	if r.errs > 0 {
		fs = append(fs, fmt.Sprintf("%d requests failed; the first: %s", r.errs, strings.Join(r.errorsSeen, "; ")))
	}
	if len(r.series) < 4 {
		fs = append(fs, fmt.Sprintf("only %d samples", len(r.series)))
	}
	for _, g := range r.growth {
		if !g.ok() {
			fs = append(fs, "growth: "+g.String())
		}
	}
	if d := r.after.goroutines - r.before.goroutines; d > idleSlack {
		fs = append(fs, fmt.Sprintf("the idle node kept %d more goroutines after the load than before it (%d → %d; allowed %d)", d, r.before.goroutines, r.after.goroutines, idleSlack))
	}
	if d := r.after.fds - r.before.fds; d > idleSlack {
		fs = append(fs, fmt.Sprintf("the idle node kept %d more open fds after the load than before it (%d → %d; allowed %d)", d, r.before.fds, r.after.fds, idleSlack))
	}
	return fs
}

// summary is the run's result as Markdown, for docs/soak.md.
func (r *result) summary() string {
	var b strings.Builder
	verdict := "PASS"
	if len(r.failures()) > 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "**%s** — %s of open-loop load at %.0f req/s (half of %.0f req/s measured closed-loop with %d connections), %s UTC.\n\n",
		verdict, r.elapsed.Round(time.Second), r.rate, r.maxRate, *soakConns, time.Now().UTC().Format("2006-01-02 15:04"))
	fmt.Fprintf(&b, "- Requests: %d answered 200, %d errors.\n", r.total, r.errs)
	stat := func(name string, f func(usage) float64, unit string) {
		if len(r.series) == 0 {
			return
		}
		first, last := f(r.series[0].u), f(r.series[len(r.series)-1].u)
		peak := first
		for _, s := range r.series {
			peak = math.Max(peak, f(s.u))
		}
		fmt.Fprintf(&b, "- %s: start %s, end %s, peak %s%s.\n", name, num(first), num(last), num(peak), unit)
	}
	stat("Node RSS", func(u usage) float64 { return mib(u.rss) }, " MiB")
	stat("Go heap in use", func(u usage) float64 { return mib(u.heapInuse) }, " MiB")
	stat("Go heap goal (next GC)", func(u usage) float64 { return mib(u.heapGoal) }, " MiB")
	stat("Goroutines", func(u usage) float64 { return float64(u.goroutines) }, "")
	stat("Open fds", func(u usage) float64 { return float64(u.fds) }, "")
	stat("Client connections to the gateway", func(u usage) float64 { return float64(u.conns) }, "")
	stat("Live heap, estimated from the goal and GOGC", func(u usage) float64 { return mib(u.heapLive()) }, " MiB")
	stat("GOGC", func(u usage) float64 { return float64(u.gogc) }, "")
	if n := len(r.series); n > 1 {
		first, last := r.series[0], r.series[n-1]
		if secs := (last.t - first.t).Seconds(); secs > 0 {
			fmt.Fprintf(&b, "- Collections: %d over the load, %.1f a second.\n", last.u.gcs-first.u.gcs, float64(last.u.gcs-first.u.gcs)/secs)
		}
	}
	for i, svc := range pooledServices {
		var first, last, peak int
		for j, sm := range r.series {
			if i >= len(sm.instances) {
				continue
			}
			v := sm.instances[i]
			if j == 0 {
				first = v
			}
			last, peak = v, max(peak, v)
		}
		fmt.Fprintf(&b, "- %s live instances: start %d, end %d, peak %d.\n", svc, first, last, peak)
	}
	fmt.Fprintf(&b, "- Latency (from each request's scheduled time, per %s interval): p50 %s in the first minute → %s in the last; p99 %s → %s; worst interval p99 %s.\n",
		*soakInterval, r.p50First.Round(time.Microsecond), r.p50Last.Round(time.Microsecond),
		r.p99First.Round(time.Microsecond), r.p99Last.Round(time.Microsecond), r.p99Max.Round(time.Microsecond))
	var slow []string
	minRate, minAt := math.Inf(1), time.Duration(0)
	var node, others, othersMax float64
	n := 0
	for i, sm := range r.series {
		if sm.p99 > time.Second {
			slow = append(slow, sm.t.Round(time.Second).String())
		}
		if i == 0 || sm.t > r.duration-time.Second {
			continue // idle at the start; the load's end
		}
		dt := (sm.t - r.series[i-1].t).Seconds()
		if rate := float64(sm.done) / dt; rate < minRate {
			minRate, minAt = rate, sm.t
		}
		o := max(0, sm.cpu.machine-sm.cpu.node-sm.cpu.loadgen)
		node, others, othersMax, n = node+sm.cpu.node, others+o, max(othersMax, o), n+1
	}
	if n > 0 {
		fmt.Fprintf(&b, "- Throughput: the slowest interval answered %.0f req/s (ending at %s) against %.0f scheduled.\n", minRate, minAt.Round(time.Second), r.rate)
		fmt.Fprintf(&b, "- CPU (cores of %d): the node used %.2f on average; other processes on the machine (not the node, not the load generator) %.2f on average, %.2f at most in an interval.\n",
			runtime.NumCPU(), node/float64(n), others/float64(n), othersMax)
	}
	if len(slow) > 0 {
		fmt.Fprintf(&b, "- Intervals with p99 above 1 s: %d (ending at %s).\n", len(slow), strings.Join(slow, ", "))
	}
	fmt.Fprintf(&b, "- Growth, line fitted over the second half (from %s), per hour:\n", (r.duration / 2).Round(time.Second))
	for _, g := range r.growth {
		fmt.Fprintf(&b, "  - %s\n", g)
	}
	fmt.Fprintf(&b, "- Idle node before the load: %s, pooled instances %s; after it: %s, pooled instances %s.\n",
		r.before, instanceList(r.instBefore), r.after, instanceList(r.instAfter))
	if fs := r.failures(); len(fs) > 0 {
		b.WriteString("- Failures:\n")
		for _, f := range fs {
			fmt.Fprintf(&b, "  - %s\n", f)
		}
	}
	return b.String()
}

func num(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// writeOut writes soak.csv, soak.png, summary.txt and a copy of the
// node's log into dir.
func writeOut(dir string, series []sample, summary, nodeLog string, half time.Duration) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "soak.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	head := []string{"seconds", "rss_bytes", "rss_max_bytes", "heap_inuse_bytes", "heap_inuse_min_bytes", "heap_goal_bytes", "goroutines", "open_fds", "client_conns", "cpu_node_cores", "cpu_loadgen_cores", "cpu_machine_cores", "requests", "errors", "total_requests", "p50_ms", "p99_ms",
		"gogc_percent", "stack_inuse_bytes", "gc_count", "heap_live_est_bytes"}
	for _, svc := range pooledServices {
		head = append(head, "instances_"+svc)
	}
	w.Write(head)
	for _, s := range series {
		row := []string{
			strconv.FormatFloat(s.t.Seconds(), 'f', 1, 64), fmt.Sprint(s.u.rss), fmt.Sprint(s.rssMax),
			fmt.Sprint(s.u.heapInuse), fmt.Sprint(s.heapMin), fmt.Sprint(s.u.heapGoal),
			fmt.Sprint(s.u.goroutines), fmt.Sprint(s.u.fds), fmt.Sprint(s.u.conns),
			strconv.FormatFloat(s.cpu.node, 'f', 3, 64), strconv.FormatFloat(s.cpu.loadgen, 'f', 3, 64), strconv.FormatFloat(s.cpu.machine, 'f', 3, 64),
			fmt.Sprint(s.done), fmt.Sprint(s.errs), fmt.Sprint(s.total),
			ms(s.p50), ms(s.p99),
			fmt.Sprint(s.u.gogc), fmt.Sprint(s.u.stack), fmt.Sprint(s.u.gcs), fmt.Sprint(s.u.heapLive()),
		}
		for i := range pooledServices {
			n := 0
			if i < len(s.instances) {
				n = s.instances[i]
			}
			row = append(row, fmt.Sprint(n))
		}
		w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := writePNG(filepath.Join(dir, "soak.png"), plotSeries(series, half, *soakInterval)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(summary), 0o644); err != nil {
		return err
	}
	if b, err := os.ReadFile(nodeLog); err == nil {
		return os.WriteFile(filepath.Join(dir, "node.log"), b, 0o644)
	}
	return nil
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) }

// plotSeries draws memory, goroutines, open fds and latency over time.
func plotSeries(series []sample, half, interval time.Duration) *image.RGBA {
	var xs []float64
	var rss, heap, goal, live, gs, fds, conns, p50, p99, cn, cl, co []float64
	inst := make([][]float64, len(pooledServices))
	for _, s := range series {
		for i := range pooledServices {
			v := math.NaN()
			if i < len(s.instances) {
				v = float64(s.instances[i])
			}
			inst[i] = append(inst[i], v)
		}
		lv := math.NaN()
		if s.u.gogc > 0 {
			lv = mib(s.u.heapLive())
		}
		live = append(live, lv)
		conns = append(conns, float64(s.u.conns))
		cn, cl = append(cn, s.cpu.node), append(cl, s.cpu.loadgen)
		co = append(co, max(0, s.cpu.machine-s.cpu.node-s.cpu.loadgen))
		xs = append(xs, s.t.Seconds())
		rss, heap, goal = append(rss, mib(s.rssMax)), append(heap, mib(s.heapMin)), append(goal, mib(s.u.heapGoal))
		gs, fds = append(gs, float64(s.u.goroutines)), append(fds, float64(s.u.fds))
		if s.done == 0 {
			p50, p99 = append(p50, math.NaN()), append(p99, math.NaN())
			continue
		}
		p50, p99 = append(p50, float64(s.p50)/1e6), append(p99, float64(s.p99)/1e6)
	}
	mark := half.Seconds()
	var instLines []line
	for i, svc := range pooledServices {
		instLines = append(instLines, line{svc, []color.RGBA{blue, red, green, gray}[i%4], inst[i]})
	}
	return plotPanels(xs, []panel{
		{title: "memory, MiB", lines: []line{{"RSS max", blue, rss}, {"heap goal", red, goal}, {"in use min", green, heap}, {"live (est.)", gray, live}}, format: trimFloat, mark: mark},
		{title: "pooled instances (live)", lines: instLines, format: trimFloat, mark: mark},
		{title: "node goroutines", lines: []line{{"goroutines", blue, gs}, {"client connections", gray, conns}}, format: trimFloat, mark: mark},
		{title: "node open fds", lines: []line{{"fds", blue, fds}, {"client connections", gray, conns}}, format: trimFloat, mark: mark},
		{title: "CPU, cores", lines: []line{{"node", blue, cn}, {"load generator", green, cl}, {"everything else", red, co}}, format: trimFloat, mark: mark},
		{title: "latency per " + interval.String() + " interval, ms (log)", lines: []line{{"p50", blue, p50}, {"p99", red, p99}}, format: trimFloat, mark: mark, logY: true},
	})
}
