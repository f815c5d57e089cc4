// Command bench is mote's benchmark harness. It measures mote the way its
// users would, against what they would use instead, in the same run (the
// machines are noisy: every figure has a baseline measured alongside it,
// and results are medians and ratios), and writes a Markdown report,
// results.json and PNG plots.
//
//	go run ./bench                                  # every suite, quick settings
//	go run ./bench -suite throughput,latency -rounds 5 -duration 10s
//	go run ./bench -suite density -density-max 10000
//	go run ./bench -render bench/plots/results.json # redraw report and plots only
//	go run ./bench -access                          # API management's cost on one route
//	go run ./bench -suite gateway -out /tmp/gw      # the gateway alone vs nginx and caddy
//
// Suites (-suite, comma-separated, default all):
//
//	throughput  wrk in alternating rounds: bare Go net/http hello (the floor),
//	            raw wazero serving hello-c over net/http (the sandbox floor),
//	            nginx and caddy proxying to the bare server, and mote's WAGI C,
//	            WAGI Go and pooled Go SDK hellos, each without and with an API
//	            key and a rate limit, and mote's pooled C hello (a guest that
//	            costs a few µs, so the gateway is what is measured); with
//	            each target's CPU per request on the server side
//	gateway     the throughput suite over just the bare server, nginx and
//	            caddy proxying to it, and mote's pooled C hello: issue 6's
//	            "gateway alone vs nginx" target (nothing more when the
//	            throughput suite runs too)
//	latency     open-loop load at fixed fractions of each target's own
//	            throughput; p50/p99/p99.9 and CDF plots
//	sandbox     one request's cost without HTTP, as Go benchmarks
//	coldstart   cold start from zero per ABI, in the sandbox driver
//	deploy      deploy to first 200 through the SDK
//	density     10…-density-max services on one `mote up` subprocess: memory,
//	            restart to ready, `mote ls`, request latency; node start to
//	            ready; memory per warm instance
//	profile     CPU and allocation profiles of the node under load
//
// It needs wrk (apt-get install wrk); nginx and caddy are optional peers
// (apt-get install nginx caddy) and the report says which were missing.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/examples"
	"github.com/mote-run/mote/internal/node"
	"github.com/mote-run/mote/internal/sandbox/wasm"
)

// allSuites in the order they run.
var allSuites = []string{"sandbox", "coldstart", "throughput", "gateway", "latency", "profile", "deploy", "density"}

// options are the command's flags.
type options struct {
	suites             []string
	rounds             int
	duration           time.Duration
	conns, threads     int
	withGo             bool
	withNginx          bool
	withCaddy          bool
	fractions          []float64
	latencyDuration    time.Duration
	openConns          int
	coldN              int
	deploys            int
	densityMax         int
	densityWorkers     int
	densityRequests    int
	warmInstances      int
	moteBin            string
	out                string
	profileDuration    time.Duration
	legacyProfileFile  string
	legacyProfileLabel string
}

func main() {
	var (
		o         options
		suite     = flag.String("suite", "all", "suites to run, comma-separated: "+strings.Join(allSuites, ",")+", or all")
		fractions = flag.String("fractions", "0.25,0.5,0.75", "open-loop load as fractions of each target's own median req/s")
		access    = flag.Bool("access", false, "instead: the cost of API management (key auth + rate limit + quota) on one route, throughput and open-loop latency at half load")
		render    = flag.String("render", "", "measure nothing: render the report and plots from this results.json into -out")
		heapData  = flag.String("heap-profile-data", "", "internal (the density suite runs itself with it): start a node on this data dir, write its settled heap profile into -out and its top as JSON to stdout")
		heapN     = flag.Int("heap-profile-services", 0, "internal: the number of services on -heap-profile-data")
		loadURL   = flag.String("open-loop-url", "", "internal (the latency suite runs itself with it, so the generator has a process of its own): drive this URL open-loop and print the LatencyRun as JSON")
		loadHdr   = flag.String("open-loop-header", "", "internal: one request header for -open-loop-url")
		loadRate  = flag.Float64("open-loop-rate", 0, "internal: requests/s for -open-loop-url")
	)
	flag.IntVar(&o.rounds, "rounds", 3, "throughput rounds; each drives every target once")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "wrk duration per target per round")
	flag.IntVar(&o.conns, "conns", 32, "wrk connections")
	flag.IntVar(&o.threads, "threads", 2, "wrk threads")
	flag.BoolVar(&o.withGo, "go", true, "include the WAGI Go hello (slow: a Go runtime starts per request)")
	flag.BoolVar(&o.withNginx, "nginx", true, "include nginx as a reverse proxy to the bare server")
	flag.BoolVar(&o.withCaddy, "caddy", true, "include caddy as a reverse proxy to the bare server")
	flag.DurationVar(&o.latencyDuration, "latency-duration", 10*time.Second, "open-loop run per target per load fraction")
	flag.IntVar(&o.openConns, "open-conns", 64, "open-loop connections (the most requests in flight)")
	flag.IntVar(&o.coldN, "cold", 2000, "WAGI C cold starts to time (the Go ABIs time a twentieth, at least 10)")
	flag.IntVar(&o.deploys, "deploys", 20, "deploys to time per ABI (deploy suite)")
	flag.IntVar(&o.densityMax, "density-max", 1000, "the most services the density suite deploys (10, 100, … up to it; 10000 for the issue's figure)")
	flag.IntVar(&o.densityWorkers, "density-workers", 8, "parallel deploys in the density suite")
	flag.IntVar(&o.densityRequests, "density-requests", 300, "requests to random services at each density step")
	flag.IntVar(&o.warmInstances, "warm", 20, "warm pooled instances added to measure memory per instance")
	flag.StringVar(&o.moteBin, "mote", "", "the mote binary the density suite runs (default: go build ./cmd/mote)")
	flag.StringVar(&o.out, "out", "bench/plots", "directory for results.md, results.json, the PNG plots and profiles")
	flag.DurationVar(&o.profileDuration, "profile-duration", 10*time.Second, "wrk run per profiled target")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "also write a CPU profile of the process while wrk drives -profile's example in the last throughput round (with -access: the keyed route)")
	flag.StringVar(&profileTarget, "profile", "hello-c", "the example -cpuprofile profiles: hello-c, hello-sdk, hello-go or hello-pooled-c")
	flag.Parse()

	err := func() error {
		if *render != "" {
			r, err := loadResults(*render)
			if err != nil {
				return err
			}
			return writeReport(r, o.out)
		}
		if *access {
			return runAccess(o.rounds, o.duration, o.conns, o.threads)
		}
		if *loadURL != "" {
			l, err := openLoopRaw(*loadURL, *loadHdr, *loadRate, o.latencyDuration, o.openConns)
			if err != nil {
				return err
			}
			return json.NewEncoder(os.Stdout).Encode(l)
		}
		if *heapData != "" {
			node.TuneGC()
			ps, err := heapProfileAt(context.Background(), *heapData, o.out, *heapN)
			if err != nil {
				return err
			}
			return json.NewEncoder(os.Stdout).Encode(ps)
		}
		var err error
		if o.suites, err = parseSuites(*suite); err != nil {
			return err
		}
		if o.fractions, err = parseFractions(*fractions); err != nil {
			return err
		}
		return run(o)
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

// cpuProfile and profileTarget are the -cpuprofile and -profile flags.
var cpuProfile, profileTarget string

// exampleKeys maps -profile's example names to target keys.
var exampleKeys = map[string]string{"hello-c": "wagi-c", "hello-sdk": "pooled", "hello-go": "wagi-go", "hello-pooled-c": "pooled-c"}

func parseSuites(s string) ([]string, error) {
	if s == "all" || s == "" {
		return allSuites, nil
	}
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(allSuites, name) {
			return nil, fmt.Errorf("-suite: no suite %q; the suites are %s", name, strings.Join(allSuites, ", "))
		}
		out = append(out, name)
	}
	return out, nil
}

func parseFractions(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 || v > 1 {
			return nil, fmt.Errorf("-fractions: %q is not a fraction in (0, 1]", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// target is one thing wrk and the open-loop generator drive.
type target struct {
	name, key, url string
	header         string // one "Name: value" request header, "" for none
	// proxy is the process in front (nginx, caddy), nil for a target this
	// process serves.
	proxy    *proxy
	rps      []float64
	p50, p99 []time.Duration
	// cpu and proxyCPU are µs of CPU per request, per round: every server
	// process (this one, and the proxy's), and the proxy's alone.
	cpu, proxyCPU []float64
}

// result converts t's wrk results.
func (t *target) result() TargetRPS {
	return TargetRPS{Name: t.name, Key: t.key, RPS: t.rps, P50: t.p50, P99: t.p99, CPU: t.cpu, ProxyCPU: t.proxyCPU}
}

// proxyShare prints the proxy's CPU per request in t's last round, "" for
// a target with no proxy.
func proxyShare(t *target) string {
	if len(t.proxyCPU) == 0 {
		return ""
	}
	return fmt.Sprintf(" (proxy %.1fµs)", t.proxyCPU[len(t.proxyCPU)-1])
}

// measure runs wrk on t for d, recording its requests/s, latency and the
// server side's CPU per request (this process, which holds the node and
// the bare server, plus the proxy's processes; not wrk's).
func (t *target) measure(d time.Duration, conns, threads int) error {
	var proxyPid int
	if t.proxy != nil && t.proxy.cmd != nil && t.proxy.cmd.Process != nil {
		proxyPid = t.proxy.cmd.Process.Pid
	}
	self0, px0 := processCPU(), time.Duration(0)
	if proxyPid != 0 {
		px0 = procTreeCPU(proxyPid)
	}
	if err := wrk(t, d, conns, threads, true); err != nil {
		return err
	}
	self := processCPU() - self0
	var px time.Duration
	if proxyPid != 0 {
		px = procTreeCPU(proxyPid) - px0
	}
	reqs := t.rps[len(t.rps)-1] * d.Seconds()
	if reqs <= 0 {
		reqs = 1
	}
	t.cpu = append(t.cpu, float64((self+px).Microseconds())/reqs)
	if proxyPid != 0 {
		t.proxyCPU = append(t.proxyCPU, float64(px.Microseconds())/reqs)
	}
	return nil
}

func run(o options) error {
	ctx := context.Background()
	node.TuneGC() // as `mote up` does; the in-process peers share the setting
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "mote-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	r := &Results{
		Date:    time.Now().UTC().Format("2006-01-02 15:04 MST"),
		Command: "go run ./bench " + strings.Join(os.Args[1:], " "),
		CPUs:    runtime.NumCPU(),
		Go:      runtime.Version(),
	}
	if len(os.Args) == 1 {
		r.Command = "go run ./bench"
	}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		r.Commit = strings.TrimSpace(string(out))
	}
	has := func(s string) bool { return slices.Contains(o.suites, s) }
	needNode := has("throughput") || has("gateway") || has("latency") || has("profile") || has("deploy")
	if needNode {
		if _, err := exec.LookPath("wrk"); err != nil && (has("throughput") || has("gateway") || has("latency") || has("profile")) {
			return fmt.Errorf("wrk is not installed; Try: apt-get install -y wrk")
		}
	}
	// Save whatever was measured, even after a failure.
	defer func() {
		if err := writeReport(r, o.out); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
		}
	}()

	if has("sandbox") {
		fmt.Fprintln(os.Stderr, "sandbox: per-request costs (Go benchmarks)")
		if r.Sandbox, err = sandboxCosts(ctx, filepath.Join(work, "cache")); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	if has("coldstart") {
		fmt.Fprintln(os.Stderr, "coldstart: per ABI")
		if r.ColdStart, err = coldStarts(ctx, filepath.Join(work, "cache"), o.coldN, o.withGo); err != nil {
			return fmt.Errorf("coldstart: %w", err)
		}
	}
	if needNode {
		if err := inProcess(ctx, o, r, work); err != nil {
			return err
		}
	}
	if has("density") {
		bin := o.moteBin
		if bin == "" {
			fmt.Fprintln(os.Stderr, "density: building cmd/mote")
			if bin, err = buildMote(work); err != nil {
				return err
			}
		}
		points, empty, err := runDensity(ctx, bin, work, densitySteps(o.densityMax), o.densityWorkers, o.densityRequests)
		r.Density = points
		if len(empty.Samples) > 0 {
			r.Startup = append(r.Startup, empty)
		}
		for _, p := range points {
			r.Startup = append(r.Startup, Distribution{Name: fmt.Sprintf("%d services", p.Services), Key: fmt.Sprintf("n%d", p.Services),
				What: "`mote up` exec to /readyz 200 after a restart", Samples: []time.Duration{p.Ready}})
		}
		if err != nil {
			return fmt.Errorf("density: %w", err)
		}
		if len(points) > 0 {
			last := points[len(points)-1].Services
			fmt.Fprintf(os.Stderr, "density: heap profile of a node with %d services\n", last)
			ps, err := heapProfileSubprocess(filepath.Join(work, "density"), o.out, last)
			r.Profiles = append(r.Profiles, ps...)
			if err != nil {
				return fmt.Errorf("density heap profile: %w", err)
			}
		}
		if r.Warm, err = warmMemory(ctx, bin, work, o.warmInstances); err != nil {
			return fmt.Errorf("warm memory: %w", err)
		}
	}
	return nil
}

// openLoopSubprocess runs openLoopRaw in a process of its own (this
// program, run again), so that the generator's goroutines and garbage do
// not share a scheduler and a heap with the in-process targets.
func openLoopSubprocess(url, header string, rate float64, d time.Duration, conns int) (LatencyRun, error) {
	exe, err := os.Executable()
	if err != nil {
		return LatencyRun{}, err
	}
	cmd := exec.Command(exe, "-open-loop-url", url, "-open-loop-header", header, "-open-loop-rate", strconv.FormatFloat(rate, 'f', -1, 64),
		"-latency-duration", d.String(), "-open-conns", strconv.Itoa(conns))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return LatencyRun{}, fmt.Errorf("open loop %s: %w: %s", url, err, strings.TrimSpace(stderr.String()))
	}
	var l LatencyRun
	if err := json.Unmarshal(out, &l); err != nil {
		return LatencyRun{}, fmt.Errorf("open loop %s: %w", url, err)
	}
	return l, nil
}

// heapProfileSubprocess runs this program again to take heapProfileAt's
// profile in a process of its own, free of this one's allocations.
func heapProfileSubprocess(data, dir string, services int) ([]ProfileSummary, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-heap-profile-data", data, "-heap-profile-services", strconv.Itoa(services), "-out", dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("heap profile: %w", err)
	}
	var ps []ProfileSummary
	if err := json.Unmarshal(out, &ps); err != nil {
		return nil, fmt.Errorf("heap profile: %w", err)
	}
	return ps, nil
}

// writeReport writes results.json, results.md and the plots into dir.
func writeReport(r *Results, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := r.save(filepath.Join(dir, "results.json")); err != nil {
		return err
	}
	files, err := r.Plots(dir)
	if err != nil && len(files) == 0 && (r.Throughput != nil || len(r.Latency) > 0 || len(r.ColdStart) > 0 || len(r.Density) > 0) {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "results.md"))
	if err != nil {
		return err
	}
	r.Markdown(io.MultiWriter(f, os.Stdout), ".")
	return f.Close()
}

// inProcess runs the suites that need a node in this process: the peers
// and mote's targets side by side.
func inProcess(ctx context.Context, o options, r *Results, work string) error {
	has := func(s string) bool { return slices.Contains(o.suites, s) }
	bare, stopBare, err := serve(bareHandler)
	if err != nil {
		return err
	}
	defer stopBare()
	n, err := node.Start(ctx, node.Config{DataDir: filepath.Join(work, "node"), HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Version: "bench"})
	if err != nil {
		return err
	}
	defer n.Shutdown(context.Background())
	c, err := client.New(n.AdminURL(), client.WithToken(n.Token()))
	if err != nil {
		return err
	}

	if has("deploy") {
		for _, name := range []string{"hello-c", "hello-sdk"} {
			d, err := deployToFirst200(ctx, c, n.GatewayURL(), name, o.deploys)
			if err != nil {
				return fmt.Errorf("deploy: %w", err)
			}
			r.Deploy = append(r.Deploy, d)
		}
	}
	if !has("throughput") && !has("gateway") && !has("latency") && !has("profile") {
		return nil
	}
	// The gateway suite alone drives only the bare server, nginx and caddy
	// in front of it, and mote's pooled C hello.
	gatewayOnly := has("gateway") && !has("throughput")

	targets := []*target{{name: "bare Go net/http hello", key: "bare", url: bare + "/hello"}}
	if !gatewayOnly {
		helloC, err := examples.Get("hello-c")
		if err != nil {
			return err
		}
		raw, err := newRawWazero(ctx, helloC.Module, wasm.Pages(16<<20))
		if err != nil {
			return err
		}
		defer raw.close(ctx)
		rawURL, stopRaw, err := serve(raw)
		if err != nil {
			return err
		}
		defer stopRaw()
		targets = append(targets, &target{name: "raw wazero hello-c over net/http", key: "raw-wazero", url: rawURL + "/hello-c/world"})
	}
	upstream := strings.TrimPrefix(bare, "http://")
	for _, p := range []struct {
		on    bool
		name  string
		key   string
		start func(string) (*proxy, error)
	}{
		{o.withNginx, "nginx → bare", "nginx", startNginx},
		{o.withCaddy, "caddy → bare", "caddy", startCaddy},
	} {
		if !p.on {
			continue
		}
		px, err := p.start(upstream)
		if err != nil {
			fmt.Fprintln(os.Stderr, "skipping", p.key+":", err)
			r.Missing = append(r.Missing, fmt.Sprintf("%s: %v", p.key, firstLine(err.Error())))
			continue
		}
		defer px.stop()
		targets = append(targets, &target{name: p.name, key: p.key, url: px.url + "/hello", proxy: px})
	}

	res, err := c.Deploy(ctx, client.Package{Manifest: []byte(helloPooledCManifest), Module: helloPooledC})
	if err != nil {
		return fmt.Errorf("deploy the pooled C hello: %w", err)
	}
	targets = append(targets, &target{name: "mote pooled C hello", key: "pooled-c", url: res.Service.URL + "/world"})

	if _, err := c.CreatePlan(ctx, api.Plan{Name: "bench", Rate: "1000000000/s", Quota: "1000000000000/month"}); err != nil {
		return err
	}
	key, err := c.CreateKey(ctx, api.KeyRequest{App: "bench", Plan: "bench"})
	if err != nil {
		return err
	}
	motes := []struct{ example, key, label string }{
		{"hello-c", "wagi-c", "mote WAGI C hello"},
		{"hello-sdk", "pooled", "mote pooled Go SDK hello"},
	}
	if gatewayOnly {
		motes = nil
	}
	if o.withGo && !gatewayOnly {
		motes = append(motes, struct{ example, key, label string }{"hello-go", "wagi-go", "mote WAGI Go hello"})
	}
	for _, m := range motes {
		ex, err := examples.Get(m.example)
		if err != nil {
			return err
		}
		for _, keyed := range []bool{false, true} {
			pkg := client.Package{Manifest: ex.Manifest, Module: ex.Module, Files: ex.Files}
			t := &target{name: m.label, key: m.key}
			if keyed {
				name := m.example + "-key"
				pkg.Manifest = []byte(strings.NewReplacer(`"`+m.example+`"`, `"`+name+`"`, `"/`+m.example+`"`, `"/`+name+`"`).Replace(string(ex.Manifest)) +
					"\n[auth]\nrequire_key = true\n")
				t.name += " + key + rate limit"
				t.key += "+key"
				t.header = "X-API-Key: " + key.Secret
			}
			start := time.Now()
			res, err := c.Deploy(ctx, pkg)
			if err != nil {
				return fmt.Errorf("deploy %s: %w", t.name, err)
			}
			fmt.Fprintf(os.Stderr, "deployed %s in %s\n", res.Service.Name, time.Since(start).Round(time.Millisecond))
			t.url = res.Service.URL + "/world"
			targets = append(targets, t)
		}
	}
	for _, t := range targets { // warm up: compile caches, connections
		if err := wrk(t, 2*time.Second, o.conns, o.threads, false); err != nil {
			return err
		}
	}

	if has("throughput") || has("gateway") || has("latency") {
		for round := 1; round <= o.rounds; round++ {
			for _, t := range targets {
				stop := func() {}
				if cpuProfile != "" && round == o.rounds && t.key == exampleKeys[profileTarget] {
					if stop, err = startProfile(cpuProfile); err != nil {
						return err
					}
				}
				err := t.measure(o.duration, o.conns, o.threads)
				stop()
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "round %d/%d  %-44s %9.0f req/s  p50 %-9s p99 %-9s CPU/req %.1fµs%s\n", round, o.rounds, t.name,
					t.rps[len(t.rps)-1], t.p50[len(t.p50)-1], t.p99[len(t.p99)-1], t.cpu[len(t.cpu)-1], proxyShare(t))
			}
		}
		r.Throughput = &Throughput{Rounds: o.rounds, Duration: o.duration, Conns: o.conns, Threads: o.threads}
		for _, t := range targets {
			r.Throughput.Targets = append(r.Throughput.Targets, t.result())
		}
	}
	if has("latency") {
		for _, f := range o.fractions {
			for _, t := range targets {
				rate := f * median(t.rps)
				l, err := openLoopSubprocess(t.url, t.header, rate, o.latencyDuration, o.openConns)
				l.Name, l.Key, l.Fraction = t.name, t.key, f
				if err != nil {
					return fmt.Errorf("latency: %w", err)
				}
				fmt.Fprintf(os.Stderr, "open loop %3.0f%% %-44s %7.0f req/s offered, %7.0f achieved  p50 %-9s p99 %-9s p99.9 %s\n",
					100*f, t.name, rate, l.Achieved, dur(l.P50), dur(l.P99), dur(l.P999))
				r.Latency = append(r.Latency, l)
			}
		}
	}
	if has("profile") {
		for _, t := range targets {
			if t.key != "wagi-c" && t.key != "pooled" && t.key != "pooled-c" {
				continue
			}
			fmt.Fprintf(os.Stderr, "profiling the node under %s\n", t.name)
			ps, err := profileUnderLoad(t, o.profileDuration, o.conns, o.threads, o.out)
			r.Profiles = append(r.Profiles, ps...)
			if err != nil {
				return fmt.Errorf("profile: %w", err)
			}
		}
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// deployToFirst200 deploys count new services with example's module (the
// node holds it after the first) and times each until the gateway answers
// 200.
func deployToFirst200(ctx context.Context, c *client.Client, gateway, example string, count int) (Distribution, error) {
	ex, err := examples.Get(example)
	if err != nil {
		return Distribution{}, err
	}
	d := Distribution{Name: example, Key: example, What: "SDK Deploy of a new service (module already uploaded), then GET until 200"}
	if _, err := c.Deploy(ctx, client.Package{Manifest: ex.Manifest, Module: ex.Module, Files: ex.Files}); err != nil {
		return d, err
	}
	hc := newHTTPClient()
	for i := range count {
		name := fmt.Sprintf("%s-d%d", example, i)
		m := strings.NewReplacer(`"`+example+`"`, `"`+name+`"`, `"/`+example+`"`, `"/`+name+`"`).Replace(string(ex.Manifest))
		t0 := time.Now()
		if _, err := c.Deploy(ctx, client.Package{Manifest: []byte(m), Module: ex.Module, Files: ex.Files}); err != nil {
			return d, err
		}
		deadline := t0.Add(30 * time.Second)
		for get(ctx, hc, gateway+"/"+name+"/x") != nil {
			if time.Now().After(deadline) {
				return d, fmt.Errorf("%s: no 200 within 30s of its deploy", name)
			}
		}
		d.Samples = append(d.Samples, time.Since(t0))
	}
	fmt.Fprintf(os.Stderr, "deploy to first 200, %s: p50 %s\n", example, dur(quantile(d.Samples, 0.5)))
	return d, nil
}

var (
	reqsRe = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	latRe  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)`)
	errRe  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: .*`)
)

// wrkTimeout is how long wrk waits for one response before counting a
// socket timeout (its default, 2 s, is shorter than WAGI Go's tail at 32
// connections: those requests would be dropped from the percentiles and
// fail the run although every one is answered).
const wrkTimeout = "30s"

// wrk drives t for d and, when record is set, appends its requests/s and
// latency percentiles to t. Any error or non-2xx response fails the run.
func wrk(t *target, d time.Duration, conns, threads int, record bool) error {
	args := []string{"--latency", "--timeout", wrkTimeout, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", strconv.Itoa(max(1, int(d.Seconds()))) + "s"}
	if t.header != "" {
		args = append(args, "-H", t.header)
	}
	out, err := exec.Command("wrk", append(args, t.url)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("wrk %s: %v\n%s", t.url, err, out)
	}
	if m := errRe.FindString(string(out)); m != "" {
		return fmt.Errorf("wrk %s: %s", t.url, m)
	}
	m := reqsRe.FindStringSubmatch(string(out))
	if m == nil {
		return fmt.Errorf("wrk %s: no Requests/sec in:\n%s", t.url, out)
	}
	if !record {
		return nil
	}
	rps, _ := strconv.ParseFloat(m[1], 64)
	t.rps = append(t.rps, rps)
	for _, l := range latRe.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.ParseFloat(l[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[l[3]]
		lat := time.Duration(v * float64(unit))
		if l[1] == "50" {
			t.p50 = append(t.p50, lat)
		} else {
			t.p99 = append(t.p99, lat)
		}
	}
	return nil
}
