package examples

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/mote-run/mote/guest/abi"
)

// The mote_v1 host functions, with the signatures docs/abi.md gives them.
var moteV1 = map[string]struct{ params, results []api.ValueType }{
	"result_len":   {nil, i32s(1)},
	"result_read":  {i32s(2), i32s(1)},
	"request_len":  {nil, i32s(1)},
	"request_read": {i32s(2), i32s(1)},
	"respond":      {i32s(2), i32s(1)},
	"log":          {i32s(3), i32s(1)},
	"kv_get":       {i32s(2), i64s()},
	"kv_set":       {append(i32s(4), api.ValueTypeI64), i64s()},
	"kv_delete":    {i32s(2), i64s()},
	"kv_list":      {i32s(2), i64s()},
	"config_get":   {i32s(2), i64s()},
	"http_fetch":   {i32s(2), i64s()},
	"call":         {i32s(4), i64s()},
}

func i32s(n int) []api.ValueType { return slices.Repeat([]api.ValueType{api.ValueTypeI32}, n) }
func i64s() []api.ValueType      { return []api.ValueType{api.ValueTypeI64} }

// testHost is a minimal node for a pooled guest: the mote_v1 functions
// over an in-memory store, so the examples' modules can be run here,
// without the node's sandbox.
type testHost struct {
	mu       sync.Mutex
	kv       map[string][]byte
	config   map[string]string
	fetch    func(*abi.Request) (*abi.Response, int, string)
	call     func(string, *abi.Request) (*abi.Response, int, string)
	logs     []string
	request  []byte
	result   []byte
	response []byte
}

// pooledGuest is one initialized instance of a pooled module.
type pooledGuest struct {
	host   *testHost
	mod    api.Module
	handle api.Function
	stderr *bytes.Buffer
}

// startPooled compiles module (with the interpreter: compiling a Go module
// to machine code takes seconds, interpreting the few requests here does not), checks its imports and exports against the
// pooled ABI, and initializes one instance served by host.
func startPooled(t *testing.T, module []byte, host *testHost) *pooledGuest {
	t.Helper()
	ctx := t.Context()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	t.Cleanup(func() { r.Close(context.Background()) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	compiled, err := r.CompileModule(ctx, module)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod == "wasi_snapshot_preview1" {
			continue
		}
		want, ok := moteV1[name]
		if mod != abi.Module || !ok {
			t.Errorf("imports %s.%s, which is not in the pooled ABI", mod, name)
			continue
		}
		if !slices.Equal(f.ParamTypes(), want.params) || !slices.Equal(f.ResultTypes(), want.results) {
			t.Errorf("imports %s.%s as (%v) -> %v, want (%v) -> %v", mod, name, f.ParamTypes(), f.ResultTypes(), want.params, want.results)
		}
	}
	exports := compiled.ExportedFunctions()
	if f, ok := exports[abi.HandleExport]; !ok || len(f.ParamTypes()) != 0 || !slices.Equal(f.ResultTypes(), i32s(1)) {
		t.Fatalf("does not export %s () -> i32", abi.HandleExport)
	}
	if _, ok := exports["_initialize"]; !ok {
		t.Fatal("does not export _initialize: not a reactor (build with -buildmode=c-shared)")
	}
	if host.kv == nil {
		host.kv = make(map[string][]byte)
	}
	if _, err := host.instantiate(ctx, r); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().WithStartFunctions("_initialize").WithStderr(&stderr).WithStdout(&stderr).WithName("guest")
	mod, err := r.InstantiateModule(ctx, compiled, cfg)
	if err != nil {
		t.Fatalf("initializing: %v\n%s", err, stderr.String())
	}
	return &pooledGuest{host: host, mod: mod, handle: mod.ExportedFunction(abi.HandleExport), stderr: &stderr}
}

// do serves req on the instance and returns the response.
func (g *pooledGuest) do(t *testing.T, req *abi.Request) *abi.Response {
	t.Helper()
	g.host.request = abi.AppendRequest(nil, req)
	g.host.response = nil
	res, err := g.handle.Call(t.Context())
	if err != nil {
		t.Fatalf("%s %s: %v\nstderr: %s\nlogs: %q", req.Method, req.URL, err, g.stderr, g.host.logs)
	}
	if res[0] != 0 || g.host.response == nil {
		t.Fatalf("%s %s: returned %d, responded %v\nlogs: %q", req.Method, req.URL, int32(res[0]), g.host.response != nil, g.host.logs)
	}
	resp, err := abi.DecodeResponse(g.host.response)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func (h *testHost) instantiate(ctx context.Context, r wazero.Runtime) (api.Module, error) {
	b := r.NewHostModuleBuilder(abi.Module)
	fn := func(name string, f any) { b.NewFunctionBuilder().WithFunc(f).Export(name) }
	read := func(m api.Module, ptr, n uint32) string {
		p, ok := m.Memory().Read(ptr, n)
		if !ok {
			panic(fmt.Sprintf("%d bytes at %d are outside memory", n, ptr))
		}
		return string(p)
	}
	// answer makes data the result and returns its length, or makes msg the
	// result and returns -code.
	answer := func(data []byte, code int, msg string) int64 {
		if code != 0 {
			h.result = []byte(msg)
			return -int64(code)
		}
		h.result = data
		return int64(len(data))
	}
	fn("result_len", func() int32 { return int32(len(h.result)) })
	fn("result_read", func(_ context.Context, m api.Module, ptr, n uint32) int32 {
		n = min(n, uint32(len(h.result)))
		m.Memory().Write(ptr, h.result[:n])
		return int32(n)
	})
	fn("request_len", func() int32 { return int32(len(h.request)) })
	fn("request_read", func(_ context.Context, m api.Module, ptr, n uint32) int32 {
		n = min(n, uint32(len(h.request)))
		m.Memory().Write(ptr, h.request[:n])
		return int32(n)
	})
	fn("respond", func(_ context.Context, m api.Module, ptr, n uint32) int32 {
		h.response = []byte(read(m, ptr, n))
		return 0
	})
	fn("log", func(_ context.Context, m api.Module, level, ptr, n uint32) int32 {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.logs = append(h.logs, fmt.Sprintf("%d %s", level, read(m, ptr, n)))
		return 0
	})
	fn("kv_get", func(_ context.Context, m api.Module, kp, kn uint32) int64 {
		key := read(m, kp, kn)
		v, ok := h.kv[key]
		if !ok {
			return answer(nil, abi.ErrNotFound, "no key "+key)
		}
		return answer(v, 0, "")
	})
	fn("kv_set", func(_ context.Context, m api.Module, kp, kn, vp, vn uint32, ttl int64) int64 {
		h.kv[read(m, kp, kn)] = []byte(read(m, vp, vn))
		return answer(nil, 0, "")
	})
	fn("kv_delete", func(_ context.Context, m api.Module, kp, kn uint32) int64 {
		delete(h.kv, read(m, kp, kn))
		return answer(nil, 0, "")
	})
	fn("kv_list", func(_ context.Context, m api.Module, pp, pn uint32) int64 {
		prefix := read(m, pp, pn)
		var keys []string
		for k := range h.kv {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		return answer(abi.AppendList(nil, keys), 0, "")
	})
	fn("config_get", func(_ context.Context, m api.Module, kp, kn uint32) int64 {
		v, ok := h.config[read(m, kp, kn)]
		if !ok {
			return answer(nil, abi.ErrNotFound, "not set")
		}
		return answer([]byte(v), 0, "")
	})
	fn("http_fetch", func(_ context.Context, m api.Module, rp, rn uint32) int64 {
		req, err := abi.DecodeRequest([]byte(read(m, rp, rn)))
		if err != nil {
			return answer(nil, abi.ErrInvalid, err.Error())
		}
		if h.fetch == nil {
			return answer(nil, abi.ErrDenied, "no outbound HTTP in this test")
		}
		resp, code, msg := h.fetch(req)
		if code != 0 {
			return answer(nil, code, msg)
		}
		return answer(abi.AppendResponse(nil, resp), 0, "")
	})
	fn("call", func(_ context.Context, m api.Module, np, nn, rp, rn uint32) int64 {
		name := read(m, np, nn)
		req, err := abi.DecodeRequest([]byte(read(m, rp, rn)))
		if err != nil {
			return answer(nil, abi.ErrInvalid, err.Error())
		}
		if h.call == nil {
			return answer(nil, abi.ErrDenied, "no calls in this test")
		}
		resp, code, msg := h.call(name, req)
		if code != 0 {
			return answer(nil, code, msg)
		}
		return answer(abi.AppendResponse(nil, resp), 0, "")
	})
	return b.Instantiate(ctx)
}

// pooledChecks serve requests to each pooled example's module, through a
// minimal host: they test the module that ships, and the SDK inside it, in a
// real Wasm instance. internal/node's tests deploy them on a node.
var pooledChecks = map[string]func(t *testing.T, module []byte){
	"hello-sdk": func(t *testing.T, module []byte) {
		g := startPooled(t, module, &testHost{})
		for range 3 { // the instance is reused
			resp := g.do(t, &abi.Request{Method: "GET", URL: "/hello-sdk/a%20b?x=1", Route: "/hello-sdk", RequestID: "r1"})
			if resp.Status != 200 || string(resp.Body) != "Hello from Go on mote!\nYou asked for /a b\n" {
				t.Errorf("got %d %q", resp.Status, resp.Body)
			}
		}
		resp := g.do(t, &abi.Request{Method: "GET", URL: "/hello-sdk", Route: "/hello-sdk"})
		if string(resp.Body) != "Hello from Go on mote!\n" || header(resp, "Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("got %q %v", resp.Body, resp.Header)
		}
	},
	"counter-go": func(t *testing.T, module []byte) {
		h := &testHost{}
		g := startPooled(t, module, h)
		for i, step := range []struct{ method, want string }{
			{"GET", `{"count":0}`}, {"POST", `{"count":1}`}, {"POST", `{"count":2}`}, {"GET", `{"count":2}`},
		} {
			resp := g.do(t, &abi.Request{Method: step.method, URL: "/counter-go", Route: "/counter-go"})
			if resp.Status != 200 || string(resp.Body) != step.want+"\n" {
				t.Errorf("step %d, %s: %d %q, want %s", i, step.method, resp.Status, resp.Body, step.want)
			}
		}
		if string(h.kv["count"]) != "2" {
			t.Errorf("stored %q, want 2", h.kv["count"])
		}
		h.kv["count"] = []byte("many")
		if resp := g.do(t, &abi.Request{Method: "POST", URL: "/counter-go", Route: "/counter-go"}); resp.Status != 500 {
			t.Errorf("a corrupt count: %d", resp.Status)
		}
		if len(h.logs) != 1 || !strings.HasPrefix(h.logs[0], `3 counting failed err="the stored count \"many\" is not a number" request=`) {
			t.Errorf("logs = %q", h.logs)
		}
	},
	"todo-go": func(t *testing.T, module []byte) {
		h := &testHost{}
		g := startPooled(t, module, h)
		do := func(method, path, body string) *abi.Response {
			return g.do(t, &abi.Request{Method: method, URL: "/todo-go" + path, Route: "/todo-go", Body: []byte(body)})
		}
		created := do("POST", "/todos", `{"title": "milk"}`)
		var todo struct{ ID, Title string }
		if err := json.Unmarshal(created.Body, &todo); err != nil || created.Status != 201 || todo.Title != "milk" {
			t.Fatalf("create: %d %s (%v)", created.Status, created.Body, err)
		}
		if loc := header(created, "Location"); loc != "/todo-go/todos/"+todo.ID {
			t.Errorf("Location %q", loc)
		}
		if resp := do("GET", "/todos/"+todo.ID, ""); resp.Status != 200 || !strings.Contains(string(resp.Body), `"title":"milk"`) {
			t.Errorf("get: %d %s", resp.Status, resp.Body)
		}
		if resp := do("PUT", "/todos/"+todo.ID, `{"title": "oat milk", "done": true}`); resp.Status != 200 || !strings.Contains(string(resp.Body), `"done":true`) {
			t.Errorf("update: %d %s", resp.Status, resp.Body)
		}
		if resp := do("GET", "/todos", ""); resp.Status != 200 || !strings.Contains(string(resp.Body), `"title":"oat milk"`) {
			t.Errorf("list: %d %s", resp.Status, resp.Body)
		}
		if resp := do("POST", "/todos", `{"title": ""}`); resp.Status != 400 || !strings.Contains(string(resp.Body), `"code":"invalid_todo"`) {
			t.Errorf("invalid: %d %s", resp.Status, resp.Body)
		}
		if resp := do("DELETE", "/todos/"+todo.ID, ""); resp.Status != 204 || len(h.kv) != 0 {
			t.Errorf("delete: %d, store %q", resp.Status, h.kv)
		}
		if resp := do("GET", "/todos/"+todo.ID, ""); resp.Status != 404 {
			t.Errorf("get after delete: %d", resp.Status)
		}
	},
	"call-go": func(t *testing.T, module []byte) {
		var got []string
		h := &testHost{call: func(service string, req *abi.Request) (*abi.Response, int, string) {
			got = append(got, service+" "+req.Method+" "+req.URL)
			if service != "counter-go" {
				return nil, abi.ErrDenied, "not granted"
			}
			return &abi.Response{Status: 200, Header: []abi.Header{{Name: "Content-Type", Value: "application/json"}}, Body: []byte(`{"count":7}`)}, 0, ""
		}}
		g := startPooled(t, module, h)
		for _, method := range []string{"GET", "POST"} {
			resp := g.do(t, &abi.Request{Method: method, URL: "/call-go", Route: "/call-go"})
			if want := `{"service":"counter-go","status":200,"body":{"count":7}}` + "\n"; resp.Status != 200 || string(resp.Body) != want {
				t.Errorf("%s: %d %q, want %q", method, resp.Status, resp.Body, want)
			}
		}
		if want := []string{"counter-go GET /", "counter-go POST /"}; !slices.Equal(got, want) {
			t.Errorf("calls %q, want %q", got, want)
		}
		h.call = func(string, *abi.Request) (*abi.Response, int, string) {
			return nil, abi.ErrNotFound, "no service counter-go"
		}
		resp := g.do(t, &abi.Request{Method: "GET", URL: "/call-go", Route: "/call-go"})
		if resp.Status != 502 || !strings.Contains(string(resp.Body), `call \"counter-go\": not found: no service counter-go; Try: mote deploy`) {
			t.Errorf("callee missing: %d %s", resp.Status, resp.Body)
		}
	},
	"fetch-go": func(t *testing.T, module []byte) {
		var got *abi.Request
		h := &testHost{fetch: func(req *abi.Request) (*abi.Response, int, string) {
			got = req
			return &abi.Response{Status: 203, Header: []abi.Header{{Name: "Content-Type", Value: "text/csv"}}, Body: []byte("a,b\n")}, 0, ""
		}}
		g := startPooled(t, module, h)
		resp := g.do(t, &abi.Request{Method: "GET", URL: "/fetch-go", Route: "/fetch-go"})
		if resp.Status != 503 || !strings.Contains(string(resp.Body), "UPSTREAM is not set") {
			t.Errorf("without UPSTREAM: %d %s", resp.Status, resp.Body)
		}
		h.config = map[string]string{"UPSTREAM": "http://127.0.0.1:8090/data?x=1"}
		resp = g.do(t, &abi.Request{Method: "GET", URL: "/fetch-go", Route: "/fetch-go"})
		if resp.Status != 203 || string(resp.Body) != "a,b\n" || header(resp, "Content-Type") != "text/csv" || header(resp, "X-Upstream") != h.config["UPSTREAM"] {
			t.Errorf("fetched: %d %q %v", resp.Status, resp.Body, resp.Header)
		}
		if got == nil || got.Method != "GET" || got.URL != "http://127.0.0.1:8090/data?x=1" {
			t.Errorf("the host was asked to fetch %+v", got)
		}
		h.fetch = func(*abi.Request) (*abi.Response, int, string) {
			return nil, abi.ErrDenied, "127.0.0.1 is not in [allow] http"
		}
		resp = g.do(t, &abi.Request{Method: "GET", URL: "/fetch-go", Route: "/fetch-go"})
		if resp.Status != 502 || !strings.Contains(string(resp.Body), "http_fetch: denied: 127.0.0.1 is not in [allow] http") {
			t.Errorf("denied: %d %s", resp.Status, resp.Body)
		}
	},
}

func header(resp *abi.Response, name string) string {
	for _, h := range resp.Header {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}

// TestPooledExamples runs every pooled example's module.
func TestPooledExamples(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range all {
		if !bytes.Contains(ex.Manifest, []byte(`abi = "pooled"`)) {
			continue
		}
		t.Run(ex.Name, func(t *testing.T) {
			t.Parallel()
			check, ok := pooledChecks[ex.Name]
			if !ok {
				t.Fatalf("no check for pooled example %s: add one to pooledChecks", ex.Name)
			}
			check(t, ex.Module)
		})
	}
}
