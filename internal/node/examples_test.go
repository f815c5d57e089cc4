package node_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/examples"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// exampleChecks says, for every example, what to ask it and what it must
// answer. An example without an entry fails TestExamples: add one.
var exampleChecks = map[string]func(t *testing.T, env *nodetest.Env){
	"hello-c": func(t *testing.T, env *nodetest.Env) {
		wantBody(t, env, "/hello-c/world", "Hello from C on mote!\nYou asked for /world\n")
		wantBody(t, env, "/hello-c", "Hello from C on mote!\n")
	},
	"hello-go": func(t *testing.T, env *nodetest.Env) {
		wantBody(t, env, "/hello-go/world", "Hello from Go on mote!\nYou asked for /world\n")
	},
	"echo-go": func(t *testing.T, env *nodetest.Env) {
		status, h, body := env.Do(t, "POST", "/echo-go/some/path?a=1&a=2&b=x%20y",
			http.Header{"X-Custom": {"custom value"}, "Content-Type": {"text/plain"}}, strings.NewReader("the body"))
		if status != 200 || h.Get("Content-Type") != "application/json" || h.Get("X-Echo") != "yes" {
			t.Fatalf("status %d headers %v body %q", status, h, body)
		}
		var got struct {
			Method    string              `json:"method"`
			Path      string              `json:"path"`
			Query     map[string][]string `json:"query"`
			Headers   map[string]string   `json:"headers"`
			BodyBytes int                 `json:"body_bytes"`
			Body      *string             `json:"body"`
			RequestID string              `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		if got.Method != "POST" || got.Path != "/some/path" || got.BodyBytes != 8 || got.Body == nil || *got.Body != "the body" {
			t.Errorf("echo: %+v", got)
		}
		if strings.Join(got.Query["a"], ",") != "1,2" || strings.Join(got.Query["b"], ",") != "x y" {
			t.Errorf("echo query %v", got.Query)
		}
		if got.Headers["X-Custom"] != "custom value" || got.Headers["Content-Type"] != "text/plain" {
			t.Errorf("echo headers %v", got.Headers)
		}
		if got.RequestID != h.Get("X-Request-Id") {
			t.Errorf("echo request id %q, response X-Request-Id %q", got.RequestID, h.Get("X-Request-Id"))
		}
		status, _, _ = env.Get(t, "/echo-go?status=418")
		if status != 418 {
			t.Errorf("?status=418 gave %d", status)
		}
	},
	"hello-sdk": func(t *testing.T, env *nodetest.Env) {
		wantBody(t, env, "/hello-sdk/world", "Hello from Go on mote!\nYou asked for /world\n")
	},
	"counter-go": func(t *testing.T, env *nodetest.Env) {
		// call-go's check may have counted already: count from wherever it is.
		var got struct{ Count int }
		status, _, body := env.Get(t, "/counter-go")
		if status != 200 || json.Unmarshal([]byte(body), &got) != nil {
			t.Fatalf("GET: %d %q", status, body)
		}
		start := got.Count
		for i := 1; i <= 3; i++ {
			status, _, body := env.Do(t, "POST", "/counter-go", nil, nil)
			if status != 200 || body != fmt.Sprintf(`{"count":%d}`+"\n", start+i) {
				t.Fatalf("POST %d: %d %q, want count %d", i, status, body, start+i)
			}
		}
		wantBody(t, env, "/counter-go", fmt.Sprintf(`{"count":%d}`+"\n", start+3))
	},
	"call-go": func(t *testing.T, env *nodetest.Env) {
		// counter-go is deployed too (every example is, before any check).
		status, _, body := env.Do(t, "POST", "/call-go", nil, nil)
		if status != 200 || !strings.Contains(body, `"service":"counter-go"`) || !strings.Contains(body, `"status":200`) || !strings.Contains(body, `"count":`) {
			t.Fatalf("call-go: %d %q", status, body)
		}
	},
	"todo-go": func(t *testing.T, env *nodetest.Env) {
		status, _, body := env.Do(t, "POST", "/todo-go/todos", http.Header{"Content-Type": {"application/json"}}, strings.NewReader(`{"title":"write tests"}`))
		var todo struct {
			ID    string `json:"id"`
			Title string `json:"title"`
			Done  bool   `json:"done"`
		}
		if status != 201 || json.Unmarshal([]byte(body), &todo) != nil || todo.ID == "" || todo.Title != "write tests" {
			t.Fatalf("create: %d %q", status, body)
		}
		status, _, body = env.Do(t, "PUT", "/todo-go/todos/"+todo.ID, nil, strings.NewReader(`{"title":"write tests","done":true}`))
		if status != 200 || !strings.Contains(body, `"done":true`) {
			t.Fatalf("update: %d %q", status, body)
		}
		if status, _, body = env.Get(t, "/todo-go/todos"); status != 200 || !strings.Contains(body, todo.ID) {
			t.Fatalf("list: %d %q", status, body)
		}
		if status, _, body = env.Do(t, "POST", "/todo-go/todos", nil, strings.NewReader(`{"title":""}`)); status != 400 || !strings.Contains(body, `"error"`) {
			t.Errorf("invalid todo: %d %q", status, body)
		}
		if status, _, _ = env.Do(t, "DELETE", "/todo-go/todos/"+todo.ID, nil, nil); status != 204 {
			t.Errorf("delete: %d", status)
		}
		if status, _, _ = env.Get(t, "/todo-go/todos/"+todo.ID); status != 404 {
			t.Errorf("get after delete: %d", status)
		}
	},
	"fetch-go": func(t *testing.T, env *nodetest.Env) {
		if status, _, body := env.Get(t, "/fetch-go"); status != 503 || !strings.Contains(body, "UPSTREAM") {
			t.Errorf("unconfigured: %d %q", status, body)
		}
		upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "from upstream "+r.URL.Path)
		}))
		defer upstream.Close()
		if err := env.Client.SetConfig(t.Context(), "fetch-go", map[string]string{"UPSTREAM": upstream.URL + "/data"}, false); err != nil {
			t.Fatal(err)
		}
		nodetest.Eventually(t, 5*time.Second, "fetch-go to see its config", func() bool {
			status, _, body := env.Get(t, "/fetch-go")
			return status == 200 && body == "from upstream /data"
		})
	},
}

func wantBody(t *testing.T, env *nodetest.Env, path, want string) {
	t.Helper()
	status, _, body := env.Get(t, path)
	if status != 200 || body != want {
		t.Errorf("GET %s: %d %q, want 200 %q", path, status, body, want)
	}
}

// TestExamples deploys every example the way `mote deploy` packages it and
// calls it through the gateway.
func TestExamples(t *testing.T) {
	t.Parallel()
	all, err := examples.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < len(exampleChecks) {
		t.Errorf("examples.All() returned %d examples, fewer than the %d this test knows", len(all), len(exampleChecks))
	}
	env := nodetest.Start(t)
	// Deploy every example first: some call others.
	for _, ex := range all {
		res, err := env.Client.Deploy(t.Context(), client.Package{Manifest: ex.Manifest, Module: ex.Module, Files: ex.Files})
		if err != nil {
			t.Fatalf("deploy %s: %v", ex.Name, err)
		}
		if res.Version.Number != 1 || res.Unchanged {
			t.Errorf("deploy %s: %+v", ex.Name, res.Version)
		}
	}
	for _, ex := range all {
		t.Run(ex.Name, func(t *testing.T) {
			check, ok := exampleChecks[ex.Name]
			if !ok {
				t.Fatalf("no check for example %s: add one to exampleChecks", ex.Name)
			}
			check(t, env)
		})
	}
}
