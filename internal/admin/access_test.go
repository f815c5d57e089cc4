package admin_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// keyPattern is the shape of an API key.
var keyPattern = regexp.MustCompile(`^mk_([0-9a-f]{12})_[0-9a-f]{64}$`)

// hsSecret is an HS256 secret the tests set; it must never come back.
const hsSecret = "hs256-Zq8vX1-never-shown-0123456789abcdef"

// decodeStrict parses body into v, refusing unknown fields.
func decodeStrict(t *testing.T, body string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("answer is not the JSON expected: %v\n%s", err, body)
	}
}

// call sends an admin request and checks its status, decoding a JSON
// answer into out (when not nil).
func call(t *testing.T, env *nodetest.Env, method, path, body string, want int, out any) string {
	t.Helper()
	status, _, got := admin(t, env, method, path, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, got)
	}
	if out != nil {
		decodeStrict(t, got, out)
	}
	return got
}

// nearNow fails unless tm is within a few seconds of now.
func nearNow(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if d := time.Since(tm); d < -time.Second || d > 10*time.Second {
		t.Errorf("%s is %v, want about now", what, tm)
	}
}

func TestPlansAPI(t *testing.T) {
	t.Parallel()
	env, _ := startNode(t)

	var gold api.Plan
	call(t, env, "POST", "/v1/plans", `{"name": "gold", "rate": "100/s", "burst": 200, "quota": "1000000/month"}`, 201, &gold)
	if gold.Name != "gold" || gold.Rate != "100/s" || gold.Burst != 200 || gold.Quota != "1000000/month" {
		t.Errorf("created %+v", gold)
	}
	nearNow(t, "created", gold.Created)
	call(t, env, "POST", "/v1/plans", `{"name": "free"}`, 201, nil)

	t.Run("list and get", func(t *testing.T) {
		var plans []api.Plan
		call(t, env, "GET", "/v1/plans", "", 200, &plans)
		if len(plans) != 2 || plans[0].Name != "free" || plans[1].Name != "gold" {
			t.Fatalf("plans %+v, want free and gold, sorted", plans)
		}
		var got api.Plan
		call(t, env, "GET", "/v1/plans/gold", "", 200, &got)
		if !got.Created.Equal(gold.Created) || got.Rate != "100/s" {
			t.Errorf("got %+v, want %+v", got, gold)
		}
	})
	t.Run("create twice", func(t *testing.T) {
		status, h, body := admin(t, env, "POST", "/v1/plans", `{"name": "gold", "rate": "1/s"}`)
		wantError(t, status, h, body, 409, api.CodeConflict, "plan gold already exists")
	})
	t.Run("update keeps created", func(t *testing.T) {
		var got api.Plan
		call(t, env, "PUT", "/v1/plans/gold", `{"rate": "50/min"}`, 200, &got)
		if got.Name != "gold" || got.Rate != "50/min" || got.Burst != 0 || got.Quota != "" || !got.Created.Equal(gold.Created) || !got.Updated.After(gold.Updated) {
			t.Errorf("updated %+v (was %+v)", got, gold)
		}
		call(t, env, "GET", "/v1/plans/gold", "", 200, &got)
		if got.Rate != "50/min" {
			t.Errorf("after the update: %+v", got)
		}
	})
	t.Run("delete refused while keys use it", func(t *testing.T) {
		var k1, k2 api.KeySecret
		call(t, env, "POST", "/v1/keys", `{"app": "shop", "plan": "gold"}`, 201, &k1)
		call(t, env, "POST", "/v1/keys", `{"app": "shop", "plan": "gold"}`, 201, &k2)
		status, h, body := admin(t, env, "DELETE", "/v1/plans/gold", "")
		e := wantError(t, status, h, body, 409, api.CodeConflict, "plan gold is used by 2 keys")
		if !strings.Contains(e.Hint, "revoke") {
			t.Errorf("hint %q does not say to revoke them", e.Hint)
		}
		call(t, env, "POST", "/v1/keys/"+k1.ID+"/revoke", "", 200, nil)
		status, h, body = admin(t, env, "DELETE", "/v1/plans/gold", "")
		wantError(t, status, h, body, 409, api.CodeConflict, "used by 1 key that is not revoked")
		call(t, env, "DELETE", "/v1/keys/"+k2.ID, "", 204, nil)
		call(t, env, "DELETE", "/v1/plans/gold", "", 204, nil)
		status, h, body = admin(t, env, "GET", "/v1/plans/gold", "")
		wantError(t, status, h, body, 404, api.CodeNotFound, "no plan named gold")
	})
}

func TestKeysAPI(t *testing.T) {
	t.Parallel()
	env, diag := startNode(t)
	call(t, env, "POST", "/v1/plans", `{"name": "gold", "rate": "10/s"}`, 201, nil)
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)

	var ks api.KeySecret
	body := call(t, env, "POST", "/v1/keys", fmt.Sprintf(`{"app": "shop", "plan": "gold", "services": ["b", "a", "b"], "expires": %q}`, expires.Format(time.RFC3339)), 201, &ks)
	m := keyPattern.FindStringSubmatch(ks.Secret)
	if m == nil || m[1] != ks.ID {
		t.Fatalf("secret %q does not have the key format with id %s", ks.Secret, ks.ID)
	}
	if ks.App != "shop" || ks.Plan != "gold" || !slices.Equal(ks.Services, []string{"a", "b"}) ||
		ks.Expires == nil || !ks.Expires.Equal(expires) || ks.Revoked != nil || ks.Rotated != nil {
		t.Errorf("created %+v", ks.Key)
	}
	if !strings.HasPrefix(ks.Secret, ks.Prefix) || len(ks.Prefix) != len("mk_")+12+1+4 {
		t.Errorf("prefix %q of %q", ks.Prefix, ks.Secret)
	}
	nearNow(t, "created", ks.Created)
	if strings.Contains(body, "hash") {
		t.Errorf("the answer has a hash: %s", body)
	}
	secrets := []string{ks.Secret}
	var other api.KeySecret
	call(t, env, "POST", "/v1/keys", `{"app": "blog", "plan": "gold"}`, 201, &other)
	secrets = append(secrets, other.Secret)

	t.Run("list", func(t *testing.T) {
		var keys []api.Key
		raw := call(t, env, "GET", "/v1/keys", "", 200, &keys)
		if len(keys) != 2 || keys[0].ID != other.ID || keys[1].ID != ks.ID {
			t.Fatalf("keys %+v, want blog's then shop's", keys)
		}
		call(t, env, "GET", "/v1/keys?app=shop", "", 200, &keys)
		if len(keys) != 1 || keys[0].ID != ks.ID {
			t.Errorf("shop's keys %+v", keys)
		}
		call(t, env, "GET", "/v1/keys?app=nobody", "", 200, &keys)
		if keys == nil || len(keys) != 0 {
			t.Errorf("nobody's keys %+v, want []", keys)
		}
		var one api.Key
		raw += call(t, env, "GET", "/v1/keys/"+ks.ID, "", 200, &one)
		if one.ID != ks.ID || one.Prefix != ks.Prefix {
			t.Errorf("got %+v", one)
		}
		for _, s := range secrets {
			if strings.Contains(raw, s) || strings.Contains(raw, s[len(ks.Prefix):]) {
				t.Errorf("a listing shows a secret: %s", raw)
			}
		}
	})
	t.Run("rotate", func(t *testing.T) {
		var rot api.KeySecret
		call(t, env, "POST", "/v1/keys/"+ks.ID+"/rotate", `{"grace": "1h"}`, 200, &rot)
		if rot.ID != ks.ID || rot.Secret == ks.Secret || !keyPattern.MatchString(rot.Secret) || rot.Rotated == nil ||
			!strings.HasPrefix(rot.Secret, rot.Prefix) || rot.App != "shop" {
			t.Errorf("rotated %+v", rot)
		}
		secrets = append(secrets, rot.Secret)
		var nograce api.KeySecret
		call(t, env, "POST", "/v1/keys/"+other.ID+"/rotate", ``, 200, &nograce)
		secrets = append(secrets, nograce.Secret)
		for _, grace := range []string{`"-1h"`, `"721h"`, `"soon"`} {
			status, h, body := admin(t, env, "POST", "/v1/keys/"+ks.ID+"/rotate", `{"grace": `+grace+`}`)
			wantError(t, status, h, body, 400, api.CodeBadRequest, "grace")
		}
	})
	t.Run("revoke", func(t *testing.T) {
		var k api.Key
		call(t, env, "POST", "/v1/keys/"+ks.ID+"/revoke", "", 200, &k)
		if k.Revoked == nil || k.State(time.Now()) != api.KeyRevoked {
			t.Fatalf("revoked %+v", k)
		}
		var again api.Key
		call(t, env, "POST", "/v1/keys/"+ks.ID+"/revoke", "", 200, &again)
		if again.Revoked == nil || !again.Revoked.Equal(*k.Revoked) {
			t.Errorf("revoking twice moved the time: %v then %v", k.Revoked, again.Revoked)
		}
		status, h, body := admin(t, env, "POST", "/v1/keys/"+ks.ID+"/rotate", `{}`)
		wantError(t, status, h, body, 409, api.CodeConflict, "revoked")
	})
	t.Run("delete", func(t *testing.T) {
		call(t, env, "DELETE", "/v1/keys/"+ks.ID, "", 204, nil)
		status, h, body := admin(t, env, "GET", "/v1/keys/"+ks.ID, "")
		wantError(t, status, h, body, 404, api.CodeNotFound, "no API key with id "+ks.ID)
		status, h, body = admin(t, env, "DELETE", "/v1/keys/"+ks.ID, "")
		wantError(t, status, h, body, 404, api.CodeNotFound)
	})
	t.Run("secrets are logged nowhere", func(t *testing.T) {
		nodetest.Eventually(t, 5*time.Second, "the key lines in the node's log", func() bool {
			return strings.Contains(diag.String(), "api key created") && strings.Contains(diag.String(), "api key rotated")
		})
		for _, s := range secrets {
			if strings.Contains(diag.String(), s) || strings.Contains(diag.String(), s[len("mk_")+13:]) {
				t.Errorf("the node's diagnostics show a secret:\n%s", diag.String())
			}
		}
	})
}

// TestAccessAPIErrors checks the refusals: each names the bad field or
// thing and, when a secret was sent, never repeats it.
func TestAccessAPIErrors(t *testing.T) {
	t.Parallel()
	env, diag := startNode(t)
	call(t, env, "POST", "/v1/plans", `{"name": "gold"}`, 201, nil)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	fakeKey := "mk_0123456789ab_" + strings.Repeat("5e", 32)
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
		wants                    []string
	}{
		{"bad plan name", "POST", "/v1/plans", `{"name": "Gold"}`, 400, api.CodeBadRequest, []string{`invalid plan name "Gold"`, "a-z"}},
		{"no plan name", "POST", "/v1/plans", `{"rate": "1/s"}`, 400, api.CodeBadRequest, []string{`invalid plan name ""`}},
		{"bad rate", "POST", "/v1/plans", `{"name": "p", "rate": "fast"}`, 400, api.CodeBadRequest, []string{"rate:"}},
		{"zero rate", "POST", "/v1/plans", `{"name": "p", "rate": "0/s"}`, 400, api.CodeBadRequest, []string{"rate:"}},
		{"bad quota", "POST", "/v1/plans", `{"name": "p", "quota": "10/week"}`, 400, api.CodeBadRequest, []string{"quota:"}},
		{"negative burst", "POST", "/v1/plans", `{"name": "p", "rate": "1/s", "burst": -1}`, 400, api.CodeBadRequest, []string{"burst:", "negative"}},
		{"burst without rate", "POST", "/v1/plans", `{"name": "p", "burst": 5}`, 400, api.CodeBadRequest, []string{"burst:", "rate"}},
		{"unknown field", "POST", "/v1/plans", `{"name": "p", "rps": 5}`, 400, api.CodeBadRequest, []string{"rps"}},
		{"update unknown plan", "PUT", "/v1/plans/ghost", `{"rate": "1/s"}`, 404, api.CodeNotFound, []string{"no plan named ghost"}},
		{"rename a plan", "PUT", "/v1/plans/gold", `{"name": "silver"}`, 400, api.CodeBadRequest, []string{"cannot be renamed"}},
		{"get unknown plan", "GET", "/v1/plans/ghost", "", 404, api.CodeNotFound, []string{"no plan named ghost"}},
		{"delete unknown plan", "DELETE", "/v1/plans/ghost", "", 404, api.CodeNotFound, []string{"no plan named ghost"}},
		{"key for unknown plan", "POST", "/v1/keys", `{"app": "shop", "plan": "ghost"}`, 404, api.CodeNotFound, []string{"no plan named ghost"}},
		{"key with bad app", "POST", "/v1/keys", `{"app": "My Shop", "plan": "gold"}`, 400, api.CodeBadRequest, []string{`invalid app name "My Shop"`}},
		{"key without app", "POST", "/v1/keys", `{"plan": "gold"}`, 400, api.CodeBadRequest, []string{"invalid app name"}},
		{"key with bad service", "POST", "/v1/keys", `{"app": "shop", "plan": "gold", "services": ["ok", "no_way"]}`, 400, api.CodeBadRequest, []string{`invalid service name "no_way"`}},
		{"key expired at birth", "POST", "/v1/keys", `{"app": "shop", "plan": "gold", "expires": "` + past + `"}`, 400, api.CodeBadRequest, []string{"expires:", "in the past"}},
		{"list bad app", "GET", "/v1/keys?app=A!", "", 400, api.CodeBadRequest, []string{"invalid app name"}},
		{"unknown key", "GET", "/v1/keys/0123456789ab", "", 404, api.CodeNotFound, []string{"no API key with id 0123456789ab"}},
		{"the key instead of its id", "POST", "/v1/keys/" + fakeKey + "/revoke", "", 400, api.CodeBadRequest, []string{"invalid key id"}},
		{"rotate unknown key", "POST", "/v1/keys/0123456789ab/rotate", `{}`, 404, api.CodeNotFound, nil},
		{"jwt bad alg", "PUT", "/v1/jwt-keys/k1", `{"alg": "none"}`, 400, api.CodeBadRequest, []string{"alg:", "HS256, RS256 or ES256"}},
		{"jwt short secret", "PUT", "/v1/jwt-keys/k1", `{"alg": "HS256", "secret": "short-` + secret + `"}`, 400, api.CodeBadRequest, []string{"secret:"}},
		{"jwt secret for RS256", "PUT", "/v1/jwt-keys/k1", `{"alg": "RS256", "secret": "` + hsSecret + `"}`, 400, api.CodeBadRequest, []string{"secret:", "pem"}},
		{"jwt pem for HS256", "PUT", "/v1/jwt-keys/k1", `{"alg": "HS256", "pem": "x", "secret": "` + hsSecret + `"}`, 400, api.CodeBadRequest, []string{"pem:"}},
		{"jwt no pem", "PUT", "/v1/jwt-keys/k1", `{"alg": "ES256"}`, 400, api.CodeBadRequest, []string{"pem:"}},
		{"jwt bad pem", "PUT", "/v1/jwt-keys/k1", `{"alg": "ES256", "pem": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}`, 400, api.CodeBadRequest, []string{"pem:"}},
		{"jwt bad JSON", "PUT", "/v1/jwt-keys/k1", `{"alg": "HS256", "secret": "` + hsSecret + `\q"}`, 400, api.CodeBadRequest, []string{"not a JWT key request"}},
		{"jwt bad id", "PUT", "/v1/jwt-keys/k:1", `{"alg": "HS256", "secret": "` + hsSecret + `"}`, 400, api.CodeBadRequest, []string{"invalid JWT key id"}},
		{"jwt delete unknown", "DELETE", "/v1/jwt-keys/ghost", "", 404, api.CodeNotFound, []string{"ghost"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := admin(t, env, tt.method, tt.path, tt.body)
			wantError(t, status, h, body, tt.status, tt.code, tt.wants...)
			for _, s := range []string{secret, hsSecret, fakeKey, fakeKey[len("mk_0123456789ab_"):]} {
				if strings.Contains(body, s) {
					t.Errorf("the error repeats a secret: %s", body)
				}
			}
		})
	}
	var plans []api.Plan
	call(t, env, "GET", "/v1/plans", "", 200, &plans)
	var keys []api.Key
	call(t, env, "GET", "/v1/keys", "", 200, &keys)
	var jwtKeys []api.JWTKey
	call(t, env, "GET", "/v1/jwt-keys", "", 200, &jwtKeys)
	if len(plans) != 1 || len(keys) != 0 || len(jwtKeys) != 0 {
		t.Errorf("refused requests left plans %+v, keys %+v, JWT keys %+v", plans, keys, jwtKeys)
	}
	for _, s := range []string{secret, hsSecret, fakeKey[len("mk_0123456789ab_"):]} {
		if strings.Contains(diag.String(), s) {
			t.Errorf("the node's diagnostics show a secret:\n%s", diag.String())
		}
	}
}

func TestJWTKeysAPI(t *testing.T) {
	t.Parallel()
	env, diag := startNode(t)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	req, _ := json.Marshal(api.JWTKeyRequest{Alg: "ES256", PEM: pubPEM})

	var es api.JWTKey
	call(t, env, "PUT", "/v1/jwt-keys/es-1", string(req), 200, &es)
	if es.ID != "es-1" || es.Alg != "ES256" || es.PEM != pubPEM {
		t.Errorf("ES256 key %+v", es)
	}
	nearNow(t, "created", es.Created)
	var hs api.JWTKey
	raw := call(t, env, "PUT", "/v1/jwt-keys/hs.1", `{"alg": "HS256", "secret": "`+hsSecret+`"}`, 200, &hs)
	if hs.ID != "hs.1" || hs.Alg != "HS256" || hs.PEM != "" {
		t.Errorf("HS256 key %+v", hs)
	}

	t.Run("replace keeps created", func(t *testing.T) {
		var again api.JWTKey
		raw += call(t, env, "PUT", "/v1/jwt-keys/hs.1", `{"alg": "HS256", "secret": "`+hsSecret+`-2"}`, 200, &again)
		if !again.Created.Equal(hs.Created) {
			t.Errorf("created moved from %v to %v", hs.Created, again.Created)
		}
	})
	t.Run("list", func(t *testing.T) {
		var keys []api.JWTKey
		raw += call(t, env, "GET", "/v1/jwt-keys", "", 200, &keys)
		if len(keys) != 2 || keys[0].ID != "es-1" || keys[1].ID != "hs.1" || keys[0].PEM != pubPEM {
			t.Errorf("keys %+v", keys)
		}
		if strings.Contains(raw, hsSecret) {
			t.Errorf("an answer shows the HS256 secret: %s", raw)
		}
	})
	t.Run("delete", func(t *testing.T) {
		call(t, env, "DELETE", "/v1/jwt-keys/hs.1", "", 204, nil)
		var keys []api.JWTKey
		call(t, env, "GET", "/v1/jwt-keys", "", 200, &keys)
		if len(keys) != 1 || keys[0].ID != "es-1" {
			t.Errorf("after the delete: %+v", keys)
		}
	})
	if strings.Contains(diag.String(), hsSecret) {
		t.Errorf("the node's diagnostics show the HS256 secret:\n%s", diag.String())
	}
}

// TestAccessAPIAuth: every access endpoint needs the token.
func TestAccessAPIAuth(t *testing.T) {
	t.Parallel()
	env, _ := startNode(t)
	for _, ep := range []struct{ method, path string }{
		{"POST", "/v1/plans"}, {"GET", "/v1/plans"}, {"GET", "/v1/plans/gold"}, {"PUT", "/v1/plans/gold"}, {"DELETE", "/v1/plans/gold"},
		{"POST", "/v1/keys"}, {"GET", "/v1/keys"}, {"GET", "/v1/keys/0123456789ab"}, {"DELETE", "/v1/keys/0123456789ab"},
		{"POST", "/v1/keys/0123456789ab/revoke"}, {"POST", "/v1/keys/0123456789ab/rotate"},
		{"PUT", "/v1/jwt-keys/k"}, {"GET", "/v1/jwt-keys"}, {"DELETE", "/v1/jwt-keys/k"},
	} {
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			status, h, body := env.Admin(t, ep.method, ep.path, "Bearer wrong", strings.NewReader(`{"name": "gold", "app": "a", "plan": "gold"}`))
			wantError(t, status, h, body, http.StatusUnauthorized, api.CodeUnauthorized)
		})
	}
	var plans []api.Plan
	call(t, env, "GET", "/v1/plans", "", 200, &plans)
	if len(plans) != 0 {
		t.Errorf("refused requests made plans %+v", plans)
	}
}

// TestAccessClient drives the access endpoints with the SDK, which the CLI
// uses: what it sends is what the node accepts, and the node's refusals
// come back as *api.Error.
func TestAccessClient(t *testing.T) {
	t.Parallel()
	env, _ := startNode(t)
	c, ctx := env.Client, t.Context()
	p, err := c.CreatePlan(ctx, api.Plan{Name: "gold", Rate: "100/s", Quota: "1000/day"})
	if err != nil || p.Rate != "100/s" || p.Created.IsZero() {
		t.Fatalf("CreatePlan: %+v, %v", p, err)
	}
	if p, err = c.UpdatePlan(ctx, api.Plan{Name: "gold", Rate: "5/min"}); err != nil || p.Quota != "" {
		t.Fatalf("UpdatePlan: %+v, %v", p, err)
	}
	if plans, err := c.Plans(ctx); err != nil || len(plans) != 1 {
		t.Fatalf("Plans: %+v, %v", plans, err)
	}
	k, err := c.CreateKey(ctx, api.KeyRequest{App: "shop", Plan: "gold", Services: []string{"hello"}})
	if err != nil || !keyPattern.MatchString(k.Secret) {
		t.Fatalf("CreateKey: %+v, %v", k, err)
	}
	r, err := c.RotateKey(ctx, k.ID, time.Minute)
	if err != nil || r.ID != k.ID || r.Secret == k.Secret {
		t.Fatalf("RotateKey: %+v, %v", r, err)
	}
	if keys, err := c.Keys(ctx, "shop"); err != nil || len(keys) != 1 || keys[0].Rotated == nil {
		t.Fatalf("Keys: %+v, %v", keys, err)
	}
	if got, err := c.RevokeKey(ctx, k.ID); err != nil || got.Revoked == nil {
		t.Fatalf("RevokeKey: %+v, %v", got, err)
	}
	var ae *api.Error
	if _, err := c.RotateKey(ctx, k.ID, 0); !errors.As(err, &ae) || ae.Code != api.CodeConflict {
		t.Errorf("rotating a revoked key: %v", err)
	}
	if err := c.DeletePlan(ctx, "gold"); err != nil {
		t.Errorf("DeletePlan with only a revoked key: %v", err)
	}
	if err := c.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Key(ctx, k.ID); !errors.As(err, &ae) || ae.Code != api.CodeNotFound {
		t.Errorf("a removed key: %v", err)
	}
	if _, err := c.PutJWTKey(ctx, "hs", api.JWTKeyRequest{Alg: "HS256", Secret: hsSecret}); err != nil {
		t.Fatal(err)
	}
	if keys, err := c.JWTKeys(ctx); err != nil || len(keys) != 1 || keys[0].Alg != "HS256" {
		t.Fatalf("JWTKeys: %+v, %v", keys, err)
	}
	if err := c.DeleteJWTKey(ctx, "hs"); err != nil {
		t.Fatal(err)
	}
}
