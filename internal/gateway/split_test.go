package gateway

import (
	"context"
	"math"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
)

// versionRunner answers with its version number and counts its requests.
type countingRunner struct {
	version int
	n       atomic.Int64
	route   atomic.Value // the last request's Route
}

func (c *countingRunner) Serve(_ context.Context, r *sandbox.Request) (*sandbox.Response, error) {
	c.n.Add(1)
	c.route.Store(r.Route)
	return &sandbox.Response{Status: 200, Body: []byte(strconv.Itoa(c.version))}, nil
}
func (*countingRunner) Instances() []api.Instance   { return nil }
func (*countingRunner) Close(context.Context) error { return nil }

// splitTable routes service svc at route to one counting runner per
// weight (versions 1, 2, ...), tagging version i with tags[i] if set.
func splitTable(route string, weights []int, tags map[int]string) (*Table, []*countingRunner) {
	var bs []Backend
	var runners []*countingRunner
	for i, w := range weights {
		r := &countingRunner{version: i + 1}
		runners = append(runners, r)
		bs = append(bs, Backend{Target: &Target{Service: "svc", Route: route, Version: i + 1, Runner: r}, Weight: w, Tag: tags[i+1]})
	}
	return NewTable(bs), runners
}

// TestSplitRatios sends requests through ServeHTTP and checks each
// version's share is within 5 standard deviations of its weight (a false
// alarm about once in 3.5 million runs).
func TestSplitRatios(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
	}{
		{"90/10", []int{90, 10}},
		{"50/50", []int{50, 50}},
		{"34/33/33", []int{34, 33, 33}},
		{"99/1", []int{99, 1}},
		{"100/0", []int{100, 0}},
		{"1/2/3/94", []int{1, 2, 3, 94}},
	}
	const n = 4000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := New(Options{})
			tb, runners := splitTable("/svc", tt.weights, nil)
			g.SetTable(tb)
			for range n {
				rec := httptest.NewRecorder()
				g.ServeHTTP(rec, httptest.NewRequest("GET", "/svc/x", nil))
				if rec.Code != 200 {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
			for i, w := range tt.weights {
				p := float64(w) / 100
				got := float64(runners[i].n.Load())
				sd := math.Sqrt(n * p * (1 - p))
				if math.Abs(got-n*p) > 5*sd+0.5 {
					t.Errorf("version %d (weight %d): %v of %d requests, want %.0f ± %.0f", i+1, w, got, n, n*p, 5*sd)
				}
			}
		})
	}
}

func TestTags(t *testing.T) {
	tests := []struct {
		name, route, path, header string
		status, version           int
		guestRoute, rest          string
	}{
		{"weights", "/svc", "/svc/x", "", 200, 1, "/svc", "/x"},
		{"tag route", "/svc", "/svc@canary/x", "", 200, 2, "/svc@canary", "/x"},
		{"tag route exact", "/svc", "/svc@canary", "", 200, 2, "/svc@canary", ""},
		{"tag of a weighted version", "/svc", "/svc@stable/x", "", 200, 1, "/svc@stable", "/x"},
		{"header", "/svc", "/svc/x", "canary", 200, 2, "/svc", "/x"},
		{"route wins over header", "/svc", "/svc@stable/x", "canary", 200, 1, "/svc@stable", "/x"},
		{"unknown tag header", "/svc", "/svc/x", "nope", 404, 0, "", ""},
		{"unknown tag route", "/svc", "/svc@nope/x", "", 404, 0, "", ""},
		{"root tag route", "/", "/@canary/x", "", 200, 2, "/@canary", "/x"},
		{"root weights", "/", "/x", "", 200, 1, "", "/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := New(Options{})
			tb, runners := splitTable(tt.route, []int{100, 0}, map[int]string{1: "stable", 2: "canary"})
			g.SetTable(tb)
			if tt.route == "/" {
				// A tag route must not hide another service's route.
				g.SetTable(NewTable(append([]Backend{{Target: &Target{Service: "other", Route: "/other", Runner: echoRunner()}, Weight: 100}},
					backendsOf(tb)...)))
			}
			req := httptest.NewRequest("GET", tt.path, nil)
			if tt.header != "" {
				req.Header.Set(api.HeaderTag, tt.header)
			}
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status != 200 {
				return
			}
			if got := rec.Body.String(); got != strconv.Itoa(tt.version) {
				t.Errorf("answered by version %s, want %d", got, tt.version)
			}
			if got := runners[tt.version-1].route.Load(); got != tt.guestRoute {
				t.Errorf("guest saw route %q, want %q", got, tt.guestRoute)
			}
		})
	}
}

// backendsOf rebuilds the backends of svc in tb.
func backendsOf(tb *Table) []Backend {
	e := tb.byService["svc"]
	var out []Backend
	for i, tg := range e.targets {
		w := e.cum[i]
		if i > 0 {
			w -= e.cum[i-1]
		}
		out = append(out, Backend{Target: tg, Weight: w, Tag: tagOf(e, tg)})
	}
	for _, tt := range e.tags {
		if weightOf(e, tt.target) == 0 {
			out = append(out, Backend{Target: tt.target, Tag: tt.tag})
		}
	}
	return out
}

func tagOf(e *entry, tg *Target) string {
	for _, tt := range e.tags {
		if tt.target == tg {
			return tt.tag
		}
	}
	return ""
}

// TestRetryKeepsVersion: a request whose version closed before it started
// goes to the same version when it is still routed (reloaded), else to a
// version the service's route picks now.
func TestRetryKeepsVersion(t *testing.T) {
	g := New(Options{})
	reloaded := &countingRunner{version: 1}
	other := &countingRunner{version: 2}
	var closed atomic.Int32
	old := &Target{Service: "svc", Route: "/svc", Version: 1, Runner: fakeRunner{fn: func(*sandbox.Request) (*sandbox.Response, error) {
		closed.Add(1)
		g.SetTable(NewTable([]Backend{
			{Target: &Target{Service: "svc", Route: "/svc", Version: 1, Runner: reloaded}, Weight: 1},
			{Target: &Target{Service: "svc", Route: "/svc", Version: 2, Runner: other}, Weight: 99},
		}))
		return nil, sandbox.ErrClosed
	}}}
	g.SetTable(NewTable([]Backend{{Target: old, Weight: 100}}))
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/svc", nil))
	if rec.Code != 200 || rec.Body.String() != "1" || closed.Load() != 1 {
		t.Fatalf("got %d %q after %d closed attempts; want version 1's answer after 1", rec.Code, rec.Body, closed.Load())
	}
}

func TestPickAllocatesNothing(t *testing.T) {
	tb, _ := splitTable("/svc", []int{70, 20, 10}, map[int]string{3: "canary"})
	allocs := testing.AllocsPerRun(1000, func() {
		m, _ := tb.Lookup("/svc/a/b")
		_, _ = m.Pick("")
		m, _ = tb.Lookup("/svc@canary/a")
		_, _ = m.Pick("")
	})
	if allocs != 0 {
		t.Errorf("Lookup+Pick allocates %v times per request", allocs)
	}
}

func BenchmarkPick(b *testing.B) {
	tb, _ := splitTable("/svc", []int{70, 20, 10}, nil)
	b.ReportAllocs()
	for b.Loop() {
		m, _ := tb.Lookup("/svc/a")
		_, _ = m.Pick("")
	}
}

// TestServiceRouteBeatsTagRoute: a service whose route looks like another's
// tag route keeps it, whatever the order of the backends.
func TestServiceRouteBeatsTagRoute(t *testing.T) {
	tagged := Backend{Target: &Target{Service: "a", Route: "/a", Version: 1}, Weight: 100, Tag: "x"}
	plain := Backend{Target: &Target{Service: "ax", Route: "/a@x", Version: 1}, Weight: 100}
	for _, order := range [][]Backend{{tagged, plain}, {plain, tagged}} {
		m, ok := NewTable(order).Lookup("/a@x/y")
		if !ok || m.Service != "ax" || m.Tag != "" || m.Rest != "/y" {
			t.Errorf("Lookup = %+v, %v; want service ax", m, ok)
		}
	}
}

// TestNoWeightedVersion: when no version of a service takes traffic (the
// weighted ones failed to load), plain requests get 503 and tags still work.
func TestNoWeightedVersion(t *testing.T) {
	g := New(Options{})
	tb, _ := splitTable("/svc", []int{0}, map[int]string{1: "canary"})
	g.SetTable(tb)
	for path, want := range map[string]int{"/svc/x": 503, "/svc@canary/x": 200} {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
}

// FuzzLookup: any path either matches nothing or splits into a route
// prefix and the rest, and a tag route always names a tag of its service.
func FuzzLookup(f *testing.F) {
	for _, p := range []string{"/", "/svc", "/svc@canary/x", "/@canary", "/svc@", "/svc@@x", "//svc", "/svc@canary@x/y"} {
		f.Add(p)
	}
	tb := NewTable([]Backend{
		{Target: &Target{Service: "svc", Route: "/svc", Version: 1}, Weight: 100, Tag: "canary"},
		{Target: &Target{Service: "root", Route: "/", Version: 1}, Weight: 50},
		{Target: &Target{Service: "root", Route: "/", Version: 2}, Weight: 50, Tag: "canary"},
		{Target: &Target{Service: "deep", Route: "/a/b", Version: 3}, Tag: "x"},
		{Target: &Target{Service: "deep", Route: "/a/b", Version: 4}, Weight: 100},
	})
	f.Fuzz(func(t *testing.T, path string) {
		if !strings.HasPrefix(path, "/") {
			return // request paths start with "/"
		}
		m, ok := tb.Lookup(path)
		if !ok {
			return
		}
		if m.Prefix == "/" {
			// The root route leaves the path whole (a leading "//" may
			// lose one slash).
			if !strings.HasSuffix(path, m.Rest) || !strings.HasPrefix(m.Rest, "/") {
				t.Fatalf("root match of %q: rest %q", path, m.Rest)
			}
		} else if m.Prefix+m.Rest != path || (m.Rest != "" && m.Rest[0] != '/') {
			t.Fatalf("%q split into %q + %q", path, m.Prefix, m.Rest)
		}
		tg, ok := m.Pick("")
		if m.Tag != "" && (!ok || tg == nil) {
			t.Fatalf("tag route %q picks nothing", m.Prefix)
		}
		if ok && tg.Service != m.Service {
			t.Fatalf("%q: match for %s picked %s", path, m.Service, tg.Service)
		}
	})
}
