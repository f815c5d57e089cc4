package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/examples"
	"github.com/mote-run/mote/internal/node/nodetest"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/wagi"
)

// helloC returns the hello-c example as a package.
func helloC(tb testing.TB) client.Package {
	tb.Helper()
	ex, err := examples.Get("hello-c")
	if err != nil {
		tb.Fatal(err)
	}
	return client.Package{Manifest: ex.Manifest, Module: ex.Module, Files: ex.Files}
}

// BenchmarkGatewayWAGIHello measures a whole request to hello-c: HTTP over
// loopback with keep-alive, routing, a fresh Wasm instance, the response.
func BenchmarkGatewayWAGIHello(b *testing.B) {
	env := nodetest.Start(b)
	env.Deploy(b, helloC(b))
	url := env.Gateway + "/hello-c/bench"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	get := func() error {
		resp, err := hc.Get(url)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		return err
	}
	if err := get(); err != nil { // compile before timing
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := get(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRawWazeroHello is the floor for BenchmarkGatewayWAGIHello: the
// same module compiled once with wazero directly and run per iteration,
// with the environment WAGI would give it and stdout to a buffer — no
// HTTP, no routing, no output parsing. Like the gateway benchmark it runs
// on every P (RunParallel), so the two ns/op compare.
//
// The sub-benchmarks run it with and without wazero's interruption by
// context (WithCloseOnContextDone), which mote always enables: their ratio
// is what timeouts cost an instantiate-and-run.
func BenchmarkRawWazeroHello(b *testing.B) {
	for _, interrupt := range []bool{true, false} {
		b.Run(fmt.Sprintf("interrupt=%v", interrupt), func(b *testing.B) { rawWazeroHello(b, interrupt) })
	}
}

func rawWazeroHello(b *testing.B, interrupt bool) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().
		WithCloseOnContextDone(interrupt).
		WithMemoryLimitPages(256)) // hello-c's 16MiB
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	cm, err := rt.CompileModule(ctx, helloC(b).Module)
	if err != nil {
		b.Fatal(err)
	}

	// The variables WAGI sets for GET /hello-c/bench from Go's client.
	req := &sandbox.Request{
		ID: "0123456789abcdef", Method: "GET", Proto: "HTTP/1.1", Scheme: "http",
		Host: "127.0.0.1:8080", RemoteAddr: "127.0.0.1:40000", Route: "/hello-c", RawPath: "/bench",
		Header:     http.Header{"User-Agent": {"Go-http-client/1.1"}, "Accept-Encoding": {"gzip"}},
		ServerName: "127.0.0.1", ServerPort: "8080",
	}
	env := wagi.Env(req, nil)
	cfg := wazero.NewModuleConfig().WithName("").
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().WithRandSource(rand.Reader).
		WithArgs(wagi.Args(req)...)
	for i := 0; i+1 < len(env); i += 2 {
		cfg = cfg.WithEnv(env[i], env[i+1])
	}

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var out bytes.Buffer
		for pb.Next() {
			out.Reset()
			mod, err := rt.InstantiateModule(ctx, cm, cfg.WithStdout(&out))
			var exit *sys.ExitError
			if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 0) {
				b.Error(err)
				return
			}
			if mod != nil {
				_ = mod.Close(ctx)
			}
			if !bytes.Contains(out.Bytes(), []byte("Hello from C")) {
				b.Errorf("output %q", out.Bytes())
				return
			}
		}
	})
	b.ReportMetric(float64(len(env)/2), "env-vars")
}

// BenchmarkDeployToFirst200 measures a deploy of a module the node already
// holds (a new service each time) until the gateway answers it.
func BenchmarkDeployToFirst200(b *testing.B) {
	env := nodetest.Start(b)
	pkg := helloC(b)
	env.Deploy(b, pkg) // upload the module once
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("bench-%d", i)
		pkg.Manifest = []byte(strings.NewReplacer(`"hello-c"`, `"`+name+`"`, `"/hello-c"`, `"/`+name+`"`).Replace(string(helloC(b).Manifest)))
		if _, err := env.Client.Deploy(b.Context(), pkg); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := hc.Get(env.Gateway + "/" + name)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s still answers %d", name, resp.StatusCode)
			}
		}
	}
}

// BenchmarkTrafficChange measures `mote traffic` on a real node: from the
// SDK call to the new split being served (the call returns only then),
// with the store's fsync on every write, alternating 90/10 and 10/90.
func BenchmarkTrafficChange(b *testing.B) {
	env := nodetest.Start(b)
	pkg := helloC(b)
	env.Deploy(b, pkg)
	pkg.Manifest = append(pkg.Manifest, []byte("\n[env]\nV = \"2\"\n")...)
	env.Deploy(b, pkg)
	splits := [][]api.TrafficSplit{
		{{Version: 1, Weight: 90}, {Version: 2, Weight: 10}},
		{{Version: 1, Weight: 10}, {Version: 2, Weight: 90}},
	}
	took := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := env.Client.SetTraffic(b.Context(), "hello-c", splits[i%2]); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		i++
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}
