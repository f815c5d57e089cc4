package ociimage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// redo is the advice for content that is malformed.
const redo = "rebuild the image or pull it again"

// DigestOf returns the sha256 digest of b: "sha256:" and 64 lowercase hex
// digits.
func DigestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ValidDigest reports whether s is a sha256 digest: "sha256:" and exactly
// 64 lowercase hex digits. It is the only form this package accepts.
func ValidDigest(s string) bool {
	hexPart, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(hexPart) != 64 {
		return false
	}
	for i := range len(hexPart) {
		c := hexPart[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkDigest returns nil for a valid digest, else an error naming field.
func checkDigest(doc, field, d string) error {
	if ValidDigest(d) {
		return nil
	}
	switch alg, _, _ := strings.Cut(d, ":"); alg {
	case "sha384", "sha512", "blake3":
		return fmt.Errorf("%w: %s: %s %s uses %q; only sha256 digests are supported, push or build the image with sha256", ErrUnsupported, doc, field, quote(d), alg)
	}
	return fmt.Errorf(`%w: %s: %s %s is not a digest ("sha256:" then 64 lowercase hex digits); %s`, ErrInvalid, doc, field, quote(d), redo)
}

// quote shows an untrusted string in a message, cut to 200 bytes.
func quote(s string) string {
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// checkDescriptor checks a descriptor's media type, digest and size.
func checkDescriptor(doc, field string, d Descriptor) error {
	if d.MediaType == "" {
		return fmt.Errorf("%w: %s: %s.mediaType is missing; %s", ErrInvalid, doc, field, redo)
	}
	if err := checkDigest(doc, field+".digest", d.Digest); err != nil {
		return err
	}
	if d.Size < 0 {
		return fmt.Errorf("%w: %s: %s.size is %d, a size cannot be negative; %s", ErrInvalid, doc, field, d.Size, redo)
	}
	return nil
}

// decode unmarshals a bounded JSON document.
func decode(doc string, data []byte, v any) error {
	if len(data) > MaxManifestSize {
		return fmt.Errorf("%w: %s: %d bytes is over the %d MiB limit; %s", ErrInvalid, doc, len(data), MaxManifestSize>>20, redo)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %s: not a JSON object of the expected shape: %v; %s", ErrInvalid, doc, err, redo)
	}
	return nil
}

// checkSchema checks a document's schemaVersion.
func checkSchema(doc string, v int) error {
	switch v {
	case 2:
		return nil
	case 1:
		return fmt.Errorf("%w: %s: schemaVersion 1 (Docker schema 1) is obsolete and not supported; push the image again with a current Docker or builder", ErrUnsupported, doc)
	}
	return fmt.Errorf("%w: %s: schemaVersion is %d, want 2; %s", ErrInvalid, doc, v, redo)
}

// isIndexType and isManifestType classify media types.
func isIndexType(mt string) bool {
	return mt == MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

func isManifestType(mt string) bool {
	return mt == MediaTypeImageManifest || mt == MediaTypeDockerManifest
}

func isSchema1(mt string) bool {
	return mt == MediaTypeDockerSchema1 || mt == MediaTypeDockerSchema1Signed
}

// ParseManifest parses and checks an image manifest (OCI or Docker v2
// schema 2): at most MaxManifestSize bytes, schemaVersion 2, an image config,
// 1 to MaxLayers layers of tar or tar+gzip, sha256 digests and non-negative
// sizes. Errors wrap ErrInvalid, or ErrUnsupported for zstd or foreign
// layers, schema 1 and configs that are not an image's.
func ParseManifest(data []byte) (Manifest, error) {
	const doc = "manifest"
	var m Manifest
	if err := decode(doc, data, &m); err != nil {
		return Manifest{}, err
	}
	if err := checkSchema(doc, m.SchemaVersion); err != nil {
		return Manifest{}, err
	}
	switch mt := m.MediaType; {
	case mt == "" || isManifestType(mt):
	case isIndexType(mt):
		return Manifest{}, fmt.Errorf("%w: %s: mediaType is %s, an index of manifests, not a manifest", ErrInvalid, doc, mt)
	case isSchema1(mt):
		return Manifest{}, fmt.Errorf("%w: %s: mediaType %s (Docker schema 1) is obsolete and not supported; push the image again with a current Docker or builder", ErrUnsupported, doc, mt)
	default:
		return Manifest{}, fmt.Errorf("%w: %s: mediaType %s is not an image manifest; use an OCI or Docker v2 image", ErrUnsupported, doc, quote(mt))
	}
	if err := checkDescriptor(doc, "config", m.Config); err != nil {
		return Manifest{}, err
	}
	switch mt := m.Config.MediaType; mt {
	case MediaTypeImageConfig, MediaTypeDockerConfig:
	default:
		return Manifest{}, fmt.Errorf("%w: %s: config.mediaType %s is not a container image config: this is an artifact (a Wasm module, a chart, a signature...), not an image to run; use a container image", ErrUnsupported, doc, quote(mt))
	}
	if m.Config.Size > MaxManifestSize {
		return Manifest{}, fmt.Errorf("%w: %s: config.size %d is over the %d MiB limit for a config; %s", ErrInvalid, doc, m.Config.Size, MaxManifestSize>>20, redo)
	}
	if len(m.Layers) == 0 {
		return Manifest{}, fmt.Errorf("%w: %s: layers is empty; an image needs at least one layer holding its files", ErrInvalid, doc)
	}
	if len(m.Layers) > MaxLayers {
		return Manifest{}, fmt.Errorf("%w: %s: %d layers is over the limit of %d; squash the image (fewer RUN/COPY steps, or a multi-stage build)", ErrUnsupported, doc, len(m.Layers), MaxLayers)
	}
	for i, l := range m.Layers {
		field := fmt.Sprintf("layers[%d]", i)
		if err := checkDescriptor(doc, field, l); err != nil {
			return Manifest{}, err
		}
		if err := checkLayerType(doc, field, l.MediaType); err != nil {
			return Manifest{}, err
		}
	}
	return m, nil
}

// checkLayerType accepts tar and tar+gzip layer media types.
func checkLayerType(doc, field, mt string) error {
	switch mt {
	case MediaTypeImageLayer, MediaTypeImageLayerGzip, MediaTypeDockerLayer:
		return nil
	case MediaTypeImageLayerZstd, MediaTypeDockerLayerZstd:
		return fmt.Errorf("%w: %s: %s.mediaType is %s: zstd-compressed layers are not supported; build or push the image with gzip layers (docker buildx: --output type=image,compression=gzip)", ErrUnsupported, doc, field, mt)
	case MediaTypeDockerForeignLayer:
		return fmt.Errorf("%w: %s: %s.mediaType is %s, a foreign (Windows) layer; use a Linux image", ErrUnsupported, doc, field, mt)
	}
	if strings.Contains(mt, "nondistributable") {
		return fmt.Errorf("%w: %s: %s.mediaType is %s, a non-distributable layer; use an image whose layers are all in it", ErrUnsupported, doc, field, mt)
	}
	return fmt.Errorf("%w: %s: %s.mediaType %s is not a tar or tar+gzip layer; use a container image", ErrUnsupported, doc, field, quote(mt))
}

// ParseIndex parses and checks an image index or Docker manifest list: at
// most MaxManifestSize bytes, schemaVersion 2, descriptors with a media
// type, a sha256 digest and a non-negative size. The entries' media types
// are not restricted (an index may list artifacts); Resolve skips what it
// cannot use. Errors wrap ErrInvalid or ErrUnsupported.
func ParseIndex(data []byte) (Index, error) {
	const doc = "index"
	var x Index
	if err := decode(doc, data, &x); err != nil {
		return Index{}, err
	}
	if err := checkSchema(doc, x.SchemaVersion); err != nil {
		return Index{}, err
	}
	switch mt := x.MediaType; {
	case mt == "" || isIndexType(mt):
	case isManifestType(mt):
		return Index{}, fmt.Errorf("%w: %s: mediaType is %s, a single manifest, not an index", ErrInvalid, doc, mt)
	default:
		return Index{}, fmt.Errorf("%w: %s: mediaType %s is not an image index; use an OCI or Docker v2 image", ErrUnsupported, doc, quote(mt))
	}
	for i, d := range x.Manifests {
		if err := checkDescriptor(doc, fmt.Sprintf("manifests[%d]", i), d); err != nil {
			return Index{}, err
		}
	}
	return x, nil
}

// ParseConfig parses and checks an image config: at most MaxManifestSize
// bytes, os and architecture set, rootfs of type "layers" with at most
// MaxLayers sha256 diff IDs, Env entries of the form KEY=value, an absolute
// WorkingDir and no NUL byte in what becomes the process (User, Env,
// Entrypoint, Cmd, WorkingDir). Errors wrap ErrInvalid.
func ParseConfig(data []byte) (Config, error) {
	const doc = "config"
	var c Config
	if err := decode(doc, data, &c); err != nil {
		return Config{}, err
	}
	if c.OS == "" {
		return Config{}, fmt.Errorf("%w: %s: os is missing; %s", ErrInvalid, doc, redo)
	}
	if c.Architecture == "" {
		return Config{}, fmt.Errorf("%w: %s: architecture is missing; %s", ErrInvalid, doc, redo)
	}
	if c.RootFS.Type != "layers" {
		return Config{}, fmt.Errorf("%w: %s: rootfs.type is %s, want \"layers\"; %s", ErrInvalid, doc, quote(c.RootFS.Type), redo)
	}
	if len(c.RootFS.DiffIDs) > MaxLayers {
		return Config{}, fmt.Errorf("%w: %s: %d rootfs.diff_ids is over the limit of %d layers; squash the image", ErrUnsupported, doc, len(c.RootFS.DiffIDs), MaxLayers)
	}
	for i, d := range c.RootFS.DiffIDs {
		if err := checkDigest(doc, fmt.Sprintf("rootfs.diff_ids[%d]", i), d); err != nil {
			return Config{}, err
		}
	}
	cc := c.Config
	nul := func(field, s string) error {
		if strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("%w: %s: config.%s %s contains a NUL byte; fix it in the image's build file", ErrInvalid, doc, field, quote(s))
		}
		return nil
	}
	if err := nul("User", cc.User); err != nil {
		return Config{}, err
	}
	if err := nul("WorkingDir", cc.WorkingDir); err != nil {
		return Config{}, err
	}
	if cc.WorkingDir != "" && !path.IsAbs(cc.WorkingDir) {
		return Config{}, fmt.Errorf("%w: %s: config.WorkingDir %s is not an absolute path; set WORKDIR to a path starting with /", ErrInvalid, doc, quote(cc.WorkingDir))
	}
	for i, e := range cc.Env {
		if err := nul(fmt.Sprintf("Env[%d]", i), e); err != nil {
			return Config{}, err
		}
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return Config{}, fmt.Errorf("%w: %s: config.Env[%d] %s is not KEY=value; fix the ENV line in the image's build file", ErrInvalid, doc, i, quote(e))
		}
	}
	for i, a := range cc.Entrypoint {
		if err := nul(fmt.Sprintf("Entrypoint[%d]", i), a); err != nil {
			return Config{}, err
		}
	}
	for i, a := range cc.Cmd {
		if err := nul(fmt.Sprintf("Cmd[%d]", i), a); err != nil {
			return Config{}, err
		}
	}
	return c, nil
}
