package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/examples"
	"github.com/mote-run/mote/internal/node"
)

// runAccess measures what API management costs: the same module (WAGI C
// hello) on two routes of one node, one plain and one that requires an API
// key whose plan has a rate limit and a quota (set high enough never to
// refuse), both with the gateway's metrics and analytics. It reports wrk
// throughput in alternating rounds, then open-loop latency at half of the
// plain route's throughput (requests are scheduled at a fixed rate and
// timed from their scheduled start, so queueing is not hidden).
func runAccess(rounds int, duration time.Duration, conns, threads int) error {
	ctx := context.Background()
	node.TuneGC()
	dir, err := os.MkdirTemp("", "mote-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	n, err := node.Start(ctx, node.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Version: "bench"})
	if err != nil {
		return err
	}
	defer n.Shutdown(context.Background())
	c, err := client.New(n.AdminURL(), client.WithToken(n.Token()))
	if err != nil {
		return err
	}
	ex, err := examples.Get("hello-c")
	if err != nil {
		return err
	}
	for _, m := range []string{
		"name = \"plain\"\n[wasm]\nmodule = \"hello.wasm\"\n",
		"name = \"keyed\"\n[wasm]\nmodule = \"hello.wasm\"\n[auth]\nrequire_key = true\n",
	} {
		if _, err := c.Deploy(ctx, client.Package{Manifest: []byte(m), Module: ex.Module}); err != nil {
			return err
		}
	}
	if _, err := c.CreatePlan(ctx, api.Plan{Name: "bench", Rate: "1000000000/s", Quota: "1000000000000/month"}); err != nil {
		return err
	}
	key, err := c.CreateKey(ctx, api.KeyRequest{App: "bench", Plan: "bench"})
	if err != nil {
		return err
	}
	gw := n.GatewayURL()
	// Both routes get the same request, key header included (the plain
	// route ignores it): the difference is what mote does with it.
	plain := &target{name: "WAGI C hello, no policy", url: gw + "/plain/world", header: "X-API-Key: " + key.Secret}
	keyed := &target{name: "WAGI C hello, API key + rate limit + quota", url: gw + "/keyed/world", header: "X-API-Key: " + key.Secret}
	targets := []*target{plain, keyed}
	for _, t := range targets {
		if err := wrk(t, 2*time.Second, conns, threads, false); err != nil {
			return err
		}
	}
	cpuPer := map[*target][]float64{}
	for r := 1; r <= rounds; r++ {
		for _, t := range targets {
			stop := func() {}
			// -profile plain profiles the plain route instead of the keyed one.
			if cpuProfile != "" && r == rounds && (t == keyed) != (profileTarget == "plain") {
				if stop, err = startProfile(cpuProfile); err != nil {
					return err
				}
			}
			cpu0 := processCPU()
			err := wrk(t, duration, conns, threads, true)
			cpu := processCPU() - cpu0
			stop()
			if err != nil {
				return err
			}
			// The node runs in this process (wrk does not): its CPU per
			// request is the cost measure least disturbed by other load.
			cpuPer[t] = append(cpuPer[t], float64(cpu.Microseconds())/(t.rps[len(t.rps)-1]*duration.Seconds()))
			fmt.Fprintf(os.Stderr, "round %d/%d  %-44s %9.0f req/s  p50 %-9s p99 %s\n", r, rounds, t.name,
				t.rps[len(t.rps)-1], t.p50[len(t.p50)-1], t.p99[len(t.p99)-1])
		}
	}
	rate := median(plain.rps) / 2
	lat := map[*target][]latencies{}
	for r := 1; r <= rounds; r++ {
		for _, t := range targets {
			l, err := openLoop(t, rate, duration, conns)
			if err != nil {
				return err
			}
			lat[t] = append(lat[t], l)
			fmt.Fprintf(os.Stderr, "round %d/%d  open loop %.0f req/s  %-44s p50 %-9s p99 %-9s p99.9 %s (%d errors)\n",
				r, rounds, rate, t.name, l.p50, l.p99, l.p999, l.errors)
		}
	}

	w := os.Stdout
	fmt.Fprintf(w, "\n`go run ./bench -access -rounds %d -duration %s -conns %d -threads %d` — %s, %d CPUs\n\n",
		rounds, duration, conns, threads, time.Now().UTC().Format("2006-01-02"), runtime.NumCPU())
	fmt.Fprintln(w, "| Route | req/s (median) | vs no policy | req/s per round | node CPU per request (median) | open-loop p50 | p99 | p99.9 |")
	fmt.Fprintln(w, "|---|---:|---:|---|---:|---:|---:|---:|")
	for _, t := range targets {
		var each []string
		for _, r := range t.rps {
			each = append(each, fmt.Sprint(int(r)))
		}
		ls := lat[t]
		fmt.Fprintf(w, "| %s | %.0f | %.1f%% | %s | %.1f µs | %s | %s | %s |\n", t.name, median(t.rps), 100*median(t.rps)/median(plain.rps),
			joinInts(each), median(cpuPer[t]), medianOf(ls, func(l latencies) time.Duration { return l.p50 }),
			medianOf(ls, func(l latencies) time.Duration { return l.p99 }), medianOf(ls, func(l latencies) time.Duration { return l.p999 }))
	}
	fmt.Fprintf(w, "\nOpen loop at %.0f req/s (half the plain route's median) for %s per round; latency from each request's scheduled start.\n", rate, duration)
	var ratios []float64
	for i := range plain.rps {
		ratios = append(ratios, keyed.rps[i]/plain.rps[i])
	}
	fmt.Fprintf(w, "Per-round throughput ratios keyed/plain: %v (median %.3f).\n", fmtRatios(ratios), median(ratios))
	var cpuRatios []float64
	for i := range cpuPer[plain] {
		cpuRatios = append(cpuRatios, cpuPer[keyed][i]/cpuPer[plain][i])
	}
	fmt.Fprintf(w, "Per-round node CPU per request keyed/plain: %v (median %.3f).\n", fmtRatios(cpuRatios), median(cpuRatios))
	return nil
}

// latencies summarizes one open-loop run.
type latencies struct {
	p50, p99, p999 time.Duration
	errors         int
}

// openLoop sends requests to t at a fixed rate for d, with at most conns
// in flight, and times each from when it was due: a request that waits for
// a free connection counts its wait (no coordinated omission).
func openLoop(t *target, rate float64, d time.Duration, conns int) (latencies, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var hname, hvalue string
	if t.header != "" {
		for i := 0; i < len(t.header); i++ {
			if t.header[i] == ':' {
				hname, hvalue = t.header[:i], t.header[i+2:]
				break
			}
		}
	}
	interval := time.Duration(float64(time.Second) / rate)
	total := int(d / interval)
	results := make([]time.Duration, total)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   int
		sem    = make(chan struct{}, conns)
		start  = time.Now()
		failed error
	)
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			req, _ := http.NewRequest(http.MethodGet, t.url, nil)
			if hname != "" {
				req.Header.Set(hname, hvalue)
			}
			resp, err := hc.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			results[i] = time.Since(due)
			if err != nil {
				mu.Lock()
				errs++
				if failed == nil {
					failed = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if errs > total/100 {
		return latencies{}, fmt.Errorf("open loop %s: %d of %d requests failed, first: %v", t.url, errs, total, failed)
	}
	slices.Sort(results)
	q := func(p float64) time.Duration { return results[min(len(results)-1, int(p*float64(len(results))))] }
	return latencies{p50: q(0.50), p99: q(0.99), p999: q(0.999), errors: errs}, nil
}

func medianOf(ls []latencies, f func(latencies) time.Duration) time.Duration {
	var xs []time.Duration
	for _, l := range ls {
		xs = append(xs, f(l))
	}
	return median(xs).Round(time.Microsecond)
}

func joinInts(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

func fmtRatios(xs []float64) string {
	out := "["
	for i, x := range xs {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%.3f", x)
	}
	return out + "]"
}
