package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/metrics"
	"github.com/mote-run/mote/internal/sandbox"
)

func TestCall(t *testing.T) {
	var (
		mu   sync.Mutex
		logs []api.LogEntry
	)
	m := metrics.New()
	g := New(Options{Logs: sandbox.LogFunc(func(e api.LogEntry) {
		mu.Lock()
		logs = append(logs, e)
		mu.Unlock()
	})})
	trap := fakeRunner{fn: func(*sandbox.Request) (*sandbox.Response, error) {
		return nil, &sandbox.GuestError{Kind: "trap", Detail: "unreachable"}
	}}
	g.SetTable(NewTable(single([]*Target{
		{Service: "users", Route: "/api/users", Runner: echoRunner(), MaxBody: 4, Metrics: m.For("users")},
		{Service: "root", Route: "/", Runner: echoRunner()},
		{Service: "trap", Route: "/trap", Runner: trap, Metrics: m.For("trap")},
	})))
	ctx := t.Context()

	req := &sandbox.Request{ID: "caller-id", Method: "GET", RawPath: "/42", RawQuery: "full=1", Body: []byte("body")}
	resp, err := g.Call(ctx, "users", req)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(resp.Body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"route": "/api/users", "rest": "/42", "query": "full=1", "body": "body", "id": "caller-id"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("callee saw %s = %q, want %q", k, got[k], v)
		}
	}
	if resp, err := g.Call(ctx, "root", &sandbox.Request{ID: "x"}); err != nil || !strings.Contains(string(resp.Body), `"route":""`) {
		t.Errorf("call to the root route: %v, %v", resp, err)
	}

	if _, err := g.Call(ctx, "nope", &sandbox.Request{}); !errors.Is(err, sandbox.ErrNotFound) {
		t.Errorf("call to a missing service: %v, want ErrNotFound", err)
	}
	if _, err := g.Call(ctx, "users", &sandbox.Request{Body: []byte("12345")}); !errors.Is(err, sandbox.ErrTooLarge) {
		t.Errorf("call with a body over the callee's limit: %v, want ErrTooLarge", err)
	}
	var ge *sandbox.GuestError
	if _, err := g.Call(ctx, "trap", &sandbox.Request{ID: "trap-id", Method: "POST", RawPath: "/x"}); !errors.As(err, &ge) {
		t.Errorf("call to a trapping service: %v, want a GuestError", err)
	}

	for _, tc := range []struct {
		service, code string
		want          float64
	}{{"users", "200", 1}, {"users", "413", 1}, {"trap", "502", 1}} {
		if n := counter(t, m, "mote_gateway_requests_total", "service", tc.service, "code", tc.code); n != tc.want {
			t.Errorf("requests{%s,%s} = %v, want %v", tc.service, tc.code, n, tc.want)
		}
	}
	if n := counter(t, m, "mote_guest_failures_total", "service", "trap", "kind", "trap"); n != 1 {
		t.Errorf("trap failures = %v, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logs) != 1 || logs[0].Service != "trap" || logs[0].RequestID != "trap-id" || !strings.Contains(logs[0].Message, "POST /trap/x") {
		t.Errorf("callee logs = %+v, want one line for trap with the caller's request id", logs)
	}
}

// TestCallRetriesClosedVersion checks that Call, like ServeHTTP, sends a
// request whose version closed before it started to the version now
// serving.
func TestCallRetriesClosedVersion(t *testing.T) {
	g := New(Options{})
	var closedCalls atomic.Int32
	newer := &Target{Service: "svc", Route: "/svc", Version: 2, Runner: fakeRunner{fn: func(*sandbox.Request) (*sandbox.Response, error) {
		return &sandbox.Response{Status: 200, Body: []byte("version 2")}, nil
	}}}
	// The old version is replaced after the lookup: its Serve swaps the
	// table and reports that it closed.
	old := &Target{Service: "svc", Route: "/svc", Version: 1, Runner: fakeRunner{fn: func(*sandbox.Request) (*sandbox.Response, error) {
		closedCalls.Add(1)
		g.SetTable(NewTable(single([]*Target{newer})))
		return nil, sandbox.ErrClosed
	}}}
	g.SetTable(NewTable(single([]*Target{old})))
	resp, err := g.Call(context.Background(), "svc", &sandbox.Request{ID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if closedCalls.Load() != 1 || string(resp.Body) != "version 2" {
		t.Errorf("got %s after %d closed attempts; want the new version's answer after 1", resp.Body, closedCalls.Load())
	}
}

// counter returns the value of the counter name with the given label pairs.
func counter(t *testing.T, m *metrics.Metrics, name string, labels ...string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, metric := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range metric.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			return metric.GetCounter().GetValue()
		}
	}
	return 0
}
