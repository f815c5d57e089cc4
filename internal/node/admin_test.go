package node_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// TestAdminAPI checks the admin API's auth, errors, metrics, invoke and
// instances on a real node.
func TestAdminAPI(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	c := env.Client
	token := env.Node.Token()
	env.Deploy(t, guestPkg(t, guestManifest("adm", "/adm", "\n[limits]\ntimeout = \"1s\"\n")))

	t.Run("auth", func(t *testing.T) {
		digest := client.Digest([]byte("a blob nobody may upload"))
		deploy := `{"manifest":"name = \"evil\"\n[wasm]\nmodule = \"x.wasm\"\n","module":"` + digest + `"}`
		endpoints := []struct {
			method, path, body string
		}{
			{"GET", "/metrics", ""},
			{"GET", "/v1/openapi.json", ""},
			{"GET", "/v1/info", ""},
			{"HEAD", "/v1/blobs/" + digest, ""},
			{"PUT", "/v1/blobs/" + digest, "a blob nobody may upload"},
			{"POST", "/v1/deploy", deploy},
			{"GET", "/v1/services", ""},
			{"GET", "/v1/services/adm", ""},
			{"DELETE", "/v1/services/adm", ""},
			{"GET", "/v1/services/adm/versions", ""},
			{"GET", "/v1/services/adm/logs", ""},
			{"GET", "/v1/services/adm/logs?follow=true", ""},
			{"GET", "/v1/services/adm/invoke", ""},
			{"POST", "/v1/services/adm/invoke/env", "body"},
			{"DELETE", "/v1/services/adm/invoke/a/b?c=d", ""},
			{"GET", "/v1/instances", ""},
			{"GET", "/v1/instances?service=adm", ""},
		}
		auths := map[string]string{
			"none":           "",
			"wrong":          "Bearer " + strings.Repeat("0", len(token)),
			"truncated":      "Bearer " + token[:len(token)-1],
			"longer":         "Bearer " + token + "0",
			"basic":          "Basic " + token,
			"bare-token":     token,
			"empty-bearer":   "Bearer ",
			"token-twice":    "Bearer " + token + " " + token,
			"wrong-then-tok": "Bearer x, Bearer " + token,
		}
		for _, ep := range endpoints {
			for name, auth := range auths {
				t.Run(ep.method+ep.path+"/"+name, func(t *testing.T) {
					t.Parallel()
					status, h, body := env.Admin(t, ep.method, ep.path, auth, strings.NewReader(ep.body))
					if status != 401 {
						t.Fatalf("status %d, want 401; body %q", status, body)
					}
					if h.Get("WWW-Authenticate") == "" || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("WWW-Authenticate %q", h.Get("WWW-Authenticate"))
					}
					if ep.method == "HEAD" {
						return
					}
					wantErrorBody(t, status, h, body, 401, api.CodeUnauthorized)
				})
			}
		}
	})
	// The refused requests changed nothing.
	t.Run("auth-changed-nothing", func(t *testing.T) {
		if has, err := c.HasBlob(t.Context(), client.Digest([]byte("a blob nobody may upload"))); err != nil || has {
			t.Errorf("an unauthorized PUT stored a blob (has %v, err %v)", has, err)
		}
		if status, _, body := env.Get(t, "/adm/status/200"); status != 200 {
			t.Errorf("an unauthorized DELETE removed the service: %d %q", status, body)
		}
		if _, err := c.Service(t.Context(), "evil"); err == nil {
			t.Errorf("an unauthorized deploy made a service")
		}
	})

	t.Run("public", func(t *testing.T) {
		for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\n"} {
			status, _, body := env.Admin(t, "GET", path, "", nil)
			if status != 200 || body != want {
				t.Errorf("GET %s without a token: %d %q, want 200 %q", path, status, body, want)
			}
		}
		if err := c.Health(t.Context()); err != nil {
			t.Error(err)
		}
		if err := c.Ready(t.Context()); err != nil {
			t.Error(err)
		}
	})

	t.Run("info", func(t *testing.T) {
		info, err := c.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if info.GatewayURL != env.Gateway || info.AdminURL != env.Node.AdminURL() || info.Version != "test" || info.Services < 1 || info.DataDir != env.DataDir {
			t.Errorf("info %+v", info)
		}
	})

	t.Run("openapi", func(t *testing.T) {
		b, err := c.OpenAPI(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			OpenAPI string         `json:"openapi"`
			Paths   map[string]any `json:"paths"`
		}
		if err := json.Unmarshal(b, &doc); err != nil || doc.OpenAPI != "3.1.0" || len(doc.Paths) == 0 {
			t.Errorf("openapi.json: %v %+v", err, doc)
		}
	})

	t.Run("scheme-is-case-insensitive", func(t *testing.T) {
		for _, scheme := range []string{"Bearer ", "bearer ", "BEARER "} {
			if status, _, body := env.Admin(t, "GET", "/v1/info", scheme+token, nil); status != 200 {
				t.Errorf("%q: %d %s", scheme, status, body)
			}
		}
	})

	t.Run("not-found", func(t *testing.T) {
		for _, p := range []string{"/v1/nothing", "/v2/services", "/", "/v1/services/adm/nothing", "/v1/blobs"} {
			status, h, body := env.Admin(t, "GET", p, "Bearer "+token, nil)
			wantErrorBody(t, status, h, body, 404, api.CodeNotFound)
		}
	})

	t.Run("method-not-allowed", func(t *testing.T) {
		for _, ep := range []struct{ method, path string }{
			{"POST", "/v1/services"},
			{"DELETE", "/v1/info"},
			{"GET", "/v1/deploy"},
			{"PUT", "/v1/deploy"},
			{"POST", "/healthz"},
			{"PATCH", "/v1/services/adm"},
			{"DELETE", "/v1/instances"},
		} {
			status, h, body := env.Admin(t, ep.method, ep.path, "Bearer "+token, nil)
			wantErrorBody(t, status, h, body, 405, api.CodeMethodNotAllowed)
			if h.Get("Allow") == "" {
				t.Errorf("%s %s: 405 without Allow", ep.method, ep.path)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		env.Get(t, "/adm/status/200")
		env.Get(t, "/adm/trap")
		m, err := c.Metrics(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			`mote_gateway_requests_total{code="200",service="adm"} `,
			`mote_gateway_requests_total{code="502",service="adm"} `,
			`mote_gateway_request_duration_seconds_bucket{service="adm",le="0.001"} `,
			`mote_gateway_request_duration_seconds_bucket{service="adm",le="+Inf"} `,
			`mote_gateway_request_duration_seconds_count{service="adm"} `,
			`mote_guest_failures_total{kind="trap",service="adm"} 1`,
			`mote_deploys_total{result="created"} `,
			`mote_services `,
			`go_goroutines `,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("/metrics has no %q", want)
			}
		}
		if t.Failed() {
			t.Logf("/metrics:\n%s", m)
		}
	})

	t.Run("invoke", func(t *testing.T) {
		resp, err := c.Invoke(t.Context(), "adm", client.InvokeRequest{
			Method: "PATCH",
			Path:   "/env?q=1&r=two%20words",
			Header: http.Header{
				"X-Custom":      {"custom"},
				"Content-Type":  {"text/x-invoke"},
				"Authorization": {"Bearer not-for-the-guest"},
			},
			Body: strings.NewReader("invoke body"),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		body := string(b)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d body %q", resp.StatusCode, body)
		}
		ge := parseGuestEnv(t, body)
		want := map[string]string{
			"REQUEST_METHOD": "PATCH",
			"PATH_INFO":      "/env",
			"QUERY_STRING":   "q=1&r=two%20words",
			"SCRIPT_NAME":    "/adm",
			"HTTP_X_CUSTOM":  "custom",
			"CONTENT_TYPE":   "text/x-invoke",
			"CONTENT_LENGTH": "11",
			"X_REQUEST_ID":   resp.Header.Get("X-Request-Id"),
		}
		for k, v := range want {
			if ge.vars[k] != v {
				t.Errorf("%s=%q, want %q", k, ge.vars[k], v)
			}
		}
		if ge.stdin != "invoke body" {
			t.Errorf("stdin %q", ge.stdin)
		}
		if _, ok := ge.vars["HTTP_AUTHORIZATION"]; ok {
			t.Errorf("the guest saw HTTP_AUTHORIZATION")
		}
		for _, secret := range []string{token, token[:16], "not-for-the-guest"} {
			if strings.Contains(body, secret) {
				t.Errorf("the guest saw %q:\n%s", secret, body)
			}
		}
	})

	t.Run("invoke-errors", func(t *testing.T) {
		for _, tt := range []struct {
			service, path string
			status        int
			code          string
		}{
			{"adm", "/trap", 502, api.CodeGuestFailed},
			{"nosuch", "/env", 404, api.CodeNotFound},
		} {
			resp, err := c.Invoke(t.Context(), tt.service, client.InvokeRequest{Path: tt.path})
			if err != nil {
				t.Fatal(err)
			}
			ae := client.ResponseError(resp)
			resp.Body.Close()
			if ae == nil || ae.Status != tt.status || ae.Code != tt.code {
				t.Errorf("invoke %s %s: %+v, want %d %s", tt.service, tt.path, ae, tt.status, tt.code)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Errorf("invoke %s %s: no X-Request-Id", tt.service, tt.path)
			}
		}
	})

	t.Run("instances", func(t *testing.T) {
		type result struct {
			status int
			id     string
		}
		done := make(chan result, 1)
		go func() {
			// Not env.Get: it would call t.Fatal off the test goroutine.
			req, _ := http.NewRequestWithContext(t.Context(), "GET", env.Gateway+"/adm/sleep", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- result{}
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			done <- result{resp.StatusCode, resp.Header.Get("X-Request-Id")}
		}()
		var busy api.Instance
		nodetest.Eventually(t, 5*time.Second, "a busy instance of adm", func() bool {
			is, err := c.Instances(t.Context(), "adm")
			if err != nil {
				t.Fatal(err)
			}
			if len(is) == 1 && is[0].State == "busy" {
				busy = is[0]
				return true
			}
			return false
		})
		if busy.Service != "adm" || busy.Version != 1 || busy.ID == "" || busy.RequestID == "" || busy.Started.IsZero() {
			t.Errorf("busy instance %+v", busy)
		}
		all, err := c.Instances(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 || all[0].ID != busy.ID {
			t.Errorf("all instances %+v, want just %s", all, busy.ID)
		}
		if d, err := c.Service(t.Context(), "adm"); err != nil || len(d.Instances) != 1 {
			t.Errorf("service detail instances %+v (err %v)", d.Instances, err)
		}
		r := <-done
		if r.status != 504 || r.id != busy.RequestID {
			t.Errorf("the sleeping request: status %d id %s, want 504 and the busy instance's %s", r.status, r.id, busy.RequestID)
		}
		// The instance is gone before the response is written.
		is, err := c.Instances(t.Context(), "adm")
		if err != nil || len(is) != 0 {
			t.Errorf("instances after the request: %+v (err %v)", is, err)
		}
	})
}
