package gateway

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/analytics"
	"github.com/mote-run/mote/internal/apikey"
	"github.com/mote-run/mote/internal/metrics"
	"github.com/mote-run/mote/internal/ratelimit"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/store"
)

// memQuotas is a ratelimit.QuotaStore in memory.
type memQuotas struct {
	mu sync.Mutex
	n  map[string]int64
}

func (m *memQuotas) LoadQuota(_ context.Context, c string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n[c], nil
}

func (m *memQuotas) AddQuota(_ context.Context, c string, d int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil {
		m.n = map[string]int64{}
	}
	m.n[c] += d
	return m.n[c], nil
}

// accessEnv is a gateway with the key index, limiter and quotas of a
// node, fed from a channel instead of the store.
type accessEnv struct {
	g      *Gateway
	ix     *apikey.Index
	events chan<- store.AccessEvent
}

// newAccessEnv starts an index holding initial and returns a gateway
// that uses it, with metrics and analytics on, serving targets.
func newAccessEnv(t testing.TB, initial ...store.AccessEvent) *accessEnv {
	t.Helper()
	ix := apikey.NewIndex()
	events := make(chan store.AccessEvent)
	synced := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ix.Run(ctx, events, synced)
	}()
	t.Cleanup(func() { cancel(); <-done })
	for _, ev := range append(initial, store.AccessEvent{Synced: true}) {
		events <- ev
	}
	select {
	case <-synced:
	case <-time.After(10 * time.Second):
		t.Fatal("index not synced within 10s")
	}
	quotas := ratelimit.NewQuotas(&memQuotas{}, ratelimit.QuotaOptions{})
	g := New(Options{
		Access:    Access{Keys: ix, Limiter: ratelimit.NewLimiter(), Quotas: quotas},
		Analytics: analytics.New(analytics.Options{}),
	})
	return &accessEnv{g: g, ix: ix, events: events}
}

// change sends an event and waits until the index has published it.
func (e *accessEnv) change(t testing.TB, ev store.AccessEvent) {
	t.Helper()
	v := e.ix.Version()
	e.events <- ev
	deadline := time.Now().Add(10 * time.Second)
	for e.ix.Version() == v {
		if time.Now().After(deadline) {
			t.Fatal("index did not change within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// makeKey returns a new key record of app on plan, and the key.
func makeKey(t testing.TB, app, plan string) (store.KeyRecord, string) {
	t.Helper()
	key, id, hash, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return store.KeyRecord{Key: api.Key{ID: id, App: app, Plan: plan, Prefix: key[:8], Created: time.Now()}, Hash: hash}, key
}

func keyEv(r store.KeyRecord) store.AccessEvent { return store.AccessEvent{Key: &r} }

// helloRunner answers like the WAGI C hello.
func helloRunner() fakeRunner {
	resp := &sandbox.Response{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("Hello, world!\n")}
	return fakeRunner{fn: func(*sandbox.Request) (*sandbox.Response, error) { return resp, nil }}
}

// nullWriter is a ResponseWriter that keeps the status and discards the
// body, reusing its header map.
type nullWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *nullWriter) Header() http.Header { return w.h }
func (w *nullWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *nullWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	w.n += len(b)
	return len(b), nil
}

// SetWriteDeadline makes the writer look like the server's to
// http.ResponseController (which otherwise builds an error per request).
func (w *nullWriter) SetWriteDeadline(time.Time) error { return nil }

func (w *nullWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

// benchPlan limits nothing in practice, like bench -access's plan.
var benchPlan = api.Plan{Name: "bench", Rate: "1000000000/s", Quota: "1000000000000/month"}

// keyedBench is the gateway of bench -access: the same hello on a plain
// route and on one that requires a key of benchPlan.
func keyedBench(t testing.TB) (*accessEnv, string) {
	t.Helper()
	rec, key := makeKey(t, "bench", benchPlan.Name)
	plan := benchPlan
	env := newAccessEnv(t, store.AccessEvent{Plan: &plan}, keyEv(rec))
	m := metrics.New()
	env.g.SetTable(NewTable(single([]*Target{
		{Service: "plain", Route: "/plain", Runner: helloRunner(), Metrics: m.For("plain")},
		{Service: "keyed", Route: "/keyed", Runner: helloRunner(), Metrics: m.For("keyed"), Policy: (&Policy{RequireKey: true}).Prepare()},
	})))
	return env, key
}

// serveLoop serves a GET of path with the key, as a client on a kept-alive
// connection would send it, and reports the status.
type serveLoop struct {
	g   *Gateway
	r   *http.Request
	w   *nullWriter
	key []string
}

func newServeLoop(g *Gateway, path, key string) *serveLoop {
	u := &url.URL{Path: path}
	r := &http.Request{Method: "GET", URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Host: "localhost:8080", RemoteAddr: "127.0.0.1:40000", RequestURI: path}
	r = r.WithContext(context.Background())
	return &serveLoop{g: g, r: r, w: &nullWriter{h: http.Header{}}, key: []string{key}}
}

func (s *serveLoop) once() int {
	s.w.reset()
	h := s.r.Header
	clear(h)
	h["X-Api-Key"] = s.key
	h["User-Agent"] = userAgent
	h["Accept"] = accept
	s.g.ServeHTTP(s.w, s.r)
	return s.w.status
}

var (
	userAgent = []string{"wrk"}
	accept    = []string{"*/*"}
)

// BenchmarkPlainRequest and BenchmarkKeyedRequest are bench -access's two
// routes without the network and the guest: their difference is what key
// auth, the rate limit, the quota and their headers cost a request.
func BenchmarkPlainRequest(b *testing.B) {
	env, key := keyedBench(b)
	benchServe(b, newServeLoop(env.g, "/plain", key))
}

func BenchmarkKeyedRequest(b *testing.B) {
	env, key := keyedBench(b)
	benchServe(b, newServeLoop(env.g, "/keyed", key))
}

func benchServe(b *testing.B, s *serveLoop) {
	if st := s.once(); st != 200 {
		b.Fatalf("status %d", st)
	}
	b.ReportAllocs()
	cpu0, ok := processCPU()
	for b.Loop() {
		if st := s.once(); st != 200 {
			b.Fatalf("status %d", st)
		}
	}
	// CPU time per request is steadier than wall time on a shared
	// machine: other processes' load does not count in it.
	if cpu1, ok1 := processCPU(); ok && ok1 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// TestKeyedRoute takes a key through the gateway: the guest learns who
// calls, never the key; limited responses carry the IETF pair, a 429 the
// X-RateLimit trio and Retry-After too; a revoked key stops at once.
func TestKeyedRoute(t *testing.T) {
	rec, key := makeKey(t, "shop", "tiny")
	scoped, scopedKey := makeKey(t, "shop", "tiny")
	scoped.Services = []string{"other"}
	orphan, orphanKey := makeKey(t, "shop", "gone")
	tiny := api.Plan{Name: "tiny", Rate: "2/min", Quota: "100/day"}
	env := newAccessEnv(t, store.AccessEvent{Plan: &tiny}, keyEv(rec), keyEv(scoped), keyEv(orphan))
	var seen http.Header
	env.g.SetTable(NewTable(single([]*Target{{
		Service: "keyed", Route: "/keyed", Policy: (&Policy{RequireKey: true}).Prepare(),
		Runner: fakeRunner{fn: func(r *sandbox.Request) (*sandbox.Response, error) {
			seen = r.Header.Clone()
			return &sandbox.Response{Status: 200}, nil
		}},
	}})))
	do := func(h http.Header) (int, http.Header) {
		t.Helper()
		seen = nil
		s := newServeLoop(env.g, "/keyed/x", "")
		s.r.Header = h
		env.g.ServeHTTP(s.w, s.r)
		return s.w.status, s.w.h
	}

	tests := []struct {
		name   string
		h      http.Header
		status int
	}{
		{"no key", http.Header{}, 401},
		{"unknown key", http.Header{"X-Api-Key": {key[:len(key)-12] + "000000000000"}}, 401},
		{"forged identity", http.Header{"Mote-App": {"admin"}}, 401},
		{"other service's key", http.Header{"X-Api-Key": {scopedKey}}, 403},
		{"plan deleted", http.Header{"X-Api-Key": {orphanKey}}, 403},
		{"x-api-key", http.Header{"X-Api-Key": {key}, "Mote-App": {"admin"}}, 200},
		{"bearer", http.Header{"Authorization": {"Bearer " + key}, "X-Api-Key": {" "}}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, h := do(tc.h)
			if status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			if status != 200 {
				if seen != nil {
					t.Error("a refused request reached the guest")
				}
				return
			}
			if seen.Get("Mote-App") != "shop" || seen.Get("Mote-Key-Id") != rec.ID || len(seen["Mote-App"]) != 1 {
				t.Errorf("the guest saw app %q key %q", seen["Mote-App"], seen["Mote-Key-Id"])
			}
			if _, ok := seen["X-Api-Key"]; ok || seen.Get("Authorization") != "" {
				t.Errorf("the guest saw the key: %v", seen)
			}
			if h.Get("Ratelimit-Policy") != `"rate";q=2;w=60, "quota";q=100;w=86400` || h.Get("X-Ratelimit-Limit") != "" {
				t.Errorf("headers %v", h)
			}
		})
	}
	// Two requests used the burst of 2.
	status, h := do(http.Header{"X-Api-Key": {key}})
	if status != 429 || h.Get("Retry-After") == "" || h.Get("X-Ratelimit-Remaining") != "0" || h.Get("Ratelimit") != `"rate";r=0;t=60` {
		t.Errorf("over the rate: %d %v", status, h)
	}
	if seen != nil {
		t.Error("a limited request reached the guest")
	}
	revoked := rec
	now := time.Now()
	revoked.Revoked = &now
	env.change(t, keyEv(revoked))
	if status, _ := do(http.Header{"X-Api-Key": {key}}); status != 401 {
		t.Errorf("revoked key: %d, want 401", status)
	}
}

// TestKeyedRequestAllocations: what the keyed route allocates beyond the
// plain one is the RateLimit header's value (its string and slice).
func TestKeyedRequestAllocations(t *testing.T) {
	env, key := keyedBench(t)
	plain, keyed := newServeLoop(env.g, "/plain", key), newServeLoop(env.g, "/keyed", key)
	plain.once()
	keyed.once()
	p := testing.AllocsPerRun(200, func() { plain.once() })
	k := testing.AllocsPerRun(200, func() { keyed.once() })
	if k-p > 2 {
		t.Errorf("the keyed route allocates %v times a request, the plain one %v: want at most 2 more", k, p)
	}
}
