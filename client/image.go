package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"

	"github.com/mote-run/mote/internal/ociimage"
)

// ErrInvalidImage: a container image could not be read: a missing or
// malformed layout or archive, a registry that refused it, or no manifest
// for the platform asked for.
var ErrInvalidImage = errors.New("invalid image")

// Image is a container image read for a deploy by ResolveImage: one
// platform's manifest, its config and its layers. Layers are read only
// when Deploy uploads them (and only those the node lacks).
type Image struct {
	img *ociimage.Image
}

// ImageOptions configure ResolveImage. The zero value reads paths relative
// to the working directory and pulls anonymously for linux on this
// machine's architecture.
type ImageOptions struct {
	// Dir resolves a relative image path ("./image"); "" is the working
	// directory. `mote deploy` passes the manifest's directory.
	Dir string
	// Platform picks the image for an OS and architecture, "os/arch" or
	// "os/arch/variant"; "" means "linux/" + runtime.GOARCH. The node
	// refuses an image for another platform than its own.
	Platform string
	// HTTPClient pulls from registries; nil uses http.DefaultClient.
	HTTPClient *http.Client
	// Username and Password, when set, authenticate to the registry.
	Username, Password string
}

// ResolveImage reads the container image ref names: an OCI image layout
// directory, an OCI archive (a tar of a layout, optionally gzipped) or a
// `docker save` archive, given as a path ("./image", "../app.tar",
// "/abs/path"), or else a registry reference ("registry.example.com/app:1",
// "ghcr.io/team/app@sha256:…", "nginx" for Docker Hub's library/nginx:latest).
// For a multi-platform image it picks opts.Platform's manifest. Errors wrap
// ErrInvalidImage and say what was wrong and where.
//
//	img, err := client.ResolveImage(ctx, "./image", client.ImageOptions{Dir: "services/legacy"})
//	res, err := c.Deploy(ctx, client.Package{Manifest: toml, Image: img})
func ResolveImage(ctx context.Context, ref string, opts ImageOptions) (*Image, error) {
	ro := ociimage.ResolveOptions{Dir: opts.Dir, HTTPClient: opts.HTTPClient}
	platform := opts.Platform
	if platform == "" {
		platform = "linux/" + runtime.GOARCH
	}
	parts := strings.Split(platform, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return nil, fmt.Errorf("%w: platform %q: write os/arch like linux/amd64", ErrInvalidImage, platform)
	}
	ro.Platform = ociimage.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		ro.Platform.Variant = parts[2]
	}
	if opts.Username != "" || opts.Password != "" {
		user, pass := opts.Username, opts.Password
		ro.Credentials = func(string) (string, string, bool) { return user, pass, true }
	}
	img, err := ociimage.Resolve(ctx, ref, ro)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidImage, err)
	}
	return &Image{img: img}, nil
}

// Digest is the image manifest's digest: what the node stores as the
// version's module and what `mote versions` shows.
func (i *Image) Digest() string { return i.img.Digest }

// blobs adds the image's blobs to a deploy's.
func (i *Image) blobs(dst map[string]blob) {
	dst[i.img.Digest] = bytesBlob(i.img.Manifest)
	for _, d := range i.img.Blobs() {
		dst[d.Digest] = blob{size: d.Size, open: func(ctx context.Context) (io.ReadCloser, error) {
			return i.img.Open(ctx, d.Digest)
		}}
	}
}
