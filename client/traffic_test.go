package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/mote-run/mote/api"
)

// TestTraffic checks the request each traffic, rollback and scale call
// sends and how it reads the answer.
func TestTraffic(t *testing.T) {
	f := &accessFake{fakeNode: newFakeNode(t)}
	for _, p := range []string{"/v1/services/{name}/traffic", "/v1/services/{name}/rollback", "/v1/services/{name}/scale"} {
		f.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, f.status, f.answer) })
	}
	c := f.client(t)
	split := []api.TrafficSplit{{Version: 3, Weight: 90}, {Version: 4, Weight: 10, Tag: "canary"}}
	lo, hi := 1, 50
	scale := api.Scale{Min: &lo, Max: &hi}
	svc := api.Service{Name: "hello", Route: "/hello", Version: 3, Latest: 4, Traffic: split, Stable: []int{2, 3}, Scale: &scale}

	tests := []struct {
		name         string
		call         func(ctx context.Context) (any, error)
		method, path string
		body         any
	}{
		{"set traffic", func(ctx context.Context) (any, error) { return c.SetTraffic(ctx, "hello", split) },
			"PUT", "/v1/services/hello/traffic", &api.TrafficRequest{Traffic: split}},
		{"rollback", func(ctx context.Context) (any, error) { return c.Rollback(ctx, "hello") },
			"POST", "/v1/services/hello/rollback", nil},
		{"set scale", func(ctx context.Context) (any, error) { return c.SetScale(ctx, "hello", scale) },
			"PUT", "/v1/services/hello/scale", &scale},
		{"clear scale", func(ctx context.Context) (any, error) { return c.ClearScale(ctx, "hello") },
			"DELETE", "/v1/services/hello/scale", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.status, f.answer = 200, svc
			got, err := tt.call(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("sent %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.Path != tt.path {
				t.Errorf("sent %s %s, want %s %s", r.Method, r.Path, tt.method, tt.path)
			}
			if tt.body != nil {
				gotBody := reflect.New(reflect.TypeOf(tt.body).Elem()).Interface()
				if err := json.Unmarshal(r.Body, gotBody); err != nil || !reflect.DeepEqual(gotBody, tt.body) {
					t.Errorf("body %s (%v), want %+v", r.Body, err, tt.body)
				}
			}
			if !reflect.DeepEqual(got, svc) {
				t.Errorf("got %+v, want %+v", got, svc)
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		f.status, f.answer = 409, api.ErrorBody{Error: &api.Error{Code: api.CodeConflict, Message: "hello has no earlier version"}}
		_, err := c.Rollback(t.Context(), "hello")
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != api.CodeConflict || ae.Status != 409 {
			t.Errorf("err = %v, want a 409 conflict", err)
		}
		f.requests()
		if _, err := c.SetTraffic(t.Context(), "Bad Name", split); !errors.Is(err, ErrInvalidName) {
			t.Errorf("bad name: %v", err)
		}
		if _, err := c.Deploy(t.Context(), Package{Manifest: []byte("x"), Module: []byte("y")}, Tag("Not A Tag")); err == nil {
			t.Error("a bad tag was sent")
		}
		if reqs := f.requests(); len(reqs) != 0 {
			t.Errorf("sent %d requests for calls refused locally", len(reqs))
		}
	})
}
