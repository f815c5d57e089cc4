// Package ociimage reads container images: OCI image layout directories,
// OCI archives (a tar of a layout, optionally gzipped), docker-save archives
// (converted to an OCI manifest) and images in a registry (the pull side of
// the distribution API v2). Resolve turns a reference into an *Image: its
// manifest and config, parsed and checked, and its layers, streamed on
// demand by (*Image).Open with every byte checked against its digest.
//
// It also builds single-layer images from a list of files (Build), which is
// how mote's container example is packed without Docker.
//
// The package uses only the standard library: the client SDK imports it.
//
// Only sha256 digests are accepted, and only tar and tar+gzip layers; zstd
// layers and Docker schema 1 manifests are refused with ErrUnsupported.
package ociimage

import (
	"errors"
	"runtime"
)

// Media types of the OCI image spec and of Docker's image manifest v2
// schema 2.
const (
	MediaTypeImageManifest  = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeImageIndex     = "application/vnd.oci.image.index.v1+json"
	MediaTypeImageConfig    = "application/vnd.oci.image.config.v1+json"
	MediaTypeImageLayer     = "application/vnd.oci.image.layer.v1.tar"
	MediaTypeImageLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
	// MediaTypeImageLayerZstd is recognised only to be refused with a
	// message saying so.
	MediaTypeImageLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"

	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	// MediaTypeDockerLayer is a gzipped tar despite a name that says so
	// only at its end.
	MediaTypeDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	// MediaTypeDockerLayerZstd is recognised only to be refused.
	MediaTypeDockerLayerZstd = "application/vnd.docker.image.rootfs.diff.tar.zstd"
	// MediaTypeDockerForeignLayer (Windows base layers fetched from
	// elsewhere) is recognised only to be refused.
	MediaTypeDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	// MediaTypeDockerSchema1 and MediaTypeDockerSchema1Signed are the
	// obsolete schema 1 manifests, refused.
	MediaTypeDockerSchema1       = "application/vnd.docker.distribution.manifest.v1+json"
	MediaTypeDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// Annotations the layout reader looks at.
const (
	// AnnotationRefName names an image in a layout's index.json; Resolve
	// picks it when the path ends in ":NAME".
	AnnotationRefName = "org.opencontainers.image.ref.name"
	// AnnotationContainerdName is the full image name containerd and Docker
	// write into exported layouts ("docker.io/library/hello:latest").
	AnnotationContainerdName = "io.containerd.image.name"
)

// Limits on what the parsers and readers accept.
const (
	// MaxManifestSize bounds a manifest, an index, a config, a layout's
	// index.json and a docker-save manifest.json.
	MaxManifestSize = 4 << 20
	// MaxLayers bounds the layers of one image.
	MaxLayers = 256
	// MaxIndexDepth bounds how deeply indexes may nest.
	MaxIndexDepth = 4
)

// Errors, by class. Every error this package returns wraps one of them and
// says which field or file is wrong and what to do about it.
var (
	// ErrInvalid: a manifest, index, config or archive is malformed.
	ErrInvalid = errors.New("invalid image")
	// ErrUnsupported: a well-formed image this package cannot use (zstd
	// layers, schema 1 manifests, foreign layers, non-sha256 digests in
	// references, an artifact that is not a container image).
	ErrUnsupported = errors.New("unsupported image")
	// ErrNotFound: no such image path, tag, manifest or blob.
	ErrNotFound = errors.New("image not found")
	// ErrDigest: content does not match its digest or size.
	ErrDigest = errors.New("image content does not match its digest")
	// ErrPlatform: the image is not built for the wanted platform, or an
	// index has no manifest for it.
	ErrPlatform = errors.New("wrong image platform")
	// ErrAmbiguous: a layout or archive holds several images and the
	// reference does not say which.
	ErrAmbiguous = errors.New("ambiguous image reference")
	// ErrAuth: a registry refused the credentials, or asked for some and
	// none were given.
	ErrAuth = errors.New("registry authentication failed")
	// ErrRegistry: a registry answered with an unexpected status or body.
	ErrRegistry = errors.New("registry error")
)

// Descriptor points at a blob: its media type, digest and size (OCI image
// spec, descriptor.md).
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *Platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Platform is an operating system and CPU architecture, as GOOS and GOARCH
// spell them ("linux", "amd64"), with an optional variant ("v7" for arm,
// "v8" for arm64).
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

// DefaultPlatform is linux on the architecture this program runs on.
func DefaultPlatform() Platform {
	return Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// String returns "os/architecture" or "os/architecture/variant".
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Manifest is an image manifest: a config and the layers, lowest first (OCI
// image spec, manifest.md; Docker v2 schema 2 has the same shape).
type Manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	Config        Descriptor        `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// Index lists manifests, usually one per platform (OCI image spec,
// image-index.md; Docker's manifest list has the same shape).
type Index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Manifests     []Descriptor `json:"manifests"`
}

// Config is an image's configuration (OCI image spec, config.md): the
// platform it was built for, how to run it and the digests of its
// uncompressed layers.
type Config struct {
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Variant      string          `json:"variant,omitempty"`
	Config       ContainerConfig `json:"config"`
	RootFS       RootFS          `json:"rootfs"`
}

// Platform returns the platform the config says the image was built for.
func (c Config) Platform() Platform {
	return Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant}
}

// ContainerConfig says how to run the image's process. The field names are
// the spec's (capitalised).
type ContainerConfig struct {
	// User is "user", "uid", "user:group" or "uid:gid"; "" means root.
	User string `json:"User,omitempty"`
	// Env holds "KEY=value" entries.
	Env        []string `json:"Env,omitempty"`
	Entrypoint []string `json:"Entrypoint,omitempty"`
	Cmd        []string `json:"Cmd,omitempty"`
	// WorkingDir is an absolute path; "" means "/".
	WorkingDir string `json:"WorkingDir,omitempty"`
	// ExposedPorts is a set of "port/tcp" (or "/udp") keys.
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
}

// RootFS lists the digests of the uncompressed layers (diff IDs), in the
// manifest's order.
type RootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}
