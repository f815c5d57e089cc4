package ociimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// Image is one resolved, single-platform image: its manifest (an OCI or
// Docker v2 schema 2 manifest; a docker-save archive's is converted to
// OCI), its config, and a way to read its blobs.
//
// Resolve and (*Built).Image return Images whose fields are consistent:
// Digest is the sha256 of Manifest, Parsed is Manifest parsed, ConfigBytes
// matches Parsed.Config and Config is ConfigBytes parsed, with one diff ID
// per layer.
type Image struct {
	// Manifest is the manifest's bytes, exactly as read (or as converted
	// from a docker-save archive).
	Manifest []byte
	// Digest is the sha256 digest of Manifest: the image's identity.
	Digest string
	// Parsed is Manifest, parsed and checked.
	Parsed Manifest
	// ConfigBytes is the config blob's bytes, verified against its digest.
	ConfigBytes []byte
	// Config is ConfigBytes, parsed and checked.
	Config Config

	// open returns a blob's raw bytes; Open checks them.
	open func(ctx context.Context, d Descriptor) (io.ReadCloser, error)
	// source names where the image came from, for messages.
	source string
}

// Blobs returns the config's descriptor followed by the layers', lowest
// layer first.
func (im *Image) Blobs() []Descriptor {
	return append([]Descriptor{im.Parsed.Config}, im.Parsed.Layers...)
}

// Open returns the bytes of the image's blob with the given digest (the
// config or a layer), streamed from where the image lives. The reader
// checks size and digest as it goes: it fails as soon as more bytes than
// the descriptor's size arrive, and at the end, instead of returning
// io.EOF, returns an error wrapping ErrDigest when the size or digest is
// wrong. A consumer has verified a blob only when it has read it to io.EOF
// (after a tar's end marker, drain the rest: io.Copy(io.Discard, r)).
//
// A digest that is not one of Blobs is an error wrapping ErrNotFound, as is
// a blob missing from the layout, archive or registry. The caller closes
// the reader; ctx bounds a registry download.
func (im *Image) Open(ctx context.Context, digest string) (io.ReadCloser, error) {
	var d Descriptor
	found := false
	for _, b := range im.Blobs() {
		if b.Digest == digest {
			d, found = b, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: blob %s is not part of image %s", ErrNotFound, quote(digest), im.name())
	}
	if d.Digest == im.Parsed.Config.Digest && im.ConfigBytes != nil {
		return io.NopCloser(bytes.NewReader(im.ConfigBytes)), nil
	}
	if im.open == nil {
		return nil, fmt.Errorf("%w: image %s has no blob source (an Image not made by Resolve or Build)", ErrNotFound, im.name())
	}
	rc, err := im.open(ctx, d)
	if err != nil {
		return nil, err
	}
	return newVerifier(rc, d, fmt.Sprintf("blob %s of %s", d.Digest, im.name())), nil
}

// name is how messages refer to the image.
func (im *Image) name() string {
	if im.source != "" {
		return im.source
	}
	return im.Digest
}

// newVerifier wraps rc so that reading it checks d's size and digest; what
// names the blob in messages ("config sha256:...").
func newVerifier(rc io.ReadCloser, d Descriptor, what string) *verifier {
	return &verifier{rc: rc, d: d, h: sha256.New(), what: what}
}

// verifier is a ReadCloser that checks its content against a descriptor.
type verifier struct {
	rc   io.ReadCloser
	d    Descriptor
	h    hash.Hash
	n    int64
	err  error // sticky: the first error returned
	what string
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	// Read at most one byte past the size, to notice a longer blob.
	if rem := v.d.Size - v.n + 1; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := v.rc.Read(p)
	if v.n+int64(n) > v.d.Size {
		n = int(v.d.Size - v.n)
		v.err = fmt.Errorf("%w: %s is longer than its size, %d bytes; the image is corrupt, %s", ErrDigest, v.what, v.d.Size, redo)
		err = v.err
	}
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		err = v.check()
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

// check is called at EOF: it returns io.EOF when the content matches.
func (v *verifier) check() error {
	if v.n != v.d.Size {
		return fmt.Errorf("%w: %s is %d bytes, its descriptor says %d; the image is corrupt or was cut short, %s", ErrDigest, v.what, v.n, v.d.Size, redo)
	}
	if got := "sha256:" + hex.EncodeToString(v.h.Sum(nil)); got != v.d.Digest {
		return fmt.Errorf("%w: %s has digest %s; the image is corrupt, %s", ErrDigest, v.what, got, redo)
	}
	return io.EOF
}

func (v *verifier) Close() error { return v.rc.Close() }

// readVerified reads a whole blob of at most max bytes and checks it; kind
// says what it is ("config", "manifest").
func readVerified(rc io.ReadCloser, d Descriptor, kind string, max int64) ([]byte, error) {
	defer rc.Close()
	what := kind + " " + d.Digest
	if d.Size > max {
		return nil, fmt.Errorf("%w: %s is %d bytes, over the %d MiB limit; %s", ErrInvalid, what, d.Size, max>>20, redo)
	}
	b, err := io.ReadAll(newVerifier(rc, d, what))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// CheckPlatform returns nil when an image with config c runs on want, else
// an error wrapping ErrPlatform such as "image is linux/arm64 but this node
// runs linux/amd64; build or pull the image for linux/amd64". Variants are
// compared after defaults are applied (arm64 means arm64/v8, amd64
// amd64/v1, arm arm/v7).
func CheckPlatform(c Config, want Platform) error {
	if platformMatches(c.Platform(), want) {
		return nil
	}
	return fmt.Errorf("%w: image is %s but this node runs %s; build or pull the image for %s", ErrPlatform, c.Platform(), want, want)
}

// platformMatches reports whether an image for have runs on want.
func platformMatches(have, want Platform) bool {
	return have.OS == want.OS && have.Architecture == want.Architecture &&
		normVariant(have) == normVariant(want)
}

// normVariant applies the default variant of an architecture.
func normVariant(p Platform) string {
	if p.Variant != "" {
		return p.Variant
	}
	switch p.Architecture {
	case "arm64":
		return "v8"
	case "amd64":
		return "v1"
	case "arm":
		return "v7"
	}
	return ""
}
