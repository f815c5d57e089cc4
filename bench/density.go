package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/examples"
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
		var lat []time.Duration
		for range requests {
			t := time.Now()
			if err := get(ctx, hc, p.gateway+"/"+densityName(rand.IntN(n))+"/x"); err != nil {
				return points, empty, err
			}
			lat = append(lat, time.Since(t))
		}
		if pt.RSSRestart, err = p.rss(); err != nil {
			return points, empty, err
		}
		slices.Sort(lat)
		pt.Requests = len(lat)
		pt.ReqP50 = lat[len(lat)/2]
		pt.ReqP99 = lat[min(len(lat)-1, len(lat)*99/100)]
		pt.StoreMiB = float64(dirSize(data)) / (1 << 20)
		fmt.Fprintf(os.Stderr, "density %6d: deploy %v (%.0f/s)  RSS %s → restart %s  ready %v  ls %v  request p50 %v p99 %v  data %.1f MiB\n",
			n, pt.DeployTime.Round(time.Millisecond), float64(pt.DeployCount)/pt.DeployTime.Seconds(), fmtBytes(float64(pt.RSS)),
			fmtBytes(float64(pt.RSSRestart)), pt.Ready.Round(time.Millisecond), pt.List.Round(time.Microsecond), pt.ReqP50, pt.ReqP99, pt.StoreMiB)
		points = append(points, pt)
	}
	return points, empty, nil
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
