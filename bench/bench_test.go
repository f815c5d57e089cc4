package main

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/sandbox/wasm"
)

// fakeResults has every section, with made-up numbers.
func fakeResults() *Results {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	lat := func(name, key string, f float64, base time.Duration) LatencyRun {
		l := LatencyRun{Name: name, Key: key, Fraction: f, Rate: 1000 * f, Achieved: 990 * f, Duration: time.Second,
			Count: 1000, P50: base, P99: 3 * base, P999: 5 * base}
		for i := range 1000 {
			l.Quantiles = append(l.Quantiles, base/2+time.Duration(i)*base/200)
		}
		return l
	}
	cold := func(name, key string, base time.Duration, n int) Distribution {
		d := Distribution{Name: name, Key: key, What: "test"}
		for i := range n {
			d.Samples = append(d.Samples, base+time.Duration(i%17)*base/10)
		}
		return d
	}
	return &Results{
		Date: "2026-11-27 21:00 UTC", Command: "go run ./bench -test", CPUs: 2, Go: "go1.26",
		Missing: []string{"caddy: caddy is not installed; Try: apt-get install -y caddy"},
		Throughput: &Throughput{Rounds: 2, Duration: 10 * time.Second, Conns: 32, Threads: 2, Targets: []TargetRPS{
			{Name: "bare Go net/http hello", Key: "bare", RPS: []float64{70000, 74000}, P50: []time.Duration{ms(0.3), ms(0.3)}, P99: []time.Duration{ms(7), ms(8)}},
			{Name: "nginx → bare", Key: "nginx", RPS: []float64{30000, 31000}, P50: []time.Duration{ms(0.9), ms(1)}, P99: []time.Duration{ms(9), ms(9)},
				CPU: []float64{50, 52}, ProxyCPU: []float64{30, 31}},
			{Name: "mote WAGI C hello", Key: "wagi-c", RPS: []float64{37000, 38000}, P50: []time.Duration{ms(0.7), ms(0.7)}, P99: []time.Duration{ms(14), ms(15)}},
			{Name: "mote pooled Go SDK hello", Key: "pooled", RPS: []float64{13000, 14000}, P50: []time.Duration{ms(2), ms(2)}, P99: []time.Duration{ms(29), ms(30)}},
			{Name: "mote pooled C hello", Key: "pooled-c", RPS: []float64{32000, 33000}, P50: []time.Duration{ms(0.8), ms(0.8)}, P99: []time.Duration{ms(9), ms(9)},
				CPU: []float64{40, 42}},
		}},
		Latency: []LatencyRun{
			lat("bare Go net/http hello", "bare", 0.5, ms(0.2)), lat("nginx → bare", "nginx", 0.5, ms(0.4)),
			lat("mote pooled Go SDK hello", "pooled", 0.5, ms(1)), lat("bare Go net/http hello", "bare", 0.25, ms(0.1)),
		},
		Sandbox:   []SandboxCost{{Name: "raw wazero", What: "test", NsPerOp: 32900, BytesPerOp: 145 << 10, AllocsPerOp: 59, N: 1000}},
		ColdStart: []Distribution{cold("WAGI C hello", "wagi-c", ms(0.03), 500), cold("pooled, scaled to zero", "pooled-zero", ms(5), 50)},
		Deploy:    []Distribution{cold("hello-c", "hello-c", ms(4), 20)},
		Startup:   []Distribution{cold("empty store", "empty", ms(60), 5)},
		Density: []DensityPoint{
			{Services: 10, DeployTime: ms(50), DeployCount: 10, RSS: 60 << 20, RSSRestart: 55 << 20, Ready: ms(70), List: ms(1), ReqP50: ms(0.2), ReqP99: ms(1), Requests: 300},
			{Services: 100, DeployTime: ms(400), DeployCount: 90, RSS: 70 << 20, RSSRestart: 60 << 20, Ready: ms(90), List: ms(3), ReqP50: ms(0.2), ReqP99: ms(1), Requests: 300},
			{Services: 10000, DeployTime: 40 * time.Second, DeployCount: 9900, RSS: 900 << 20, RSSRestart: 1200 << 20, Ready: 3 * time.Second, List: ms(300), ReqP50: ms(0.3), ReqP99: ms(2), Requests: 300},
		},
		Warm: []WarmMemory{
			{ABI: "wagi", Service: "hello-c", Note: "no warm instances"},
			{ABI: "pooled", Service: "hello-sdk", Instances: 20, RSSBefore: 100 << 20, RSSAfter: 180 << 20},
		},
		Profiles: []ProfileSummary{{Target: "mote WAGI C hello", Kind: "CPU, flat", File: "cpu-wagi-c.prof", Top: []string{"flat  flat%", "1s 50% runtime.memclr"}}},
	}
}

func TestPlotsWriteValidPNGs(t *testing.T) {
	dir := t.TempDir()
	files, err := fakeResults().Plots(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"throughput.png", "latency-cdf-25.png", "latency-cdf-50.png", "coldstart.png", "density-memory.png", "density-time.png"}
	if len(files) != len(want) {
		t.Fatalf("wrote %v, want %v", files, want)
	}
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			b := img.Bounds()
			if b.Dx() < 400 || b.Dy() < 200 {
				t.Fatalf("size %v", b)
			}
			// Something besides the white background and black text: the
			// data, in the palette's colors.
			colored := 0
			for y := b.Min.Y; y < b.Max.Y; y += 2 {
				for x := b.Min.X; x < b.Max.X; x += 2 {
					r, g, bl, _ := img.At(x, y).RGBA()
					if !(r == g && g == bl) {
						colored++
					}
				}
			}
			if colored < 50 {
				t.Fatalf("only %d colored pixels: no data drawn", colored)
			}
		})
	}
}

func TestChartErrors(t *testing.T) {
	tests := []struct {
		name string
		draw func() (*image.RGBA, error)
	}{
		{"no series", Chart{Title: "empty"}.Draw},
		{"only non-positive values on a log axis", Chart{LogX: true, Series: []Series{{X: []float64{0, -1}, Y: []float64{1, 2}}}}.Draw},
		{"x and y of different lengths", Chart{Series: []Series{{X: []float64{1, 2}, Y: []float64{1}}}}.Draw},
		{"no bars", BarChart{Title: "empty"}.Draw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.draw(); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestMarkdownTables(t *testing.T) {
	var buf bytes.Buffer
	fakeResults().Markdown(&buf, "plots")
	md := buf.String()
	for _, want := range []string{
		"### Targets", "### Throughput", "### Latency under open-loop load", "### Cold start", "### Density",
		"### Memory per warm instance", "### Profiles", "### Deploy to first 200", "### Node start to ready",
		"| mote WAGI C hello | 38000 | 51% |", // median of the rounds, ratio of medians
		"![requests/s per target](plots/throughput.png)",
		"not run: caddy",
		"| nginx → bare | 31000 | 42% | 42.9%, 41.9% | 1ms | 9ms | 30000, 31000 | 52.0µs | 31.0µs |", // CPU columns: medians
		"| mote pooled C hello | 33000 | 45% | 45.7%, 44.6% | 800µs | 9ms | 32000, 33000 | 42.0µs | — |",
		"pooled C hello: req/s 33000 vs 31000 (106%", // the gateway row uses the C guest when it ran
		"| pooled | hello-sdk | 20 | 100MiB | 180MiB | 4MiB |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	// Every table row has as many cells as its header.
	sc := bufio.NewScanner(strings.NewReader(md))
	cells := 0
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "|") {
			cells = 0
			continue
		}
		n := strings.Count(line, "|")
		if cells == 0 {
			cells = n
		} else if n != cells {
			t.Errorf("row has %d separators, header %d: %s", n, cells, line)
		}
	}
}

func TestChecks(t *testing.T) {
	got := map[string]string{}
	for _, c := range fakeResults().checks() {
		got[c.Target] = c.Met
	}
	for target, want := range map[string]string{
		"WAGI C hello ≥ 50% of bare net/http req/s":                         "met",     // 38000/74000
		"pooled Go SDK hello ≥ 70% of bare net/http req/s":                  "not met", // 14000/74000
		"mote gateway to a pooled guest faster than nginx proxying to bare": "met",     // pooled C 33000 > 31000
		"cold start p50 < 1 ms, WAGI C":                                     "met",
		"cold start p50 < 15 ms, Go pooled":                                 "met",
		"10,000 services: ready < 2 s":                                      "not met",
		"10,000 services: < 1 GiB resident":                                 "not met", // 1.2 GiB after restart
	} {
		if got[target] != want {
			t.Errorf("%s: %q, want %q", target, got[target], want)
		}
	}
}

// TestGatewayCheckFallsBack: with no pooled C hello, the gateway target is
// judged on the Go SDK hello, and says so.
func TestGatewayCheckFallsBack(t *testing.T) {
	r := fakeResults()
	r.Throughput.Targets = r.Throughput.Targets[:len(r.Throughput.Targets)-1] // the pooled C hello
	for _, c := range r.checks() {
		if c.Target == "mote gateway to a pooled guest faster than nginx proxying to bare" {
			if c.Met != "not met" || !strings.HasPrefix(c.Result, "pooled Go SDK hello: req/s 14000 vs 31000") {
				t.Fatalf("%s: %q", c.Met, c.Result)
			}
			return
		}
	}
	t.Fatal("no gateway check")
}

func TestResultsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.json")
	r := fakeResults()
	if err := r.save(path); err != nil {
		t.Fatal(err)
	}
	back, err := loadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	r.Markdown(&a, "")
	back.Markdown(&b, "")
	if a.String() != b.String() {
		t.Fatal("the report differs after a save and load")
	}
}

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  error // nil: success; errStatus/errRedial by errors.Is; other: any error
		anyErr   bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", nil, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", nil, false},
		{"not 200", "HTTP/1.1 429 Too Many\r\nContent-Length: 0\r\n\r\n", errStatus, false},
		{"closing", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", errRedial, false},
		{"garbage", "SSH-2.0-OpenSSH\r\n", nil, true},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := readResponse(bufio.NewReader(strings.NewReader(tt.in)))
			switch {
			case tt.anyErr:
				if err == nil {
					t.Fatal("no error")
				}
			case tt.wantErr == nil:
				if err != nil {
					t.Fatal(err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tt.wantErr.Error()) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
			}
		})
	}
}

func TestDensitySteps(t *testing.T) {
	tests := []struct {
		max  int
		want string
	}{{10, "[10]"}, {1000, "[10 100 1000]"}, {10000, "[10 100 1000 10000]"}, {500, "[10 100 500]"}, {5, "[5]"}}
	for _, tt := range tests {
		if got := fmt.Sprint(densitySteps(tt.max)); got != tt.want {
			t.Errorf("densitySteps(%d) = %s, want %s", tt.max, got, tt.want)
		}
	}
}

// TestHelloPooledC runs the gateway suite's guest in mote's sandbox driver:
// it answers the bare server's hello with the path, without the query, and
// refuses a request over its 16 KiB buffer.
func TestHelloPooledC(t *testing.T) {
	ctx := t.Context()
	d, err := wasm.New(wasm.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	r, err := d.Load(ctx, sandbox.Spec{Service: "hello-pooled-c", Version: 1, ABI: api.ABIPooled, Digest: "sha256:hellopooledc",
		Module: helloPooledC, MemoryLimit: 16 << 20, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	tests := []struct {
		name, query string
		body        []byte
		want        string // "" for a failure
	}{
		{"path", "", nil, "Hello from mote\nYou asked for /hello-pooled-c/world\n"},
		{"query dropped", "x=1&y=2", nil, "Hello from mote\nYou asked for /hello-pooled-c/world\n"},
		{"too large", "", bytes.Repeat([]byte("b"), 20<<10), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := benchRequest("/hello-pooled-c")
			req.RawQuery, req.Body = tt.query, tt.body
			resp, err := r.Serve(ctx, req)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("status %d %q, want a guest failure", resp.Status, resp.Body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 200 || string(resp.Body) != tt.want || resp.Header.Get("Content-Type") != "text/plain" {
				t.Fatalf("got %d %v %q, want 200 text/plain %q", resp.Status, resp.Header, resp.Body, tt.want)
			}
		})
	}
}

// TestProcCPU reads this process's own entry in /proc.
func TestProcCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	ppid, fields := procStat(os.Getpid())
	if ppid != os.Getppid() || len(fields) < 13 {
		t.Fatalf("procStat: ppid %d (want %d), %d fields", ppid, os.Getppid(), len(fields))
	}
	deadline := time.Now().Add(5 * time.Second)
	for procCPU(os.Getpid()) == 0 { // a tick of CPU at most
		if time.Now().After(deadline) {
			t.Fatal("procCPU stays 0 while this process runs")
		}
	}
	self := procCPU(os.Getpid())
	if got := procTreeCPU(os.Getpid()); got < self { // read after self: CPU time only grows
		t.Fatalf("procTreeCPU %s < procCPU %s", got, self)
	}
	if procCPU(-1) != 0 {
		t.Fatal("procCPU of no process is not 0")
	}
}
