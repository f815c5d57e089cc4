package wasm

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
)

// benchRequest is a typical small GET.
func benchRequest() *sandbox.Request {
	req := request("/bench", "")
	req.Header = http.Header{"User-Agent": {"Go-http-client/1.1"}, "Accept-Encoding": {"gzip"}}
	return req
}

// timeServes runs b.N sequential requests and reports the median and 99th
// percentile besides the mean (ns/op).
func timeServes(b *testing.B, r sandbox.Runner, want string) {
	req := benchRequest()
	took := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		resp, err := r.Serve(context.Background(), req)
		took = append(took, time.Since(start))
		if err != nil || resp.Status != 200 || !strings.HasPrefix(string(resp.Body), want) {
			b.Fatalf("%v %v", resp, err)
		}
	}
	b.StopTimer()
	reportPercentiles(b, took)
}

func reportPercentiles(b *testing.B, took []time.Duration) {
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkPooledServe is the warm per-request overhead of the pooled ABI:
// a C reactor that reads the request and responds a constant, through the
// runner (slot, instance from the pool, request encoded, handler called
// with a timeout, response decoded), without HTTP. Compare with
// BenchmarkWAGIServe (a fresh instance per request).
func BenchmarkPooledServe(b *testing.B) {
	r := load(b, newDriver(b), func(s *sandbox.Spec) {
		s.ABI, s.Module, s.Digest, s.MemoryLimit = api.ABIPooled, mustRead("testdata/hellopooled.wasm"), "sha256:hellopooled", 16<<20
	})
	b.Run("serial", func(b *testing.B) { timeServes(b, r, "Hello from mote") })
	b.Run("parallel", func(b *testing.B) {
		req := benchRequest()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if resp, err := r.Serve(context.Background(), req); err != nil || resp.Status != 200 {
					b.Errorf("%v %v", resp, err)
					return
				}
			}
		})
	})
}

var goReactor = mustRead("testdata/goreactor.wasm")

func goReactorSpec(s *sandbox.Spec) {
	s.ABI, s.Module, s.Digest, s.Service = api.ABIPooled, goReactor, "sha256:goreactor", "goreactor"
}

// BenchmarkGoReactor measures a Go reactor hello (no SDK), from Load to the
// first response (compiled code, the first instance's _initialize, one
// request) and warm:
//   - compile+start: a new driver per iteration with no cache: a deploy of
//     a module this node never compiled;
//   - disk-cache+start: the compiled code comes from the on-disk cache (a
//     node restart, or a version whose code was released);
//   - shared+start: another version shares the compiled code (a redeploy
//     of the same module); what is left is mostly _initialize, which is
//     also what growing the pool by one instance costs;
//   - warm: one request on an initialized instance.
func BenchmarkGoReactor(b *testing.B) {
	first := func(b *testing.B, d *Driver) {
		r, err := d.Load(context.Background(), sandbox.Spec{ABI: api.ABIPooled, Module: goReactor, Digest: "sha256:goreactor", MemoryLimit: 64 << 20, Service: "goreactor"})
		if err != nil {
			b.Fatal(err)
		}
		if resp, err := r.Serve(context.Background(), benchRequest()); err != nil || string(resp.Body) != "Hello from Go\n" {
			b.Fatalf("%v %v", resp, err)
		}
		_ = r.Close(context.Background())
	}
	b.Run("compile+start", func(b *testing.B) {
		for b.Loop() {
			d, err := New(Options{})
			if err != nil {
				b.Fatal(err)
			}
			first(b, d)
			_ = d.Close(context.Background())
		}
	})
	b.Run("disk-cache+start", func(b *testing.B) {
		dir := b.TempDir()
		d, err := New(Options{CacheDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		first(b, d) // fills the cache
		_ = d.Close(context.Background())
		for b.Loop() {
			d, err := New(Options{CacheDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			first(b, d)
			_ = d.Close(context.Background())
		}
	})
	b.Run("shared+start", func(b *testing.B) {
		d := newDriver(b)
		load(b, d, goReactorSpec) // holds the compiled code
		for b.Loop() {
			first(b, d)
		}
	})
	b.Run("warm", func(b *testing.B) {
		r := load(b, newDriver(b), goReactorSpec)
		timeServes(b, r, "Hello from Go")
	})
}

// BenchmarkInterruptCost is what stopping a guest at its deadline costs a
// compute-bound guest: wazero's WithCloseOnContextDone inserts a check in
// every loop and function entry. compute.wasm hashes 32 MiB in tight loops
// with no host calls, through the WAGI runner with the interrupt on (how
// mote runs) and off (test-only: timeouts do not work without it).
func BenchmarkInterruptCost(b *testing.B) {
	for _, on := range []bool{true, false} {
		name := "interrupt=on"
		if !on {
			name = "interrupt=off"
		}
		b.Run(name, func(b *testing.B) {
			d := newDriver(b)
			d.noInterrupt = !on
			r := load(b, d, func(s *sandbox.Spec) {
				s.Module, s.Digest, s.MemoryLimit = mustRead("testdata/compute.wasm"), "sha256:compute", 16<<20
			})
			req := request("/", "")
			for b.Loop() {
				resp, err := r.Serve(context.Background(), req)
				if err != nil || !strings.HasPrefix(string(resp.Body), "fnv=") {
					b.Fatalf("%v %v", resp, err)
				}
			}
		})
	}
}

// The Go reactor serves through the pooled runner, and its instance is
// reused: a functional check of the benchmark's guest, kept in the normal
// test run because it is the only Go guest here.
func TestGoReactor(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("compiles a 1.8 MB module: seconds under -race (examples' SDK test covers Go reactors there)")
	}
	r := load(t, newDriver(t), goReactorSpec)
	for range 3 {
		resp := serve(t, r, benchRequest())
		if resp.Status != 200 || string(resp.Body) != "Hello from Go\n" || resp.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("%d %v %q", resp.Status, resp.Header, resp.Body)
		}
	}
	if insts := r.Instances(); len(insts) != 1 || insts[0].Requests != 3 {
		t.Errorf("instances = %+v", insts)
	}
}

// BenchmarkSDKHello is BenchmarkGoReactor for the Go SDK's hello
// (examples/hello-sdk): an http.Handler behind guest.Serve.
//   - start: Load to first response with the compiled code shared (a
//     request that finds no warm instance: _initialize, then the request);
//   - warm: one request on an initialized instance.
func BenchmarkSDKHello(b *testing.B) {
	module := mustRead("../../../examples/hello-sdk/hello.wasm")
	spec := func(s *sandbox.Spec) {
		s.ABI, s.Module, s.Digest, s.Service, s.MemoryLimit = api.ABIPooled, module, "sha256:hellosdk", "hello-sdk", 64<<20
	}
	d := newDriver(b)
	load(b, d, spec) // holds the compiled code
	b.Run("start", func(b *testing.B) {
		took := make([]time.Duration, 0, b.N)
		for b.Loop() {
			start := time.Now()
			r := load(b, d, spec)
			if resp, err := r.Serve(context.Background(), benchRequest()); err != nil || resp.Status != 200 {
				b.Fatalf("%v %v", resp, err)
			}
			took = append(took, time.Since(start))
			_ = r.Close(context.Background())
		}
		reportPercentiles(b, took)
	})
	b.Run("warm", func(b *testing.B) {
		timeServes(b, load(b, d, spec), "Hello from Go")
	})
}
