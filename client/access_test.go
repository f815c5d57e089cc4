package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
)

// accessFake answers the access routes of a fake node with a canned
// answer, so each test checks the request the SDK sent and how it reads
// the answer.
type accessFake struct {
	*fakeNode
	status int
	answer any
}

func newAccessFake(t *testing.T) *accessFake {
	f := &accessFake{fakeNode: newFakeNode(t)}
	for _, p := range []string{"/v1/plans", "/v1/plans/{name}", "/v1/keys", "/v1/keys/{id}", "/v1/keys/{id}/{action}", "/v1/jwt-keys", "/v1/jwt-keys/{id}"} {
		f.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			if f.answer == nil {
				w.WriteHeader(f.status)
				return
			}
			writeJSON(w, f.status, f.answer)
		})
	}
	return f
}

func TestAccess(t *testing.T) {
	f := newAccessFake(t)
	c := f.client(t)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	plan := api.Plan{Name: "gold", Rate: "100/s", Burst: 200, Quota: "1000000/month", Created: now, Updated: now}
	key := api.Key{ID: "0123456789ab", App: "shop", Plan: "gold", Prefix: "mk_0123456789ab_abcd", Created: now}
	secret := api.KeySecret{Key: key, Secret: "mk_0123456789ab_" + strings.Repeat("ab", 32)}
	jwtKey := api.JWTKey{ID: "hs.1", Alg: "HS256", Created: now}
	expires := now.Add(time.Hour)

	tests := []struct {
		name         string
		status       int
		answer       any
		call         func(ctx context.Context) (any, error)
		method, path string
		query        string
		body         any // what the request body must decode to, if not nil
		want         any
	}{
		{"create plan", 201, plan, func(ctx context.Context) (any, error) {
			return c.CreatePlan(ctx, api.Plan{Name: "gold", Rate: "100/s", Burst: 200, Quota: "1000000/month"})
		},
			"POST", "/v1/plans", "", &api.Plan{Name: "gold", Rate: "100/s", Burst: 200, Quota: "1000000/month"}, plan},
		{"plans", 200, []api.Plan{plan}, func(ctx context.Context) (any, error) { return c.Plans(ctx) },
			"GET", "/v1/plans", "", nil, []api.Plan{plan}},
		{"plan", 200, plan, func(ctx context.Context) (any, error) { return c.Plan(ctx, "gold") },
			"GET", "/v1/plans/gold", "", nil, plan},
		{"update plan", 200, plan, func(ctx context.Context) (any, error) {
			return c.UpdatePlan(ctx, api.Plan{Name: "gold", Rate: "5/min"})
		},
			"PUT", "/v1/plans/gold", "", &api.Plan{Name: "gold", Rate: "5/min"}, plan},
		{"delete plan", 204, nil, func(ctx context.Context) (any, error) { return nil, c.DeletePlan(ctx, "gold") },
			"DELETE", "/v1/plans/gold", "", nil, nil},
		{"create key", 201, secret, func(ctx context.Context) (any, error) {
			return c.CreateKey(ctx, api.KeyRequest{App: "shop", Plan: "gold", Services: []string{"hello"}, Expires: &expires})
		}, "POST", "/v1/keys", "", &api.KeyRequest{App: "shop", Plan: "gold", Services: []string{"hello"}, Expires: &expires}, secret},
		{"keys", 200, []api.Key{key}, func(ctx context.Context) (any, error) { return c.Keys(ctx, "") },
			"GET", "/v1/keys", "", nil, []api.Key{key}},
		{"keys of an app", 200, []api.Key{}, func(ctx context.Context) (any, error) { return c.Keys(ctx, "shop") },
			"GET", "/v1/keys", "app=shop", nil, []api.Key{}},
		{"key", 200, key, func(ctx context.Context) (any, error) { return c.Key(ctx, key.ID) },
			"GET", "/v1/keys/0123456789ab", "", nil, key},
		{"revoke", 200, key, func(ctx context.Context) (any, error) { return c.RevokeKey(ctx, key.ID) },
			"POST", "/v1/keys/0123456789ab/revoke", "", nil, key},
		{"rotate with grace", 200, secret, func(ctx context.Context) (any, error) { return c.RotateKey(ctx, key.ID, 90*time.Minute) },
			"POST", "/v1/keys/0123456789ab/rotate", "", &api.RotateRequest{Grace: "1h30m0s"}, secret},
		{"rotate without grace", 200, secret, func(ctx context.Context) (any, error) { return c.RotateKey(ctx, key.ID, 0) },
			"POST", "/v1/keys/0123456789ab/rotate", "", &api.RotateRequest{}, secret},
		{"delete key", 204, nil, func(ctx context.Context) (any, error) { return nil, c.DeleteKey(ctx, key.ID) },
			"DELETE", "/v1/keys/0123456789ab", "", nil, nil},
		{"put JWT key", 200, jwtKey, func(ctx context.Context) (any, error) {
			return c.PutJWTKey(ctx, "hs.1", api.JWTKeyRequest{Alg: "HS256", Secret: secretValue})
		}, "PUT", "/v1/jwt-keys/hs.1", "", &api.JWTKeyRequest{Alg: "HS256", Secret: secretValue}, jwtKey},
		{"JWT keys", 200, []api.JWTKey{jwtKey}, func(ctx context.Context) (any, error) { return c.JWTKeys(ctx) },
			"GET", "/v1/jwt-keys", "", nil, []api.JWTKey{jwtKey}},
		{"delete JWT key", 204, nil, func(ctx context.Context) (any, error) { return nil, c.DeleteJWTKey(ctx, "a b") },
			"DELETE", "/v1/jwt-keys/a%20b", "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.status, f.answer = tt.status, tt.answer
			got, err := tt.call(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("sent %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.Path != tt.path || r.RawQuery != tt.query || r.Auth != "Bearer "+fakeToken {
				t.Errorf("sent %s %s?%s auth %q, want %s %s?%s", r.Method, r.Path, r.RawQuery, r.Auth, tt.method, tt.path, tt.query)
			}
			if tt.body != nil {
				if r.ContentType != "application/json" {
					t.Errorf("Content-Type %q", r.ContentType)
				}
				gotBody := reflect.New(reflect.TypeOf(tt.body).Elem()).Interface()
				dec := json.NewDecoder(strings.NewReader(string(r.Body)))
				dec.DisallowUnknownFields()
				if err := dec.Decode(gotBody); err != nil || !reflect.DeepEqual(gotBody, tt.body) {
					t.Errorf("body %s (%v), want %+v", r.Body, err, tt.body)
				}
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestAccessErrors: the node's refusals come back as *api.Error; bad
// arguments are refused before anything is sent, and an argument that may
// be a key is never repeated.
func TestAccessErrors(t *testing.T) {
	f := newAccessFake(t)
	c := f.client(t)
	ctx := t.Context()

	f.status, f.answer = 409, api.ErrorBody{Error: &api.Error{Code: api.CodeConflict, Message: "plan gold is used by 2 keys", Hint: "revoke them"}}
	err := c.DeletePlan(ctx, "gold")
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeConflict || ae.Status != 409 || ae.Hint != "revoke them" {
		t.Errorf("DeletePlan: %v, want the conflict", err)
	}
	f.status, f.answer = 404, api.ErrorBody{Error: &api.Error{Code: api.CodeNotFound, Message: "no plan named ghost"}}
	if _, err := c.CreateKey(ctx, api.KeyRequest{App: "shop", Plan: "ghost"}); !errors.As(err, &ae) || ae.Code != api.CodeNotFound {
		t.Errorf("CreateKey: %v, want not found", err)
	}
	f.requests()

	wholeKey := "mk_0123456789ab_" + strings.Repeat("cd", 32)
	for _, tt := range []struct {
		name string
		call func() error
		want error
	}{
		{"plan name", func() error { _, err := c.CreatePlan(ctx, api.Plan{Name: "Gold"}); return err }, ErrInvalidPlan},
		{"empty plan name", func() error { _, err := c.Plan(ctx, ""); return err }, ErrInvalidPlan},
		{"plan path", func() error { return c.DeletePlan(ctx, "../keys") }, ErrInvalidPlan},
		{"update plan", func() error { _, err := c.UpdatePlan(ctx, api.Plan{}); return err }, ErrInvalidPlan},
		{"key id", func() error { _, err := c.Key(ctx, "XYZ"); return err }, ErrInvalidKeyID},
		{"whole key", func() error { _, err := c.RevokeKey(ctx, wholeKey); return err }, ErrInvalidKeyID},
		{"rotate whole key", func() error { _, err := c.RotateKey(ctx, wholeKey, 0); return err }, ErrInvalidKeyID},
		{"delete uppercase id", func() error { return c.DeleteKey(ctx, "0123456789AB") }, ErrInvalidKeyID},
		{"jwt id", func() error { return c.DeleteJWTKey(ctx, "..") }, ErrInvalidJWTKeyID},
		{"empty jwt id", func() error {
			_, err := c.PutJWTKey(ctx, "", api.JWTKeyRequest{Alg: "HS256", Secret: secretValue})
			return err
		}, ErrInvalidJWTKeyID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), wholeKey[20:]) || strings.Contains(err.Error(), secretValue) {
				t.Errorf("the error repeats a secret: %v", err)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("sent %d requests for a bad argument", n)
			}
		})
	}
}
