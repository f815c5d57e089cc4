package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/manifest"
	"github.com/mote-run/mote/internal/ociimage"
	"github.com/mote-run/mote/internal/rootfs"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/store"
)

// hostPlatform is the platform this node runs images for.
var hostPlatform = ociimage.Platform{OS: "linux", Architecture: runtime.GOARCH}

// containerDriver returns the driver that runs [container] versions, or
// an error saying why this node has none.
func (c *Controller) containerDriver() (sandbox.Driver, error) {
	if c.opts.Containers == nil || c.opts.Rootfs == nil {
		why := c.opts.NoContainers
		if why == "" {
			why = "no container driver is configured"
		}
		return nil, fmt.Errorf("this node cannot run [container] services: %s", why)
	}
	return c.opts.Containers, nil
}

// checkImage checks, before a container version is made, that the image
// manifest digest names is an image manifest whose config and layers are
// all uploaded, and that it is built for this node's platform.
func (c *Controller) checkImage(ctx context.Context, digest string) error {
	im, cfg, err := c.readImage(ctx, digest)
	if err != nil {
		return err
	}
	for i, l := range im.Layers {
		if _, err := c.opts.Store.BlobInfo(ctx, l.Digest); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return &api.Error{Code: api.CodeNotFound, Status: 404,
					Message: fmt.Sprintf("layer %d of the image (%s) is not uploaded", i+1, l.Digest),
					Hint:    "upload it first with PUT /v1/blobs/" + l.Digest}
			}
			return internal("check layer %s: %v", l.Digest, err)
		}
	}
	if err := ociimage.CheckPlatform(cfg, hostPlatform); err != nil {
		return &api.Error{Code: api.CodeInvalidModule, Status: 400, Message: err.Error()}
	}
	return nil
}

// readImage reads and parses an image's manifest and config from the
// store. Errors are *api.Error values.
func (c *Controller) readImage(ctx context.Context, digest string) (ociimage.Manifest, ociimage.Config, error) {
	mb, err := c.opts.Store.Blob(ctx, digest)
	if err != nil {
		return ociimage.Manifest{}, ociimage.Config{}, internal("read image manifest %s: %v", digest, err)
	}
	im, err := ociimage.ParseManifest(mb)
	if err != nil {
		return ociimage.Manifest{}, ociimage.Config{}, &api.Error{Code: api.CodeInvalidModule, Status: 400,
			Message: fmt.Sprintf("the module blob %s is not an image manifest: %v", digest, err),
			Hint:    "deploy with `mote deploy`, which uploads the image's manifest as the module"}
	}
	cb, err := c.opts.Store.Blob(ctx, im.Config.Digest)
	if errors.Is(err, store.ErrNotFound) {
		return ociimage.Manifest{}, ociimage.Config{}, &api.Error{Code: api.CodeNotFound, Status: 404,
			Message: fmt.Sprintf("the image config %s is not uploaded", im.Config.Digest),
			Hint:    "upload it first with PUT /v1/blobs/" + im.Config.Digest}
	}
	if err != nil {
		return ociimage.Manifest{}, ociimage.Config{}, internal("read image config %s: %v", im.Config.Digest, err)
	}
	cfg, err := ociimage.ParseConfig(cb)
	if err != nil {
		return ociimage.Manifest{}, ociimage.Config{}, &api.Error{Code: api.CodeInvalidModule, Status: 400,
			Message: fmt.Sprintf("image config %s: %v", im.Config.Digest, err)}
	}
	return im, cfg, nil
}

// containerSpec resolves what the container driver needs for a version:
// the image's root filesystem (unpacked once per chain of layers, shared
// by every version and node restart that uses it), its process (entrypoint,
// command, environment, working directory and user) and the manifest's
// [container] and [limits] settings.
func (c *Controller) containerSpec(ctx context.Context, v api.Version, m *manifest.Manifest) (*sandbox.Container, error) {
	im, cfg, err := c.readImage(ctx, v.Module)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", sandbox.ErrInvalidModule, err)
	}
	if err := ociimage.CheckPlatform(cfg, hostPlatform); err != nil {
		return nil, fmt.Errorf("%w: %v", sandbox.ErrInvalidModule, err)
	}
	layers := make([]rootfs.Layer, len(im.Layers))
	for i, l := range im.Layers {
		layers[i] = rootfs.Layer{Digest: l.Digest, Open: func(ctx context.Context) (io.ReadCloser, error) {
			b, err := c.opts.Store.Blob(ctx, l.Digest)
			if err != nil {
				return nil, fmt.Errorf("read layer %s: %w", l.Digest, err)
			}
			return io.NopCloser(bytes.NewReader(b)), nil
		}}
	}
	shift := c.opts.ContainerUIDShift
	dir, err := c.opts.Rootfs.Get(ctx, layers, rootfs.Options{Chown: true, UIDShift: shift, GIDShift: shift})
	if err != nil {
		return nil, fmt.Errorf("%w: unpack the image: %v", sandbox.ErrInvalidModule, err)
	}
	uid, gid, err := rootfs.LookupUser(dir, cfg.Config.User)
	if err != nil {
		return nil, fmt.Errorf("%w: image user %q: %v", sandbox.ErrInvalidModule, cfg.Config.User, err)
	}
	args := append(append([]string(nil), cfg.Config.Entrypoint...), cfg.Config.Cmd...)
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: the image has no ENTRYPOINT or CMD, so there is nothing to run; set one when you build the image", sandbox.ErrInvalidModule)
	}
	return &sandbox.Container{
		Rootfs:      dir,
		Args:        args,
		Env:         mergeEnv(cfg.Config.Env, m.Env),
		WorkDir:     cfg.Config.WorkingDir,
		UID:         uid,
		GID:         gid,
		UIDShift:    shift,
		Port:        m.Container.Port,
		Concurrency: m.Container.Concurrency,
		CPU:         m.Limits.CPU,
		Pids:        int64(m.Limits.Pids),
		Grace:       time.Duration(m.Container.Grace),
	}, nil
}

// mergeEnv is the image's environment ("K=V" entries) with the manifest's
// [env] over it: a key set in both takes the manifest's value, in the
// image's position; new keys follow in sorted order.
func mergeEnv(image []string, env map[string]string) []string {
	out := make([]string, 0, len(image)+len(env))
	seen := make(map[string]bool, len(env))
	for _, kv := range image {
		k, _, _ := strings.Cut(kv, "=")
		if v, ok := env[k]; ok {
			if seen[k] {
				continue
			}
			seen[k] = true
			kv = k + "=" + v
		}
		out = append(out, kv)
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if !seen[k] {
			out = append(out, k+"="+env[k])
		}
	}
	return out
}
