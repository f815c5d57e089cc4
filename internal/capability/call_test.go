package capability

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/internal/gateway"
	"github.com/mote-run/mote/internal/manifest"
	"github.com/mote-run/mote/internal/sandbox"
)

// callerFunc adapts a function to Caller.
type callerFunc func(ctx context.Context, service string, req *sandbox.Request) (*sandbox.Response, error)

func (f callerFunc) Call(ctx context.Context, service string, req *sandbox.Request) (*sandbox.Response, error) {
	return f(ctx, service, req)
}

func TestCall(t *testing.T) {
	var (
		gotService string
		gotReq     *sandbox.Request
		gotDepth   int
	)
	caller := callerFunc(func(ctx context.Context, service string, req *sandbox.Request) (*sandbox.Response, error) {
		gotService, gotReq, gotDepth = service, req, sandbox.CallDepth(ctx)
		switch service {
		case "missing":
			return nil, sandbox.ErrNotFound
		case "slow":
			return nil, sandbox.ErrTimeout
		case "trap":
			return nil, &sandbox.GuestError{Kind: "trap", Detail: "unreachable"}
		case "big":
			return &sandbox.Response{Status: 200, Body: make([]byte, 2048)}, nil
		}
		return &sandbox.Response{Status: 202, Header: http.Header{"X-B": {"2"}, "X-A": {"1"}, "Connection": {"close"}}, Body: []byte("ok")}, nil
	})
	logs := &logSink{}
	h := New(Options{Service: "svc", Allow: manifest.Allow{Call: []string{"users", "missing", "slow", "trap", "big"}},
		Caller: caller, Logs: logs, MaxResponse: 1024})
	ctx := requestCtx(t, "req-1")

	resp, err := h.Call(ctx, "users", &abi.Request{Method: "PUT", URL: "/42?full=1", Header: []abi.Header{{Name: "x-in", Value: "v"}}, Body: []byte("b")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 202 || string(resp.Body) != "ok" || len(resp.Header) != 2 || resp.Header[0] != (abi.Header{Name: "X-A", Value: "1"}) {
		t.Errorf("response %d %q %+v", resp.Status, resp.Body, resp.Header)
	}
	if gotService != "users" || gotDepth != 1 || gotReq.ID != "req-1" || gotReq.Method != "PUT" || gotReq.RawPath != "/42" ||
		gotReq.RawQuery != "full=1" || gotReq.Header.Get("X-In") != "v" || string(gotReq.Body) != "b" || gotReq.Host != "gw.example" {
		t.Errorf("callee got %s depth %d %+v", gotService, gotDepth, gotReq)
	}
	if _, err := h.Call(ctx, "users", &abi.Request{}); err != nil || gotReq.Method != "GET" || gotReq.RawPath != "" {
		t.Errorf("a call with no method and url: %v; callee got %+v", err, gotReq)
	}

	for _, tc := range []struct {
		service string
		want    error
		text    string
	}{
		{"missing", sandbox.ErrNotFound, "no service named missing is serving"},
		{"slow", sandbox.ErrTimeout, "did not answer in time"},
		{"big", sandbox.ErrTooLarge, "larger than 1024 bytes"},
		{"trap", nil, "the service failed (trap)"},
	} {
		_, err := h.Call(ctx, tc.service, &abi.Request{URL: "/"})
		if err == nil || tc.want != nil && !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("call to %s: %v, want %v saying %q", tc.service, err, tc.want, tc.text)
		}
	}

	for _, req := range []*abi.Request{
		{URL: "users/42"}, {URL: "http://x/y"}, {URL: "//evil/x"}, {URL: "/a b"}, {URL: "/%zz"},
		{Method: "G T"}, {Header: []abi.Header{{Name: "", Value: "x"}}}, {Header: []abi.Header{{Name: "X", Value: "\n"}}},
	} {
		if _, err := h.Call(ctx, "users", req); !errors.Is(err, sandbox.ErrInvalid) {
			t.Errorf("Call(%+v): %v, want ErrInvalid", req, err)
		}
	}
	if _, err := h.Call(ctx, "Users!", &abi.Request{}); !errors.Is(err, sandbox.ErrInvalid) {
		t.Errorf("call to a bad name: %v, want ErrInvalid", err)
	}

	_, err = h.Call(ctx, "billing", &abi.Request{})
	checkDenied(t, err, logs, `add "billing" to [allow] call in mote.toml`)
	anyone := New(Options{Service: "svc", Allow: manifest.Allow{Call: []string{"*"}}, Caller: caller})
	if _, err := anyone.Call(ctx, "billing", &abi.Request{}); err != nil || gotService != "billing" {
		t.Errorf(`call with ["*"]: %v`, err)
	}

	deep := ctx
	for range sandbox.MaxCallDepth {
		deep = sandbox.WithCallDepth(deep)
	}
	gotService = ""
	if _, err := h.Call(deep, "users", &abi.Request{}); !errors.Is(err, sandbox.ErrDepth) || gotService != "" {
		t.Errorf("call at depth %d: %v, want ErrDepth before the callee runs", sandbox.MaxCallDepth, err)
	}
}

// loopRunner is a service that calls itself through its Host, as a guest
// would: it reports the depth it reached or the error that stopped it.
type loopRunner struct {
	host    *Host
	deepest *int
}

func (r loopRunner) Serve(ctx context.Context, req *sandbox.Request) (*sandbox.Response, error) {
	ctx = sandbox.WithRequest(ctx, req) // as the driver does
	*r.deepest = max(*r.deepest, sandbox.CallDepth(ctx))
	resp, err := r.host.Call(ctx, "loop", &abi.Request{URL: "/again"})
	if err != nil {
		return &sandbox.Response{Status: 200, Body: []byte(err.Error())}, nil
	}
	return &sandbox.Response{Status: resp.Status, Body: resp.Body}, nil
}
func (loopRunner) Instances() []api.Instance   { return nil }
func (loopRunner) Close(context.Context) error { return nil }

// TestCallLoopEnds runs a service that calls itself through a real gateway:
// the loop ends at the depth limit.
func TestCallLoopEnds(t *testing.T) {
	logs := &logSink{}
	g := gateway.New(gateway.Options{Logs: logs})
	h := New(Options{Service: "loop", Allow: manifest.Allow{Call: []string{"loop"}}, Caller: g, Logs: logs})
	deepest := 0
	g.SetTable(gateway.NewTable([]gateway.Backend{{Target: &gateway.Target{Service: "loop", Route: "/loop", Runner: loopRunner{host: h, deepest: &deepest}}, Weight: 100}}))

	resp, err := g.Call(t.Context(), "loop", &sandbox.Request{ID: "req-1", Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if deepest != sandbox.MaxCallDepth || !strings.Contains(string(resp.Body), "nested 8 deep") {
		t.Errorf("the loop reached depth %d and answered %q; want depth %d and the depth error", deepest, resp.Body, sandbox.MaxCallDepth)
	}
}
