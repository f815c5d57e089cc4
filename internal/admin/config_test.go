package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// guestWasm is the multipurpose WAGI test guest.
const guestWasm = "../sandbox/wasm/testdata/guest.wasm"

// secret is the secret value the tests set; it must never come back
// from the node, in any answer or log.
const secret = "s3cr3t-Zq8vX1-never-shown"

// lockedBuffer collects the node's diagnostics while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startNode boots a node whose diagnostics, at debug level, go to the
// returned buffer, and deploys guest.wasm as each named service.
func startNode(t *testing.T, services ...string) (*nodetest.Env, *lockedBuffer) {
	t.Helper()
	diag := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(diag, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	n, err := node.Start(ctx, node.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Version: "test", Logger: logger})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { nodetest.Stop(t, n) })
	c, err := client.New(n.AdminURL(), client.WithToken(n.Token()))
	if err != nil {
		t.Fatal(err)
	}
	env := &nodetest.Env{Node: n, Client: c, Gateway: n.GatewayURL(), DataDir: dir}
	for _, name := range services {
		deploy(t, env, name)
	}
	return env, diag
}

func deploy(t *testing.T, env *nodetest.Env, name string) {
	t.Helper()
	manifest := fmt.Sprintf("name = %q\n\n[wasm]\nmodule = \"guest.wasm\"\n", name)
	env.Deploy(t, client.Package{Manifest: []byte(manifest), Module: nodetest.ReadFile(t, guestWasm)})
}

// admin sends an authorized admin request with a JSON body.
func admin(t *testing.T, env *nodetest.Env, method, path, body string) (int, http.Header, string) {
	t.Helper()
	return env.Admin(t, method, path, "Bearer "+env.Node.Token(), strings.NewReader(body))
}

// wantError checks that an answer is mote's JSON error with status and
// code and that its message contains every one of wants; it returns the
// error.
func wantError(t *testing.T, status int, h http.Header, body string, wantStatus int, code string, wants ...string) *api.Error {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d; body %s", status, wantStatus, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var eb api.ErrorBody
	if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error == nil {
		t.Fatalf("not an error body: %s (%v)", body, err)
	}
	if eb.Error.Code != code {
		t.Errorf("code %q, want %q (%s)", eb.Error.Code, code, eb.Error.Message)
	}
	text := eb.Error.Message + "\n" + strings.Join(eb.Error.Details, "\n")
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("error %q does not say %q", text, w)
		}
	}
	return eb.Error
}

func listConfig(t *testing.T, env *nodetest.Env, name string) ([]api.ConfigEntry, string) {
	t.Helper()
	status, h, body := admin(t, env, "GET", "/v1/services/"+name+"/config", "")
	if status != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("GET config: %d %q %s", status, h.Get("Content-Type"), body)
	}
	var entries []api.ConfigEntry
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		t.Fatalf("GET config: %v: %s", err, body)
	}
	return entries, body
}

// TestConfigAPI sets, lists and removes configuration through the admin
// API of a real node, and checks that a secret never comes back: not in a
// listing, the service's detail, its logs, the node's diagnostics, or an
// error.
func TestConfigAPI(t *testing.T) {
	t.Parallel()
	env, diag := startNode(t, "cfg", "other")
	start := time.Now()

	status, _, body := admin(t, env, "PUT", "/v1/services/cfg/config", `{"values": {"GREETING": "hello", "DSN": "postgres://db?sslmode=disable&a=b"}}`)
	if status != http.StatusNoContent || body != "" {
		t.Fatalf("PUT config: %d %s", status, body)
	}
	status, _, body = admin(t, env, "PUT", "/v1/services/cfg/config", `{"values": {"DB_PASSWORD": "`+secret+`"}, "secret": true}`)
	if status != http.StatusNoContent {
		t.Fatalf("PUT secret: %d %s", status, body)
	}

	t.Run("list", func(t *testing.T) {
		entries, raw := listConfig(t, env, "cfg")
		keys := make([]string, 0, len(entries))
		for _, e := range entries {
			keys = append(keys, e.Key)
			if e.Updated.Before(start.Add(-time.Second)) || e.Updated.After(time.Now().Add(time.Second)) {
				t.Errorf("%s: updated %v, want about now", e.Key, e.Updated)
			}
		}
		if want := []string{"DB_PASSWORD", "DSN", "GREETING"}; !slices.Equal(keys, want) {
			t.Fatalf("keys %v, want %v (sorted)", keys, want)
		}
		if e := entries[0]; !e.Secret || e.Value != "" {
			t.Errorf("the secret is listed as %+v, want secret with an empty value", e)
		}
		if e := entries[1]; e.Secret || e.Value != "postgres://db?sslmode=disable&a=b" {
			t.Errorf("DSN: %+v", e)
		}
		if e := entries[2]; e.Secret || e.Value != "hello" {
			t.Errorf("GREETING: %+v", e)
		}
		if strings.Contains(raw, secret) {
			t.Errorf("the listing shows the secret: %s", raw)
		}
		if !strings.Contains(raw, `"value":""`) || !strings.Contains(raw, `"secret":true`) {
			t.Errorf("a secret must be listed with \"value\":\"\" and \"secret\":true: %s", raw)
		}
	})
	t.Run("other services see none of it", func(t *testing.T) {
		if entries, _ := listConfig(t, env, "other"); len(entries) != 0 {
			t.Errorf("other's config: %+v", entries)
		}
	})
	t.Run("update keeps other keys", func(t *testing.T) {
		status, _, body := admin(t, env, "PUT", "/v1/services/cfg/config", `{"values": {"GREETING": "hi"}, "secret": false}`)
		if status != http.StatusNoContent {
			t.Fatalf("PUT: %d %s", status, body)
		}
		entries, _ := listConfig(t, env, "cfg")
		if len(entries) != 3 || entries[2].Value != "hi" || !entries[0].Secret {
			t.Errorf("after the update: %+v", entries)
		}
	})
	t.Run("the secret is nowhere", func(t *testing.T) {
		for _, path := range []string{"/v1/services", "/v1/services/cfg", "/v1/services/cfg/versions", "/v1/instances", "/v1/info", "/metrics"} {
			status, _, body := admin(t, env, "GET", path, "")
			if status != 200 {
				t.Errorf("GET %s: %d", path, status)
			}
			if strings.Contains(body, secret) {
				t.Errorf("GET %s shows the secret", path)
			}
		}
		// The service's logs say what was set, by key only.
		var lines []string
		nodetest.Eventually(t, 10*time.Second, "the config lines in cfg's logs", func() bool {
			lines = lines[:0]
			for e, err := range env.Client.Logs(t.Context(), "cfg", client.LogOptions{}) {
				if err != nil {
					t.Fatalf("logs: %v", err)
				}
				lines = append(lines, e.Message)
			}
			return slices.Contains(lines, "config: set secret DB_PASSWORD") && slices.Contains(lines, "config: set DSN, GREETING")
		})
		for _, l := range lines {
			if strings.Contains(l, secret) {
				t.Errorf("log line shows the secret: %q", l)
			}
		}
		if strings.Contains(diag.String(), secret) {
			t.Errorf("the node's diagnostics show the secret:\n%s", diag.String())
		}
	})
	t.Run("delete", func(t *testing.T) {
		status, _, body := admin(t, env, "DELETE", "/v1/services/cfg/config/GREETING", "")
		if status != http.StatusNoContent || body != "" {
			t.Fatalf("DELETE: %d %s", status, body)
		}
		entries, _ := listConfig(t, env, "cfg")
		if len(entries) != 2 || entries[0].Key != "DB_PASSWORD" || entries[1].Key != "DSN" {
			t.Errorf("after the delete: %+v", entries)
		}
		status, h, body := admin(t, env, "DELETE", "/v1/services/cfg/config/GREETING", "")
		e := wantError(t, status, h, body, 404, api.CodeNotFound, "cfg", "GREETING")
		if !strings.Contains(e.Hint, "mote config ls cfg") {
			t.Errorf("hint %q", e.Hint)
		}
	})
	t.Run("removing the service removes its config", func(t *testing.T) {
		if err := env.Client.DeleteService(t.Context(), "cfg"); err != nil {
			t.Fatal(err)
		}
		status, h, body := admin(t, env, "GET", "/v1/services/cfg/config", "")
		wantError(t, status, h, body, 404, api.CodeNotFound, "no service named cfg")
		deploy(t, env, "cfg")
		if entries, _ := listConfig(t, env, "cfg"); len(entries) != 0 {
			t.Errorf("a new service of the same name has the old config: %+v", entries)
		}
	})
}

// TestConfigAPIErrors checks every refusal: it names what is wrong (keys,
// sizes, rules) and never repeats a value.
func TestConfigAPIErrors(t *testing.T) {
	t.Parallel()
	env, diag := startNode(t, "cfg")
	big := strings.Repeat("x", 64<<10+1)
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
		wants                    []string
	}{
		{"unknown service set", "PUT", "/v1/services/ghost/config", `{"values": {"A": "` + secret + `"}, "secret": true}`, 404, api.CodeNotFound, []string{"no service named ghost"}},
		{"unknown service list", "GET", "/v1/services/ghost/config", "", 404, api.CodeNotFound, []string{"no service named ghost"}},
		{"unknown service delete", "DELETE", "/v1/services/ghost/config/A", "", 404, api.CodeNotFound, []string{"no service named ghost"}},
		{"unknown key", "DELETE", "/v1/services/cfg/config/NOPE", "", 404, api.CodeNotFound, []string{"NOPE"}},
		{"invalid key delete", "DELETE", "/v1/services/cfg/config/not-a-key", "", 400, api.CodeBadRequest, []string{`"not-a-key"`, "letter or _"}},
		{"invalid key", "PUT", "/v1/services/cfg/config", `{"values": {"bad key": "` + secret + `"}, "secret": true}`, 400, api.CodeBadRequest,
			[]string{`invalid config key "bad key"`, "a key is a letter or _ followed by up to 127 letters, digits or _"}},
		{"key starting with a digit", "PUT", "/v1/services/cfg/config", `{"values": {"1A": "x"}}`, 400, api.CodeBadRequest, []string{`"1A"`}},
		{"long key shortened", "PUT", "/v1/services/cfg/config", `{"values": {"` + strings.Repeat("K", 200) + `": "x"}}`, 400, api.CodeBadRequest, []string{`KKK"...`}},
		{"several invalid keys", "PUT", "/v1/services/cfg/config", `{"values": {"a.b": "` + secret + `", "OK": "` + secret + `", "c d": "` + secret + `"}, "secret": true}`, 400, api.CodeBadRequest,
			[]string{"2 problems", `"a.b"`, `"c d"`}},
		{"value too large", "PUT", "/v1/services/cfg/config", `{"values": {"BIG": "` + big + `"}, "secret": true}`, 400, api.CodeBadRequest,
			[]string{"BIG", "65537 bytes", "65536"}},
		{"no values", "PUT", "/v1/services/cfg/config", `{"values": {}, "secret": true}`, 400, api.CodeBadRequest, []string{"no values"}},
		{"no values field", "PUT", "/v1/services/cfg/config", `{}`, 400, api.CodeBadRequest, []string{"no values"}},
		{"empty body", "PUT", "/v1/services/cfg/config", ``, 400, api.CodeBadRequest, []string{"empty"}},
		{"truncated JSON", "PUT", "/v1/services/cfg/config", `{"values": {"A": "` + secret, 400, api.CodeBadRequest, []string{"ends before"}},
		{"bad escape in a value", "PUT", "/v1/services/cfg/config", `{"values": {"A": "` + secret + `\q"}, "secret": true}`, 400, api.CodeBadRequest, []string{"not valid JSON"}},
		{"value not a string", "PUT", "/v1/services/cfg/config", `{"values": {"A": 42}}`, 400, api.CodeBadRequest, []string{"must be a string"}},
		{"values not an object", "PUT", "/v1/services/cfg/config", `{"values": "` + secret + `"}`, 400, api.CodeBadRequest, []string{"values must be an object"}},
		{"unknown field", "PUT", "/v1/services/cfg/config", `{"vals": {"A": "` + secret + `"}}`, 400, api.CodeBadRequest, []string{`unknown field "vals"`}},
		{"wrong method", "POST", "/v1/services/cfg/config", `{"values": {"A": "x"}}`, 405, api.CodeMethodNotAllowed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := admin(t, env, tt.method, tt.path, tt.body)
			e := wantError(t, status, h, body, tt.status, tt.code, tt.wants...)
			if strings.Contains(body, secret) || strings.Contains(body, "xxxxxxxx") {
				t.Errorf("the error repeats a value: %s", body)
			}
			if tt.method == "PUT" && tt.status == 400 && e.Hint == "" && len(e.Details) == 0 && !strings.Contains(e.Message, "key") && !strings.Contains(e.Message, "bytes") {
				t.Errorf("error %q says neither the rule nor what to send", e.Message)
			}
		})
	}
	// Nothing was set by the refused requests.
	if entries, _ := listConfig(t, env, "cfg"); len(entries) != 0 {
		t.Errorf("refused requests set %+v", entries)
	}
	if strings.Contains(diag.String(), secret) {
		t.Errorf("the node's diagnostics show the secret:\n%s", diag.String())
	}
}

// TestConfigAPIAuth: every config endpoint needs the token, and a refused
// request changes nothing.
func TestConfigAPIAuth(t *testing.T) {
	t.Parallel()
	env, _ := startNode(t, "cfg")
	if err := env.Client.SetConfig(t.Context(), "cfg", map[string]string{"KEEP": "me"}, false); err != nil {
		t.Fatal(err)
	}
	for _, ep := range []struct{ method, path, body string }{
		{"PUT", "/v1/services/cfg/config", `{"values": {"KEEP": "changed"}}`},
		{"GET", "/v1/services/cfg/config", ""},
		{"DELETE", "/v1/services/cfg/config/KEEP", ""},
	} {
		for name, auth := range map[string]string{"none": "", "wrong": "Bearer wrong-token", "basic": "Basic " + env.Node.Token()} {
			t.Run(ep.method+"/"+name, func(t *testing.T) {
				status, h, body := env.Admin(t, ep.method, ep.path, auth, strings.NewReader(ep.body))
				wantError(t, status, h, body, 401, api.CodeUnauthorized)
				if strings.Contains(body, "me") && strings.Contains(body, "KEEP") {
					t.Errorf("a refused request shows config: %s", body)
				}
			})
		}
	}
	entries, _ := listConfig(t, env, "cfg")
	if len(entries) != 1 || entries[0].Value != "me" {
		t.Errorf("refused requests changed the config: %+v", entries)
	}
}
