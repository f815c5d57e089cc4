// Command bench is mote's load harness: it starts a bare Go net/http hello
// server and a mote node with the hello examples deployed, drives each with
// wrk in alternating rounds (machines are noisy: every figure comes with a
// baseline measured in the same run), and prints a Markdown table of medians
// and ratios to the bare server.
//
//	go run ./bench                       # 3 rounds of 10 s each
//	go run ./bench -rounds 5 -duration 20s -conns 64
//	go run ./bench -go=false -cpuprofile /tmp/cpu.prof   # profile the gateway+sandbox path
//	go run ./bench -access                # API management's cost on one route
//
// It needs wrk (Debian: apt-get install wrk).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/examples"
	"github.com/mote-run/mote/internal/node"
)

func main() {
	var (
		rounds   = flag.Int("rounds", 3, "rounds; each drives every target once")
		duration = flag.Duration("duration", 10*time.Second, "wrk duration per target per round")
		conns    = flag.Int("conns", 32, "wrk connections")
		threads  = flag.Int("threads", 2, "wrk threads")
		withGo   = flag.Bool("go", true, "include the WAGI Go hello (slow: a Go runtime starts per request)")
		access   = flag.Bool("access", false, "instead: the cost of API management (key auth + rate limit + quota) on one route, throughput and open-loop latency at half load")
	)
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the node while wrk drives -profile's target (last round)")
	flag.StringVar(&profileTarget, "profile", "hello-c", "the example -cpuprofile profiles")
	flag.Parse()
	runner := func() error { return run(*rounds, *duration, *conns, *threads, *withGo) }
	if *access {
		runner = func() error { return runAccess(*rounds, *duration, *conns, *threads) }
	}
	if err := runner(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

// cpuProfile and profileTarget are the -cpuprofile and -profile flags.
var cpuProfile, profileTarget string

type target struct {
	name, url string
	header    string // one "Name: value" request header, "" for none
	example   string // the example deployed, "" for the baseline
	rps       []float64
	p50, p99  []time.Duration
}

func run(rounds int, duration time.Duration, conns, threads int, withGo bool) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk is not installed; Try: apt-get install wrk")
	}
	ctx := context.Background()
	node.TuneGC() // as `mote up` does; the bare server shares the process and the setting

	bare, err := startBare()
	if err != nil {
		return err
	}
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
	targets := []*target{{name: "bare Go net/http hello", url: bare + "/hello"}}
	names := []string{"hello-c", "hello-sdk"}
	if withGo {
		names = append(names, "hello-go")
	}
	labels := map[string]string{
		"hello-c":   "mote WAGI C hello",
		"hello-sdk": "mote pooled Go SDK hello",
		"hello-go":  "mote WAGI Go hello",
	}
	for _, name := range names {
		ex, err := examples.Get(name)
		if err != nil {
			return err
		}
		start := time.Now()
		res, err := c.Deploy(ctx, client.Package{Manifest: ex.Manifest, Module: ex.Module, Files: ex.Files})
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "deployed %s in %s\n", name, time.Since(start).Round(time.Millisecond))
		targets = append(targets, &target{name: labels[name], example: name, url: res.Service.URL + "/world"})
	}
	for _, t := range targets { // warm up: compile caches, connections
		if err := wrk(t, 2*time.Second, conns, threads, false); err != nil {
			return err
		}
	}
	for r := 1; r <= rounds; r++ {
		for _, t := range targets {
			stop := func() {}
			if cpuProfile != "" && r == rounds && t.example == profileTarget {
				if stop, err = startProfile(cpuProfile); err != nil {
					return err
				}
			}
			err := wrk(t, duration, conns, threads, true)
			stop()
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "round %d/%d  %-28s %9.0f req/s  p50 %-9s p99 %s\n", r, rounds, t.name,
				t.rps[len(t.rps)-1], t.p50[len(t.p50)-1], t.p99[len(t.p99)-1])
		}
	}
	report(os.Stdout, targets, rounds, duration, conns, threads)
	return nil
}

// startProfile starts a CPU profile into file; the returned func stops it.
func startProfile(file string) (func(), error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// startBare serves the floor: the smallest useful Go HTTP handler.
func startBare() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello from Go\nYou asked for "+r.URL.Path+"\n")
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

var (
	reqsRe = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	latRe  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)`)
	errRe  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: .*`)
)

func wrk(t *target, d time.Duration, conns, threads int, record bool) error {
	args := []string{"--latency", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", strconv.Itoa(int(d.Seconds())) + "s"}
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

func median[T int64 | float64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func report(w io.Writer, targets []*target, rounds int, d time.Duration, conns, threads int) {
	fmt.Fprintf(w, "\n`go run ./bench -rounds %d -duration %s -conns %d -threads %d` — %s, %d CPUs\n\n",
		rounds, d, conns, threads, time.Now().UTC().Format("2006-01-02"), runtime.NumCPU())
	fmt.Fprintln(w, "| Target | req/s (median) | vs bare | p50 | p99 | req/s per round |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|")
	base := median(targets[0].rps)
	for _, t := range targets {
		var each []string
		for _, r := range t.rps {
			each = append(each, strconv.Itoa(int(r)))
		}
		fmt.Fprintf(w, "| %s | %.0f | %.0f%% | %s | %s | %s |\n", t.name, median(t.rps), 100*median(t.rps)/base,
			median(t.p50), median(t.p99), strings.Join(each, ", "))
	}
}
