package ociimage_test

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mote-run/mote/internal/ociimage"
)

func TestBuild(t *testing.T) {
	b := build(t, linuxAMD64)
	again := build(t, linuxAMD64)
	if b.Digest != again.Digest || !bytes.Equal(b.Layer, again.Layer) {
		t.Errorf("two builds of the same files differ: %s, %s", b.Digest, again.Digest)
	}
	if b.Digest != ociimage.DigestOf(b.Manifest) {
		t.Errorf("Digest %s is not the manifest's", b.Digest)
	}
	m, err := ociimage.ParseManifest(b.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ociimage.ParseConfig(b.Config)
	if err != nil {
		t.Fatal(err)
	}
	if m.Layers[0].MediaType != ociimage.MediaTypeImageLayerGzip || m.Layers[0].Digest != ociimage.DigestOf(b.Layer) {
		t.Errorf("layer descriptor %+v does not match the layer", m.Layers[0])
	}
	tarball := gunzip(t, b.Layer)
	if c.RootFS.DiffIDs[0] != ociimage.DigestOf(tarball) {
		t.Errorf("diff ID %s, want the tar's digest %s", c.RootFS.DiffIDs[0], ociimage.DigestOf(tarball))
	}
	if !slices.Equal(c.Config.Entrypoint, []string{"/hello"}) || c.Config.User != "65532:65532" || c.Platform() != linuxAMD64 {
		t.Errorf("config = %+v", c)
	}
	want := []string{"bin/", "bin/sh->/hello", "etc/", "etc/motd", "hello", "tmp/"}
	if got := tarFiles(t, tarball); !slices.Equal(got, want) {
		t.Errorf("layer = %v, want %v", got, want)
	}
	tr := tar.NewReader(bytes.NewReader(tarball))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: uid %d gid %d mtime %v, want 0 0 epoch", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		wantMode := map[string]int64{"hello": 0o755, "etc/motd": 0o644, "bin/": 0o755, "etc/": 0o755, "tmp/": 0o1777, "bin/sh": 0o777}[h.Name]
		if h.Mode != wantMode {
			t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, wantMode)
		}
	}
	if other := build(t, linuxARM64); other.Digest == b.Digest {
		t.Error("images for two platforms have the same digest")
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		files []ociimage.File
		p     ociimage.Platform
		words []string
	}{
		{"no platform", testFiles, ociimage.Platform{OS: "linux"}, []string{"needs an OS and an architecture"}},
		{"empty path", []ociimage.File{{Path: "/"}}, linuxAMD64, []string{"not a clean path"}},
		{"dot-dot", []ociimage.File{{Path: "../etc/passwd"}}, linuxAMD64, []string{"not a clean path"}},
		{"unclean", []ociimage.File{{Path: "/a//b"}}, linuxAMD64, []string{"not a clean path"}},
		{"trailing slash", []ociimage.File{{Path: "/a/"}}, linuxAMD64, []string{"not a clean path"}},
		{"twice", []ociimage.File{{Path: "/a"}, {Path: "a"}}, linuxAMD64, []string{"appears twice"}},
		{"file holding files", []ociimage.File{{Path: "/a"}, {Path: "/a/b"}}, linuxAMD64, []string{"a file and a directory"}},
		{"link without target", []ociimage.File{{Path: "/a", Mode: fs.ModeSymlink}}, linuxAMD64, []string{"has no target"}},
		{"bad Env", nil, linuxAMD64, []string{"config.Env[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig
			if tt.files == nil {
				cfg.Env = []string{"NOEQUALS"}
			}
			_, err := ociimage.Build(tt.files, cfg, tt.p)
			wantErr(t, err, ociimage.ErrInvalid, tt.words...)
		})
	}
}

func TestWriteLayout(t *testing.T) {
	b := build(t, linuxAMD64)
	dir := filepath.Join(t.TempDir(), "a", "image")
	if err := b.WriteLayout(dir); err != nil {
		t.Fatal(err)
	}
	// Rewriting the same place with another image replaces index.json.
	arm := build(t, linuxARM64)
	if err := arm.WriteLayout(dir); err != nil {
		t.Fatal(err)
	}
	var names []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return err
	})
	// Two images of the same files share the layer: 5 blobs, 2 files.
	if len(names) != 7 || !slices.Contains(names, "oci-layout") || !slices.Contains(names, "index.json") {
		t.Errorf("layout holds %v", names)
	}
	im, err := ociimage.Resolve(t.Context(), dir, ociimage.ResolveOptions{Platform: linuxARM64})
	if err != nil {
		t.Fatal(err)
	}
	if im.Digest != arm.Digest {
		t.Errorf("layout resolves to %s, want the last image written, %s", im.Digest, arm.Digest)
	}
	idx, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := ociimage.ParseIndex(idx)
	if err != nil || len(x.Manifests) != 1 || x.Manifests[0].Platform == nil || *x.Manifests[0].Platform != linuxARM64 {
		t.Errorf("index.json = %s (%v), want one manifest with its platform", idx, err)
	}
}

func TestWriteArchiveDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := build(t, linuxAMD64).WriteArchive(&a); err != nil {
		t.Fatal(err)
	}
	if err := build(t, linuxAMD64).WriteArchive(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two archives of the same image differ")
	}
}
