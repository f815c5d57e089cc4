package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestReadPackage(t *testing.T) {
	fsys := fstest.MapFS{
		"app.wasm":            {Data: []byte("\x00asm")},
		"static/index.html":   {Data: []byte("<h1>hi</h1>")},
		"static/css/site.css": {Data: []byte("h1{}")},
		"static/.secret":      {Data: []byte("no")},
		"data.json":           {Data: []byte("{}")},
		"main.c":              {Data: []byte("int main(){}")},
		".env":                {Data: []byte("X=1")},
	}
	tests := []struct {
		name    string
		files   string
		want    []string
		wantErr string
	}{
		{name: "no files", files: "", want: nil},
		{name: "a directory selects what is under it, hidden left out", files: `"static"`, want: []string{"static/css/site.css", "static/index.html"}},
		{name: "glob", files: `"*.json"`, want: []string{"data.json"}},
		{name: "double star", files: `"**/*.css"`, want: []string{"static/css/site.css"}},
		{name: "hidden when named", files: `".env"`, want: []string{".env"}},
		{name: "pattern selecting nothing", files: `"nothing/*"`, wantErr: `"nothing/*" selects no file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "name = \"app\"\n[wasm]\nmodule = \"app.wasm\"\n"
			if tt.files != "" {
				src += "files = [" + tt.files + "]\n"
			}
			m, err := Parse([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			module, files, err := m.ReadPackage(fsys)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrPackage) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(module) != "\x00asm" {
				t.Errorf("module = %q", module)
			}
			if len(files) != len(tt.want) {
				t.Fatalf("files = %v, want %v", keys(files), tt.want)
			}
			for _, w := range tt.want {
				if string(files[w]) != string(fsys[w].Data) {
					t.Errorf("file %s = %q", w, files[w])
				}
			}
		})
	}
}

func TestReadPackageRefusesSymlinks(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "static"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "static", "passwd")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	m, err := Parse([]byte("name = \"app\"\n[wasm]\nmodule = \"app.wasm\"\nfiles = [\"static\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = m.ReadPackage(os.DirFS(dir))
	if err == nil || !strings.Contains(err.Error(), "static/passwd is not a regular file") {
		t.Fatalf("err = %v, want a refusal of the symlink", err)
	}
	// A module that is a symlink is refused too.
	if err := os.Rename(filepath.Join(dir, "app.wasm"), filepath.Join(dir, "real.wasm")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real.wasm", filepath.Join(dir, "app.wasm")); err != nil {
		t.Fatal(err)
	}
	m.Wasm.Files = nil
	if _, _, err := m.ReadPackage(os.DirFS(dir)); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("err = %v, want a refusal of the module symlink", err)
	}
}

func TestReadPackageMissingModule(t *testing.T) {
	m, err := Parse([]byte("name = \"app\"\n[wasm]\nmodule = \"app.wasm\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = m.ReadPackage(fstest.MapFS{})
	if err == nil || !strings.Contains(err.Error(), "app.wasm does not exist; Try: mote build") {
		t.Fatalf("err = %v", err)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
