package scaffold

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/BurntSushi/toml"

	"github.com/mote-run/mote/guest"
)

// manifest is the part of a generated mote.toml the tests check.
type manifest struct {
	Name  string `toml:"name"`
	Route string `toml:"route"`
	Wasm  struct {
		Module string `toml:"module"`
		ABI    string `toml:"abi"`
	} `toml:"wasm"`
	Build struct {
		Command string   `toml:"command"`
		Watch   []string `toml:"watch"`
	} `toml:"build"`
}

func readManifest(t *testing.T, dir string) manifest {
	t.Helper()
	var m manifest
	if _, err := toml.DecodeFile(filepath.Join(dir, "mote.toml"), &m); err != nil {
		t.Fatalf("generated mote.toml: %v", err)
	}
	return m
}

func TestLangs(t *testing.T) {
	if got := Langs(); !slices.Equal(got, []string{"c", "go"}) {
		t.Errorf("Langs() = %v, want [c go]", got)
	}
}

func TestCreate(t *testing.T) {
	tests := []struct {
		lang  string
		abi   string
		files []string
		// contains maps a file to text it must hold.
		contains map[string]string
	}{
		{
			lang:  "go",
			abi:   "pooled",
			files: []string{".gitignore", "README.md", "go.mod", "main.go", "main_test.go", "mote.toml", "vendor"},
			contains: map[string]string{
				"go.mod":             "module svc-1\n\ngo 1.24\n\nrequire github.com/mote-run/mote v0.0.0\n",
				"main.go":            `guest.Serve(newHandler())`,
				"main_test.go":       `guesttest.Do(t, newHandler(), "/svc-1"`,
				".gitignore":         "/svc-1.wasm\n",
				"README.md":          "curl http://127.0.0.1:8080/svc-1/world",
				"mote.toml":          "-buildmode=c-shared",
				"vendor/modules.txt": "# github.com/mote-run/mote v0.0.0\n## explicit; go 1.24\ngithub.com/mote-run/mote/guest\n",
				"vendor/github.com/mote-run/mote/guest/kv/kv.go": "package kv",
			},
		},
		{
			lang:  "",
			abi:   "pooled",
			files: []string{".gitignore", "README.md", "go.mod", "main.go", "main_test.go", "mote.toml", "vendor"},
		},
		{
			lang:  "c",
			abi:   "wagi",
			files: []string{".gitignore", "README.md", "main.c", "mote.toml"},
			contains: map[string]string{
				"main.c":     `getenv("PATH_INFO")`,
				".gitignore": "/svc-1.wasm\n",
				"README.md":  "curl http://127.0.0.1:8080/svc-1/world",
			},
		},
	}
	for _, tt := range tests {
		t.Run("lang="+tt.lang, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "nested", "svc-1")
			if err := Create(dir, "svc-1", tt.lang); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, e.Name())
			}
			if !slices.Equal(got, tt.files) {
				t.Errorf("files = %v, want %v", got, tt.files)
			}
			for name, want := range tt.contains {
				data, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(data), want) {
					t.Errorf("%s does not contain %q:\n%s", name, want, data)
				}
			}
			for _, name := range got {
				if name == "vendor" {
					continue // copied, not rendered: checked by TestVendorSDK
				}
				data, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(data, []byte("{{")) || bytes.Contains(data, []byte("<no value>")) {
					t.Errorf("%s is not fully rendered:\n%s", name, data)
				}
			}
			m := readManifest(t, dir)
			if m.Name != "svc-1" || m.Route != "/svc-1" || m.Wasm.Module != "svc-1.wasm" || m.Wasm.ABI != tt.abi {
				t.Errorf("mote.toml = %+v", m)
			}
			if !strings.Contains(m.Build.Command, "-o svc-1.wasm") || len(m.Build.Watch) == 0 {
				t.Errorf("[build] = %+v, want a command writing svc-1.wasm and watch patterns", m.Build)
			}
		})
	}
}

func TestCreateIntoEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := Create(dir, "a", "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "main.c")); err != nil {
		t.Error(err)
	}
}

func TestCreateErrors(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name, svc, lang string
		setup           func(t *testing.T, dir string)
		want            error
		wantMsg         string
	}{
		{name: "empty name", svc: "", lang: "go", want: ErrInvalidName},
		{name: "64 chars", svc: long, lang: "go", want: ErrInvalidName},
		{name: "upper case", svc: "Hello", lang: "go", want: ErrInvalidName},
		{name: "underscore", svc: "a_b", lang: "go", want: ErrInvalidName},
		{name: "dot", svc: "a.b", lang: "go", want: ErrInvalidName},
		{name: "slash", svc: "a/b", lang: "go", want: ErrInvalidName},
		{name: "leading dash", svc: "-a", lang: "go", want: ErrInvalidName},
		{name: "trailing dash", svc: "a-", lang: "go", want: ErrInvalidName},
		{name: "non-ASCII", svc: "café", lang: "go", want: ErrInvalidName},
		{name: "unknown lang", svc: "a", lang: "rust", want: ErrUnknownLang, wantMsg: "choose one of c, go"},
		{name: "lang is case-sensitive", svc: "a", lang: "Go", want: ErrUnknownLang},
		{
			name: "dir not empty", svc: "a", lang: "go", want: ErrDirNotEmpty,
			setup: func(t *testing.T, dir string) {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("mine"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "dir is a file", svc: "a", lang: "go", want: ErrDirNotEmpty,
			setup: func(t *testing.T, dir string) {
				if err := os.WriteFile(dir, []byte("mine"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "svc")
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			err := Create(dir, tt.svc, tt.lang)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Create() error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if tt.setup == nil {
				if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("failed Create left %s behind (stat: %v)", dir, err)
				}
			}
			if tt.want == ErrDirNotEmpty {
				if data, _ := os.ReadFile(filepath.Join(dir, "main.go")); tt.name == "dir not empty" && string(data) != "mine" {
					t.Errorf("Create overwrote main.go: %q", data)
				}
			}
		})
	}
}

func TestValidName(t *testing.T) {
	for _, name := range []string{"a", "0", "hello", "hello-c", "a-b-c", "9lives", strings.Repeat("a", 63)} {
		if err := validName(name); err != nil {
			t.Errorf("validName(%q) = %v, want nil", name, err)
		}
	}
}

func TestOutputName(t *testing.T) {
	for tmpl, want := range map[string]string{
		"main.go.tmpl":       "main.go",
		"go.mod.tmpl":        "go.mod",
		"dot-gitignore.tmpl": ".gitignore",
		"README.md.tmpl":     "README.md",
		"dot-":               ".",
	} {
		if got := outputName(tmpl); got != want {
			t.Errorf("outputName(%q) = %q, want %q", tmpl, got, want)
		}
	}
}

// TestBuild runs each generated [build] command with the real toolchain and
// checks that it makes a Wasm module. The Go service must build offline:
// no proxy, no module cache, no checksum database, no GOFLAGS, only what
// Create wrote (vendor/ included); its test must pass too.
func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not running the Go and C toolchains")
	}
	tests := []struct {
		lang string
		tool string
		// sysroot, when set, must exist for the toolchain to target WASI.
		sysroot string
	}{
		{lang: "go", tool: "go"},
		{lang: "c", tool: "clang", sysroot: "/usr/include/wasm32-wasi/stdio.h"},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			if _, err := exec.LookPath("sh"); err != nil {
				t.Skip("no sh on PATH to run the build command")
			}
			if _, err := exec.LookPath(tt.tool); err != nil {
				t.Skipf("%s is not on PATH: install it to test the %s template's build", tt.tool, tt.lang)
			}
			if tt.sysroot != "" {
				if _, err := os.Stat(tt.sysroot); err != nil {
					t.Skipf("no WASI sysroot (%v): install wasi-libc to test the %s template's build", err, tt.lang)
				}
			}
			dir := filepath.Join(t.TempDir(), "built")
			if err := Create(dir, "built", tt.lang); err != nil {
				t.Fatal(err)
			}
			env := os.Environ()
			if tt.lang == "go" {
				env = offlineGoEnv(t)
			}
			m := readManifest(t, dir)
			run(t, dir, env, m.Build.Command)
			mod, err := os.ReadFile(filepath.Join(dir, m.Wasm.Module))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(mod, []byte("\x00asm")) {
				t.Errorf("%s does not start with the Wasm magic: % x", m.Wasm.Module, mod[:min(8, len(mod))])
			}
			if tt.lang == "go" {
				// vet also the vendored SDK: its stdversion check catches standard
				// library API newer than the go 1.24 the SDK promises.
				run(t, dir, env, "go vet ./... github.com/mote-run/mote/guest/... && go test ./...")
			}
		})
	}
}

// offlineGoEnv is the environment with every way for the go command to
// reach the network or a module cache closed: GOPROXY=off, an empty
// GOMODCACHE, no checksum database, GOENV=off so no go env -w setting
// (GOFLAGS=-mod=mod, say) applies, and the local toolchain only. The build
// cache stays, for speed: it holds no modules.
func offlineGoEnv(t *testing.T) []string {
	out, err := exec.CommandContext(t.Context(), "go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOCACHE: %v", err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "GO") {
			env = append(env, kv)
		}
	}
	return append(env,
		"GOENV=off", "GOPROXY=off", "GOSUMDB=off", "GOTOOLCHAIN=local", "GOWORK=off",
		"GOMODCACHE="+t.TempDir(), "GOCACHE="+strings.TrimSpace(string(out)),
		"GOPATH="+t.TempDir(),
	)
}

// run runs command with sh in dir, failing the test with its output.
func run(t *testing.T, dir string, env []string, command string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "sh", "-c", command)
	cmd.Dir = dir
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
}

func TestVendorSDK(t *testing.T) {
	src := fstest.MapFS{
		"guest.go":               {Data: []byte("package guest")},
		"kv/kv.go":               {Data: []byte("package kv")},
		"kv/more.go":             {Data: []byte("package kv // more")},
		"internal/hostcall/h.go": {Data: []byte("package hostcall")},
	}
	files, err := vendorSDK(src)
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]string)
	for _, f := range files {
		got[f.name] = string(f.data)
	}
	want := map[string]string{
		"vendor/github.com/mote-run/mote/guest/guest.go":               "package guest",
		"vendor/github.com/mote-run/mote/guest/kv/kv.go":               "package kv",
		"vendor/github.com/mote-run/mote/guest/kv/more.go":             "package kv // more",
		"vendor/github.com/mote-run/mote/guest/internal/hostcall/h.go": "package hostcall",
		"vendor/modules.txt": "# github.com/mote-run/mote v0.0.0\n## explicit; go 1.24\n" +
			"github.com/mote-run/mote/guest\n" +
			"github.com/mote-run/mote/guest/internal/hostcall\n" +
			"github.com/mote-run/mote/guest/kv\n",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("vendorSDK =\n%q\nwant\n%q", got, want)
	}
	if _, err := vendorSDK(fstest.MapFS{}); err == nil {
		t.Error("vendoring nothing is not an error")
	}

	// The real SDK: every file of guest.Source, byte for byte.
	files, err = vendorSDK(guest.Source())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = fs.WalkDir(guest.Source(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		data, _ := fs.ReadFile(guest.Source(), p)
		name := "vendor/github.com/mote-run/mote/guest/" + p
		if i := slices.IndexFunc(files, func(f file) bool { return f.name == name }); i < 0 || !bytes.Equal(files[i].data, data) {
			t.Errorf("%s is not vendored as %s", p, name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != n+1 {
		t.Errorf("vendored %d files for %d source files and modules.txt", len(files), n)
	}
}

// TestWriteCleansUp makes a write fail midway (the same name twice) and
// checks that nothing is left behind.
func TestWriteCleansUp(t *testing.T) {
	files := []file{{"a.txt", []byte("a")}, {"deep/er/b.txt", []byte("b")}, {"a.txt", []byte("again")}}
	t.Run("created dir is removed", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "svc")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := write(dir, true, files); err == nil {
			t.Fatal("writing a name twice succeeded")
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the directory is still there: %v", err)
		}
	})
	t.Run("existing dir is emptied", func(t *testing.T) {
		dir := t.TempDir()
		if err := write(dir, false, files); err == nil {
			t.Fatal("writing a name twice succeeded")
		}
		if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
			t.Errorf("left %v behind (%v)", entries, err)
		}
	})
}
