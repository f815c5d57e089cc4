package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mote-run/mote/internal/manifest"
)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lang   string
		source string
	}{
		{"c", "main.c"},
		{"go", "main.go"},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "svc")
			r := must(t, "new", "my-svc", "--lang", tt.lang, "--dir", dir)
			if !strings.HasPrefix(r.stdout, "Created my-svc ("+tt.lang+") in "+dir+"\n") || !strings.Contains(r.stdout, "mote deploy") {
				t.Errorf("stdout:\n%s", r.stdout)
			}
			for _, f := range []string{"mote.toml", tt.source, "README.md", ".gitignore"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("missing %s: %v", f, err)
				}
			}
			m, _, err := manifest.Load(dir)
			if err != nil {
				t.Fatalf("the new manifest is not valid: %v", err)
			}
			if m.Name != "my-svc" || m.Wasm == nil || m.Build == nil {
				t.Errorf("manifest: %+v", m)
			}
		})
	}
	t.Run("default lang is go", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "svc")
		must(t, "new", "gosvc", "--dir", dir)
		if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
			t.Error(err)
		}
	})
	t.Run("non-empty dir", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "keep.txt"), []byte("mine"))
		fails(t, []string{"new", "x", "--lang", "c", "--dir", dir}, "Error: ", "not empty")
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("new wrote into a non-empty dir: %v", entries)
		}
	})
	t.Run("empty dir is fine", func(t *testing.T) {
		must(t, "new", "x", "--lang", "c", "--dir", t.TempDir())
	})
	t.Run("unknown lang", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "svc")
		fails(t, []string{"new", "x", "--lang", "cobol", "--dir", dir}, `unknown language "cobol"`, "c, go")
		if _, err := os.Stat(dir); err == nil {
			t.Error("created the dir for an unknown language")
		}
	})
	t.Run("bad name", func(t *testing.T) {
		fails(t, []string{"new", "Bad_Name", "--dir", filepath.Join(t.TempDir(), "svc")}, "Error: ")
	})
}

// TestNewInWorkingDir checks that without --dir, new creates NAME in the
// working directory. It changes directory, so it cannot run in parallel.
func TestNewInWorkingDir(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	r := must(t, "new", "here", "--lang", "c")
	if !strings.Contains(r.stdout, "cd here\n") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(wd, "here", "mote.toml")); err != nil {
		t.Error(err)
	}
	fails(t, []string{"new", "here"}, "not empty")
}
