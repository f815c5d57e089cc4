package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/examples"
	"github.com/mote-run/mote/internal/node"
)

// densitySteps returns 10, 100, 1000, … up to and including max.
func densitySteps(maxN int) []int {
	var steps []int
	for n := 10; n <= maxN; n *= 10 {
		steps = append(steps, n)
	}
	if len(steps) == 0 || steps[len(steps)-1] != maxN {
		steps = append(steps, maxN)
	}
	return steps
}

// densityName is the i-th density service's name.
func densityName(i int) string { return fmt.Sprintf("d%05d", i) }

// runDensity deploys the WAGI C hello under many names to one `mote up`
// subprocess (blobs dedupe: each deploy is mostly store writes), and at
// each step measures the node: memory, `mote ls`, a restart to ready, and
// the latency of requests to random services. It also times start-ups of
// an empty node.
func runDensity(ctx context.Context, bin, work string, steps []int, workers, requests int) ([]DensityPoint, Distribution, error) {
	empty := Distribution{Name: "empty store", Key: "empty", What: "`mote up` exec to /readyz 200, no services"}
	data := filepath.Join(work, "density")
	for range 5 {
		p, ready, err := startMote(bin, data)
		if err != nil {
			return nil, empty, err
		}
		p.stop()
		empty.Samples = append(empty.Samples, ready)
	}
	fmt.Fprintf(os.Stderr, "density: empty node ready in %v\n", empty.Samples)

	ex, err := examples.Get("hello-c")
	if err != nil {
		return nil, empty, err
	}
	p, _, err := startMote(bin, data)
	if err != nil {
		return nil, empty, err
	}
	defer func() { p.stop() }()
	var points []DensityPoint
	deployed := 0
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 30 * time.Second}
	for _, n := range steps {
		pt := DensityPoint{Services: n, DeployWorkers: workers, DeployCount: n - deployed}
		t0 := time.Now()
		if err := deployMany(ctx, p.client, ex.Module, deployed, n, workers); err != nil {
			return points, empty, err
		}
		pt.DeployTime = time.Since(t0)
		deployed = n
		// One request to a service proves the node serves what it took.
		if err := get(ctx, hc, p.gateway+"/"+densityName(n-1)+"/x"); err != nil {
			return points, empty, err
		}
		time.Sleep(time.Second) // let background work settle before reading memory
		if pt.RSS, err = p.rss(); err != nil {
			return points, empty, err
		}
		var lists []time.Duration
		for range 5 {
			t := time.Now()
			svcs, err := p.client.Services(ctx)
			if err != nil {
				return points, empty, err
			}
			lists = append(lists, time.Since(t))
			if len(svcs) != n {
				return points, empty, fmt.Errorf("density: mote ls lists %d services, want %d", len(svcs), n)
			}
		}
		pt.List, pt.ListRuns = median(lists), len(lists)

		p.stop()
		if p, pt.Ready, err = startMote(bin, data); err != nil {
			return points, empty, err
		}
		readyAt := time.Now()
		// Right after ready, the node still loads its versions in the
		// background: the first requests may wait for theirs.
		first, err := randomRequests(ctx, hc, p.gateway, n, requests)
		if err != nil {
			return points, empty, err
		}
		pt.FirstP50, pt.FirstP99 = quantile(first, 0.5), quantile(first, 0.99)
		settled, err := waitRSSStable(p, 2*time.Minute)
		if err != nil {
			return points, empty, err
		}
		pt.Settle = settled.Sub(readyAt)
		lat, err := randomRequests(ctx, hc, p.gateway, n, requests)
		if err != nil {
			return points, empty, err
		}
		if pt.RSSRestart, err = p.rss(); err != nil {
			return points, empty, err
		}
		pt.Requests = len(lat)
		pt.ReqP50, pt.ReqP99 = quantile(lat, 0.5), quantile(lat, 0.99)
		pt.StoreMiB = float64(dirSize(data)) / (1 << 20)
		fmt.Fprintf(os.Stderr, "density %6d: deploy %v (%.0f/s)  RSS %s → restart %s  ready %v  settled %v  ls %v  first requests p50 %v p99 %v  then p50 %v p99 %v  data %.1f MiB\n",
			n, pt.DeployTime.Round(time.Millisecond), float64(pt.DeployCount)/pt.DeployTime.Seconds(), fmtBytes(float64(pt.RSS)),
			fmtBytes(float64(pt.RSSRestart)), pt.Ready.Round(time.Millisecond), pt.Settle.Round(time.Millisecond), pt.List.Round(time.Microsecond),
			dur(pt.FirstP50), dur(pt.FirstP99), dur(pt.ReqP50), dur(pt.ReqP99), pt.StoreMiB)
		points = append(points, pt)
	}
	return points, empty, nil
}

// randomRequests sends count serial GETs, each to a random one of the
// first n density services, and returns their latencies.
func randomRequests(ctx context.Context, hc *http.Client, gateway string, n, count int) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, count)
	for range count {
		t := time.Now()
		if err := get(ctx, hc, gateway+"/"+densityName(rand.IntN(n))+"/x"); err != nil {
			return lat, err
		}
		lat = append(lat, time.Since(t))
	}
	return lat, nil
}

// waitRSSStable polls p's resident memory every half second until three
// readings in a row are within 1 MiB of each other (the node has loaded
// its versions in the background), and returns the time of the first of
// them. It gives up after timeout, returning the time it gave up.
func waitRSSStable(p *moteProc, timeout time.Duration) (time.Time, error) {
	t0 := time.Now()
	prev, err := p.rss()
	if err != nil {
		return t0, err
	}
	stable := 0
	for time.Since(t0) < timeout {
		time.Sleep(500 * time.Millisecond)
		cur, err := p.rss()
		if err != nil {
			return t0, err
		}
		if d := cur - prev; d < 1<<20 && d > -(1<<20) {
			if stable++; stable == 2 {
				return time.Now().Add(-time.Second), nil
			}
		} else {
			stable = 0
		}
		prev = cur
	}
	return time.Now(), nil
}

// deployMany deploys services from..to-1 with workers in parallel.
func deployMany(ctx context.Context, c *client.Client, module []byte, from, to, workers int) error {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	next.Store(int64(from))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= to || ctx.Err() != nil {
					return
				}
				m := fmt.Sprintf("name = %q\n[wasm]\nmodule = \"hello.wasm\"\n[limits]\nmemory = \"16MiB\"\n", densityName(i))
				if _, err := c.Deploy(ctx, client.Package{Manifest: []byte(m), Module: module}); err != nil {
					once.Do(func() { first = fmt.Errorf("deploy %s: %w", densityName(i), err); cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// warmMemory measures the node's resident memory per warm pooled instance:
// the SDK hello deployed, then scaled from its first instance to 1+added.
func warmMemory(ctx context.Context, bin, work string, added int) ([]WarmMemory, error) {
	out := []WarmMemory{{ABI: "wagi", Service: "hello-c", Note: "no warm instances: every request instantiates its own, which lives for that request only"}}
	p, _, err := startMote(bin, filepath.Join(work, "warm"))
	if err != nil {
		return out, err
	}
	defer p.stop()
	ex, err := examples.Get("hello-sdk")
	if err != nil {
		return out, err
	}
	if _, err := p.client.Deploy(ctx, client.Package{Manifest: ex.Manifest, Module: ex.Module, Files: ex.Files}); err != nil {
		return out, err
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	for range 20 { // warm the instance up: its heap grows on first use
		if err := get(ctx, hc, p.gateway+"/hello-sdk/x"); err != nil {
			return out, err
		}
	}
	w := WarmMemory{ABI: "pooled", Service: "hello-sdk"}
	before, err := instanceCount(ctx, p.client, "hello-sdk")
	if err != nil {
		return out, err
	}
	time.Sleep(2 * time.Second)
	if w.RSSBefore, err = p.rss(); err != nil {
		return out, err
	}
	want := before + added
	if _, err := p.client.SetScale(ctx, "hello-sdk", api.Scale{Min: &want, Max: &want}); err != nil {
		w.Note = fmt.Sprintf("SetScale: %v; deployed a version with [scale] min = %d instead", err, want)
		m := fmt.Sprintf("%s\n[scale]\nmin = %d\nmax = %d\n", ex.Manifest, want, want)
		if _, err := p.client.Deploy(ctx, client.Package{Manifest: []byte(m), Module: ex.Module, Files: ex.Files}); err != nil {
			return out, err
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	got := before
	for got < want {
		if time.Now().After(deadline) {
			return out, fmt.Errorf("warm memory: %d instances of hello-sdk after 2m, want %d", got, want)
		}
		time.Sleep(50 * time.Millisecond)
		if got, err = instanceCount(ctx, p.client, "hello-sdk"); err != nil {
			return out, err
		}
	}
	// Exercise every instance once (concurrent requests), as warm
	// instances that served traffic.
	var wg sync.WaitGroup
	for range 3 {
		for range want {
			wg.Add(1)
			go func() { defer wg.Done(); _ = get(ctx, hc, p.gateway+"/hello-sdk/x") }()
		}
		wg.Wait()
	}
	time.Sleep(2 * time.Second)
	if w.RSSAfter, err = p.rss(); err != nil {
		return out, err
	}
	if got, err = instanceCount(ctx, p.client, "hello-sdk"); err != nil {
		return out, err
	}
	w.Instances = got - before
	fmt.Fprintf(os.Stderr, "warm memory: %d → %d instances, RSS %s → %s (%s each)\n", before, got,
		fmtBytes(float64(w.RSSBefore)), fmtBytes(float64(w.RSSAfter)), fmtBytes(float64(w.PerInstance())))
	return append(out, w), nil
}

// instanceCount counts a service's live instances that are not starting.
func instanceCount(ctx context.Context, c *client.Client, service string) (int, error) {
	is, err := c.Instances(ctx, service)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, i := range is {
		if i.State != "starting" {
			n++
		}
	}
	return n, nil
}

// heapProfileAt starts a node in this process on data (no other node may
// hold it), waits until its heap stops growing (the versions loaded), and
// returns the top of its in-use heap profile, written to dir.
func heapProfileAt(ctx context.Context, data, dir string, services int) ([]ProfileSummary, error) {
	cpuFile := filepath.Join(dir, fmt.Sprintf("cpu-start-%d.prof", services))
	stop, err := startProfile(cpuFile)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	n, err := node.Start(ctx, node.Config{DataDir: data, HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Version: "bench"})
	stop()
	if err != nil {
		return nil, err
	}
	ready := time.Since(t0)
	defer n.Shutdown(context.Background())
	var out []ProfileSummary
	for _, p := range []struct{ kind, flag string }{{"CPU from start to ready, flat", ""}, {"CPU from start to ready, cumulative", "-cum"}} {
		args := []string{"-top", "-nodecount=25"}
		if p.flag != "" {
			args = append(args, p.flag)
		}
		top, err := pprofTop(append(args, cpuFile)...)
		if err != nil {
			return out, err
		}
		out = append(out, ProfileSummary{Target: fmt.Sprintf("node.Start with %d services (ready in %s)", services, dur(ready)), Kind: p.kind, File: filepath.Base(cpuFile), Top: top})
	}
	var ms runtime.MemStats
	prev, stable := uint64(0), 0
	for deadline := time.Now().Add(2 * time.Minute); stable < 3 && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&ms)
		if d := int64(ms.HeapAlloc) - int64(prev); d < 1<<20 && d > -(1<<20) {
			stable++
		} else {
			stable = 0
		}
		prev = ms.HeapAlloc
	}
	file := filepath.Join(dir, fmt.Sprintf("heap-%d.prof", services))
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return nil, err
	}
	f.Close()
	target := fmt.Sprintf("node with %d services (a process of its own), settled (live heap %s)", services, fmtBytes(float64(ms.HeapAlloc)))
	for _, p := range []struct{ kind, flag string }{{"heap in use, flat", ""}, {"heap in use, cumulative", "-cum"}} {
		args := []string{"-top", "-sample_index=inuse_space", "-nodecount=25"}
		if p.flag != "" {
			args = append(args, p.flag)
		}
		top, err := pprofTop(append(args, file)...)
		if err != nil {
			return out, err
		}
		out = append(out, ProfileSummary{Target: target, Kind: p.kind, File: filepath.Base(file), Top: top})
	}
	return out, nil
}
