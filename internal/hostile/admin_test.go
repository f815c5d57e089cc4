package hostile_test

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// TestAdminWithoutTheToken sends every changing admin call, and the ones
// that read secrets, without the token or with a wrong one: each is a 401
// with WWW-Authenticate, and afterwards nothing has changed. (The node
// package's admin test covers deploy, blobs, services, logs and invoke
// with more malformed Authorization headers; this one covers the API
// management calls added since and checks their effect.)
func TestAdminWithoutTheToken(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	deploy(t, env, "hello", "hello", "", "", nil)
	c := env.Client
	token := env.Node.Token()
	digest := client.Digest([]byte("a blob nobody may upload"))

	calls := []struct{ method, path, body string }{
		{"POST", "/v1/plans", `{"name":"gold","rate":"10/s"}`},
		{"PUT", "/v1/plans/gold", `{"name":"gold","rate":"20/s"}`},
		{"DELETE", "/v1/plans/gold", ""},
		{"POST", "/v1/keys", `{"app":"acme","plan":"gold"}`},
		{"GET", "/v1/keys", ""},
		{"GET", "/v1/keys/k1", ""},
		{"POST", "/v1/keys/k1/revoke", ""},
		{"POST", "/v1/keys/k1/rotate", `{"grace":"1h"}`},
		{"DELETE", "/v1/keys/k1", ""},
		{"PUT", "/v1/jwt-keys/k1", `{"alg":"HS256","secret":"0123456789abcdef0123456789abcdef"}`},
		{"GET", "/v1/jwt-keys", ""},
		{"DELETE", "/v1/jwt-keys/k1", ""},
		{"PUT", "/v1/services/hello/config", `{"values":{"A":"b"},"secret":true}`},
		{"GET", "/v1/services/hello/config", ""},
		{"DELETE", "/v1/services/hello/config/A", ""},
		{"PUT", "/v1/services/hello/traffic", `{"split":[{"version":1,"weight":100}]}`},
		{"POST", "/v1/services/hello/rollback", ""},
		{"PUT", "/v1/services/hello/scale", `{"min":1,"max":1}`},
		{"DELETE", "/v1/services/hello/scale", ""},
		{"PUT", "/v1/services/hello/lifecycle", `{"state":"retired"}`},
		{"DELETE", "/v1/services/hello/lifecycle", ""},
		{"GET", "/v1/services/hello/stats", ""},
		{"DELETE", "/v1/services/hello", ""},
		{"PUT", "/v1/blobs/" + digest, "a blob nobody may upload"},
		{"POST", "/v1/deploy", `{"manifest":"name = \"evil\"\n[wasm]\nmodule = \"x.wasm\"\n","module":"` + digest + `"}`},
		{"POST", "/v1/services/hello/invoke", ""},
	}
	wrong := []byte(token)
	wrong[len(wrong)-1] ^= 1
	auths := map[string]string{
		"none":            "",
		"wrong":           "Bearer " + string(wrong),
		"upper-case":      "Bearer " + strings.ToUpper(token),
		"basic":           "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+token)),
		"other-scheme":    "Token " + token,
		"prefix-only":     "Bearer " + token[:32],
		"token-and-more":  "Bearer " + token + "x",
		"bearer-no-space": "Bearer" + token,
	}
	for _, call := range calls {
		for name, auth := range auths {
			t.Run(call.method+call.path+"/"+name, func(t *testing.T) {
				status, h, body := env.Admin(t, call.method, call.path, auth, strings.NewReader(call.body))
				if status != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("%d (WWW-Authenticate %q) %q, want 401", status, h.Get("WWW-Authenticate"), body)
				}
				if e := errorOf(body); e == nil || e.Code != api.CodeUnauthorized {
					t.Errorf("body %q is not the unauthorized error", body)
				}
				if strings.Contains(body, token) {
					t.Errorf("the 401 echoes the token")
				}
			})
		}
	}
	// Elsewhere than Authorization, the token is not a credential.
	hc := newHTTP()
	for _, where := range []struct{ path, header, value string }{
		{"/v1/plans?token=" + token, "", ""},
		{"/v1/plans?access_token=" + token, "", ""},
		{"/v1/plans", "X-API-Key", token},
		{"/v1/plans", "Cookie", "token=" + token},
		{"/v1/plans", "Proxy-Authorization", "Bearer " + token},
	} {
		req, err := http.NewRequestWithContext(t.Context(), "POST", env.Node.AdminURL()+where.path, strings.NewReader(`{"name":"gold","rate":"10/s"}`))
		if err != nil {
			t.Fatal(err)
		}
		if where.header != "" {
			req.Header.Set(where.header, where.value)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("POST %s with the token in %q: %d, want 401", where.path, where.header, resp.StatusCode)
		}
	}

	// Nothing changed.
	ctx := t.Context()
	if plans, err := c.Plans(ctx); err != nil || len(plans) != 0 {
		t.Errorf("plans %v (err %v), want none", plans, err)
	}
	if keys, err := c.Keys(ctx, ""); err != nil || len(keys) != 0 {
		t.Errorf("keys %v (err %v), want none", keys, err)
	}
	if jwks, err := c.JWTKeys(ctx); err != nil || len(jwks) != 0 {
		t.Errorf("JWT keys %v (err %v), want none", jwks, err)
	}
	if cfg, err := c.Config(ctx, "hello"); err != nil || len(cfg) != 0 {
		t.Errorf("config %v (err %v), want none", cfg, err)
	}
	if has, err := c.HasBlob(ctx, digest); err != nil || has {
		t.Errorf("an unauthorized PUT stored a blob (has %v, err %v)", has, err)
	}
	if names := serviceNames(t, c); !slices.Equal(names, []string{"hello"}) {
		t.Errorf("services %q, want [hello]", names)
	}
	d, err := c.Service(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != 1 || d.Latest != 1 || d.Scale != nil || d.Lifecycle != nil || len(d.Traffic) != 1 || d.Traffic[0].Version != 1 {
		t.Errorf("hello changed: %+v", d.Service)
	}
	if r := do(ctx, newHTTP(), "GET", env.Gateway+"/hello", nil); r.status != 200 || r.body != "hello\n" {
		t.Errorf("hello no longer serves: %s", r)
	}
}
