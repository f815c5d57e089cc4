package node_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// TestDeploy checks what a deploy does, and what a failed one leaves alone.
func TestDeploy(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	c := env.Client

	t.Run("versions", func(t *testing.T) {
		t.Parallel()
		m1 := guestManifest("ver", "/ver", "")
		m2 := guestManifest("ver", "/ver", "\n[env]\nWHICH = \"two\"\n")
		want := []struct {
			manifest  string
			version   int
			unchanged bool
		}{
			{m1, 1, false},
			{m2, 2, false},
			{m2, 2, true}, // identical: no new version
			{m1, 3, false},
			{m1, 3, true},
		}
		for i, w := range want {
			res, err := c.Deploy(t.Context(), guestPkg(t, w.manifest))
			if err != nil {
				t.Fatalf("deploy %d: %v", i, err)
			}
			if res.Version.Number != w.version || res.Unchanged != w.unchanged || res.Service.Version != w.version || res.Service.Latest != w.version {
				t.Fatalf("deploy %d: version %d (service %d, latest %d) unchanged %v; want version %d unchanged %v",
					i, res.Version.Number, res.Service.Version, res.Service.Latest, res.Unchanged, w.version, w.unchanged)
			}
			if res.Service.URL != env.Gateway+"/ver" {
				t.Errorf("deploy %d: URL %q", i, res.Service.URL)
			}
		}
		vs, err := c.Versions(t.Context(), "ver")
		if err != nil {
			t.Fatal(err)
		}
		var nums []int
		for _, v := range vs {
			nums = append(nums, v.Number)
		}
		if len(nums) != 3 || nums[0] != 3 || nums[1] != 2 || nums[2] != 1 {
			t.Fatalf("versions %v, want [3 2 1] (newest first)", nums)
		}
		if vs[0].Digest != vs[1].Digest || vs[0].Manifest == vs[1].Manifest {
			t.Errorf("versions 3 and 2 share the artifact but not the manifest: %+v %+v", vs[0], vs[1])
		}
		// Version 3 (manifest 1, no WHICH) serves.
		status, _, body := env.Get(t, "/ver/env")
		if status != 200 || strings.Contains(body, "WHICH=") {
			t.Errorf("after deploying version 3: %d %q", status, body)
		}
	})

	t.Run("env-change-serves-at-once", func(t *testing.T) {
		t.Parallel()
		for _, which := range []string{"one", "two", "three"} {
			env.Deploy(t, guestPkg(t, guestManifest("envs", "/envs", "\n[env]\nWHICH = \""+which+"\"\n")))
			// Deploy returns once the new version serves: no polling.
			status, _, body := env.Get(t, "/envs/env")
			if status != 200 || !strings.Contains(body, "WHICH="+which+"\n") {
				t.Fatalf("right after deploying WHICH=%s: %d %q", which, status, body)
			}
		}
	})

	t.Run("invalid-manifest", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name     string
			manifest string
			keys     []string // each detail line must name one, in order
		}{
			{"bad-name", "name = \"Bad_Name\"\n[wasm]\nmodule = \"guest.wasm\"\n", []string{"name"}},
			{"bad-size", guestManifest("badsize", "/badsize", "\n[limits]\nmemory = \"64 MB\"\n"), []string{"[limits] memory"}},
			{"two-problems", "name = \"x y\"\n[wasm]\nmodule = \"guest.wasm\"\n[limits]\ntimeout = \"forever\"\n", []string{"name", "[limits] timeout"}},
			{"no-module", "name = \"nomod\"\n[wasm]\n", []string{"[wasm] module"}},
			{"not-toml", "name = \n", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := c.Deploy(t.Context(), guestPkg(t, tt.manifest))
				ae := wantAPIError(t, err, 400, api.CodeInvalidManifest)
				if tt.keys == nil {
					if len(ae.Details) == 0 {
						t.Errorf("no details in %+v", ae)
					}
					return
				}
				if len(ae.Details) != len(tt.keys) {
					t.Fatalf("details %q, want one per problem: %q", ae.Details, tt.keys)
				}
				for i, k := range tt.keys {
					if !strings.HasPrefix(ae.Details[i], k+": ") {
						t.Errorf("detail %q does not name %s", ae.Details[i], k)
					}
				}
				if len(tt.keys) == 1 && !strings.Contains(ae.Message, tt.keys[0]) {
					t.Errorf("message %q does not name %s", ae.Message, tt.keys[0])
				}
			})
		}
		svcs, err := c.Services(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range svcs {
			switch s.Name {
			case "badsize", "nomod":
				t.Errorf("an invalid manifest made service %s", s.Name)
			}
		}
	})

	t.Run("invalid-module-changes-nothing", func(t *testing.T) {
		t.Parallel()
		good := guestManifest("keep", "/keep", "\n[env]\nWHICH = \"good\"\n")
		env.Deploy(t, guestPkg(t, good))
		bad := guestManifest("keep", "/keep", "\n[env]\nWHICH = \"bad\"\n")
		for _, tt := range []struct {
			file string
			want []string
		}{
			{garbageWasm, []string{"not a WebAssembly module"}},
			{unknownImportWasm, []string{"env.mystery_fn", "wasi_snapshot_preview1.not_a_wasi_call"}},
		} {
			_, err := c.Deploy(t.Context(), client.Package{Manifest: []byte(bad), Module: nodetest.ReadFile(t, tt.file)})
			ae := wantAPIError(t, err, 400, api.CodeInvalidModule)
			for _, w := range tt.want {
				if !strings.Contains(ae.Message, w) {
					t.Errorf("%s: message %q does not name %q", tt.file, ae.Message, w)
				}
			}
			if strings.Contains(ae.Message, "fd_write") {
				t.Errorf("%s: message %q names an import mote provides", tt.file, ae.Message)
			}
		}
		d, err := c.Service(t.Context(), "keep")
		if err != nil {
			t.Fatal(err)
		}
		if d.Version != 1 || d.Latest != 1 || len(d.Versions) != 1 {
			t.Errorf("after failed deploys: version %d latest %d, %d versions; want 1 1 1", d.Version, d.Latest, len(d.Versions))
		}
		status, _, body := env.Get(t, "/keep/env")
		if status != 200 || !strings.Contains(body, "WHICH=good\n") {
			t.Errorf("the old version no longer serves: %d %q", status, body)
		}
		// A new service with a bad module is not made at all.
		_, err = c.Deploy(t.Context(), client.Package{Manifest: []byte(guestManifest("never", "/never", "")), Module: nodetest.ReadFile(t, garbageWasm)})
		wantAPIError(t, err, 400, api.CodeInvalidModule)
		_, err = c.Service(t.Context(), "never")
		wantAPIError(t, err, 404, api.CodeNotFound)
		status, h, body := env.Get(t, "/never/env")
		wantErrorBody(t, status, h, body, 404, api.CodeNotFound)
	})

	t.Run("missing-blob", func(t *testing.T) {
		t.Parallel()
		digest := client.Digest([]byte("never uploaded"))
		_, err := c.DeployRequest(t.Context(), api.DeployRequest{Manifest: guestManifest("noblob", "/noblob", ""), Module: digest})
		ae := wantAPIError(t, err, 404, api.CodeNotFound)
		if !strings.Contains(ae.Message, digest) {
			t.Errorf("message %q does not name the digest", ae.Message)
		}
	})

	t.Run("route-conflict", func(t *testing.T) {
		t.Parallel()
		env.Deploy(t, guestPkg(t, guestManifest("owner", "/shared", "")))
		_, err := c.Deploy(t.Context(), guestPkg(t, guestManifest("intruder", "/shared", "")))
		ae := wantAPIError(t, err, 409, api.CodeConflict)
		if !strings.Contains(ae.Message, "owner") || !strings.Contains(ae.Message, "/shared") {
			t.Errorf("message %q names neither the route nor its owner", ae.Message)
		}
		status, _, body := env.Get(t, "/shared/env")
		if status != 200 || !strings.Contains(body, "SCRIPT_NAME=/shared\n") {
			t.Errorf("the owner no longer serves: %d %q", status, body)
		}
		if _, err := c.Service(t.Context(), "intruder"); err == nil {
			t.Errorf("the refused deploy made a service")
		}
		// The owner itself may redeploy on its route.
		env.Deploy(t, guestPkg(t, guestManifest("owner", "/shared", "\n[env]\nA = \"b\"\n")))
	})

	t.Run("rm", func(t *testing.T) { testRemove(t, env) })
	t.Run("package-files", func(t *testing.T) { testPackageFiles(t, env) })
}

// testRemove checks that mote rm stops routing and deletes versions and logs.
func testRemove(t *testing.T, env *nodetest.Env) {
	t.Parallel()
	c := env.Client
	env.Deploy(t, guestPkg(t, guestManifest("gone", "/gone", "")))
	env.Deploy(t, guestPkg(t, guestManifest("gone", "/gone", "\n[env]\nV = \"2\"\n")))
	_, h, _ := env.Get(t, "/gone/stderr")
	oldID := h.Get("X-Request-Id")
	requestLogs(t, c, "gone", oldID, func(es []api.LogEntry) bool { return len(es) >= 3 })

	if err := c.DeleteService(t.Context(), "gone"); err != nil {
		t.Fatal(err)
	}
	// DeleteService returns once the gateway no longer routes the service.
	status, h, body := env.Get(t, "/gone/env")
	wantErrorBody(t, status, h, body, 404, api.CodeNotFound)
	_, err := c.Service(t.Context(), "gone")
	wantAPIError(t, err, 404, api.CodeNotFound)
	_, err = c.Versions(t.Context(), "gone")
	wantAPIError(t, err, 404, api.CodeNotFound)
	_, err = collectLogs(t, c, "gone")
	wantAPIError(t, err, 404, api.CodeNotFound)
	wantAPIError(t, c.DeleteService(t.Context(), "gone"), 404, api.CodeNotFound)
	svcs, err := c.Services(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs {
		if s.Name == "gone" {
			t.Errorf("services still lists gone")
		}
	}

	// A new service of the same name starts afresh: version 1, no old logs.
	res, err := c.Deploy(t.Context(), guestPkg(t, guestManifest("gone", "/gone", "")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Version.Number != 1 || res.Unchanged {
		t.Errorf("redeploy after rm: version %d unchanged %v, want a new version 1", res.Version.Number, res.Unchanged)
	}
	_, h, _ = env.Get(t, "/gone/stderr")
	newID := h.Get("X-Request-Id")
	requestLogs(t, c, "gone", newID, func(es []api.LogEntry) bool { return len(es) >= 3 })
	all, err := collectLogs(t, c, "gone")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		if e.RequestID == oldID || e.Version > 1 {
			t.Errorf("a line from before mote rm survived: %+v", e)
		}
	}
}

// testPackageFiles checks that [wasm] files are readable by the guest,
// read-only, and that nothing outside them is reachable.
func testPackageFiles(t *testing.T, env *nodetest.Env) {
	t.Parallel()
	pkg := guestPkg(t, guestManifest("files", "/files", "files = [\"static\"]\n"))
	pkg.Files = map[string][]byte{
		"static/a.txt":      []byte("alpha\n"),
		"static/sub/b.txt":  []byte("beta\n"),
		"static/empty.json": {},
	}
	env.Deploy(t, pkg)
	token := env.Node.Token()

	tests := []struct {
		path string
		want string // exact body, or a prefix when it ends in "*"
	}{
		{"/cat?/static/a.txt", "alpha\n"},
		{"/cat?%2Fstatic%2Fsub%2Fb.txt", "beta\n"},
		{"/cat?/static/empty.json", ""},
		{"/cat?/static/missing", "ERR *"},
		{"/ls?/", "static\n"},
		{"/ls?/static", "a.txt\nempty.json\nsub\n"},
		{"/ls?/static/sub", "b.txt\n"},
		{"/write?/static/a.txt", "ERR *"},
		{"/write?/static/new.txt", "ERR *"},
		{"/write?/new.txt", "ERR *"},
		{"/write?/static/sub/b.txt", "ERR *"},
		{"/cat?/static/a.txt", "alpha\n"}, // the writes changed nothing
		// The files live in DATA/files/<digest>/: two levels up is the
		// data dir with the admin token. None of these may reach it.
		{"/cat?../../admin.token", "ERR *"},
		{"/cat?/../../admin.token", "ERR *"},
		{"/cat?/static/../../../admin.token", "ERR *"},
		{"/cat?%2E%2E/%2E%2E/admin.token", "ERR *"},
		{"/cat?/static/sub/../../../../../../etc/passwd", "ERR *"},
		{"/cat?/etc/passwd", "ERR *"},
		{"/cat?/proc/self/environ", "ERR *"},
		{"/write?../../pwned", "ERR *"},
		{"/ls?/..", "*"},
		{"/ls?../..", "*"},
		{"/ls?/static/../../..", "*"},
	}
	for _, tt := range tests {
		status, _, body := env.Get(t, "/files"+tt.path)
		if status != 200 {
			t.Errorf("%s: status %d body %q", tt.path, status, body)
			continue
		}
		if prefix, ok := strings.CutSuffix(tt.want, "*"); ok {
			if !strings.HasPrefix(body, prefix) {
				t.Errorf("%s: %q, want %q…", tt.path, body, prefix)
			}
		} else if body != tt.want {
			t.Errorf("%s: %q, want %q", tt.path, body, tt.want)
		}
		for _, leak := range []string{token, "admin.token", "node.json", "root:", "cache\n", "store\n", "files\n"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s: the guest saw %q outside its files: %q", tt.path, leak, body)
			}
		}
	}
	for _, p := range []string{"pwned", "files/pwned"} {
		if _, err := os.Stat(filepath.Join(env.DataDir, p)); err == nil {
			t.Errorf("the guest wrote DATA/%s", p)
		}
	}
}
