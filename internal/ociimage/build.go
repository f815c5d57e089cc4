package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File is one entry of a layer Build makes.
type File struct {
	// Path is where the file is in the image, slash-separated; a leading
	// "/" is optional ("hello" and "/hello" are the same). It must be
	// clean: no "." or ".." elements, no doubled or trailing slash.
	Path string
	// Mode is the permission bits, plus fs.ModeDir for a directory or
	// fs.ModeSymlink for a symbolic link. Zero permissions mean 0644 for a
	// file, 0755 for a directory.
	Mode fs.FileMode
	// Data is a regular file's content.
	Data []byte
	// Link is a symbolic link's target; setting it makes the entry a link
	// whatever Mode says.
	Link string
}

// Built is an image Build made, held in memory: one gzipped layer, its
// config and manifest. Only Build makes usable Built values.
type Built struct {
	// Manifest is the OCI image manifest; Digest is its sha256 digest.
	Manifest []byte
	Digest   string
	// Config is the image config.
	Config []byte
	// Layer is the gzipped layer tar.
	Layer []byte
	// Platform is the platform the image was built for.
	Platform Platform

	parsed Manifest
	config Config
}

// buildTime is every entry's modification time: the epoch, so that the
// same files make the same image.
var buildTime = time.Unix(0, 0).UTC()

// Build packs files into a single-layer OCI image for platform p, run as
// cfg says. The layer is deterministic: entries sorted by path, parent
// directories added (0755), owner 0:0, modification time the epoch, then
// gzipped; the config's diff ID is the sha256 of the uncompressed tar. The
// same arguments give the same bytes. Errors wrap ErrInvalid: a path that is
// empty, unclean, repeated or under a file; a platform without OS or
// architecture.
func Build(layer []File, cfg ContainerConfig, p Platform) (*Built, error) {
	if p.OS == "" || p.Architecture == "" {
		return nil, fmt.Errorf("%w: build: platform %s needs an OS and an architecture (like linux/amd64)", ErrInvalid, p)
	}
	tarball, err := buildTar(layer)
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(tarball); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	c := Config{
		Architecture: p.Architecture,
		OS:           p.OS,
		Variant:      p.Variant,
		Config:       cfg,
		RootFS:       RootFS{Type: "layers", DiffIDs: []string{DigestOf(tarball)}},
	}
	cb, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	if _, err := ParseConfig(cb); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	m := Manifest{
		SchemaVersion: 2,
		MediaType:     MediaTypeImageManifest,
		Config:        Descriptor{MediaType: MediaTypeImageConfig, Digest: DigestOf(cb), Size: int64(len(cb))},
		Layers:        []Descriptor{{MediaType: MediaTypeImageLayerGzip, Digest: DigestOf(gz.Bytes()), Size: int64(gz.Len())}},
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &Built{Manifest: mb, Digest: DigestOf(mb), Config: cb, Layer: gz.Bytes(), Platform: p, parsed: m, config: c}, nil
}

// buildTar writes the layer's tar.
func buildTar(files []File) ([]byte, error) {
	entries := map[string]File{}
	dirs := map[string]bool{}
	for _, f := range files {
		p := strings.TrimPrefix(f.Path, "/")
		if p == "" || path.Clean(p) != p || strings.HasPrefix(p, "../") || p == ".." {
			return nil, fmt.Errorf("%w: build: file path %s is not a clean path inside the image (like /app/run)", ErrInvalid, quote(f.Path))
		}
		if _, dup := entries[p]; dup {
			return nil, fmt.Errorf("%w: build: file path %s appears twice", ErrInvalid, quote(f.Path))
		}
		entries[p] = f
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for d := range dirs {
		f, ok := entries[d]
		if !ok {
			entries[d] = File{Path: d, Mode: fs.ModeDir | 0o755}
		} else if f.Link != "" || !f.Mode.IsDir() {
			return nil, fmt.Errorf("%w: build: %s is a file and a directory holding other files", ErrInvalid, quote(d))
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range entries {
			if !yield(n) {
				return
			}
		}
	})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		f := entries[n]
		h := &tar.Header{Name: n, ModTime: buildTime, Format: tar.FormatPAX, Mode: int64(f.Mode.Perm())}
		switch {
		case f.Link != "" || f.Mode&fs.ModeSymlink != 0:
			if f.Link == "" {
				return nil, fmt.Errorf("%w: build: symbolic link %s has no target (File.Link)", ErrInvalid, quote(n))
			}
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.Link, 0o777
		case f.Mode.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, n+"/"
			if h.Mode == 0 {
				h.Mode = 0o755
			}
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Data))
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		}
		if f.Mode&fs.ModeSetuid != 0 {
			h.Mode |= 0o4000
		}
		if f.Mode&fs.ModeSetgid != 0 {
			h.Mode |= 0o2000
		}
		if f.Mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%w: build: %s: %v", ErrInvalid, quote(n), err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Blob returns the bytes of the image's manifest, config or layer with the
// given digest.
func (b *Built) Blob(digest string) ([]byte, bool) {
	if len(b.parsed.Layers) == 0 {
		return nil, false // not made by Build
	}
	switch digest {
	case b.Digest:
		return b.Manifest, true
	case b.parsed.Config.Digest:
		return b.Config, true
	case b.parsed.Layers[0].Digest:
		return b.Layer, true
	}
	return nil, false
}

// Descriptor returns the manifest's descriptor, with the platform, as an
// index lists it.
func (b *Built) Descriptor() Descriptor {
	p := b.Platform
	return Descriptor{MediaType: MediaTypeImageManifest, Digest: b.Digest, Size: int64(len(b.Manifest)), Platform: &p}
}

// Image returns the image as an *Image reading from memory.
func (b *Built) Image() *Image {
	return &Image{
		Manifest: b.Manifest, Digest: b.Digest, Parsed: b.parsed, ConfigBytes: b.Config, Config: b.config,
		open: func(_ context.Context, d Descriptor) (io.ReadCloser, error) {
			data, ok := b.Blob(d.Digest)
			if !ok {
				return nil, fmt.Errorf("%w: blob %s", ErrNotFound, d.Digest)
			}
			return io.NopCloser(bytes.NewReader(data)), nil
		},
	}
}

// layoutFiles returns the files of the image's OCI layout, in the order
// they are written: blobs first, index.json last.
func (b *Built) layoutFiles() ([]File, error) {
	if len(b.parsed.Layers) == 0 {
		return nil, fmt.Errorf("%w: a Built not made by Build", ErrInvalid)
	}
	index := Index{SchemaVersion: 2, MediaType: MediaTypeImageIndex, Manifests: []Descriptor{b.Descriptor()}}
	ib, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}
	return []File{
		{Path: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{Path: blobPath(b.parsed.Layers[0].Digest), Data: b.Layer},
		{Path: blobPath(b.parsed.Config.Digest), Data: b.Config},
		{Path: blobPath(b.Digest), Data: b.Manifest},
		{Path: "index.json", Data: ib},
	}, nil
}

// WriteLayout writes the image as an OCI image layout in dir, creating it
// and its parents (0755): oci-layout, blobs/sha256/... and index.json,
// which names the image's manifest with its platform. index.json is
// written last and replaced atomically, so a reader sees the old image or
// the new one; blobs of an image written there before are left.
func (b *Built) WriteLayout(dir string) error {
	files, err := b.layoutFiles()
	if err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write layout: %w", err)
		}
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, f.Data, 0o644); err != nil {
			return fmt.Errorf("write layout: %w", err)
		}
		if err := os.Rename(tmp, p); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("write layout: %w", err)
		}
	}
	return nil
}

// WriteArchive writes the image as an OCI archive to w: an uncompressed
// tar of the layout WriteLayout writes, deterministic like the layer.
func (b *Built) WriteArchive(w io.Writer) error {
	files, err := b.layoutFiles()
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: buildTime, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	for _, f := range files {
		h := &tar.Header{Name: f.Path, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(f.Data)), ModTime: buildTime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	return tw.Close()
}
