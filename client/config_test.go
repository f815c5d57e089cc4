package client

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
)

// secretValue is a secret the config tests set; it must never come back.
const secretValue = "hunter2-the-secret-value"

// TestConfig sets, lists and deletes config values against the fake node,
// checking the requests the SDK sends.
func TestConfig(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	ctx := t.Context()
	if _, err := c.Deploy(ctx, Package{Manifest: []byte(`name = "api"`), Module: []byte("wasm")}); err != nil {
		t.Fatal(err)
	}
	f.requests()

	t.Run("set", func(t *testing.T) {
		values := map[string]string{"GREETING": "hello", "WITH_EQUALS": "a=b=c", "EMPTY": ""}
		if err := c.SetConfig(ctx, "api", values, false); err != nil {
			t.Fatal(err)
		}
		reqs := f.requests()
		if len(reqs) != 1 {
			t.Fatalf("sent %d requests, want 1", len(reqs))
		}
		r := reqs[0]
		if r.Method != "PUT" || r.Path != "/v1/services/api/config" || r.ContentType != "application/json" || r.Auth != "Bearer "+fakeToken {
			t.Errorf("sent %s %s type %q auth %q", r.Method, r.Path, r.ContentType, r.Auth)
		}
		var got api.ConfigRequest
		if err := json.Unmarshal(r.Body, &got); err != nil || !reflect.DeepEqual(got, api.ConfigRequest{Values: values}) {
			t.Errorf("body %s (%v), want the values, not secret", r.Body, err)
		}
	})
	t.Run("set secret", func(t *testing.T) {
		if err := c.SetConfig(ctx, "api", map[string]string{"TOKEN": secretValue}, true); err != nil {
			t.Fatal(err)
		}
		var got api.ConfigRequest
		if err := json.Unmarshal(f.requests()[0].Body, &got); err != nil || !got.Secret || got.Values["TOKEN"] != secretValue {
			t.Errorf("body %+v (%v), want the secret flagged", got, err)
		}
	})
	t.Run("list", func(t *testing.T) {
		entries, err := c.Config(ctx, "api")
		if err != nil {
			t.Fatal(err)
		}
		r := f.requests()[0]
		if r.Method != "GET" || r.Path != "/v1/services/api/config" {
			t.Errorf("sent %s %s", r.Method, r.Path)
		}
		var keys []string
		for _, e := range entries {
			keys = append(keys, e.Key)
			if e.Updated.IsZero() {
				t.Errorf("%s: no Updated time", e.Key)
			}
		}
		if want := []string{"EMPTY", "GREETING", "TOKEN", "WITH_EQUALS"}; !reflect.DeepEqual(keys, want) {
			t.Fatalf("keys %v, want %v", keys, want)
		}
		if e := entries[1]; e.Value != "hello" || e.Secret {
			t.Errorf("GREETING: %+v", e)
		}
		if e := entries[2]; e.Value != "" || !e.Secret {
			t.Errorf("TOKEN: %+v, want a secret with no value", e)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := c.DeleteConfig(ctx, "api", "GREETING"); err != nil {
			t.Fatal(err)
		}
		if r := f.requests()[0]; r.Method != "DELETE" || r.Path != "/v1/services/api/config/GREETING" {
			t.Errorf("sent %s %s", r.Method, r.Path)
		}
		entries, err := c.Config(ctx, "api")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Key == "GREETING" {
				t.Errorf("GREETING is still listed: %+v", entries)
			}
		}
		f.requests()
	})
	t.Run("delete escapes the key", func(t *testing.T) {
		err := c.DeleteConfig(ctx, "api", "a/b c")
		wantAPIError(t, err, 404, api.CodeNotFound, "a/b c")
		if r := f.requests()[0]; r.Path != "/v1/services/api/config/a%2Fb%20c" {
			t.Errorf("path %q", r.Path)
		}
	})
	t.Run("empty list", func(t *testing.T) {
		if _, err := c.Deploy(ctx, Package{Manifest: []byte(`name = "bare"`), Module: []byte("wasm")}); err != nil {
			t.Fatal(err)
		}
		entries, err := c.Config(ctx, "bare")
		if err != nil || len(entries) != 0 {
			t.Errorf("Config of a service with none: %+v, %v", entries, err)
		}
		f.requests()
	})
}

func TestConfigErrors(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	ctx := t.Context()
	if _, err := c.Deploy(ctx, Package{Manifest: []byte(`name = "api"`), Module: []byte("wasm")}); err != nil {
		t.Fatal(err)
	}
	f.requests()

	t.Run("unknown service", func(t *testing.T) {
		wantAPIError(t, c.SetConfig(ctx, "ghost", map[string]string{"A": "1"}, false), 404, api.CodeNotFound, "ghost")
		_, err := c.Config(ctx, "ghost")
		wantAPIError(t, err, 404, api.CodeNotFound, "ghost")
		wantAPIError(t, c.DeleteConfig(ctx, "ghost", "A"), 404, api.CodeNotFound, "ghost")
	})
	t.Run("unknown key", func(t *testing.T) {
		wantAPIError(t, c.DeleteConfig(ctx, "api", "NOPE"), 404, api.CodeNotFound, "NOPE")
	})
	t.Run("invalid key, secret value not echoed", func(t *testing.T) {
		err := c.SetConfig(ctx, "api", map[string]string{"bad key": secretValue}, true)
		wantAPIError(t, err, 400, api.CodeBadRequest, "bad key")
		if strings.Contains(err.Error(), secretValue) {
			t.Errorf("error %q shows the secret", err)
		}
	})
	f.requests()

	local := []struct {
		name string
		err  error
		want error
	}{
		{"Set bad name", c.SetConfig(ctx, "API", map[string]string{"A": "1"}, false), ErrInvalidName},
		{"Set no values", c.SetConfig(ctx, "api", nil, false), ErrInvalidConfig},
		{"Set empty key", c.SetConfig(ctx, "api", map[string]string{"": secretValue}, true), ErrInvalidConfig},
		{"Config bad name", func() error { _, err := c.Config(ctx, "a/b"); return err }(), ErrInvalidName},
		{"Delete bad name", c.DeleteConfig(ctx, "..", "A"), ErrInvalidName},
		{"Delete empty key", c.DeleteConfig(ctx, "api", ""), ErrInvalidConfig},
	}
	for _, tt := range local {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: error %v, want %v", tt.name, tt.err, tt.want)
		}
		if tt.err != nil && strings.Contains(tt.err.Error(), secretValue) {
			t.Errorf("%s: error %q shows the secret", tt.name, tt.err)
		}
	}
	if reqs := f.requests(); len(reqs) != 0 {
		t.Errorf("bad arguments reached the node: %+v", reqs)
	}
}
