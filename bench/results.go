package main

import (
	"encoding/json"
	"os"
	"time"
)

// Results is everything one run measured; the report and the plots are
// rendered from it alone, so a saved results.json can be re-rendered
// (-render) and the test can render fake results.
type Results struct {
	Date    string `json:"date"`
	Command string `json:"command"`
	CPUs    int    `json:"cpus"`
	Go      string `json:"go"`
	// Commit is the source measured: `git describe --always --dirty`.
	Commit string `json:"commit,omitempty"`
	// Missing lists the peers that could not run, each with how to get it.
	Missing []string `json:"missing,omitempty"`

	Throughput *Throughput      `json:"throughput,omitempty"`
	Latency    []LatencyRun     `json:"latency,omitempty"`
	Sandbox    []SandboxCost    `json:"sandbox,omitempty"`
	ColdStart  []Distribution   `json:"cold_start,omitempty"`
	Deploy     []Distribution   `json:"deploy,omitempty"`
	Startup    []Distribution   `json:"startup,omitempty"`
	Density    []DensityPoint   `json:"density,omitempty"`
	Warm       []WarmMemory     `json:"warm,omitempty"`
	Profiles   []ProfileSummary `json:"profiles,omitempty"`
}

// Throughput is wrk's closed-loop requests/s, in alternating rounds.
type Throughput struct {
	Rounds   int           `json:"rounds"`
	Duration time.Duration `json:"duration"`
	Conns    int           `json:"conns"`
	Threads  int           `json:"threads"`
	Targets  []TargetRPS   `json:"targets"`
}

// TargetRPS is one target's wrk results, one entry per round. The first
// target of a Throughput is the baseline (bare net/http).
type TargetRPS struct {
	Name string          `json:"name"`
	Key  string          `json:"key"` // short id: "bare", "nginx", "wagi-c", "wagi-c+key", …
	RPS  []float64       `json:"rps"`
	P50  []time.Duration `json:"p50"`
	P99  []time.Duration `json:"p99"`
	// CPU is the server side's CPU time per request, in µs, per round:
	// this process (the node, the bare server) plus the proxy's processes
	// (nginx's master and workers, caddy), never wrk's. ProxyCPU is the
	// proxy's share. Both are absent from runs made before they were
	// measured.
	CPU      []float64 `json:"cpu_us,omitempty"`
	ProxyCPU []float64 `json:"proxy_cpu_us,omitempty"`
}

// LatencyRun is one open-loop run: Rate requests/s offered (Fraction of
// the target's median wrk requests/s) for Duration, latency from each
// request's scheduled start.
type LatencyRun struct {
	Name     string        `json:"name"`
	Key      string        `json:"key"`
	Fraction float64       `json:"fraction"`
	Rate     float64       `json:"rate"`
	Achieved float64       `json:"achieved"` // completed requests/s
	Duration time.Duration `json:"duration"`
	Count    int           `json:"count"`
	Errors   int           `json:"errors"`
	P50      time.Duration `json:"p50"`
	P99      time.Duration `json:"p99"`
	P999     time.Duration `json:"p999"`
	// Quantiles are the latencies at 0.1%, 0.2%, … 100% (1000 values),
	// enough to draw the CDF.
	Quantiles []time.Duration `json:"quantiles"`
}

// SandboxCost is a Go benchmark's result (testing.Benchmark) of one
// request's cost with no HTTP in front.
type SandboxCost struct {
	Name        string  `json:"name"`
	What        string  `json:"what"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  int64   `json:"bytes_per_op"`
	AllocsPerOp int64   `json:"allocs_per_op"`
	N           int     `json:"n"`
}

// Distribution is a sample of durations: cold starts, deploys, start-ups.
type Distribution struct {
	Name    string          `json:"name"`
	Key     string          `json:"key"`
	What    string          `json:"what"`
	Samples []time.Duration `json:"samples"`
}

// DensityPoint is the node with Services services deployed.
type DensityPoint struct {
	Services int `json:"services"`
	// DeployTime is how long deploying this step's new services took
	// (DeployCount of them, DeployWorkers in parallel).
	DeployTime    time.Duration `json:"deploy_time"`
	DeployCount   int           `json:"deploy_count"`
	DeployWorkers int           `json:"deploy_workers"`
	// RSS is the node's resident memory with every service deployed, after
	// the deploys; RSSRestart is it after a restart, once settled, and the
	// requests below.
	RSS        int64 `json:"rss"`
	RSSRestart int64 `json:"rss_restart"`
	// Ready is the restart's time from exec to /readyz 200.
	Ready time.Duration `json:"ready"`
	// List is `mote ls` (client.Services) latency, median of ListRuns.
	List     time.Duration `json:"list"`
	ListRuns int           `json:"list_runs"`
	// Settle is how long after ready the node's memory stopped growing
	// (its versions loaded in the background; half-second resolution).
	Settle time.Duration `json:"settle"`
	// Requests to a random service each: the first ones right after the
	// restart (FirstP50/P99), then as many again after Settle.
	FirstP50 time.Duration `json:"first_p50"`
	FirstP99 time.Duration `json:"first_p99"`
	Requests int           `json:"requests"`
	ReqP50   time.Duration `json:"req_p50"`
	ReqP99   time.Duration `json:"req_p99"`
	StoreMiB float64       `json:"store_mib"` // the data dir's size on disk
}

// WarmMemory is the node's resident memory per warm instance of one ABI.
type WarmMemory struct {
	ABI       string `json:"abi"`
	Service   string `json:"service"`
	Instances int    `json:"instances"` // warm instances added
	RSSBefore int64  `json:"rss_before"`
	RSSAfter  int64  `json:"rss_after"`
	Note      string `json:"note,omitempty"`
}

// PerInstance is the memory each added instance cost.
func (w WarmMemory) PerInstance() int64 {
	if w.Instances == 0 {
		return 0
	}
	return (w.RSSAfter - w.RSSBefore) / int64(w.Instances)
}

// ProfileSummary is the top of one pprof profile.
type ProfileSummary struct {
	Target string   `json:"target"`
	Kind   string   `json:"kind"` // "cpu" or "alloc_space"
	File   string   `json:"file"`
	Top    []string `json:"top"` // `go tool pprof -top` lines, header included
}

// save writes r as JSON to path.
func (r *Results) save(path string) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// loadResults reads what save wrote.
func loadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
