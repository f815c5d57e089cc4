package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/mote-run/mote/api"
)

// Errors of the API management calls, returned before anything is sent.
var (
	// ErrInvalidPlan: a plan name is not 1-63 characters of a-z, 0-9 and -.
	ErrInvalidPlan = errors.New("invalid plan name")
	// ErrInvalidKeyID: an API key ID is not 12 lowercase hex digits. The
	// error never repeats what was given: it may be a whole key.
	ErrInvalidKeyID = errors.New("invalid API key ID")
	// ErrInvalidJWTKeyID: a JWT key ID is empty, "." or "..".
	ErrInvalidJWTKeyID = errors.New("invalid JWT key ID")
)

// CreatePlan creates a plan: the limits the keys on it get. Rate is "N/s",
// "N/min" or "N/hour"; Burst (0 means Rate's N) needs a Rate; Quota is
// "N/day" or "N/month"; "" means no limit. Created and Updated are set by
// the node and ignored here. The plan returned has Rate and Quota in their
// canonical form.
//
// A plan of that name already existing is an *api.Error with Code
// api.CodeConflict; a bad field an api.CodeBadRequest naming it. An invalid
// name is ErrInvalidPlan, without asking the node.
//
//	p, err := c.CreatePlan(ctx, api.Plan{Name: "gold", Rate: "100/s", Burst: 200, Quota: "1000000/month"})
func (c *Client) CreatePlan(ctx context.Context, p api.Plan) (api.Plan, error) {
	if err := checkPlan(p.Name); err != nil {
		return api.Plan{}, err
	}
	var out api.Plan
	err := c.postJSON(ctx, http.MethodPost, "/v1/plans", p, &out)
	return out, err
}

// Plans lists every plan, sorted by name; empty when there is none.
func (c *Client) Plans(ctx context.Context) ([]api.Plan, error) {
	var out []api.Plan
	err := c.callJSON(ctx, request{method: http.MethodGet, path: "/v1/plans"}, &out)
	return out, err
}

// Plan returns one plan. An unknown plan is an *api.Error with Code
// api.CodeNotFound; an invalid name is ErrInvalidPlan.
func (c *Client) Plan(ctx context.Context, name string) (api.Plan, error) {
	if err := checkPlan(name); err != nil {
		return api.Plan{}, err
	}
	var out api.Plan
	err := c.callJSON(ctx, request{method: http.MethodGet, path: "/v1/plans/" + url.PathEscape(name)}, &out)
	return out, err
}

// UpdatePlan replaces the limits of plan p.Name with p's (a field left
// zero removes that limit); the plan keeps its Created time. Keys on the
// plan get the new limits at once.
//
// An unknown plan is an *api.Error with Code api.CodeNotFound (create it
// with CreatePlan); a bad field api.CodeBadRequest. An invalid name is
// ErrInvalidPlan.
func (c *Client) UpdatePlan(ctx context.Context, p api.Plan) (api.Plan, error) {
	if err := checkPlan(p.Name); err != nil {
		return api.Plan{}, err
	}
	var out api.Plan
	err := c.postJSON(ctx, http.MethodPut, "/v1/plans/"+url.PathEscape(p.Name), p, &out)
	return out, err
}

// DeletePlan removes a plan. While keys that are not revoked use it, the
// node refuses with an *api.Error with Code api.CodeConflict saying how
// many; an unknown plan is api.CodeNotFound. An invalid name is
// ErrInvalidPlan.
func (c *Client) DeletePlan(ctx context.Context, name string) error {
	if err := checkPlan(name); err != nil {
		return err
	}
	return c.callJSON(ctx, request{method: http.MethodDelete, path: "/v1/plans/" + url.PathEscape(name)}, nil)
}

// CreateKey creates an API key for req.App on plan req.Plan (which must
// exist), valid for req.Services (all services when empty) until
// req.Expires (never when nil). The returned KeySecret's Secret is the key
// callers present, as X-API-Key or Authorization: Bearer; this is the only
// time it is shown: the node keeps only its hash.
//
// An unknown plan is an *api.Error with Code api.CodeNotFound; a bad app
// or service name, or an expiry in the past, api.CodeBadRequest.
//
//	k, err := c.CreateKey(ctx, api.KeyRequest{App: "shop", Plan: "gold"})
//	fmt.Println(k.Secret) // mk_...
func (c *Client) CreateKey(ctx context.Context, req api.KeyRequest) (api.KeySecret, error) {
	var out api.KeySecret
	err := c.postJSON(ctx, http.MethodPost, "/v1/keys", req, &out)
	return out, err
}

// Keys lists API keys, those of app only unless app is "", sorted by app
// and then creation; empty when there is none. No listing ever holds a
// key's secret or hash.
func (c *Client) Keys(ctx context.Context, app string) ([]api.Key, error) {
	r := request{method: http.MethodGet, path: "/v1/keys"}
	if app != "" {
		r.query = url.Values{"app": {app}}
	}
	var out []api.Key
	err := c.callJSON(ctx, r, &out)
	return out, err
}

// Key returns one API key by ID (the ID column of a listing, not the key
// itself). An unknown ID is an *api.Error with Code api.CodeNotFound; an
// invalid one ErrInvalidKeyID.
func (c *Client) Key(ctx context.Context, id string) (api.Key, error) {
	p, err := keyPath(id, "")
	if err != nil {
		return api.Key{}, err
	}
	var out api.Key
	err = c.callJSON(ctx, request{method: http.MethodGet, path: p}, &out)
	return out, err
}

// RevokeKey revokes an API key: the gateway refuses it from now on. The
// record stays (listed with its Revoked time) until DeleteKey. Revoking a
// revoked key changes nothing and is no error. An unknown ID is an
// *api.Error with Code api.CodeNotFound; an invalid one ErrInvalidKeyID.
func (c *Client) RevokeKey(ctx context.Context, id string) (api.Key, error) {
	p, err := keyPath(id, "/revoke")
	if err != nil {
		return api.Key{}, err
	}
	var out api.Key
	err = c.callJSON(ctx, request{method: http.MethodPost, path: p}, &out)
	return out, err
}

// RotateKey gives an API key a new secret, returned once in the
// KeySecret; the key keeps its ID, app, plan and rate and quota counters.
// The old secret keeps working for grace (at most 30 days; 0 ends it at
// once).
//
// A revoked or expired key cannot be rotated: an *api.Error with Code
// api.CodeConflict. An unknown ID is api.CodeNotFound, a grace out of
// range api.CodeBadRequest, an invalid ID ErrInvalidKeyID.
//
//	k, err := c.RotateKey(ctx, id, time.Hour)
func (c *Client) RotateKey(ctx context.Context, id string, grace time.Duration) (api.KeySecret, error) {
	p, err := keyPath(id, "/rotate")
	if err != nil {
		return api.KeySecret{}, err
	}
	var req api.RotateRequest
	if grace != 0 {
		req.Grace = grace.String()
	}
	var out api.KeySecret
	err = c.postJSON(ctx, http.MethodPost, p, req, &out)
	return out, err
}

// DeleteKey removes an API key for good; unlike RevokeKey it leaves no
// record. An unknown ID is an *api.Error with Code api.CodeNotFound; an
// invalid one ErrInvalidKeyID.
func (c *Client) DeleteKey(ctx context.Context, id string) error {
	p, err := keyPath(id, "")
	if err != nil {
		return err
	}
	return c.callJSON(ctx, request{method: http.MethodDelete, path: p}, nil)
}

// PutJWTKey adds or replaces the JWT verification key that tokens name as
// "kid" id. For RS256 and ES256, req.PEM is the public key (a PEM "PUBLIC
// KEY" block or a JWK); for HS256, req.Secret is the shared secret (at
// least 32 bytes), which the node stores and never returns.
//
// A key the node cannot use is an *api.Error with Code api.CodeBadRequest
// naming the field (never quoting a secret). An empty, "." or ".." id is
// ErrInvalidJWTKeyID.
func (c *Client) PutJWTKey(ctx context.Context, id string, req api.JWTKeyRequest) (api.JWTKey, error) {
	p, err := jwtKeyPath(id)
	if err != nil {
		return api.JWTKey{}, err
	}
	var out api.JWTKey
	err = c.postJSON(ctx, http.MethodPut, p, req, &out)
	return out, err
}

// JWTKeys lists the JWT verification keys, sorted by ID; empty when there
// is none. An HS256 key's secret is never listed.
func (c *Client) JWTKeys(ctx context.Context) ([]api.JWTKey, error) {
	var out []api.JWTKey
	err := c.callJSON(ctx, request{method: http.MethodGet, path: "/v1/jwt-keys"}, &out)
	return out, err
}

// DeleteJWTKey removes a JWT verification key; tokens naming it fail from
// then on. An unknown id is an *api.Error with Code api.CodeNotFound; an
// empty, "." or ".." id ErrInvalidJWTKeyID.
func (c *Client) DeleteJWTKey(ctx context.Context, id string) error {
	p, err := jwtKeyPath(id)
	if err != nil {
		return err
	}
	return c.callJSON(ctx, request{method: http.MethodDelete, path: p}, nil)
}

// checkPlan validates a plan name, the rule of service names.
func checkPlan(name string) error {
	if checkName(name) != nil {
		return fmt.Errorf("%w %q: names are 1-63 characters of a-z, 0-9 and -", ErrInvalidPlan, name)
	}
	return nil
}

// keyPath is the path of API key id plus rest.
func keyPath(id, rest string) (string, error) {
	if len(id) != 12 {
		return "", fmt.Errorf("%w: an ID is 12 lowercase hex digits, as `mote keys ls` shows it (not the key itself)", ErrInvalidKeyID)
	}
	for i := 0; i < len(id); i++ {
		if b := id[i]; !(b >= '0' && b <= '9' || b >= 'a' && b <= 'f') {
			return "", fmt.Errorf("%w: an ID is 12 lowercase hex digits, as `mote keys ls` shows it (not the key itself)", ErrInvalidKeyID)
		}
	}
	return "/v1/keys/" + id + rest, nil
}

// jwtKeyPath is the path of JWT key id. Only ids that cannot be a path
// segment are refused here; the node checks the rest.
func jwtKeyPath(id string) (string, error) {
	if id == "" || id == "." || id == ".." {
		return "", fmt.Errorf("%w %q: give the key's kid", ErrInvalidJWTKeyID, id)
	}
	return "/v1/jwt-keys/" + url.PathEscape(id), nil
}
