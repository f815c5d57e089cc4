package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/examples"
	"github.com/mote-run/mote/internal/control"
	"github.com/mote-run/mote/internal/manifest"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// applyExamples are the services TestApply applies, by directory.
var applyExamples = []string{"counter-go", "echo-go", "hello-c"}

// writeExample writes example name's manifest, module and package files
// (not its sources, so its module is never stale) under dir/sub.
func writeExample(t *testing.T, dir, sub, name string) string {
	t.Helper()
	ex, err := examples.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(dir, sub)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(d, "mote.toml"), ex.Manifest)
	m, err := manifest.Parse(ex.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(d, filepath.FromSlash(m.Wasm.Module)), ex.Module)
	for p, b := range ex.Files {
		f := filepath.Join(d, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, f, b)
	}
	return d
}

// servingVersions maps each service on the node to its serving version.
func (n *testNode) servingVersions(t *testing.T) map[string]int {
	t.Helper()
	svcs, err := n.Client.Services(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, s := range svcs {
		out[s.Name] = s.Version
	}
	return out
}

func wantLines(t *testing.T, out string, wants ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, w := range wants {
		if !slices.Contains(lines, w) {
			t.Errorf("output lacks the line %q:\n%s", w, out)
		}
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	n := newTestNode(t)
	dir := t.TempDir()
	for _, name := range applyExamples {
		writeExample(t, dir, name, name)
	}
	want := func(t *testing.T, versions map[string]int) {
		t.Helper()
		if got := n.servingVersions(t); !mapsEqual(got, versions) {
			t.Errorf("serving versions: got %v, want %v", got, versions)
		}
	}

	t.Run("a directory of services is created", func(t *testing.T) {
		r := n.must(t, "apply", "-f", dir)
		wantLines(t, r.stdout, "created counter-go v1", "created echo-go v1", "created hello-c v1", "3 services: 3 created")
		want(t, map[string]int{"counter-go": 1, "echo-go": 1, "hello-c": 1})
		if status, _, body := n.Get(t, "/hello-c/"); status != 200 || !strings.Contains(body, "Hello from C") {
			t.Errorf("GET /hello-c/ = %d %q", status, body)
		}
	})
	t.Run("applying again changes nothing", func(t *testing.T) {
		r := n.must(t, "apply", "-f", dir)
		wantLines(t, r.stdout, "unchanged counter-go v1", "unchanged echo-go v1", "unchanged hello-c v1", "3 services: 3 unchanged")
		want(t, map[string]int{"counter-go": 1, "echo-go": 1, "hello-c": 1})
	})
	t.Run("dry run with nothing changed", func(t *testing.T) {
		r := n.must(t, "apply", "-f", dir, "--dry-run")
		wantLines(t, r.stdout, "unchanged counter-go v1", "unchanged echo-go v1", "unchanged hello-c v1",
			"Dry run, nothing changed. 3 services: 3 unchanged")
	})

	echoToml := filepath.Join(dir, "echo-go", "mote.toml")
	raw, err := os.ReadFile(echoToml)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, echoToml, append(raw, "\n[env]\nGREETING = \"hi\"\n"...))
	// A new module for hello-c: the artifact digest changes, the manifest not.
	writeFile(t, filepath.Join(dir, "hello-c", "hello.wasm"), nodetest.ReadFile(t, guestWasmPath))

	t.Run("dry run sees the changes and makes none", func(t *testing.T) {
		r := n.must(t, "apply", "-f", dir, "--dry-run")
		wantLines(t, r.stdout, "unchanged counter-go v1", "would update echo-go (now v1)", "would update hello-c (now v1)",
			"Dry run, nothing changed. 3 services: 2 to update, 1 unchanged")
		want(t, map[string]int{"counter-go": 1, "echo-go": 1, "hello-c": 1})
	})
	t.Run("changed services are updated, the rest unchanged", func(t *testing.T) {
		r := n.must(t, "apply", "-f", dir)
		wantLines(t, r.stdout, "unchanged counter-go v1", "updated echo-go v2 (was v1)", "updated hello-c v2 (was v1)",
			"3 services: 2 updated, 1 unchanged")
		want(t, map[string]int{"counter-go": 1, "echo-go": 2, "hello-c": 2})
	})

	n.deployGuest(t, "stray", "")
	t.Run("dry run with --prune removes nothing", func(t *testing.T) {
		r := n.must(t, "apply", "-f", dir, "--prune", "--dry-run")
		wantLines(t, r.stdout, "would remove stray", "Dry run, nothing changed. 3 services: 3 unchanged, 1 to remove")
		want(t, map[string]int{"counter-go": 1, "echo-go": 2, "hello-c": 2, "stray": 1})
	})
	t.Run("--prune removes services not applied", func(t *testing.T) {
		r := n.must(t, "apply", "-f", dir, "--prune")
		wantLines(t, r.stdout, "removed stray", "3 services: 3 unchanged, 1 removed")
		want(t, map[string]int{"counter-go": 1, "echo-go": 2, "hello-c": 2})
	})

	t.Run("-o json", func(t *testing.T) {
		n.deployGuest(t, "stray", "")
		r := n.must(t, "apply", "-f", filepath.Join(dir, "hello-c"), "-f", filepath.Join(dir, "echo-go", "mote.toml"), "--dry-run", "--prune", "-o", "json")
		var rep applyReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, r.stdout)
		}
		if !rep.DryRun || len(rep.Services) != 4 {
			t.Fatalf("want a dry run of 4 services, got %+v", rep)
		}
		got := map[string]string{}
		for _, s := range rep.Services {
			got[s.Name] = s.Action
		}
		if w := map[string]string{"hello-c": "unchanged", "echo-go": "unchanged", "counter-go": "remove", "stray": "remove"}; !mapsEqual(got, w) {
			t.Errorf("actions: got %v, want %v", got, w)
		}
		if s := rep.Services[0]; s.Name != "hello-c" || s.Version != 2 || !strings.HasPrefix(s.Digest, "sha256:") || s.File == "" {
			t.Errorf("first entry: %+v", s)
		}
		if err := n.Client.DeleteService(t.Context(), "stray"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("one failure does not stop the others", func(t *testing.T) {
		bad := t.TempDir()
		writeExample(t, bad, "a-hello", "hello-c")
		writeFile(t, filepath.Join(bad, "a-hello", "mote.toml"), []byte("name = \"fresh\"\n\n[wasm]\nmodule = \"hello.wasm\"\n"))
		// Valid to the client, refused by the node.
		junk := filepath.Join(bad, "b-junk")
		if err := os.Mkdir(junk, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(junk, "mote.toml"), []byte("name = \"junk\"\n\n[wasm]\nmodule = \"junk.wasm\"\n"))
		writeFile(t, filepath.Join(junk, "junk.wasm"), []byte("not wasm at all"))
		r := n.fails(t, []string{"apply", "-f", bad, "-f", filepath.Join(dir, "echo-go"), "-f", filepath.Join(dir, "hello-c"), "--prune"},
			"failed junk: ", "Not pruning: junk failed", "Error: 1 of 4 services failed (junk); the others were applied")
		wantLines(t, r.stdout, "created fresh v1", "unchanged echo-go v2", "unchanged hello-c v2", "4 services: 1 created, 2 unchanged, 1 failed")
		want(t, map[string]int{"counter-go": 1, "echo-go": 2, "hello-c": 2, "fresh": 1})
	})
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestApplyChecksFirst checks that problems found before anything is sent
// are all listed and stop the apply: the node (an address where nothing
// listens) is never contacted.
func TestApplyChecksFirst(t *testing.T) {
	t.Parallel()
	hello := nodetest.ReadFile(t, helloWasmPath)
	svc := func(name string) string { return "name = \"" + name + "\"\n\n[wasm]\nmodule = \"hello.wasm\"\n" }
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) []string // returns the -f PATHs
		wants []string
	}{
		{
			name: "every bad manifest is listed",
			setup: func(t *testing.T, dir string) []string {
				for sub, toml := range map[string]string{
					"good":   svc("good"),
					"rules":  "name = \"Bad_Name\"\n\n[wasm]\nmodule = \"hello.wasm\"\n\n[limits]\nmemory = \"64 MB\"\n",
					"syntax": "name = \"x\"\n\n[wasm\nmodule = \"x.wasm\"\n",
					"nomod":  svc("nomod"),
				} {
					d := filepath.Join(dir, sub)
					if err := os.Mkdir(d, 0o755); err != nil {
						t.Fatal(err)
					}
					writeFile(t, filepath.Join(d, "mote.toml"), []byte(toml))
					if sub != "nomod" {
						writeFile(t, filepath.Join(d, "hello.wasm"), hello)
					}
				}
				return []string{dir}
			},
			wants: []string{
				"Error: nothing was applied; fix these first:\n",
				sep("rules", "mote.toml") + ":1: name: ",
				sep("rules", "mote.toml") + ":7: [limits] memory: ",
				sep("syntax", "mote.toml") + ":3: ",
				sep("nomod", "mote.toml") + ": manifest: bad package: module hello.wasm does not exist",
				"\n    Try: ",
			},
		},
		{
			name: "duplicate names name both files",
			setup: func(t *testing.T, dir string) []string {
				a := serviceDir(t, svc("twin"), map[string][]byte{"hello.wasm": hello})
				b := serviceDir(t, svc("twin"), map[string][]byte{"hello.wasm": hello})
				return []string{a, b}
			},
			wants: []string{"service name \"twin\" is also defined by ", "mote.toml: service name"},
		},
		{
			name: "duplicate routes",
			setup: func(t *testing.T, dir string) []string {
				same := func(name string) string {
					return "name = \"" + name + "\"\nroute = \"/same\"\n\n[wasm]\nmodule = \"hello.wasm\"\n"
				}
				return []string{
					serviceDir(t, same("two"), map[string][]byte{"hello.wasm": hello}),
					serviceDir(t, same("three"), map[string][]byte{"hello.wasm": hello}),
				}
			},
			wants: []string{"route /same is also the route of two ("},
		},
		{
			name: "a PATH without services",
			setup: func(t *testing.T, dir string) []string {
				empty := filepath.Join(dir, "empty")
				if err := os.Mkdir(empty, 0o755); err != nil {
					t.Fatal(err)
				}
				return []string{serviceDir(t, svc("fine"), map[string][]byte{"hello.wasm": hello}), empty}
			},
			wants: []string{sep("empty") + ": no mote.toml here, nor do its subdirectories", "-R"},
		},
		{
			name: "a PATH that does not exist",
			setup: func(t *testing.T, dir string) []string {
				return []string{filepath.Join(dir, "nope")}
			},
			wants: []string{sep("nope") + ": the path does not exist"},
		},
		{
			name: "a failing build",
			setup: func(t *testing.T, dir string) []string {
				return []string{serviceDir(t, svc("broken")+"\n[build]\ncommand = \"echo compiler says no >&2; exit 7\"\n", nil)}
			},
			wants: []string{"Building broken: hello.wasm is missing", "compiler says no", "exit code 7"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := []string{"apply", "--prune", "--addr", closedAddr(t), "--token", "x"}
			for _, p := range tt.setup(t, dir) {
				args = append(args, "-f", p)
			}
			r := fails(t, args, tt.wants...)
			if r.stdout != "" {
				t.Errorf("stdout: %q", r.stdout)
			}
			if strings.Contains(r.stderr, "cannot reach") {
				t.Errorf("contacted the node:\n%s", r.stderr)
			}
		})
	}
}

func TestApplyBuilds(t *testing.T) {
	t.Parallel()
	n := newTestNode(t)
	dir := serviceDir(t, "name = \"built\"\n\n[wasm]\nmodule = \"hello.wasm\"\n\n[build]\ncommand = \"cp src.wasm hello.wasm\"\n",
		map[string][]byte{"src.wasm": nodetest.ReadFile(t, helloWasmPath)})

	r := n.must(t, "apply", "-f", dir, "--dry-run")
	wantLines(t, r.stdout, "would create built: [build] runs first (hello.wasm is missing)")
	if _, err := os.Stat(filepath.Join(dir, "hello.wasm")); err == nil {
		t.Error("a dry run built the module")
	}
	r = n.fails(t, []string{"apply", "-f", dir, "--no-build"}, "hello.wasm")
	if len(n.servingVersions(t)) != 0 {
		t.Errorf("--no-build applied a service without its module:\n%s", r)
	}
	r = n.must(t, "apply", "-f", dir)
	if !strings.Contains(r.stderr, "Building built: hello.wasm is missing") {
		t.Errorf("stderr lacks the Building line:\n%s", r.stderr)
	}
	wantLines(t, r.stdout, "created built v1", "1 service: 1 created")
}

// TestManifestFiles checks which manifests a PATH names.
func TestManifestFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, d := range []string{"", "a", "b", "b/deep", ".hidden", "a/.git/x", "c/d"} {
		p := filepath.Join(root, filepath.FromSlash(d))
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(p, "mote.toml"), nil)
	}
	if err := os.Remove(filepath.Join(root, "c", "d", "mote.toml")); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	tests := []struct {
		name      string
		path      string
		recursive bool
		want      []string // relative to root, slash-separated
		wantErr   string
	}{
		{name: "dir and immediate subdirs", path: root, want: []string{"mote.toml", "a/mote.toml", "b/mote.toml"}},
		{name: "recursive", path: root, recursive: true, want: []string{"mote.toml", "a/mote.toml", "b/mote.toml", "b/deep/mote.toml"}},
		{name: "service dir", path: filepath.Join(root, "b", "deep"), want: []string{"b/deep/mote.toml"}},
		{name: "file", path: filepath.Join(root, "a", "mote.toml"), want: []string{"a/mote.toml"}},
		{name: "hidden dir named", path: filepath.Join(root, ".hidden"), want: []string{".hidden/mote.toml"}},
		{name: "empty", path: empty, wantErr: "nor do its subdirectories"},
		{name: "empty recursive", path: empty, recursive: true, wantErr: "at any level"},
		{name: "missing", path: filepath.Join(root, "nope"), wantErr: "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := manifestFiles(tt.path, tt.recursive)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want an error with %q, got %v (files %v)", tt.wantErr, err, files)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range files {
				rel, err := filepath.Rel(root, f)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, filepath.ToSlash(rel))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestArtifactDigest checks that apply's local digest is the node's.
func TestArtifactDigest(t *testing.T) {
	t.Parallel()
	pkg := client.Package{Manifest: []byte("x"), Module: []byte("mod"), Files: map[string][]byte{"b": []byte("2"), "a": []byte("1")}}
	want := control.ArtifactDigest(client.Digest([]byte("mod")), map[string]string{"a": client.Digest([]byte("1")), "b": client.Digest([]byte("2"))})
	if got := artifactDigest(pkg); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if artifactDigest(client.Package{Module: []byte("mod")}) == want {
		t.Error("files do not change the digest")
	}
}

// sep joins elems with the path separator, starting with one.
func sep(elems ...string) string {
	return string(filepath.Separator) + filepath.Join(elems...)
}

// TestPruneRefusesEmptySet checks the guard behind "a PATH without
// services" (which the CLI reports first): pruning with nothing applied
// would remove every service.
func TestPruneRefusesEmptySet(t *testing.T) {
	t.Parallel()
	removed := 0
	_, err := prune(t.Context(), nil, nil, []api.Service{{Name: "keep", Version: 1}}, false, func(applyResult) { removed++ })
	if err == nil || removed != 0 {
		t.Errorf("prune with no services: err %v, %d removed", err, removed)
	}
}
