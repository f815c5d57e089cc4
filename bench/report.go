package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// median returns the middle of xs (the upper one of an even count), 0 for
// none.
func median[T int64 | float64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// quantile returns the q-quantile (0..1) of ds by rank, 0 for none.
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// dur prints a duration with three significant digits.
func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Microsecond:
		return d.String()
	case d < time.Millisecond:
		return trimZeros(fmt.Sprintf("%.3g", float64(d)/1e3)) + "µs"
	case d < time.Second:
		return trimZeros(fmt.Sprintf("%.3g", float64(d)/1e6)) + "ms"
	}
	return trimZeros(fmt.Sprintf("%.3g", d.Seconds())) + "s"
}

// target returns the throughput result with key, or nil.
func (t *Throughput) target(key string) *TargetRPS {
	if t == nil {
		return nil
	}
	for i := range t.Targets {
		if t.Targets[i].Key == key {
			return &t.Targets[i]
		}
	}
	return nil
}

// ratios returns a's requests/s over b's, round by round.
func ratios(a, b *TargetRPS) []float64 {
	var rs []float64
	for i := range min(len(a.RPS), len(b.RPS)) {
		if b.RPS[i] > 0 {
			rs = append(rs, a.RPS[i]/b.RPS[i])
		}
	}
	return rs
}

// cpuCell prints the median of µs per request, "—" for none.
func cpuCell(us []float64) string {
	if len(us) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1fµs", median(us))
}

func pct(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

func pcts(fs []float64) string {
	var s []string
	for _, f := range fs {
		s = append(s, fmt.Sprintf("%.1f%%", 100*f))
	}
	return strings.Join(s, ", ")
}

// Check is one of issue 6's targets, judged from the results.
type Check struct {
	Target, Result string
	Met            string // "met", "not met" or "not measured"
}

// checks judges the targets.
func (r *Results) checks() []Check {
	var cs []Check
	tp := r.Throughput
	bare := tp.target("bare")
	ratioCheck := func(key, label string, goal float64) {
		t := tp.target(key)
		if t == nil || bare == nil {
			cs = append(cs, Check{label, "", "not measured"})
			return
		}
		rm := median(t.RPS) / median(bare.RPS)
		per := ratios(t, bare)
		met := "not met"
		if rm >= goal {
			met = "met"
		}
		cs = append(cs, Check{label, fmt.Sprintf("%.1f%% (ratio of medians; per round %s)", 100*rm, pcts(per)), met})
	}
	ratioCheck("wagi-c", "WAGI C hello ≥ 50% of bare net/http req/s", 0.5)
	ratioCheck("pooled", "pooled Go SDK hello ≥ 70% of bare net/http req/s", 0.7)

	// The gateway alone: to the pooled C hello when it ran (a guest of a
	// few µs), else to the Go SDK hello (whose guest time dominates).
	gwKey, gwGuest := "pooled-c", "pooled C hello"
	if tp.target(gwKey) == nil {
		gwKey, gwGuest = "pooled", "pooled Go SDK hello"
	}
	if p, n := tp.target(gwKey), tp.target("nginx"); p != nil && n != nil {
		res := fmt.Sprintf("%s: req/s %.0f vs %.0f (%.0f%%, per round %s)", gwGuest, median(p.RPS), median(n.RPS), 100*median(p.RPS)/median(n.RPS), pcts(ratios(p, n)))
		met := "not met"
		if median(p.RPS) > median(n.RPS) {
			met = "met"
		}
		if len(p.CPU) > 0 && len(n.CPU) > 0 {
			res += fmt.Sprintf("; server CPU per request %.1fµs vs %.1fµs", median(p.CPU), median(n.CPU))
		}
		if lp, ln := r.latencyAt(gwKey, 0.5), r.latencyAt("nginx", 0.5); lp != nil && ln != nil {
			res += fmt.Sprintf("; at half its own max load, p50 %s vs %s, p99 %s vs %s", dur(lp.P50), dur(ln.P50), dur(lp.P99), dur(ln.P99))
		}
		cs = append(cs, Check{"mote gateway to a pooled guest faster than nginx proxying to bare", res, met})
	} else {
		cs = append(cs, Check{"mote gateway to a pooled guest faster than nginx proxying to bare", "", "not measured"})
	}

	coldCheck := func(keys []string, label string, goal time.Duration) {
		for _, k := range keys {
			for _, d := range r.ColdStart {
				if d.Key == k && len(d.Samples) > 0 {
					p50 := quantile(d.Samples, 0.5)
					met := "not met"
					if p50 < goal {
						met = "met"
					}
					cs = append(cs, Check{label, fmt.Sprintf("p50 %s, p99 %s (%s, n=%d)", dur(p50), dur(quantile(d.Samples, 0.99)), d.Name, len(d.Samples)), met})
					return
				}
			}
		}
		cs = append(cs, Check{label, "", "not measured"})
	}
	coldCheck([]string{"wagi-c"}, "cold start p50 < 1 ms, WAGI C", time.Millisecond)
	coldCheck([]string{"pooled-zero", "pooled-load"}, "cold start p50 < 15 ms, Go pooled", 15*time.Millisecond)

	var big *DensityPoint
	for i := range r.Density {
		if r.Density[i].Services >= 10000 {
			big = &r.Density[i]
		}
	}
	if big == nil {
		cs = append(cs, Check{"10,000 services: ready < 2 s", "", "not measured (run with -density-max 10000)"},
			Check{"10,000 services: < 1 GiB resident", "", "not measured (run with -density-max 10000)"})
	} else {
		met := "not met"
		if big.Ready < 2*time.Second {
			met = "met"
		}
		cs = append(cs, Check{"10,000 services: ready < 2 s", fmt.Sprintf("%s after a restart with %d services", dur(big.Ready), big.Services), met})
		rss := max(big.RSS, big.RSSRestart)
		met = "not met"
		if rss < 1<<30 {
			met = "met"
		}
		cs = append(cs, Check{"10,000 services: < 1 GiB resident", fmt.Sprintf("%s after deploying, %s after a restart once settled", fmtBytes(float64(big.RSS)), fmtBytes(float64(big.RSSRestart))), met})
	}
	return cs
}

// latencyAt returns the open-loop run of key at fraction f, or nil.
func (r *Results) latencyAt(key string, f float64) *LatencyRun {
	for i := range r.Latency {
		if r.Latency[i].Key == key && math.Abs(r.Latency[i].Fraction-f) < 1e-9 {
			return &r.Latency[i]
		}
	}
	return nil
}

// fractions lists the load fractions of the latency runs, in order.
func (r *Results) fractions() []float64 {
	var fs []float64
	for _, l := range r.Latency {
		if !slices.Contains(fs, l.Fraction) {
			fs = append(fs, l.Fraction)
		}
	}
	slices.Sort(fs)
	return fs
}

// Markdown writes the report. plots is the directory the PNGs are in,
// relative to where the report will live ("" for none).
func (r *Results) Markdown(w io.Writer, plots string) {
	img := func(file, alt string) {
		if plots != "" {
			fmt.Fprintf(w, "\n![%s](%s)\n", alt, filepath.ToSlash(filepath.Join(plots, file)))
		}
	}
	fmt.Fprintf(w, "`%s` — %s, %d CPUs, %s", r.Command, r.Date, r.CPUs, r.Go)
	if r.Commit != "" {
		fmt.Fprintf(w, ", source %s", r.Commit)
	}
	fmt.Fprintln(w)
	for _, m := range r.Missing {
		fmt.Fprintf(w, "\n- not run: %s\n", m)
	}

	if cs := r.checks(); len(cs) > 0 && (r.Throughput != nil || len(r.ColdStart) > 0 || len(r.Density) > 0) {
		fmt.Fprintln(w, "\n### Targets\n\n| Target | Result | |\n|---|---|---|")
		for _, c := range cs {
			fmt.Fprintf(w, "| %s | %s | **%s** |\n", c.Target, c.Result, c.Met)
		}
	}

	if tp := r.Throughput; tp != nil && len(tp.Targets) > 0 {
		fmt.Fprintf(w, "\n### Throughput\n\nwrk -t%d -c%d, %d rounds of %s, targets alternating within each round; medians.\n\n",
			tp.Threads, tp.Conns, tp.Rounds, tp.Duration)
		withCPU := slices.ContainsFunc(tp.Targets, func(t TargetRPS) bool { return len(t.CPU) > 0 })
		if withCPU {
			fmt.Fprintln(w, "| Target | req/s (median) | vs bare | vs bare, per round | p50 | p99 | req/s per round | server CPU/req | of which proxy |")
			fmt.Fprintln(w, "|---|---:|---:|---|---:|---:|---|---:|---:|")
		} else {
			fmt.Fprintln(w, "| Target | req/s (median) | vs bare | vs bare, per round | p50 | p99 | req/s per round |")
			fmt.Fprintln(w, "|---|---:|---:|---|---:|---:|---|")
		}
		base := &tp.Targets[0]
		for i := range tp.Targets {
			t := &tp.Targets[i]
			var each []string
			for _, x := range t.RPS {
				each = append(each, strconv.Itoa(int(x)))
			}
			fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %s | %s |", t.Name, median(t.RPS), pct(median(t.RPS)/median(base.RPS)),
				pcts(ratios(t, base)), dur(median(t.P50)), dur(median(t.P99)), strings.Join(each, ", "))
			if withCPU {
				fmt.Fprintf(w, " %s | %s |", cpuCell(t.CPU), cpuCell(t.ProxyCPU))
			}
			fmt.Fprintln(w)
		}
		if withCPU {
			fmt.Fprintln(w, "\nServer CPU/req: CPU time per request (median of the rounds) of every process serving it — the harness's own (the node, the bare server) plus nginx's or caddy's — and not wrk's; \"of which proxy\" is nginx's or caddy's share.")
		}
		img("throughput.png", "requests/s per target")
	}

	if len(r.Latency) > 0 {
		fmt.Fprintln(w, "\n### Latency under open-loop load\n\nEach target offered a fixed rate, a fraction of its own median wrk req/s; each request timed from its release on schedule (a request waiting for a free connection counts its wait: no coordinated omission). The generator (raw HTTP/1.1 over 64 keep-alive connections, in a process of its own) shares the CPUs.")
		fmt.Fprintln(w, "\n| Target | load | offered req/s | achieved | p50 | p99 | p99.9 | errors |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
		for _, f := range r.fractions() {
			for _, l := range r.Latency {
				if l.Fraction != f {
					continue
				}
				fmt.Fprintf(w, "| %s | %s | %.0f | %.0f | %s | %s | %s | %d |\n", l.Name, pct(l.Fraction), l.Rate, l.Achieved, dur(l.P50), dur(l.P99), dur(l.P999), l.Errors)
			}
		}
		var short []string
		for _, l := range r.Latency {
			if l.Achieved < 0.95*l.Rate {
				short = append(short, fmt.Sprintf("%s at %s (%.0f of %.0f req/s)", l.Name, pct(l.Fraction), l.Achieved, l.Rate))
			}
		}
		if len(short) > 0 {
			fmt.Fprintf(w, "\nOffered load not sustained (achieved < 95%% of offered: the target or the generator, which shares the CPUs, saturated; queueing shows in the latencies): %s.\n", strings.Join(short, "; "))
		}
		for _, f := range r.fractions() {
			img(fmt.Sprintf("latency-cdf-%02.0f.png", 100*f), fmt.Sprintf("latency CDF at %s load", pct(f)))
		}
	}

	if len(r.Sandbox) > 0 {
		fmt.Fprintln(w, "\n### Per-request cost without HTTP (Go benchmarks, both cores)\n\n| Benchmark | What | time/op | B/op | allocs/op |\n|---|---|---:|---:|---:|")
		for _, s := range r.Sandbox {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %d |\n", s.Name, s.What, dur(time.Duration(s.NsPerOp)), fmtBytes(float64(s.BytesPerOp)), s.AllocsPerOp)
		}
	}

	dists := func(title, intro string, ds []Distribution, plot string) {
		if len(ds) == 0 {
			return
		}
		fmt.Fprintf(w, "\n### %s\n\n%s\n\n| What | n | p50 | p90 | p99 | max | measured |\n|---|---:|---:|---:|---:|---:|---|\n", title, intro)
		for _, d := range ds {
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s |\n", d.Name, len(d.Samples), dur(quantile(d.Samples, 0.5)),
				dur(quantile(d.Samples, 0.9)), dur(quantile(d.Samples, 0.99)), dur(quantile(d.Samples, 1)), d.What)
		}
		if plot != "" {
			img(plot, title)
		}
	}
	dists("Cold start", "In mote's sandbox driver, serially, no HTTP.", r.ColdStart, "coldstart.png")
	dists("Deploy to first 200", "In-process node, through the Go SDK: deploy a new service whose module the node holds, then GET it until 200.", r.Deploy, "")
	dists("Node start to ready", "A `mote up` subprocess, from exec to /readyz 200.", r.Startup, "")

	if len(r.Density) > 0 {
		fmt.Fprintln(w, "\n### Density\n\nThe WAGI C hello deployed under many names to one `mote up` subprocess. RSS: after the deploys; again after a restart, once the node's memory stopped growing (settled: it loads its versions in the background after ready), and the requests. Ready: restart, exec to /readyz 200. ls: `mote ls` (client.Services), median of 5. Requests: serial GETs, each to a random service: the first ones right after ready, then as many again once settled.")
		fmt.Fprintln(w, "\n| Services | deploy (new ones) | deploys/s | RSS | ready after restart | settled after | RSS after restart | mote ls | first requests p50 / p99 | request p50 | request p99 | data dir |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, d := range r.Density {
			rate := 0.0
			if d.DeployTime > 0 {
				rate = float64(d.DeployCount) / d.DeployTime.Seconds()
			}
			fmt.Fprintf(w, "| %d | %s (%d) | %.0f | %s | %s | %s | %s | %s | %s / %s | %s | %s | %.1f MiB |\n", d.Services, dur(d.DeployTime), d.DeployCount, rate,
				fmtBytes(float64(d.RSS)), dur(d.Ready), dur(d.Settle), fmtBytes(float64(d.RSSRestart)), dur(d.List), dur(d.FirstP50), dur(d.FirstP99),
				dur(d.ReqP50), dur(d.ReqP99), d.StoreMiB)
		}
		img("density-memory.png", "node memory by services deployed")
		img("density-time.png", "start-up, mote ls and request latency by services deployed")
	}

	if len(r.Warm) > 0 {
		fmt.Fprintln(w, "\n### Memory per warm instance\n\n| ABI | service | instances added | RSS before | RSS after | per instance | note |\n|---|---|---:|---:|---:|---:|---|")
		for _, m := range r.Warm {
			if m.Instances == 0 {
				fmt.Fprintf(w, "| %s | %s | — | — | — | — | %s |\n", m.ABI, m.Service, m.Note)
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s |\n", m.ABI, m.Service, m.Instances, fmtBytes(float64(m.RSSBefore)),
				fmtBytes(float64(m.RSSAfter)), fmtBytes(float64(m.PerInstance())), m.Note)
		}
	}

	if len(r.Profiles) > 0 {
		fmt.Fprintln(w, "\n### Profiles")
		for _, p := range r.Profiles {
			fmt.Fprintf(w, "\n%s, %s (`%s`):\n\n```\n%s\n```\n", p.Target, p.Kind, p.File, strings.Join(p.Top, "\n"))
		}
	}
}
