package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mote-run/mote/internal/node/nodetest"
	"github.com/mote-run/mote/internal/sandbox/oci"
)

func TestDeploy(t *testing.T) {
	t.Parallel()
	n := newTestNode(t)
	hello := nodetest.ReadFile(t, helloWasmPath)

	const manifest = "name = \"hello\"\n\n[wasm]\nmodule = \"hello.wasm\"\n"
	dir := serviceDir(t, manifest, map[string][]byte{"hello.wasm": hello})

	t.Run("first deploy", func(t *testing.T) {
		r := n.must(t, "deploy", dir)
		if !strings.HasPrefix(r.stdout, "Deployed hello version 1 (") {
			t.Errorf("want \"Deployed hello version 1 (...\", got:\n%s", r.stdout)
		}
		if !strings.Contains(r.stdout, "\n  "+n.Gateway+"/hello\n") {
			t.Errorf("output lacks the URL %s/hello:\n%s", n.Gateway, r.stdout)
		}
		if strings.Contains(r.stderr, "Building") {
			t.Errorf("built a module that exists:\n%s", r.stderr)
		}
		status, _, body := n.Get(t, "/hello/world")
		if status != 200 || !strings.Contains(body, "Hello from C on mote!") || !strings.Contains(body, "You asked for /world") {
			t.Errorf("GET /hello/world = %d %q", status, body)
		}
	})
	t.Run("same content again is unchanged", func(t *testing.T) {
		r := n.must(t, "deploy", dir)
		if !strings.HasPrefix(r.stdout, "hello is unchanged: version 1 ") || !strings.Contains(r.stdout, n.Gateway+"/hello") {
			t.Errorf("want unchanged at version 1, got:\n%s", r.stdout)
		}
		if strings.Contains(r.stdout, "Deployed") {
			t.Errorf("made a new version:\n%s", r.stdout)
		}
	})
	t.Run("PATH to the manifest file", func(t *testing.T) {
		// A changed manifest is a new version.
		writeFile(t, filepath.Join(dir, "mote.toml"), []byte(manifest+"\n[env]\nGREETING = \"hi\"\n"))
		r := n.must(t, "deploy", filepath.Join(dir, "mote.toml"))
		if !strings.HasPrefix(r.stdout, "Deployed hello version 2 (") {
			t.Errorf("want version 2, got:\n%s", r.stdout)
		}
	})
	t.Run("no manifest at PATH", func(t *testing.T) {
		n.fails(t, []string{"deploy", t.TempDir()}, "Error: no mote.toml", "Try: ")
	})
	t.Run("build when the module is missing", func(t *testing.T) {
		dir := serviceDir(t, "name = \"built\"\n\n[wasm]\nmodule = \"hello.wasm\"\n\n[build]\ncommand = \"cp src.wasm hello.wasm\"\n",
			map[string][]byte{"src.wasm": hello})
		r := n.must(t, "deploy", dir)
		if !strings.Contains(r.stderr, "Building built: hello.wasm is missing") {
			t.Errorf("stderr lacks the Building line:\n%s", r.stderr)
		}
		if !strings.HasPrefix(r.stdout, "Deployed built version 1 (") {
			t.Errorf("want version 1 of built, got:\n%s", r.stdout)
		}
		if _, err := os.Stat(filepath.Join(dir, "hello.wasm")); err != nil {
			t.Errorf("the build made no module: %v", err)
		}
		if status, _, body := n.Get(t, "/built/"); status != 200 || !strings.Contains(body, "Hello from C") {
			t.Errorf("GET /built/ = %d %q", status, body)
		}
	})
	t.Run("--no-build does not build", func(t *testing.T) {
		dir := serviceDir(t, "name = \"nobuild\"\n\n[wasm]\nmodule = \"hello.wasm\"\n\n[build]\ncommand = \"cp src.wasm hello.wasm\"\n",
			map[string][]byte{"src.wasm": hello})
		r := n.fails(t, []string{"deploy", dir, "--no-build"}, "hello.wasm")
		if strings.Contains(r.stderr, "Building") {
			t.Errorf("built despite --no-build:\n%s", r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "hello.wasm")); err == nil {
			t.Error("the build ran despite --no-build")
		}
	})
	t.Run("failing build", func(t *testing.T) {
		dir := serviceDir(t, "name = \"broken\"\n\n[wasm]\nmodule = \"hello.wasm\"\n\n[build]\ncommand = \"echo compiler says no >&2; exit 7\"\n", nil)
		r := n.fails(t, []string{"deploy", dir}, "Building broken: hello.wasm is missing", "compiler says no", "exit code 7", "Try: ")
		if r.stdout != "" {
			t.Errorf("stdout: %q", r.stdout)
		}
	})
	t.Run("missing module without build", func(t *testing.T) {
		dir := serviceDir(t, manifest, nil)
		r := n.fails(t, []string{"deploy", dir}, "Error: hello.wasm is missing", "\nTry: ")
		if strings.Contains(r.stderr, "Building") {
			t.Errorf("claims to build without [build]:\n%s", r.stderr)
		}
	})
	t.Run("invalid module", func(t *testing.T) {
		dir := serviceDir(t, "name = \"junk\"\n\n[wasm]\nmodule = \"junk.wasm\"\n", map[string][]byte{"junk.wasm": []byte("not wasm at all")})
		n.fails(t, []string{"deploy", dir}, "Error: ")
		if r := n.must(t, "ls"); strings.Contains(r.stdout, "junk") {
			t.Errorf("an invalid module was deployed:\n%s", r.stdout)
		}
	})
}

func TestDeployInvalidManifest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		manifest string
		wants    []string
	}{
		{
			name:     "rules",
			manifest: "name = \"Bad_Name\"\n\n[wasm]\nmodule = \"hello.wasm\"\n\n[limits]\nmemory = \"64 MB\"\n",
			wants:    []string{"mote.toml:1: name: ", "mote.toml:7: [limits] memory: "},
		},
		{
			name:     "syntax",
			manifest: "name = \"x\"\n\n[wasm\nmodule = \"x.wasm\"\n",
			wants:    []string{"mote.toml:3: "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := serviceDir(t, tt.manifest, nil)
			// The manifest is checked before the node is contacted.
			r := fails(t, []string{"deploy", dir, "--addr", closedAddr(t)}, append([]string{"mote.toml is not valid:\n"}, tt.wants...)...)
			if r.stdout != "" {
				t.Errorf("stdout: %q", r.stdout)
			}
			if strings.Contains(r.stderr, "cannot reach") {
				t.Errorf("contacted the node with an invalid manifest:\n%s", r.stderr)
			}
			// Every problem line is indented under the Error line.
			for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n")[1:] {
				if !strings.HasPrefix(line, "  "+filepath.Join(dir, "mote.toml")+":") {
					t.Errorf("problem line %q does not start with the file name", line)
				}
			}
		})
	}
}

func TestBuild(t *testing.T) {
	t.Parallel()
	dir := serviceDir(t, "name = \"built\"\n\n[wasm]\nmodule = \"out.wasm\"\n\n[build]\ncommand = \"echo building; cp src.wasm out.wasm\"\n",
		map[string][]byte{"src.wasm": []byte("\x00asm\x01\x00\x00\x00")})
	r := must(t, "build", dir)
	if !strings.Contains(r.stdout, "building\n") || !strings.Contains(r.stdout, "Built out.wasm") {
		t.Errorf("output:\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.wasm")); err != nil {
		t.Error(err)
	}
	fails(t, []string{"build", serviceDir(t, "name = \"nb\"\n\n[wasm]\nmodule = \"x.wasm\"\n", nil)}, "no [build] command", "Try: ")
}

// TestDeployContainer deploys a [container] service from the CLI: deploy
// runs [build] (the example's image builder) because the image is
// missing, reads the layout, uploads it and the node serves it.
func TestDeployContainer(t *testing.T) {
	if err := oci.Check(); err != nil {
		t.Skipf("containers cannot run here: %v", err)
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build the image")
	}
	t.Parallel()
	n := newTestNode(t)
	build, err := filepath.Abs(filepath.Join("..", "..", "examples", "hello-container", "build"))
	if err != nil {
		t.Fatal(err)
	}
	manifest := "name = \"boxed\"\n\n[container]\nimage = \"./image\"\n\n[build]\ncommand = \"cd " + filepath.Dir(build) + " && go run ./build -o " + "$OLDPWD/image\"\n"
	dir := serviceDir(t, manifest, nil)
	r := n.must(t, "deploy", dir)
	if !strings.Contains(r.stderr, "Building boxed: image is missing") || !strings.HasPrefix(r.stdout, "Deployed boxed version 1 (") {
		t.Fatalf("deploy:\nstdout %s\nstderr %s", r.stdout, r.stderr)
	}
	status, _, body := n.Get(t, "/boxed/there")
	if status != 200 || !strings.Contains(body, "hello from a container") {
		logs := n.mote(t, "", "logs", "boxed")
		t.Fatalf("GET /boxed/there = %d %q\nlogs:\n%s%s", status, body, logs.stdout, logs.stderr)
	}
	r = n.must(t, "ps", "boxed")
	if !strings.Contains(r.stdout, "RESTARTS") || !strings.Contains(r.stdout, "boxed") {
		t.Errorf("ps boxed:\n%s", r.stdout)
	}
	r = n.must(t, "deploy", dir)
	if !strings.HasPrefix(r.stdout, "boxed is unchanged: version 1 ") {
		t.Errorf("second deploy of the same image: %s", r.stdout)
	}
}
