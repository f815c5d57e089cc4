package examples

import (
	"bytes"
	"errors"
	"github.com/mote-run/mote/internal/manifest"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/BurntSushi/toml"
)

// wasmMagic starts every binary Wasm module: "\0asm" then version 1.
var wasmMagic = []byte("\x00asm\x01\x00\x00\x00")

func TestAll(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 3 {
		t.Fatalf("All() = %d examples, want at least hello-c, hello-go, echo-go", len(all))
	}
	for _, ex := range all {
		t.Run(ex.Dir, func(t *testing.T) {
			if ex.Name != ex.Dir {
				t.Errorf("name %q in mote.toml, want the directory's name %q", ex.Name, ex.Dir)
			}
			if !bytes.HasPrefix(ex.Module, wasmMagic) {
				t.Errorf("module does not start with the Wasm magic and version 1: % x", ex.Module[:min(8, len(ex.Module))])
			}
			var m struct {
				Route string `toml:"route"`
				Wasm  struct {
					ABI string `toml:"abi"`
				} `toml:"wasm"`
				Build struct {
					Command string   `toml:"command"`
					Watch   []string `toml:"watch"`
				} `toml:"build"`
			}
			if _, err := toml.Decode(string(ex.Manifest), &m); err != nil {
				t.Fatal(err)
			}
			if m.Route != "/"+ex.Name {
				t.Errorf("route = %q, want /%s", m.Route, ex.Name)
			}
			switch m.Wasm.ABI {
			case "wagi":
			case "pooled":
				if !strings.Contains(m.Build.Command, "-buildmode=c-shared") {
					t.Errorf("[build] command = %q: a pooled module is a reactor, built with -buildmode=c-shared", m.Build.Command)
				}
			default:
				t.Errorf("[wasm] abi = %q, want wagi or pooled", m.Wasm.ABI)
			}
			if m.Build.Command == "" || len(m.Build.Watch) == 0 {
				t.Errorf("[build] = %+v, want a command and watch patterns", m.Build)
			}
			if _, err := fs.Stat(FS(), ex.Dir+"/README.md"); err != nil {
				t.Errorf("no README.md: %v", err)
			}
		})
	}
}

// TestEmbedsEveryExample checks that the go:embed line lists every example
// directory on disk.
func TestEmbedsEveryExample(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(e.Name(), ManifestName))
		if !e.IsDir() || err != nil {
			continue
		}
		// A [container] example is built (its image is not committed),
		// so it is not embedded: its own test builds and deploys it.
		if m, err := manifest.Parse(b); err == nil && m.Container != nil {
			continue
		}
		onDisk = append(onDisk, e.Name())
	}
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	var embeddedDirs []string
	for _, ex := range all {
		embeddedDirs = append(embeddedDirs, ex.Dir)
	}
	slices.Sort(onDisk)
	slices.Sort(embeddedDirs)
	if !slices.Equal(onDisk, embeddedDirs) {
		t.Errorf("examples on disk %v, embedded %v: add the missing ones to the go:embed line", onDisk, embeddedDirs)
	}
}

func TestGet(t *testing.T) {
	ex, err := Get("hello-c")
	if err != nil {
		t.Fatal(err)
	}
	if ex.Name != "hello-c" || len(ex.Module) == 0 {
		t.Errorf("Get(hello-c) = %s with a %d-byte module", ex.Name, len(ex.Module))
	}
	if _, err := Get("no-such-example"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(no-such-example) error = %v, want ErrNotFound", err)
	}
}

func TestLoad(t *testing.T) {
	module := &fstest.MapFile{Data: wasmMagic}
	tests := []struct {
		name      string
		fsys      fstest.MapFS
		wantErr   bool
		wantFiles []string
	}{
		{
			name: "module only",
			fsys: fstest.MapFS{
				"a/mote.toml": {Data: []byte("name = \"a\"\n[wasm]\nmodule = \"a.wasm\"\n")},
				"a/a.wasm":    module,
			},
		},
		{
			name: "dir without manifest is skipped",
			fsys: fstest.MapFS{
				"a/mote.toml": {Data: []byte("name = \"a\"\n[wasm]\nmodule = \"./a.wasm\"\n")},
				"a/a.wasm":    module,
				"notes/x.txt": {Data: []byte("x")},
				"top.txt":     {Data: []byte("x")},
			},
		},
		{
			name: "files: path, glob and directory, under [wasm]",
			fsys: fstest.MapFS{
				"a/mote.toml":         {Data: []byte("name = \"a\"\n[wasm]\nmodule = \"a.wasm\"\nfiles = [\"static\", \"one.txt\", \"*.json\"]\n")},
				"a/a.wasm":            module,
				"a/one.txt":           {Data: []byte("1")},
				"a/x.json":            {Data: []byte("{}")},
				"a/y.json":            {Data: []byte("{}")},
				"a/static/index.html": {Data: []byte("<p>")},
				"a/static/css/a.css":  {Data: []byte("p{}")},
				"a/unlisted.txt":      {Data: []byte("no")},
			},
			wantFiles: []string{"one.txt", "static/css/a.css", "static/index.html", "x.json", "y.json"},
		},
		{
			name:    "not TOML",
			fsys:    fstest.MapFS{"a/mote.toml": {Data: []byte("name = ")}},
			wantErr: true,
		},
		{
			name:    "no module",
			fsys:    fstest.MapFS{"a/mote.toml": {Data: []byte("name = \"a\"\n")}},
			wantErr: true,
		},
		{
			name:    "module missing",
			fsys:    fstest.MapFS{"a/mote.toml": {Data: []byte("name = \"a\"\n[wasm]\nmodule = \"a.wasm\"\n")}},
			wantErr: true,
		},
		{
			name: "module outside the example",
			fsys: fstest.MapFS{
				"a/mote.toml": {Data: []byte("name = \"a\"\n[wasm]\nmodule = \"../b/b.wasm\"\n")},
				"b/b.wasm":    module,
			},
			wantErr: true,
		},
		{
			name: "absolute module path",
			fsys: fstest.MapFS{
				"a/mote.toml": {Data: []byte("name = \"a\"\n[wasm]\nmodule = \"/a/a.wasm\"\n")},
				"a/a.wasm":    module,
			},
			wantErr: true,
		},
		{
			name: "files outside the example",
			fsys: fstest.MapFS{
				"a/mote.toml": {Data: []byte("name = \"a\"\n[wasm]\nmodule = \"a.wasm\"\nfiles = [\"../b\"]\n")},
				"a/a.wasm":    module,
				"b/x":         {Data: []byte("x")},
			},
			wantErr: true,
		},
		{
			name: "files matching nothing",
			fsys: fstest.MapFS{
				"a/mote.toml": {Data: []byte("name = \"a\"\n[wasm]\nmodule = \"a.wasm\"\nfiles = [\"*.txt\"]\n")},
				"a/a.wasm":    module,
			},
			wantErr: true,
		},
		{
			name: "bad glob",
			fsys: fstest.MapFS{
				"a/mote.toml": {Data: []byte("name = \"a\"\n[wasm]\nmodule = \"a.wasm\"\nfiles = [\"[\"]\n")},
				"a/a.wasm":    module,
			},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all, err := load(tt.fsys)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("load() error = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 1 || all[0].Name != "a" || all[0].Dir != "a" || !bytes.Equal(all[0].Module, wasmMagic) {
				t.Fatalf("load() = %+v, want example a with its module", all)
			}
			var files []string
			for f := range all[0].Files {
				files = append(files, f)
			}
			slices.Sort(files)
			if !slices.Equal(files, tt.wantFiles) {
				t.Errorf("files = %v, want %v", files, tt.wantFiles)
			}
		})
	}
}

// FuzzParse feeds arbitrary manifests to parse: it must return an example or
// an error, never panic, and never read outside the example's directory.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"name = \"a\"\n[wasm]\nmodule = \"a.wasm\"\n",
		"name = \"a\"\n[wasm]\nmodule = \"a.wasm\"\nfiles = [\"s\", \"*.txt\"]\n",
		"[wasm]\nmodule = \"../secret\"\nfiles = [\"../secret\"]\n",
		"name = \"a\"\n[wasm]\nmodule = \"s/../a.wasm\"\nfiles = [\"/\", \"..\", \"\", \"s/../..\"]\n",
	} {
		f.Add(seed)
	}
	fsys := fstest.MapFS{
		"a/a.wasm":  {Data: wasmMagic},
		"a/s/x.txt": {Data: []byte("x")},
		"a/y.txt":   {Data: []byte("y")},
		"secret":    {Data: []byte("secret")},
	}
	f.Fuzz(func(t *testing.T, manifest string) {
		ex, err := parse(fsys, "a", []byte(manifest))
		if err != nil {
			return
		}
		if bytes.Equal(ex.Module, []byte("secret")) {
			t.Errorf("module escaped the example")
		}
		for name, data := range ex.Files {
			if bytes.Equal(data, []byte("secret")) || !fs.ValidPath(name) {
				t.Errorf("file %q escaped the example", name)
			}
		}
	})
}
