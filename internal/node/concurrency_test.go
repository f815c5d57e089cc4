package node_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// keepAlive is an HTTP client that keeps enough idle connections for the
// concurrent tests and benchmarks.
var keepAlive = &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}}

// send makes one request and reports a transport error instead of failing
// the test, so it can run off the test goroutine.
func send(hc *http.Client, method, url string, body []byte) (int, string, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestConcurrentRequests hammers one node: concurrent requests each get
// their own answer, and redeploying under load loses no request.
func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	env.Deploy(t, guestPkg(t, guestManifest("conc", "/conc", "\n[limits]\ntimeout = \"20s\"\n[scale]\nmax = 50\n")))

	t.Run("distinct-bodies", func(t *testing.T) {
		t.Parallel()
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				want := fmt.Sprintf("request %d: %s", i, strings.Repeat(string(rune('a'+i%26)), 100+i*37))
				status, body, err := send(keepAlive, "POST", env.Gateway+"/conc/echo", []byte(want))
				switch {
				case err != nil:
					errs <- fmt.Errorf("request %d: %v", i, err)
				case status != 200 || body != want:
					errs <- fmt.Errorf("request %d: status %d, body %.60q…, want its own %.60q…", i, status, body, want)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("redeploy-under-load", func(t *testing.T) {
		t.Parallel()
		manifest := func(gen int) string {
			return guestManifest("roll", "/roll", fmt.Sprintf("\n[env]\nGEN = \"%d\"\n", gen))
		}
		env.Deploy(t, guestPkg(t, manifest(1)))
		const workers, deploys = 8, 10
		var (
			stop     atomic.Bool
			served   atomic.Int64
			deployed atomic.Int64 // the generation the last finished deploy made
			wg       sync.WaitGroup
			mu       sync.Mutex
			failures []string
		)
		deployed.Store(1)
		fail := func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			if len(failures) < 20 {
				failures = append(failures, fmt.Sprintf(format, args...))
			}
		}
		for w := range workers {
			wg.Go(func() {
				for !stop.Load() {
					// A request sent after a deploy returned must see that
					// deploy's generation or a later one.
					min := deployed.Load()
					status, body, err := send(keepAlive, "GET", env.Gateway+"/roll/env", nil)
					if err != nil {
						fail("worker %d: %v", w, err)
						continue
					}
					if status != 200 {
						fail("worker %d: status %d: %s", w, status, body)
						continue
					}
					gen := 0
					for line := range strings.Lines(body) {
						if v, ok := strings.CutPrefix(line, "GEN="); ok {
							fmt.Sscanf(v, "%d", &gen)
						}
					}
					if int64(gen) < min {
						fail("worker %d: generation %d answered after generation %d was deployed", w, gen, min)
					}
					served.Add(1)
				}
			})
		}
		for gen := 2; gen <= deploys+1; gen++ {
			// Let some requests through between deploys.
			target := served.Load() + workers
			nodetest.Eventually(t, 20*time.Second, "requests to flow", func() bool { return served.Load() >= target })
			env.Deploy(t, guestPkg(t, manifest(gen)))
			deployed.Store(int64(gen))
		}
		target := served.Load() + 20
		nodetest.Eventually(t, 20*time.Second, "requests to flow", func() bool { return served.Load() >= target })
		stop.Store(true)
		wg.Wait()
		for _, f := range failures {
			t.Error(f)
		}
		t.Logf("%d requests served across %d deploys", served.Load(), deploys)
	})

	t.Run("routed-before-redeploy", func(t *testing.T) {
		t.Parallel()
		testRoutedBeforeRedeploy(t, env)
	})
}

// gatedBody is a request body whose first Read reports that the gateway
// asked for it (the request has been routed: with Expect: 100-continue the
// client sends the body only then) and waits for release.
type gatedBody struct {
	data    *strings.Reader
	asked   chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gatedBody) Read(p []byte) (int, error) {
	g.once.Do(func() {
		close(g.asked)
		<-g.release
	})
	return g.data.Read(p)
}

// testRoutedBeforeRedeploy sends a request that the gateway routes to
// version 1 and whose body arrives only after version 2 replaced it: the
// request must still be answered, by either version.
func testRoutedBeforeRedeploy(t *testing.T, env *nodetest.Env) {
	manifest := func(gen int) client.Package {
		return guestPkg(t, guestManifest("late", "/late", fmt.Sprintf("\n[env]\nGEN = \"%d\"\n", gen)))
	}
	env.Deploy(t, manifest(1))
	body := &gatedBody{data: strings.NewReader("late body"), asked: make(chan struct{}), release: make(chan struct{})}
	req, err := http.NewRequestWithContext(t.Context(), "POST", env.Gateway+"/late/echo", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(body.data.Len())
	req.Header.Set("Expect", "100-continue")
	hc := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := hc.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, string(b), err}
	}()
	select {
	case <-body.asked:
	case r := <-done:
		t.Fatalf("the gateway answered before reading the body: %+v", r)
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway never asked for the body")
	}
	// The request is routed to version 1. Replace it; Deploy returns once
	// version 2 serves and version 1 starts draining. Nothing shows when
	// the drain has closed version 1, so give it a moment: too short a
	// wait can only make this test pass, never fail.
	env.Deploy(t, manifest(2))
	time.Sleep(100 * time.Millisecond)
	close(body.release)
	r := <-done
	if r.err != nil || r.status != 200 || r.body != "late body" {
		t.Errorf("a request routed before a redeploy: status %d body %q err %v; want 200 and its body back "+
			"(a replaced version refuses requests it has not started with sandbox.ErrClosed; the gateway must route them again)", r.status, r.body, r.err)
	}
}
