package node_test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/examples"
	"github.com/mote-run/mote/internal/node"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// echoPackage is echo-go's module under another manifest: it answers with
// the request it saw (headers included) as JSON.
func echoPackage(t *testing.T, manifest string, files map[string][]byte) client.Package {
	t.Helper()
	ex, err := examples.Get("echo-go")
	if err != nil {
		t.Fatal(err)
	}
	return client.Package{Manifest: []byte(manifest), Module: ex.Module, Files: files}
}

// echoed decodes echo-go's answer.
type echoed struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
}

func decodeEcho(t *testing.T, body string) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("echo answer %q: %v", body, err)
	}
	return e
}

func errorCode(t *testing.T, body string) string {
	t.Helper()
	var eb api.ErrorBody
	if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error == nil {
		t.Fatalf("not an error body: %q", body)
	}
	return eb.Error.Code
}

// TestAPIKeysPlansAndLimits walks a key through its life: refused without
// it, served with it (the guest learns the app, never the key), limited by
// its plan's rate with every header a client needs, revoked, rotated.
func TestAPIKeysPlansAndLimits(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	ctx := t.Context()
	env.Deploy(t, echoPackage(t, "name = \"keyed\"\n[wasm]\nmodule = \"echo.wasm\"\n[auth]\nrequire_key = true\n", nil))
	env.Deploy(t, echoPackage(t, "name = \"other\"\n[wasm]\nmodule = \"echo.wasm\"\n[auth]\nrequire_key = true\n", nil))

	status, h, body := env.Get(t, "/keyed")
	if status != 401 || errorCode(t, body) != api.CodeUnauthorized || !strings.Contains(body, "X-API-Key") {
		t.Fatalf("no key: %d %s, want 401 naming X-API-Key", status, body)
	}
	if h.Get("X-Request-Id") == "" {
		t.Error("a refusal has no X-Request-Id")
	}

	if _, err := env.Client.CreatePlan(ctx, api.Plan{Name: "tiny", Rate: "2/min", Burst: 2}); err != nil {
		t.Fatal(err)
	}
	ks, err := env.Client.CreateKey(ctx, api.KeyRequest{App: "shop", Plan: "tiny", Services: []string{"keyed"}})
	if err != nil {
		t.Fatal(err)
	}
	key := ks.Secret

	// Served, as X-API-Key or as a bearer token; the guest sees the app
	// and the key's id, never the key.
	for _, hdr := range []http.Header{{"X-Api-Key": {key}}, {"Authorization": {"Bearer " + key}}} {
		status, h, body = env.Do(t, "GET", "/keyed/x", hdr, nil)
		if status != 200 {
			t.Fatalf("with key: %d %s", status, body)
		}
		e := decodeEcho(t, body)
		if e.Headers["Mote-App"] != "shop" || e.Headers["Mote-Key-Id"] != ks.ID {
			t.Errorf("guest saw app %q key id %q, want shop %s", e.Headers["Mote-App"], e.Headers["Mote-Key-Id"], ks.ID)
		}
		for k, v := range e.Headers {
			if strings.Contains(v, ks.Secret[len(ks.Secret)-20:]) {
				t.Errorf("the guest saw the key in %s", k)
			}
		}
		if h.Get("RateLimit-Policy") != `"rate";q=2;w=60` || !strings.HasPrefix(h.Get("RateLimit"), `"rate";r=`) {
			t.Errorf("rate headers: RateLimit-Policy %q RateLimit %q", h.Get("RateLimit-Policy"), h.Get("RateLimit"))
		}
	}
	// The burst of 2 is spent: 429 with Retry-After and the headers.
	status, h, body = env.Do(t, "GET", "/keyed", http.Header{"X-Api-Key": {key}}, nil)
	if status != 429 || errorCode(t, body) != api.CodeRateLimited {
		t.Fatalf("over the rate: %d %s", status, body)
	}
	if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After = %q", h.Get("Retry-After"))
	}
	if h.Get("X-RateLimit-Limit") != "2" || h.Get("X-RateLimit-Remaining") != "0" || !strings.Contains(h.Get("RateLimit"), "r=0") {
		t.Errorf("429 headers: X-RateLimit-Remaining %q RateLimit %q", h.Get("X-RateLimit-Remaining"), h.Get("RateLimit"))
	}

	// Limited to "keyed": another service refuses it.
	status, _, body = env.Do(t, "GET", "/other", http.Header{"X-Api-Key": {key}}, nil)
	if status != 403 {
		t.Errorf("key on another service: %d %s, want 403", status, body)
	}
	// A forged key, and a forged identity header, get nothing.
	last := "0"
	if strings.HasSuffix(key, "0") {
		last = "1"
	}
	status, _, _ = env.Do(t, "GET", "/keyed", http.Header{"X-Api-Key": {key[:len(key)-1] + last}}, nil)
	if status != 401 {
		t.Errorf("wrong secret: %d, want 401", status)
	}

	// Rotation: the new key works at once, the old one stops (no grace).
	if _, err := env.Client.UpdatePlan(ctx, api.Plan{Name: "tiny", Rate: "100/s"}); err != nil {
		t.Fatal(err)
	}
	rot, err := env.Client.RotateKey(ctx, ks.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rot.ID != ks.ID || rot.Secret == key {
		t.Fatalf("rotate gave %s, want the same id and a new secret", rot.ID)
	}
	// Changes to keys apply before the call returns: the new key
	// authenticates at once (its bucket, kept across the rotation, may
	// still be refilling at the new rate: 429 is fine, 401 is not).
	if s, _, b := env.Do(t, "GET", "/keyed", http.Header{"X-Api-Key": {rot.Secret}}, nil); s == 401 {
		t.Fatalf("the rotated key right after rotation: %d %s", s, b)
	}
	nodetest.Eventually(t, 5*time.Second, "the rotated key to be served", func() bool {
		s, _, _ := env.Do(t, "GET", "/keyed", http.Header{"X-Api-Key": {rot.Secret}}, nil)
		return s == 200
	})
	if s, _, _ := env.Do(t, "GET", "/keyed", http.Header{"X-Api-Key": {key}}, nil); s != 401 {
		t.Errorf("the old key after rotation: %d, want 401", s)
	}
	if _, err := env.Client.RevokeKey(ctx, ks.ID); err != nil {
		t.Fatal(err)
	}
	if s, _, b := env.Do(t, "GET", "/keyed", http.Header{"X-Api-Key": {rot.Secret}}, nil); s != 401 || !strings.Contains(b, "revoked") {
		t.Errorf("the revoked key right after revocation: %d %s", s, b)
	}

	// The key is never shown again, and never stored or logged in clear.
	keys, err := env.Client.Keys(ctx, "shop")
	if err != nil || len(keys) != 1 || keys[0].State(time.Now()) != api.KeyRevoked {
		t.Fatalf("keys = %+v, %v", keys, err)
	}
	raw, _ := json.Marshal(keys)
	if strings.Contains(string(raw), rot.Secret[3:]) || strings.Contains(string(raw), key[3:]) {
		t.Error("a key listing holds a key")
	}
}

// TestQuotaSurvivesRestart uses up a daily quota, restarts the node, and
// finds it still used up.
func TestQuotaSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := nodetest.StartDir(t, dir)
	ctx := t.Context()
	env.Deploy(t, echoPackage(t, "name = \"quota\"\n[wasm]\nmodule = \"echo.wasm\"\n[auth]\nrequire_key = true\n", nil))
	if _, err := env.Client.CreatePlan(ctx, api.Plan{Name: "trial", Quota: "3/day"}); err != nil {
		t.Fatal(err)
	}
	ks, err := env.Client.CreateKey(ctx, api.KeyRequest{App: "trial-app", Plan: "trial"})
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{"X-Api-Key": {ks.Secret}}
	for i := range 3 {
		if s, _, b := env.Do(t, "GET", "/quota", hdr, nil); s != 200 {
			t.Fatalf("request %d: %d %s", i, s, b)
		}
	}
	s, h, b := env.Do(t, "GET", "/quota", hdr, nil)
	if s != 429 || !strings.Contains(b, "quota") || h.Get("Retry-After") == "" {
		t.Fatalf("over quota: %d %s (Retry-After %q)", s, b, h.Get("Retry-After"))
	}
	nodetest.Stop(t, env.Node)

	env = nodetest.StartDir(t, dir)
	s, _, b = env.Do(t, "GET", "/quota", hdr, nil)
	if s != 429 || !strings.Contains(b, "quota") {
		t.Fatalf("after a restart: %d %s, want the quota still used up", s, b)
	}
}

// hs256 signs claims with secret.
func hs256(t *testing.T, kid, secret string, claims map[string]any) string {
	t.Helper()
	head, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT", "kid": kid})
	body, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(head) + "." + enc.EncodeToString(body)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// TestJWT: a service that wants tokens gets only valid ones, with the
// claims it asked for.
func TestJWT(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	ctx := t.Context()
	const secret = "0123456789abcdef0123456789abcdef-test"
	if _, err := env.Client.PutJWTKey(ctx, "k1", api.JWTKeyRequest{Alg: "HS256", Secret: secret}); err != nil {
		t.Fatal(err)
	}
	env.Deploy(t, echoPackage(t, `name = "tok"
[wasm]
module = "echo.wasm"
[auth.jwt]
issuer = "https://auth.test"
audience = "tok"
claims = ["sub", "email"]
`, nil))
	now := time.Now().Unix()
	good := map[string]any{"iss": "https://auth.test", "aud": "tok", "sub": "user-7", "email": "u@x.test", "exp": now + 300}
	status, _, body := env.Do(t, "GET", "/tok", http.Header{"Authorization": {"Bearer " + hs256(t, "k1", secret, good)}}, nil)
	if status != 200 {
		t.Fatalf("valid token: %d %s", status, body)
	}
	e := decodeEcho(t, body)
	if e.Headers["Mote-Claim-Sub"] != "user-7" || e.Headers["Mote-Claim-Email"] != "u@x.test" {
		t.Errorf("claims the guest saw: %v", e.Headers)
	}
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for k, v := range good {
			c[k] = v
		}
		c[k] = v
		return c
	}
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(must(json.Marshal(good))) + "."
	for _, tc := range []struct{ name, token string }{
		{"expired", hs256(t, "k1", secret, with("exp", now-3600))},
		{"wrong audience", hs256(t, "k1", secret, with("aud", "someone-else"))},
		{"wrong issuer", hs256(t, "k1", secret, with("iss", "https://evil.test"))},
		{"wrong key", hs256(t, "k1", secret+"x", good)},
		{"alg none", none},
		{"garbage", "not.a.token"},
	} {
		status, h, body := env.Do(t, "GET", "/tok", http.Header{"Authorization": {"Bearer " + tc.token}}, nil)
		if status != 401 || h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %s, want 401 with WWW-Authenticate", tc.name, status, body)
		}
	}
	// A client cannot forge claims.
	status, _, _ = env.Do(t, "GET", "/tok", http.Header{"Mote-Claim-Sub": {"admin"}}, nil)
	if status != 401 {
		t.Errorf("no token: %d, want 401", status)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestCORSAndIPRules: preflights are answered by the gateway; IP rules
// refuse callers, trusting X-Forwarded-For only from configured proxies.
func TestCORSAndIPRules(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	env.Deploy(t, echoPackage(t, `name = "web"
[wasm]
module = "echo.wasm"
[cors]
origins = ["https://shop.test"]
methods = ["GET", "PUT"]
headers = ["Content-Type"]
`, nil))
	status, h, _ := env.Do(t, "OPTIONS", "/web/items", http.Header{
		"Origin": {"https://shop.test"}, "Access-Control-Request-Method": {"PUT"}, "Access-Control-Request-Headers": {"content-type"},
	}, nil)
	if status != 204 || h.Get("Access-Control-Allow-Origin") != "https://shop.test" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Errorf("preflight: %d %v", status, h)
	}
	status, h, _ = env.Do(t, "OPTIONS", "/web/items", http.Header{"Origin": {"https://evil.test"}, "Access-Control-Request-Method": {"PUT"}}, nil)
	if status != 403 || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d %v", status, h)
	}
	status, h, _ = env.Do(t, "GET", "/web", http.Header{"Origin": {"https://shop.test"}}, nil)
	if status != 200 || h.Get("Access-Control-Allow-Origin") != "https://shop.test" || !strings.Contains(h.Get("Vary"), "Origin") {
		t.Errorf("actual request: %d %v", status, h)
	}

	env.Deploy(t, echoPackage(t, "name = \"internal\"\n[wasm]\nmodule = \"echo.wasm\"\n[ip]\nallow = [\"10.0.0.0/8\"]\n", nil))
	env.Deploy(t, echoPackage(t, "name = \"public\"\n[wasm]\nmodule = \"echo.wasm\"\n[ip]\ndeny = [\"127.0.0.0/8\"]\n", nil))
	// The test client is 127.0.0.1; a forged X-Forwarded-For changes nothing.
	status, _, body := env.Do(t, "GET", "/internal", http.Header{"X-Forwarded-For": {"10.1.2.3"}}, nil)
	if status != 403 || !strings.Contains(body, "127.0.0.1") {
		t.Errorf("allow list: %d %s, want 403 naming 127.0.0.1", status, body)
	}
	if status, _, _ = env.Get(t, "/public"); status != 403 {
		t.Errorf("deny list: %d, want 403", status)
	}
}

// TestLifecycle: deprecated APIs say so on every response; retired ones
// answer 410; drafts are invisible except to the operator.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	ctx := t.Context()
	env.Deploy(t, echoPackage(t, `name = "old"
[wasm]
module = "echo.wasm"
[lifecycle]
state = "deprecated"
sunset = 2027-06-30T00:00:00Z
link = "https://example.com/migrate"
`, nil))
	status, h, _ := env.Get(t, "/old")
	if status != 200 || !strings.HasPrefix(h.Get("Deprecation"), "@") || h.Get("Sunset") != "Wed, 30 Jun 2027 00:00:00 GMT" ||
		!strings.Contains(h.Get("Link"), "https://example.com/migrate") {
		t.Errorf("deprecated: %d Deprecation %q Sunset %q Link %q", status, h.Get("Deprecation"), h.Get("Sunset"), h.Get("Link"))
	}
	if _, err := env.Client.SetLifecycle(ctx, "old", api.Lifecycle{State: api.LifecycleRetired}); err != nil {
		t.Fatal(err)
	}
	status, _, body := env.Get(t, "/old")
	if status != 410 || errorCode(t, body) != api.CodeGone {
		t.Errorf("retired: %d %s", status, body)
	}
	if _, err := env.Client.SetLifecycle(ctx, "old", api.Lifecycle{State: api.LifecycleDraft}); err != nil {
		t.Fatal(err)
	}
	if status, _, _ = env.Get(t, "/old"); status != 404 {
		t.Errorf("draft through the gateway: %d, want 404", status)
	}
	resp, err := env.Client.Invoke(ctx, "old", client.InvokeRequest{Path: "/"})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("draft through mote invoke: %d, want 200", resp.StatusCode)
	}
	if _, err := env.Client.ClearLifecycle(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	if status, h, _ = env.Get(t, "/old"); status != 200 || h.Get("Deprecation") == "" {
		t.Errorf("after reset: %d Deprecation %q, want the manifest's deprecated state", status, h.Get("Deprecation"))
	}
	var ae *api.Error
	if _, err := env.Client.SetLifecycle(ctx, "old", api.Lifecycle{State: "gone"}); !errors.As(err, &ae) || ae.Code != api.CodeBadRequest {
		t.Errorf("bad state: %v", err)
	}
}

const todoSpec = `{
  "openapi": "3.1.0",
  "info": {"title": "Todo", "version": "1.2.0"},
  "paths": {
    "/items": {
      "get": {"parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}}]},
      "post": {"requestBody": {"required": true, "content": {"application/json": {"schema": {
        "type": "object", "required": ["title"], "properties": {"title": {"type": "string", "minLength": 1}}}}}}}
    },
    "/items/{id}": {"get": {"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}]}}
  }
}`

// TestOpenAPIValidationAndCatalog: requests that break the document are
// refused naming the rule; the catalog lists the API; analytics split by
// route template and app.
func TestOpenAPIValidationAndCatalog(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	ctx := t.Context()
	env.Deploy(t, echoPackage(t, "name = \"todo\"\n[wasm]\nmodule = \"echo.wasm\"\n[openapi]\nspec = \"openapi.json\"\nvalidate = true\n",
		map[string][]byte{"openapi.json": []byte(todoSpec)}))
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/todo/items?limit=5", "", 200, ""},
		{"GET", "/todo/items?limit=500", "", 400, "maximum"},
		{"GET", "/todo/items/42", "", 200, ""},
		{"GET", "/todo/items/abc", "", 400, "id"},
		{"POST", "/todo/items", `{"title": "milk"}`, 200, ""},
		{"POST", "/todo/items", `{"name": "milk"}`, 400, "title"},
		{"DELETE", "/todo/items", "", 400, "DELETE"},
		{"GET", "/todo/nope", "", 400, "/nope"},
	} {
		var body io.Reader
		h := http.Header{}
		if tc.body != "" {
			body = strings.NewReader(tc.body)
			h.Set("Content-Type", "application/json")
		}
		status, _, got := env.Do(t, tc.method, tc.path, h, body)
		if status != tc.status || !strings.Contains(got, tc.want) {
			t.Errorf("%s %s %s: %d %s, want %d naming %q", tc.method, tc.path, tc.body, status, got, tc.status, tc.want)
		}
	}
	apis, err := env.Client.APIs(ctx)
	if err != nil || len(apis) != 1 || apis[0].Service != "todo" || apis[0].Title != "Todo" || apis[0].APIVersion != "1.2.0" || !apis[0].Validate {
		t.Fatalf("catalog = %+v, %v", apis, err)
	}
	doc, err := env.Client.APIDocument(ctx, "todo")
	if err != nil || !strings.Contains(string(doc), env.Gateway+"/todo") {
		t.Fatalf("document: %v; servers should name %s/todo: %s", err, env.Gateway, doc)
	}
	// A document that does not parse is refused at deploy.
	_, err = env.Client.Deploy(ctx, echoPackage(t, "name = \"bad\"\n[wasm]\nmodule = \"echo.wasm\"\n[openapi]\nspec = \"openapi.json\"\n",
		map[string][]byte{"openapi.json": []byte(`{"openapi": "3.1.0", "paths": 7}`)}))
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeInvalidManifest || !strings.Contains(ae.Message, "openapi") {
		t.Errorf("bad document: %v, want invalid_manifest naming [openapi]", err)
	}

	st, err := env.Client.Stats(ctx, "todo", time.Hour, "route")
	if err != nil {
		t.Fatal(err)
	}
	byRoute := map[string]int64{}
	for _, g := range st.Groups {
		byRoute[g.Key] = g.Requests
	}
	if byRoute["/items"] != 5 || byRoute["/items/{id}"] != 2 {
		t.Errorf("stats by route = %v (groups %+v)", byRoute, st.Groups)
	}
	st, err = env.Client.Stats(ctx, "todo", time.Hour, "status")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range st.Groups {
		if g.Key == "4xx" && g.Requests != 5 {
			t.Errorf("4xx = %d, want 5", g.Requests)
		}
	}
}

// TestSmuggledRequestRefused: a request with both Content-Length and
// Transfer-Encoding is refused before it reaches a service.
func TestSmuggledRequestRefused(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	env.Deploy(t, echoPackage(t, "name = \"plain\"\n[wasm]\nmodule = \"echo.wasm\"\n", nil))
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.Gateway, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "POST /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "Transfer-Encoding") {
		t.Errorf("CL+TE: %d %s, want 400 naming Transfer-Encoding", resp.StatusCode, b)
	}
}

// syncBuffer is a bytes.Buffer safe for the access log's writer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAccessLogTrustedProxiesAndMetrics: with a trusted proxy configured,
// X-Forwarded-For names the client (for IP rules and the access log); the
// access log has one JSON line per request with the app and never the
// query; /metrics splits requests by app with bounded labels.
func TestAccessLogTrustedProxiesAndMetrics(t *testing.T) {
	t.Parallel()
	var log syncBuffer
	n, err := node.Start(t.Context(), node.Config{
		DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AccessLog: &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nodetest.Stop(t, n) })
	c, err := client.New(n.AdminURL(), client.WithToken(n.Token()))
	if err != nil {
		t.Fatal(err)
	}
	env := &nodetest.Env{Node: n, Client: c, Gateway: n.GatewayURL()}
	ctx := t.Context()
	env.Deploy(t, echoPackage(t, "name = \"lan\"\n[wasm]\nmodule = \"echo.wasm\"\n[auth]\nrequire_key = true\n[ip]\nallow = [\"10.0.0.0/8\"]\n", nil))
	if _, err := c.CreatePlan(ctx, api.Plan{Name: "free"}); err != nil {
		t.Fatal(err)
	}
	ks, err := c.CreateKey(ctx, api.KeyRequest{App: "mobile", Plan: "free"})
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{"X-Api-Key": {ks.Secret}, "X-Forwarded-For": {"10.1.2.3"}}
	if s, _, b := env.Do(t, "GET", "/lan/a?token=hunter2", hdr, nil); s != 200 {
		t.Fatalf("from 10.1.2.3 via a trusted proxy: %d %s", s, b)
	}
	hdr.Set("X-Forwarded-For", "192.168.9.9")
	if s, _, _ := env.Do(t, "GET", "/lan/b", hdr, nil); s != 403 {
		t.Errorf("from 192.168.9.9 via a trusted proxy: %d, want 403", s)
	}
	var lines []map[string]any
	nodetest.Eventually(t, 5*time.Second, "two access log lines", func() bool {
		lines = nil
		for _, l := range strings.Split(strings.TrimSpace(log.String()), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil {
				lines = append(lines, m)
			}
		}
		return len(lines) == 2
	})
	first := lines[0]
	if first["app"] != "mobile" || first["client_ip"] != "10.1.2.3" || first["status"] != 200.0 || first["service"] != "lan" || first["request_id"] == "" {
		t.Errorf("access log line = %v", first)
	}
	if strings.Contains(log.String(), "hunter2") || strings.Contains(log.String(), ks.Secret[3:]) {
		t.Error("the access log holds a query value or the key")
	}
	_, _, metrics := env.Admin(t, "GET", "/metrics", "Bearer "+n.Token(), nil)
	if !strings.Contains(metrics, `mote_api_requests_total{app="mobile",route="*",service="lan",status_class="2xx",version="1"} 1`) {
		t.Errorf("metrics lack the app-labelled series:\n%s", grepLines(metrics, "mote_api_requests_total"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
