package ociimage_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mote-run/mote/internal/ociimage"
)

var (
	linuxAMD64 = ociimage.Platform{OS: "linux", Architecture: "amd64"}
	linuxARM64 = ociimage.Platform{OS: "linux", Architecture: "arm64"}
)

// testFiles is the layer of the images the tests build.
var testFiles = []ociimage.File{
	{Path: "/hello", Mode: 0o755, Data: []byte("#!hello\n")},
	{Path: "/etc/motd", Data: []byte("hi\n")},
	{Path: "/bin/sh", Link: "/hello"},
	{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
}

var testConfig = ociimage.ContainerConfig{
	User:         "65532:65532",
	Env:          []string{"PATH=/"},
	Entrypoint:   []string{"/hello"},
	ExposedPorts: map[string]struct{}{"8080/tcp": {}},
}

// build makes the test image for p.
func build(t testing.TB, p ociimage.Platform) *ociimage.Built {
	t.Helper()
	b, err := ociimage.Build(testFiles, testConfig, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gunzip returns the uncompressed bytes of a gzip stream.
func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// gzipBytes compresses b.
func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarEntry is a file for makeTar; a Link makes a symbolic link.
type tarEntry struct {
	name, link string
	data       []byte
}

// makeTar writes entries as a tar.
func makeTar(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e.data))}
		if e.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarFiles lists the names in a tar stream, with "->target" for links.
func tarFiles(t testing.TB, b []byte) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		n := h.Name
		if h.Linkname != "" {
			n += "->" + h.Linkname
		}
		names = append(names, n)
	}
}

// writeFile writes data at dir/name, making parents.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// layout writes b as a layout in a new directory under dir and returns it.
func layout(t testing.TB, dir string, b *ociimage.Built) string {
	t.Helper()
	p := filepath.Join(dir, "layout")
	if err := b.WriteLayout(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// blobFile is where layout dir keeps the blob with digest d.
func blobFile(dir, d string) string {
	return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:"))
}

// mustJSON marshals v.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dockerSave returns a docker-save archive of b: manifest.json, the config
// and the layer uncompressed, tagged tags.
func dockerSave(t testing.TB, b *ociimage.Built, tags ...string) []tarEntry {
	t.Helper()
	layer := gunzip(t, b.Layer)
	cfgName := strings.TrimPrefix(ociimage.DigestOf(b.Config), "sha256:") + ".json"
	manifest := mustJSON(t, []map[string]any{{
		"Config": cfgName, "RepoTags": tags, "Layers": []string{"abc/layer.tar"},
	}})
	return []tarEntry{
		{name: "abc/layer.tar", data: layer},
		{name: cfgName, data: b.Config},
		{name: "manifest.json", data: manifest},
	}
}

// wantErr checks that err wraps target and mentions each of the words.
func wantErr(t testing.TB, err, target error, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", target)
	}
	if !errors.Is(err, target) {
		t.Errorf("error %q does not wrap %q", err, target)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}
