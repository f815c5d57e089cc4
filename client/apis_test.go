package client

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
)

// TestAPIManagement checks the request each API-management call sends and
// how it reads the answer.
func TestAPIManagement(t *testing.T) {
	f := &accessFake{fakeNode: newFakeNode(t)}
	for _, p := range []string{"/v1/apis", "/v1/services/{name}/stats", "/v1/services/{name}/lifecycle", "/v1/services/{name}/openapi"} {
		f.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, f.status, f.answer) })
	}
	c := f.client(t)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	stats := api.Stats{Service: "hello", Since: now.Add(-time.Hour), Until: now, By: "app",
		Groups: []api.StatsGroup{{Key: "shop", Requests: 10, RPS: 0.01, P50: 1.5, P95: 3, P99: 4}}}
	sunset := now.AddDate(1, 0, 0)
	lc := api.Lifecycle{State: api.LifecycleDeprecated, Sunset: &sunset, Link: "https://example.com/v2"}
	svc := api.Service{Name: "hello", Route: "/hello", Version: 2, Lifecycle: &lc}
	catalog := []api.APIDoc{{Service: "hello", Version: 2, Route: "/hello", Title: "Hello", Lifecycle: "deprecated"}}
	doc := json.RawMessage(`{"openapi":"3.1.0"}`)

	tests := []struct {
		name                string
		answer              any
		call                func(ctx context.Context) (any, error)
		method, path, query string
		body                any
		want                any
	}{
		{"stats", stats, func(ctx context.Context) (any, error) { return c.Stats(ctx, "hello", 15*time.Minute, "app") },
			"GET", "/v1/services/hello/stats", "by=app&since=15m0s", nil, stats},
		{"stats, defaults", stats, func(ctx context.Context) (any, error) { return c.Stats(ctx, "hello", 0, "") },
			"GET", "/v1/services/hello/stats", "", nil, stats},
		{"set lifecycle", svc, func(ctx context.Context) (any, error) { return c.SetLifecycle(ctx, "hello", lc) },
			"PUT", "/v1/services/hello/lifecycle", "", &lc, svc},
		{"clear lifecycle", svc, func(ctx context.Context) (any, error) { return c.ClearLifecycle(ctx, "hello") },
			"DELETE", "/v1/services/hello/lifecycle", "", nil, svc},
		{"catalog", catalog, func(ctx context.Context) (any, error) { return c.APIs(ctx) },
			"GET", "/v1/apis", "", nil, catalog},
		{"document", doc, func(ctx context.Context) (any, error) { return c.APIDocument(ctx, "hello") },
			"GET", "/v1/services/hello/openapi", "", nil, doc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.status, f.answer = 200, tt.answer
			got, err := tt.call(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("sent %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.Path != tt.path || r.RawQuery != tt.query {
				t.Errorf("sent %s %s?%s, want %s %s?%s", r.Method, r.Path, r.RawQuery, tt.method, tt.path, tt.query)
			}
			if tt.body != nil {
				gotBody := reflect.New(reflect.TypeOf(tt.body).Elem()).Interface()
				if err := json.Unmarshal(r.Body, gotBody); err != nil || !reflect.DeepEqual(gotBody, tt.body) {
					t.Errorf("body %s (%v), want %+v", r.Body, err, tt.body)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := c.Stats(t.Context(), "Bad Name", 0, ""); err == nil {
		t.Error("a bad service name was sent")
	}
}
