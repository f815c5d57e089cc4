package hostile_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// wantAPIError checks that err is an *api.Error with status and code.
func wantAPIError(t testing.TB, err error, status int, code string) *api.Error {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v (%T), want an *api.Error %d %s", err, err, status, code)
	}
	if ae.Status != status || ae.Code != code || ae.Message == "" {
		t.Fatalf("got %d %s %q, want %d %s with a message", ae.Status, ae.Code, ae.Message, status, code)
	}
	return ae
}

// deployRaw uploads module and deploys it under manifest m with the SDK's
// lower-level calls, skipping the client's own checks: the node is the
// authority.
func deployRaw(t testing.TB, c *client.Client, m string, module []byte) error {
	t.Helper()
	digest := client.Digest(module)
	if _, err := c.PutBlob(t.Context(), digest, bytes.NewReader(module), int64(len(module))); err != nil {
		t.Fatalf("upload: %v", err)
	}
	_, err := c.DeployRequest(t.Context(), api.DeployRequest{Manifest: m, Module: digest})
	return err
}

// serviceNames lists the node's services.
func serviceNames(t testing.TB, c *client.Client) []string {
	t.Helper()
	svcs, err := c.Services(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range svcs {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

// unchanged checks that the node still has exactly the service "keep" at
// version 1, serving, and nothing else.
func unchanged(t *testing.T, env *nodetest.Env) {
	t.Helper()
	if names := serviceNames(t, env.Client); !slices.Equal(names, []string{"keep"}) {
		t.Errorf("services %q after refused deploys, want only [keep]", names)
	}
	d, err := env.Client.Service(t.Context(), "keep")
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != 1 || d.Latest != 1 || len(d.Versions) != 1 {
		t.Errorf("keep: version %d, latest %d, %d versions after refused deploys; want 1, 1, 1", d.Version, d.Latest, len(d.Versions))
	}
	if r := do(t.Context(), http.DefaultClient, "GET", env.Gateway+"/keep", nil); r.status != 200 || r.body != "hello\n" {
		t.Errorf("keep no longer serves: %s", r)
	}
}

// TestBadModules deploys modules that must be refused, as a new service
// and as a new version of a serving one, and checks that each refusal is
// precise and changes nothing.
func TestBadModules(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	deploy(t, env, "keep", "hello", "", "", nil)
	rng := rand.New(rand.NewChaCha8([32]byte{'m', 'o', 't', 'e'}))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	magic := []byte("\x00asm\x01\x00\x00\x00")

	tests := []struct {
		name   string
		module []byte
		limits string
		want   []string // each in the message
		not    []string // none in the message
	}{
		{"empty", nil, "", []string{"not a WebAssembly module"}, nil},
		{"one-byte", random(1), "", []string{"not a WebAssembly module"}, nil},
		{"random-64B", random(64), "", []string{"not a WebAssembly module"}, nil},
		{"random-1MiB", random(1 << 20), "", []string{"not a WebAssembly module"}, nil},
		{"magic-then-random", append(slices.Clone(magic), random(4096)...), "", nil, nil},
		{"magic-only", magic, "", []string{"_start"}, nil},
		{"unknown-imports", guest(t, "imports"), "", []string{
			"4 function(s)", "env.mystery", "wasi_unstable.fd_write", "mote_v1.teleport", "mote_v1.kv_get (i32) -> (i64)",
		}, []string{"wasi_snapshot_preview1.fd_write"}},
		{"memory-over-limit", guest(t, "bigmem"), "[limits]\nmemory = \"64MiB\"\n", []string{"[limits] memory", "64 MiB"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"keep", "never"} {
				err := deployRaw(t, env.Client, manifest(name, "m", "", tt.limits), tt.module)
				ae := wantAPIError(t, err, 400, api.CodeInvalidModule)
				for _, w := range tt.want {
					if !strings.Contains(ae.Message, w) {
						t.Errorf("deploy %s: message %q does not say %q", name, ae.Message, w)
					}
				}
				for _, w := range tt.not {
					if strings.Contains(ae.Message, w) {
						t.Errorf("deploy %s: message %q names %q, which mote provides", name, ae.Message, w)
					}
				}
			}
			unchanged(t, env)
		})
	}

	t.Run("blob-over-size-limit", func(t *testing.T) {
		if testing.Short() || raceEnabled {
			t.Skip("uploads 256 MiB")
		}
		// The node's blob limit is 256 MiB (store.DefaultMaxBlobSize): one
		// byte more is refused — from its Content-Length, before the body
		// is read — and nothing is stored.
		const size = 256<<20 + 1
		digest := client.Digest([]byte("stands for a module over the limit"))
		start := time.Now()
		_, err := env.Client.PutBlob(t.Context(), digest, io.LimitReader(zeros{}, size), size)
		t.Logf("refused after %s", time.Since(start).Round(time.Millisecond))
		ae := wantAPIError(t, err, 413, api.CodeBodyTooLarge)
		if !strings.Contains(ae.Message, "268435456 bytes") {
			t.Errorf("message %q does not state the limit", ae.Message)
		}
		if has, err := env.Client.HasBlob(t.Context(), digest); err != nil || has {
			t.Errorf("the refused blob is stored (has %v, err %v)", has, err)
		}
		_, err = env.Client.DeployRequest(t.Context(), api.DeployRequest{Manifest: manifest("never", "m", "", ""), Module: digest})
		wantAPIError(t, err, 404, api.CodeNotFound)
		unchanged(t, env)
	})
}

// zeros reads zero bytes forever.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestPathSeparatorsInNames tries to climb out of a name: service names,
// routes and package file paths with separators and dot-dot, and admin
// URLs whose name segment holds encoded separators. Each is refused with a
// message naming the culprit, and nothing is made.
func TestPathSeparatorsInNames(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	deploy(t, env, "keep", "hello", "", "", nil)
	c := env.Client
	module := guest(t, "hello")

	t.Run("service-names", func(t *testing.T) {
		for _, name := range []string{"a/b", "../x", "..", ".", "a\\b", "x/../y", "%2e%2e", "a%2Fb", "/abs", "a\x00b", "a b", ""} {
			m := "name = \"" + strings.ReplaceAll(strings.ReplaceAll(name, "\\", "\\\\"), "\x00", "\\u0000") + "\"\nroute = \"/ok\"\n[wasm]\nmodule = \"m.wasm\"\n"
			_, err := c.Deploy(t.Context(), client.Package{Manifest: []byte(m), Module: module})
			ae := wantAPIError(t, err, 400, api.CodeInvalidManifest)
			if !slices.ContainsFunc(ae.Details, func(d string) bool { return strings.HasPrefix(d, "name: ") }) {
				t.Errorf("name %q: details %q do not name the name", name, ae.Details)
			}
		}
		unchanged(t, env)
	})
	t.Run("routes", func(t *testing.T) {
		for _, route := range []string{"/../admin", "/a/../b", "/a/./b", "/a//b", "relative", "/a?b", "/a#b", "/a b", "/%2e%2e", "/a%2fb", "/a\\u0000b"} {
			m := "name = \"evil\"\nroute = \"" + route + "\"\n[wasm]\nmodule = \"m.wasm\"\n"
			_, err := c.Deploy(t.Context(), client.Package{Manifest: []byte(m), Module: module})
			ae := wantAPIError(t, err, 400, api.CodeInvalidManifest)
			if !slices.ContainsFunc(ae.Details, func(d string) bool { return strings.HasPrefix(d, "route: ") }) {
				t.Errorf("route %q: details %q do not name the route", route, ae.Details)
			}
		}
		unchanged(t, env)
	})
	t.Run("routes-the-gateway-cannot-match", func(t *testing.T) {
		for i, route := range []string{"/a\\\\b", "/é", "/a<b>", "/a{b}", "/a|b", "/a^b", "/a`b"} {
			m := manifest("odd"+string(rune('a'+i)), "m", "", "")
			m = strings.Replace(m, "route = \"/odd"+string(rune('a'+i))+"\"", "route = \""+route+"\"", 1)
			_, err := c.Deploy(t.Context(), client.Package{Manifest: []byte(m), Module: module})
			ae := wantAPIError(t, err, 400, api.CodeInvalidManifest)
			if !slices.ContainsFunc(ae.Details, func(d string) bool { return strings.HasPrefix(d, "route: ") }) {
				t.Errorf("route %q: details %q do not name the route", route, ae.Details)
			}
		}
		unchanged(t, env)
	})
	t.Run("package-file-paths", func(t *testing.T) {
		mod, file := client.Digest(module), client.Digest([]byte("planted"))
		if _, err := c.PutBlob(t.Context(), mod, bytes.NewReader(module), int64(len(module))); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutBlob(t.Context(), file, strings.NewReader("planted"), 7); err != nil {
			t.Fatal(err)
		}
		m := manifest("evil", "m", "files = [\"static\"]\n", "")
		for _, p := range []string{"../planted", "../../planted", "/planted", "static/../../planted", "static\\..\\..\\planted", ".", "", "static//a", "static/./a"} {
			_, err := c.DeployRequest(t.Context(), api.DeployRequest{Manifest: m, Module: mod, Files: map[string]string{p: file}})
			ae := wantAPIError(t, err, 400, api.CodeBadRequest)
			if !strings.Contains(ae.Message, "package file path") {
				t.Errorf("file %q: message %q does not name the path", p, ae.Message)
			}
		}
		unchanged(t, env)
	})
	t.Run("package-file-path-with-NUL", func(t *testing.T) {
		mod, file := client.Digest(module), client.Digest([]byte("planted"))
		if _, err := c.PutBlob(t.Context(), file, strings.NewReader("planted"), 7); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutBlob(t.Context(), mod, bytes.NewReader(module), int64(len(module))); err != nil {
			t.Fatal(err)
		}
		_, err := c.DeployRequest(t.Context(), api.DeployRequest{Manifest: manifest("evil", "m", "files = [\"static\"]\n", ""), Module: mod,
			Files: map[string]string{"static/\x00": file}})
		wantAPIError(t, err, 400, api.CodeBadRequest)
		unchanged(t, env)
	})
	t.Run("admin-delete-of-an-invalid-name", func(t *testing.T) {
		for _, p := range []string{"/v1/services/%2E%2E", "/v1/services/keep%2F..", "/v1/services/a%2Fb"} {
			status, _, body := env.Admin(t, "DELETE", p, "Bearer "+env.Node.Token(), nil)
			if status != 400 && status != 404 {
				t.Errorf("DELETE %s: %d %q, want 400 or 404", p, status, body)
			}
		}
		unchanged(t, env)
	})
	t.Run("admin-urls", func(t *testing.T) {
		token := "Bearer " + env.Node.Token()
		for _, p := range []struct{ method, path string }{
			{"GET", "/v1/services/..%2F..%2Fetc%2Fpasswd"},
			{"GET", "/v1/services/a%2Fb/logs"},
			{"GET", "/v1/services/..%2Fkeep/versions"},
			{"GET", "/v1/services/a%5Cb/versions"},
			{"PUT", "/v1/services/..%2Fkeep/config"},
			{"GET", "/v1/services/..%2Fkeep/invoke"},
			{"GET", "/v1/services/%00/stats"},
			{"HEAD", "/v1/blobs/..%2F..%2Fadmin.token"},
			{"PUT", "/v1/blobs/sha256:..%2F..%2Fx"},
			{"GET", "/v1/keys/..%2F..%2Fx"},
			{"DELETE", "/v1/plans/..%2Fx"},
		} {
			status, h, body := env.Admin(t, p.method, p.path, token, strings.NewReader(`{"values":{"A":"b"}}`))
			if status != 400 && status != 404 {
				t.Errorf("%s %s: %d %q, want 400 or 404", p.method, p.path, status, body)
				continue
			}
			if p.method != "HEAD" && (h.Get("Content-Type") != "application/json" || errorOf(body) == nil) {
				t.Errorf("%s %s: %d %q is not a JSON error", p.method, p.path, status, body)
			}
		}
		unchanged(t, env)
	})
}
