package ociimage

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ResolveOptions configures Resolve. The zero value resolves paths against
// the working directory, for linux on this machine's architecture, with
// http.DefaultClient, anonymously, and plain HTTP only to localhost.
type ResolveOptions struct {
	// Dir is the directory relative paths are resolved against; "" means
	// the working directory.
	Dir string
	// Platform is the platform an index's manifest is picked for; the zero
	// value means DefaultPlatform. Resolve does not check a single
	// manifest's config against it: call CheckPlatform.
	Platform Platform
	// HTTPClient makes registry requests; nil means http.DefaultClient.
	// Timeouts come from the ctx given to Resolve and to (*Image).Open.
	HTTPClient *http.Client
	// Credentials returns the user and password for a registry host (as
	// in the reference: "docker.io", "ghcr.io", "localhost:5000"); ok false
	// means none, and the pull is anonymous. nil means none for every
	// host.
	Credentials func(host string) (user, pass string, ok bool)
	// PlainHTTP reports whether to use http instead of https for a
	// registry host (with its port, if any); nil means only for
	// localhost, 127.0.0.1 and [::1].
	PlainHTTP func(host string) bool
}

// Resolve reads the image ref names. ref is either
//
//   - a path, when it starts with "./", "../" or "/", or names a file or
//     directory that exists (relative paths are relative to opts.Dir): an
//     OCI image layout directory, an OCI archive (a tar of a layout,
//     optionally gzipped), or a docker-save archive or its unpacked
//     directory (converted to an OCI manifest whose layers' digests are
//     computed from the layer tars, read once here). When the layout or
//     archive holds several images, "PATH:NAME" picks the one whose
//     org.opencontainers.image.ref.name (or io.containerd.image.name, or
//     docker-save RepoTag) is NAME;
//   - else a registry reference, "host[:port]/repo[:tag|@digest]"
//     (see ParseReference), pulled with the distribution API v2.
//
// An index is resolved to the manifest for opts.Platform; a layout whose
// index.json lists a single image yields it whatever its platform (call
// CheckPlatform, which says what is wrong). The manifest and config are
// read, checked against their digests, parsed and checked (ParseManifest,
// ParseConfig), and the config must list one diff ID per layer. Layers
// are not read (a layout's are checked to exist with the right size): they
// are streamed by (*Image).Open.
//
// Errors wrap ErrNotFound, ErrInvalid, ErrUnsupported, ErrDigest,
// ErrPlatform, ErrAmbiguous, ErrAuth or ErrRegistry, and say what to do.
func Resolve(ctx context.Context, ref string, opts ResolveOptions) (*Image, error) {
	if opts.Platform == (Platform{}) {
		opts.Platform = DefaultPlatform()
	}
	if p, name, ok := localPath(ref, opts.Dir); ok {
		im, err := resolveLocal(ctx, p, name, opts.Platform)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", ref, err)
		}
		im.source = ref
		return im, nil
	}
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	im, err := pull(ctx, r, opts)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", r, err)
	}
	im.source = r.String()
	return im, nil
}

// localPath decides whether ref is a path, returning the path and the
// ":NAME" suffix, if any.
func localPath(ref, dir string) (p, name string, ok bool) {
	if ref == "" {
		return "", "", false
	}
	full := ref
	if !filepath.IsAbs(ref) && dir != "" {
		full = filepath.Join(dir, ref)
	}
	if _, err := os.Stat(full); err == nil {
		return full, "", true
	}
	explicit := ref == "." || ref == ".." || strings.HasPrefix(ref, "./") ||
		strings.HasPrefix(ref, "../") || strings.HasPrefix(ref, "/")
	if !explicit {
		return "", "", false
	}
	for i := range len(full) {
		if full[i] != ':' {
			continue
		}
		if _, err := os.Stat(full[:i]); err == nil {
			return full[:i], full[i+1:], true
		}
	}
	return full, "", true
}

// source is where an image's manifests and blobs come from.
type source interface {
	// manifest returns the bytes of the manifest or index d points at,
	// checked against d's digest and size.
	manifest(ctx context.Context, d Descriptor) ([]byte, error)
	// blob returns the raw bytes of blob d, not yet checked.
	blob(ctx context.Context, d Descriptor) (io.ReadCloser, error)
}

// resolveDesc resolves a descriptor of a manifest or index to an image;
// hint says how to pick one of several images without a platform.
func resolveDesc(ctx context.Context, src source, d Descriptor, want Platform, hint string, depth int) (*Image, error) {
	if !isIndexType(d.MediaType) && !isManifestType(d.MediaType) {
		return resolveBytes(ctx, src, d.MediaType, nil, d.Digest, want, hint, depth)
	}
	b, err := src.manifest(ctx, d)
	if err != nil {
		return nil, err
	}
	return resolveBytes(ctx, src, d.MediaType, b, d.Digest, want, hint, depth)
}

// resolveBytes resolves the manifest or index b, of media type mt and with
// digest digest, to an image.
func resolveBytes(ctx context.Context, src source, mt string, b []byte, digest string, want Platform, hint string, depth int) (*Image, error) {
	switch {
	case isIndexType(mt):
		if depth >= MaxIndexDepth {
			return nil, fmt.Errorf("%w: indexes nest deeper than %d levels; %s", ErrUnsupported, MaxIndexDepth, redo)
		}
		x, err := ParseIndex(b)
		if err != nil {
			return nil, err
		}
		next, err := pick(x, want, "", "index "+digest, hint, false)
		if err != nil {
			return nil, err
		}
		return resolveDesc(ctx, src, next, want, hint, depth+1)
	case isManifestType(mt):
		return imageFrom(ctx, src, b, digest)
	case isSchema1(mt):
		return nil, fmt.Errorf("%w: %s is a Docker schema 1 manifest, obsolete and not supported; push the image again with a current Docker or builder", ErrUnsupported, digest)
	}
	return nil, fmt.Errorf("%w: %s has media type %s, not an image manifest or index; use a container image", ErrUnsupported, digest, quote(mt))
}

// imageFrom makes an Image of manifest bytes whose digest is digest.
func imageFrom(ctx context.Context, src source, mb []byte, digest string) (*Image, error) {
	m, err := ParseManifest(mb)
	if err != nil {
		return nil, err
	}
	rc, err := src.blob(ctx, m.Config)
	if err != nil {
		return nil, err
	}
	cb, err := readVerified(rc, m.Config, "config", MaxManifestSize)
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(cb)
	if err != nil {
		return nil, err
	}
	if len(c.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%w: config lists %d rootfs.diff_ids for the manifest's %d layers; %s", ErrInvalid, len(c.RootFS.DiffIDs), len(m.Layers), redo)
	}
	return &Image{Manifest: mb, Digest: digest, Parsed: m, ConfigBytes: cb, Config: c, open: src.blob}, nil
}

// pick chooses the entry of x for want: the one named name when name is
// set, then the one whose platform matches, else the only entry without a
// platform. lone says to take a lone entry whatever its platform (a
// layout's index.json lists images, and CheckPlatform says what is wrong
// with the one there). where names x in messages; hint says how to name an
// image when the choice is ambiguous.
func pick(x Index, want Platform, name, where, hint string, lone bool) (Descriptor, error) {
	var cands, others []Descriptor
	for _, d := range x.Manifests {
		if !isIndexType(d.MediaType) && !isManifestType(d.MediaType) {
			others = append(others, d)
			continue // signatures, attestations and other artifacts
		}
		if p := d.Platform; p != nil && p.OS == "unknown" && p.Architecture == "unknown" {
			continue // buildx attestation manifests
		}
		cands = append(cands, d)
	}
	if name != "" {
		var named []Descriptor
		var names []string
		for _, d := range cands {
			if refNameMatches(d, name) {
				named = append(named, d)
			}
			if n := refName(d); n != "" {
				names = append(names, n)
			}
		}
		if len(named) == 0 {
			return Descriptor{}, fmt.Errorf("%w: %s has no image named %q; it has %s", ErrNotFound, where, name, list(names))
		}
		cands = named
	}
	if len(cands) == 0 {
		if len(others) > 0 {
			return Descriptor{}, fmt.Errorf("%w: %s lists no image manifest, only %s; use a container image", ErrUnsupported, where, others[0].MediaType)
		}
		return Descriptor{}, fmt.Errorf("%w: %s lists no image; build or pull the image again", ErrNotFound, where)
	}
	if lone && len(cands) == 1 {
		return cands[0], nil
	}
	var bare []Descriptor
	var platforms []string
	for _, d := range cands {
		if d.Platform == nil {
			bare = append(bare, d)
			continue
		}
		if platformMatches(*d.Platform, want) {
			return d, nil
		}
		platforms = append(platforms, d.Platform.String())
	}
	switch {
	case len(bare) == 1:
		return bare[0], nil
	case len(bare) > 1:
		var choices []string
		for _, d := range bare {
			if n := refName(d); n != "" {
				choices = append(choices, n)
			} else {
				choices = append(choices, d.Digest)
			}
		}
		return Descriptor{}, fmt.Errorf("%w: %s holds %d images (%s); %s", ErrAmbiguous, where, len(bare), strings.Join(choices, ", "), hint)
	}
	return Descriptor{}, fmt.Errorf("%w: %s has no image for %s, only for %s; build or pull the image for %s", ErrPlatform, where, want, list(platforms), want)
}

// list joins names for a message.
func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	return strings.Join(names, ", ")
}

// refName is how an index entry is named in messages.
func refName(d Descriptor) string {
	if n := d.Annotations[AnnotationRefName]; n != "" {
		return n
	}
	return d.Annotations[AnnotationContainerdName]
}

// refNameMatches reports whether index entry d is named name.
func refNameMatches(d Descriptor, name string) bool {
	if d.Annotations[AnnotationRefName] == name {
		return true
	}
	full := d.Annotations[AnnotationContainerdName]
	if full == "" {
		return false
	}
	return full == name || strings.TrimPrefix(full, "docker.io/library/") == name ||
		strings.TrimPrefix(full, "docker.io/") == name
}

// plainHTTPDefault is ResolveOptions.PlainHTTP's default: loopback hosts.
func plainHTTPDefault(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
