package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/mote-run/mote/internal/ociimage"
)

// TestBuild runs the builder into a temporary directory and resolves the
// image it wrote.
func TestBuild(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH to compile the server with")
	}
	if testing.Short() {
		t.Skip("compiles the server (slow with a cold build cache)")
	}
	out := filepath.Join(t.TempDir(), "image")
	b, dir, err := run(t.Context(), out, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	if dir != out {
		t.Errorf("wrote to %s, want %s", dir, out)
	}
	im, err := ociimage.Resolve(t.Context(), out, ociimage.ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if im.Digest != b.Digest {
		t.Errorf("layout resolves to %s, want %s", im.Digest, b.Digest)
	}
	if err := ociimage.CheckPlatform(im.Config, ociimage.DefaultPlatform()); err != nil {
		t.Error(err)
	}
	c := im.Config.Config
	if !slices.Equal(c.Entrypoint, []string{"/hello"}) || c.User != "65532:65532" ||
		!slices.Equal(c.Env, []string{"PATH=/"}) || len(c.ExposedPorts) != 1 {
		t.Errorf("config = %+v", c)
	}
	rc, err := im.Open(t.Context(), im.Parsed.Layers[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 4)
	io.ReadFull(tr, head)
	if h.Name != "hello" || h.Mode != 0o755 || !bytes.Equal(head, []byte("\x7fELF")) {
		t.Errorf("layer starts with %s mode %o %q, want hello, 0755, an ELF binary", h.Name, h.Mode, head)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Errorf("layer does not match its digest: %v", err)
	}

	// Packing again replaces the layout and its old blobs; a directory
	// that is not a layout is left alone.
	writeFileT(t, filepath.Join(out, "blobs", "sha256", "old"), "x")
	bin, _ := b.Blob(b.Digest) // any bytes make another image
	again, err := pack(bin, runtime.GOARCH, out)
	if err != nil {
		t.Fatalf("packing over the layout: %v", err)
	}
	if im, err := ociimage.Resolve(t.Context(), out, ociimage.ResolveOptions{}); err != nil || im.Digest != again.Digest {
		t.Errorf("after packing again, the layout resolves to %v, %v; want %s", im, err, again.Digest)
	}
	if _, err := os.Stat(filepath.Join(out, "blobs", "sha256", "old")); err == nil {
		t.Error("an old blob survived packing again")
	}
	other := t.TempDir()
	writeFileT(t, filepath.Join(other, "keep"), "x")
	if _, _, err := run(t.Context(), other, runtime.GOARCH); err == nil || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Errorf("building over a directory that is not a layout: %v", err)
	}
	if _, err := os.Stat(filepath.Join(other, "keep")); err != nil {
		t.Errorf("the directory's file is gone: %v", err)
	}
}

func writeFileT(t *testing.T, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
