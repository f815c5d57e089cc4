package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/examples"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/sandbox/wasm"
)

// benchRequest is the request the sandbox measurements serve.
func benchRequest(route string) *sandbox.Request {
	return &sandbox.Request{
		ID: "0123456789abcdef", Method: "GET", Proto: "HTTP/1.1", Scheme: "http",
		Host: "127.0.0.1:8080", RemoteAddr: "127.0.0.1:40000", Route: route, RawPath: "/world",
		Header:     http.Header{"User-Agent": {"wrk"}},
		ServerName: "127.0.0.1", ServerPort: "8080",
	}
}

// exampleSpec is a sandbox spec for an embedded example, as the node would
// build it from its manifest (limits from mote.toml; no capabilities).
func exampleSpec(name string, version int) (sandbox.Spec, error) {
	ex, err := examples.Get(name)
	if err != nil {
		return sandbox.Spec{}, err
	}
	sum := sha256.Sum256(ex.Module)
	spec := sandbox.Spec{
		Service: name, Version: version, ABI: api.ABIWAGI,
		Digest: "sha256:" + hex.EncodeToString(sum[:]), Module: ex.Module,
		MemoryLimit: 64 << 20, Timeout: 10 * time.Second,
	}
	switch name {
	case "hello-c":
		spec.MemoryLimit = 16 << 20
	case "hello-sdk":
		spec.ABI = api.ABIPooled
	case "hello-go":
		spec.Env = map[string]string{"GREETING": "Hello"}
	}
	return spec, nil
}

// sandboxCosts measures one request's cost with no HTTP in front, as Go
// benchmarks on every core (RunParallel, as the node's own benchmarks):
// plain wazero instantiating and running hello-c, mote's WAGI sandbox
// serving it, and mote's pooled sandbox serving the SDK hello warm.
func sandboxCosts(ctx context.Context, cacheDir string) ([]SandboxCost, error) {
	var out []SandboxCost
	c, err := examples.Get("hello-c")
	if err != nil {
		return nil, err
	}
	raw, err := newRawWazero(ctx, c.Module, wasm.Pages(16<<20))
	if err != nil {
		return nil, err
	}
	defer raw.close(ctx)
	res := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var buf bytes.Buffer
			for pb.Next() {
				buf.Reset()
				if err := raw.run(ctx, &buf); err != nil || !bytes.Contains(buf.Bytes(), []byte("Hello")) {
					b.Errorf("raw wazero: %v %q", err, buf.Bytes())
					return
				}
			}
		})
	})
	out = append(out, costOf("raw wazero: instantiate + run hello-c", "plain wazero, compiled once, config (WAGI env) built once, fresh instance and memory per call, stdout to a buffer", res))

	d, err := wasm.New(wasm.Options{CacheDir: cacheDir})
	if err != nil {
		return nil, err
	}
	defer d.Close(ctx)
	for _, ex := range []struct{ name, label, what string }{
		{"hello-c", "mote sandbox: WAGI C hello", "the WAGI runner's Serve: env and argv built per request, fresh instance (pooled memory), output parsed"},
		{"hello-sdk", "mote sandbox: pooled Go SDK hello (warm)", "the pooled runner's Serve: an idle instance, request encoded, mote_v1_handle, response decoded"},
	} {
		spec, err := exampleSpec(ex.name, 1)
		if err != nil {
			return nil, err
		}
		r, err := d.Load(ctx, spec)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", ex.name, err)
		}
		req := benchRequest("/" + ex.name)
		if _, err := r.Serve(ctx, req); err != nil {
			return nil, fmt.Errorf("%s: %w", ex.name, err)
		}
		res := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if resp, err := r.Serve(ctx, req); err != nil || resp.Status != 200 {
						b.Errorf("%s: %v", ex.name, err)
						return
					}
				}
			})
		})
		r.Close(ctx)
		out = append(out, costOf(ex.label, ex.what, res))
	}
	return out, nil
}

func costOf(name, what string, r testing.BenchmarkResult) SandboxCost {
	return SandboxCost{Name: name, What: what, NsPerOp: float64(r.T.Nanoseconds()) / float64(max(r.N, 1)),
		BytesPerOp: r.AllocedBytesPerOp(), AllocsPerOp: r.AllocsPerOp(), N: r.N}
}

// desirer is a runner whose warm instances can be set (the pooled runner,
// when the sandbox package has autoscaling).
type desirer interface{ SetDesired(n int) }

// coldStarts measures cold starts per ABI in mote's sandbox driver,
// serially on an otherwise idle node: for WAGI every request is one
// (instantiate to response); for the pooled ABI, the first request when
// no instance is warm (scaled to zero), and a new version's load plus its
// first request.
func coldStarts(ctx context.Context, cacheDir string, n int, withGo bool) ([]Distribution, error) {
	d, err := wasm.New(wasm.Options{CacheDir: cacheDir})
	if err != nil {
		return nil, err
	}
	defer d.Close(ctx)
	var out []Distribution
	wagiCases := []struct {
		name, key, label string
		count            int
	}{{"hello-c", "wagi-c", "WAGI C hello (every request)", n}}
	if withGo {
		wagiCases = append(wagiCases, struct {
			name, key, label string
			count            int
		}{"hello-go", "wagi-go", "WAGI Go hello (every request)", max(10, n/20)})
	}
	for _, c := range wagiCases {
		spec, err := exampleSpec(c.name, 1)
		if err != nil {
			return nil, err
		}
		r, err := d.Load(ctx, spec)
		if err != nil {
			return nil, err
		}
		req := benchRequest("/" + c.name)
		for range 3 { // warm the code paths
			if _, err := r.Serve(ctx, req); err != nil {
				return nil, err
			}
		}
		dist := Distribution{Name: c.label, Key: c.key, What: "Serve: instantiate, run _start, parse the output"}
		for range c.count {
			t0 := time.Now()
			if _, err := r.Serve(ctx, req); err != nil {
				return nil, err
			}
			dist.Samples = append(dist.Samples, time.Since(t0))
		}
		r.Close(ctx)
		out = append(out, dist)
	}

	spec, err := exampleSpec("hello-sdk", 1)
	if err != nil {
		return nil, err
	}
	req := benchRequest("/hello-sdk")
	count := max(10, n/20)
	r, err := d.Load(ctx, spec)
	if err != nil {
		return nil, err
	}
	if s, ok := r.(desirer); ok {
		dist := Distribution{Name: "pooled Go SDK hello, scaled to zero", Key: "pooled-zero",
			What: "first request with no instance: instantiate, _initialize (Go runtime start), handle"}
		for range count {
			s.SetDesired(0)
			if err := waitNoInstances(r, 5*time.Second); err != nil {
				return nil, err
			}
			t0 := time.Now()
			if _, err := r.Serve(ctx, req); err != nil {
				return nil, err
			}
			dist.Samples = append(dist.Samples, time.Since(t0))
		}
		out = append(out, dist)
	} else {
		fmt.Fprintln(os.Stderr, "cold start: the pooled runner cannot be scaled to zero on demand (no SetDesired); measuring new versions only")
	}
	// r stays loaded meanwhile, so the compiled code stays in memory.
	defer r.Close(ctx)
	dist := Distribution{Name: "pooled Go SDK hello, new version", Key: "pooled-load",
		What: "Load (compiled code in memory) + first instance + first request"}
	for i := range count {
		spec.Version = 2 + i
		t0 := time.Now()
		v, err := d.Load(ctx, spec)
		if err != nil {
			return nil, err
		}
		if _, err := v.Serve(ctx, req); err != nil {
			return nil, err
		}
		dist.Samples = append(dist.Samples, time.Since(t0))
		v.Close(ctx)
	}
	out = append(out, dist)
	return out, nil
}

// waitNoInstances polls until r has no live instance.
func waitNoInstances(r sandbox.Runner, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for len(r.Instances()) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("cold start: %d instances still live after %s", len(r.Instances()), timeout)
		}
		time.Sleep(100 * time.Microsecond)
	}
	return nil
}
