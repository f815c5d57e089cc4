package ociimage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// resolveLocal reads the layout or archive at p; name, when set, picks one
// of several images.
func resolveLocal(ctx context.Context, p, name string, want Platform) (*Image, error) {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist; build the image first (its [build] command) or fix the path", ErrNotFound, p)
		}
		return nil, err
	}
	var s store
	if st.IsDir() {
		s = dirStore{p}
	} else {
		ts, err := openArchive(p)
		if err != nil {
			return nil, err
		}
		s = ts
	}
	_, errLayout := s.size("oci-layout")
	_, errIndex := s.size("index.json")
	if errLayout == nil && errIndex == nil {
		return resolveLayout(ctx, s, p, name, want)
	}
	if _, err := s.size("manifest.json"); err == nil {
		return resolveDockerSave(s, p, name)
	}
	if errLayout == nil {
		return nil, fmt.Errorf("%w: %s has oci-layout but no index.json; the layout is incomplete, build or export the image again", ErrInvalid, p)
	}
	return nil, fmt.Errorf("%w: %s is neither an OCI image layout (oci-layout and index.json) nor a docker-save archive (manifest.json); point [container] image at a layout directory, an OCI or docker-save archive, or a registry reference", ErrInvalid, p)
}

// resolveLayout resolves the image of an OCI image layout.
func resolveLayout(ctx context.Context, s store, p, name string, want Platform) (*Image, error) {
	b, err := readSmall(s, "oci-layout", "oci-layout")
	if err != nil {
		return nil, err
	}
	var layout struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(b, &layout); err != nil {
		return nil, fmt.Errorf("%w: oci-layout is not JSON: %v; build or export the image again", ErrInvalid, err)
	}
	if layout.Version != "1.0.0" {
		return nil, fmt.Errorf("%w: oci-layout: imageLayoutVersion is %s, want \"1.0.0\"", ErrUnsupported, quote(layout.Version))
	}
	b, err = readSmall(s, "index.json", "index.json")
	if err != nil {
		return nil, err
	}
	x, err := ParseIndex(b)
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	d, err := pick(x, want, name, p, "name one as PATH:NAME", true)
	if err != nil {
		return nil, err
	}
	src := &layoutSource{s: s}
	im, err := resolveDesc(ctx, src, d, want, "name one as PATH:NAME", 0)
	if err != nil {
		return nil, err
	}
	// Fail at deploy, not at the first start, when a layer is missing.
	for i, l := range im.Parsed.Layers {
		size, err := s.size(blobPath(l.Digest))
		if err != nil {
			return nil, fmt.Errorf("%w: layers[%d] %s is missing from the layout; the image is incomplete, build or export it again", ErrNotFound, i, l.Digest)
		}
		if size != l.Size {
			return nil, fmt.Errorf("%w: layers[%d] %s is %d bytes, the manifest says %d; the image is corrupt, build or export it again", ErrDigest, i, l.Digest, size, l.Size)
		}
	}
	return im, nil
}

// blobPath is where a layout keeps the blob with digest d.
func blobPath(d string) string {
	return "blobs/" + strings.Replace(d, ":", "/", 1)
}

// layoutSource reads the blobs of a layout.
type layoutSource struct{ s store }

func (l *layoutSource) manifest(ctx context.Context, d Descriptor) ([]byte, error) {
	rc, err := l.blob(ctx, d)
	if err != nil {
		return nil, err
	}
	return readVerified(rc, d, "manifest", MaxManifestSize)
}

func (l *layoutSource) blob(_ context.Context, d Descriptor) (io.ReadCloser, error) {
	if !ValidDigest(d.Digest) { // descriptors were checked; be sure
		return nil, checkDigest("blob", "digest", d.Digest)
	}
	rc, err := l.s.open(blobPath(d.Digest))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: blob %s is missing from the layout; the image is incomplete, build or export it again", ErrNotFound, d.Digest)
		}
		return nil, err
	}
	return rc, nil
}

// dockerEntry is one image of a docker-save archive's manifest.json.
type dockerEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// parseDockerManifest parses and checks a docker-save manifest.json.
func parseDockerManifest(data []byte) ([]dockerEntry, error) {
	const doc = "manifest.json"
	var es []dockerEntry
	if err := decode(doc, data, &es); err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("%w: %s lists no image; save the image again (docker save IMAGE -o FILE)", ErrInvalid, doc)
	}
	for i, e := range es {
		if e.Config == "" || strings.IndexByte(e.Config, 0) >= 0 {
			return nil, fmt.Errorf("%w: %s: [%d].Config is missing or has a NUL byte; save the image again", ErrInvalid, doc, i)
		}
		if len(e.Layers) == 0 {
			return nil, fmt.Errorf("%w: %s: [%d].Layers is empty; an image needs at least one layer", ErrInvalid, doc, i)
		}
		if len(e.Layers) > MaxLayers {
			return nil, fmt.Errorf("%w: %s: [%d] has %d layers, over the limit of %d; squash the image", ErrUnsupported, doc, i, len(e.Layers), MaxLayers)
		}
		for j, l := range e.Layers {
			if l == "" || strings.IndexByte(l, 0) >= 0 {
				return nil, fmt.Errorf("%w: %s: [%d].Layers[%d] is empty or has a NUL byte; save the image again", ErrInvalid, doc, i, j)
			}
		}
	}
	return es, nil
}

// pickDocker chooses the image of a docker-save archive: the one tagged
// name, or the only one.
func pickDocker(es []dockerEntry, p, name string) (dockerEntry, error) {
	var tags []string
	for _, e := range es {
		tags = append(tags, e.RepoTags...)
	}
	if name != "" {
		var found []dockerEntry
		for _, e := range es {
			for _, t := range e.RepoTags {
				_, tag, _ := strings.Cut(t[strings.LastIndexByte(t, '/')+1:], ":")
				if t == name || tag == name || strings.TrimPrefix(t, "docker.io/library/") == name {
					found = append(found, e)
					break
				}
			}
		}
		if len(found) == 0 {
			return dockerEntry{}, fmt.Errorf("%w: %s has no image tagged %q; it has %s", ErrNotFound, p, name, list(tags))
		}
		es = found
	}
	if len(es) > 1 {
		return dockerEntry{}, fmt.Errorf("%w: %s holds %d images (%s); name one as PATH:TAG", ErrAmbiguous, p, len(es), list(tags))
	}
	return es[0], nil
}

// resolveDockerSave converts the image of a docker-save archive (or its
// unpacked directory) to an OCI image: the config as it is, each layer tar
// a layer whose digest is computed here.
func resolveDockerSave(s store, p, name string) (*Image, error) {
	b, err := readSmall(s, "manifest.json", "manifest.json")
	if err != nil {
		return nil, err
	}
	es, err := parseDockerManifest(b)
	if err != nil {
		return nil, err
	}
	e, err := pickDocker(es, p, name)
	if err != nil {
		return nil, err
	}
	cb, err := readSmall(s, e.Config, "config "+e.Config)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: config %s named in manifest.json is missing from %s; save the image again", ErrNotFound, quote(e.Config), p)
		}
		return nil, err
	}
	c, err := ParseConfig(cb)
	if err != nil {
		return nil, err
	}
	if len(c.RootFS.DiffIDs) != len(e.Layers) {
		return nil, fmt.Errorf("%w: config lists %d rootfs.diff_ids for manifest.json's %d layers; save the image again", ErrInvalid, len(c.RootFS.DiffIDs), len(e.Layers))
	}
	sums, err := s.hash(e.Layers)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: a layer named in manifest.json is missing from %s (%v); save the image again", ErrNotFound, p, err)
		}
		return nil, err
	}
	m := Manifest{
		SchemaVersion: 2,
		MediaType:     MediaTypeImageManifest,
		Config:        Descriptor{MediaType: MediaTypeImageConfig, Digest: DigestOf(cb), Size: int64(len(cb))},
	}
	files := map[string]string{} // layer digest → file name
	for i, l := range e.Layers {
		fsum := sums[l]
		mt := MediaTypeImageLayer
		switch {
		case bytes.HasPrefix(fsum.magic, gzipMagic):
			mt = MediaTypeImageLayerGzip
		case bytes.HasPrefix(fsum.magic, zstdMagic):
			return nil, fmt.Errorf("%w: layer %d (%s) is zstd-compressed; zstd layers are not supported, save an image with gzip or uncompressed layers", ErrUnsupported, i, quote(l))
		}
		m.Layers = append(m.Layers, Descriptor{MediaType: mt, Digest: fsum.digest, Size: fsum.size})
		files[fsum.digest] = l
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	open := func(_ context.Context, d Descriptor) (io.ReadCloser, error) {
		name, ok := files[d.Digest]
		if !ok {
			return nil, fmt.Errorf("%w: blob %s is not a layer of %s", ErrNotFound, d.Digest, p)
		}
		rc, err := s.open(name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: layer %s (%s) is missing from %s; save the image again", ErrNotFound, quote(name), d.Digest, p)
		}
		return rc, err
	}
	return &Image{Manifest: mb, Digest: DigestOf(mb), Parsed: m, ConfigBytes: cb, Config: c, open: open}, nil
}
