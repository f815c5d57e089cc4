package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"

	"github.com/mote-run/mote/api"
)

// uploadConcurrency bounds how many blobs a Deploy checks and uploads at
// once: enough to hide round trips, few enough not to swamp a small node.
const uploadConcurrency = 4

// Digest returns the content digest of b as the node names blobs:
// "sha256:" and 64 lowercase hex digits.
//
//	d := client.Digest(module) // "sha256:9f86d0…"
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// checkDigest validates a digest: "sha256:" and 64 lowercase hex digits.
func checkDigest(d string) error {
	const prefix = "sha256:"
	ok := len(d) == len(prefix)+64 && d[:len(prefix)] == prefix
	for i := len(prefix); ok && i < len(d); i++ {
		b := d[i]
		ok = b >= '0' && b <= '9' || b >= 'a' && b <= 'f'
	}
	if !ok {
		return fmt.Errorf("%w %q: want sha256: and 64 lowercase hex digits", ErrInvalidDigest, d)
	}
	return nil
}

// HasBlob reports whether the node stores the blob with digest.
//
//	ok, err := c.HasBlob(ctx, client.Digest(module))
func (c *Client) HasBlob(ctx context.Context, digest string) (bool, error) {
	if err := checkDigest(digest); err != nil {
		return false, err
	}
	resp, err := c.send(ctx, request{method: http.MethodHead, path: "/v1/blobs/" + url.PathEscape(digest)})
	if err != nil {
		return false, err
	}
	defer closeBody(resp)
	switch {
	case resp.StatusCode/100 == 2:
		return true, nil
	case resp.StatusCode == http.StatusNotFound:
		return false, nil
	}
	return false, c.errorFrom(resp)
}

// PutBlob uploads size bytes read from body as the blob with digest. The
// node checks the digest: a mismatch is an *api.Error with Code
// api.CodeBadRequest, a blob over its limit one with api.CodeBodyTooLarge.
// Uploading a blob the node has already is harmless. body must yield
// exactly size bytes; a negative size is an error.
//
//	f, _ := os.Open("hello.wasm")
//	st, _ := f.Stat()
//	info, err := c.PutBlob(ctx, digest, f, st.Size())
func (c *Client) PutBlob(ctx context.Context, digest string, body io.Reader, size int64) (api.BlobInfo, error) {
	var info api.BlobInfo
	if err := checkDigest(digest); err != nil {
		return info, err
	}
	switch {
	case size < 0:
		return info, fmt.Errorf("client: put blob %s: negative size %d", digest, size)
	case size > 0 && body == nil:
		return info, fmt.Errorf("client: put blob %s: no body for %d bytes", digest, size)
	}
	if body == nil {
		body = http.NoBody
	}
	err := c.callJSON(ctx, request{
		method: http.MethodPut, path: "/v1/blobs/" + url.PathEscape(digest),
		body: body, size: size, contentType: "application/octet-stream",
	}, &info)
	return info, err
}

// Package is a service to deploy, as `mote build` assembles it.
type Package struct {
	// Manifest is the service's mote.toml, verbatim. Required.
	Manifest []byte
	// Module is the Wasm module: required for a [wasm] service, empty for a
	// [container] one.
	Module []byte
	// Image is the container image of a [container] service (read with
	// ResolveImage); nil for a Wasm service.
	Image *Image
	// Files maps each packaged file's slash-separated path, relative to the
	// package root, to its content. May be nil.
	Files map[string][]byte
}

// BlobEvent reports one blob of a Deploy, after the node has it.
type BlobEvent struct {
	Digest string
	Size   int64
	// Uploaded is false when the node had the blob already.
	Uploaded bool
}

// DeployOption configures a Deploy.
type DeployOption func(*deployConfig)

type deployConfig struct {
	onBlob    func(BlobEvent)
	noTraffic bool
	tag       string
}

// NoTraffic makes Deploy keep the service's traffic split: the new version
// takes no requests until `mote traffic` gives it a share (combine with
// Tag to reach it meanwhile). The service must be serving already.
//
//	res, err := c.Deploy(ctx, pkg, client.NoTraffic(), client.Tag("canary"))
func NoTraffic() DeployOption {
	return func(c *deployConfig) { c.noTraffic = true }
}

// Tag makes Deploy tag the new version: it is reachable at the service's
// route followed by "@tag", or with the header X-Mote-Tag: tag. A tag
// another version had moves to the new one.
func Tag(tag string) DeployOption {
	return func(c *deployConfig) { c.tag = tag }
}

// OnBlob makes Deploy call fn once per distinct blob of the package, when
// the node has it, to show progress. Calls are never concurrent with each
// other, but they come from Deploy's upload goroutines.
//
//	res, err := c.Deploy(ctx, pkg, client.OnBlob(func(b client.BlobEvent) {
//		if b.Uploaded {
//			fmt.Printf("uploaded %s (%d bytes)\n", b.Digest, b.Size)
//		}
//	}))
func OnBlob(fn func(BlobEvent)) DeployOption {
	return func(c *deployConfig) { c.onBlob = fn }
}

// Deploy makes a new version of the service pkg's manifest names. It hashes
// the module and files, asks the node which blobs it lacks, uploads only
// those (four at a time) and then posts the deploy. The result's Unchanged
// is true when the package equals the serving version, so nothing changed.
//
// A package without manifest or module, or with a file of empty path, is
// an error matching ErrInvalidPackage. Errors from the node are
// *api.Error, among them Code api.CodeInvalidManifest with one line per
// problem in Details, and api.CodeConflict when another service has the
// route. An upload's error says which blob failed and wraps the cause.
//
//	res, err := c.Deploy(ctx, client.Package{Manifest: toml, Module: wasm})
//	fmt.Printf("%s is at version %d\n", res.Service.Name, res.Version.Number)
func (c *Client) Deploy(ctx context.Context, pkg Package, opts ...DeployOption) (api.DeployResult, error) {
	var cfg deployConfig
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	switch {
	case len(pkg.Manifest) == 0:
		return api.DeployResult{}, fmt.Errorf("%w: no manifest", ErrInvalidPackage)
	case len(pkg.Module) == 0 && pkg.Image == nil:
		return api.DeployResult{}, fmt.Errorf("%w: no module and no image", ErrInvalidPackage)
	case len(pkg.Module) > 0 && pkg.Image != nil:
		return api.DeployResult{}, fmt.Errorf("%w: a module and an image; a service runs one of them", ErrInvalidPackage)
	}
	if cfg.tag != "" {
		if err := api.CheckTag(cfg.tag); err != nil {
			return api.DeployResult{}, err
		}
	}
	req := api.DeployRequest{Manifest: string(pkg.Manifest), NoTraffic: cfg.noTraffic, Tag: cfg.tag}
	blobs := map[string]blob{}
	if pkg.Image != nil {
		req.Module = pkg.Image.Digest()
		pkg.Image.blobs(blobs)
	} else {
		req.Module = Digest(pkg.Module)
		blobs[req.Module] = bytesBlob(pkg.Module)
	}
	if len(pkg.Files) > 0 {
		req.Files = make(map[string]string, len(pkg.Files))
		for p, b := range pkg.Files {
			if p == "" {
				return api.DeployResult{}, fmt.Errorf("%w: a file has an empty path", ErrInvalidPackage)
			}
			d := Digest(b)
			req.Files[p] = d
			blobs[d] = bytesBlob(b)
		}
	}
	if err := c.upload(ctx, blobs, cfg.onBlob); err != nil {
		return api.DeployResult{}, err
	}
	return c.DeployRequest(ctx, req)
}

// blob is one blob of a deploy: its size and how to read it.
type blob struct {
	size int64
	open func(ctx context.Context) (io.ReadCloser, error)
}

// bytesBlob is a blob held in memory.
func bytesBlob(b []byte) blob {
	return blob{size: int64(len(b)), open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}}
}

// upload makes sure the node has every blob, uploading the missing ones
// with at most uploadConcurrency requests in flight. The first error stops
// the rest and is returned.
func (c *Client) upload(ctx context.Context, blobs map[string]blob, onBlob func(BlobEvent)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		sem   = make(chan struct{}, uploadConcurrency)
		mu    sync.Mutex // guards first and serializes onBlob
		first error
	)
	digests := make([]string, 0, len(blobs))
	for d := range blobs {
		digests = append(digests, d)
	}
	slices.Sort(digests) // a stable order makes runs comparable
	for _, d := range digests {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			ev, err := c.ensureBlob(ctx, d, blobs[d])
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && first == nil:
				first = fmt.Errorf("client: upload blob %s (%d bytes): %w", d, blobs[d].size, err)
				cancel()
			case err == nil && onBlob != nil:
				onBlob(ev)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("client: upload blobs: %w", err)
	}
	return nil
}

// ensureBlob uploads b unless the node has it already.
func (c *Client) ensureBlob(ctx context.Context, digest string, b blob) (BlobEvent, error) {
	ev := BlobEvent{Digest: digest, Size: b.size}
	has, err := c.HasBlob(ctx, digest)
	if err != nil || has {
		return ev, err
	}
	r, err := b.open(ctx)
	if err != nil {
		return ev, err
	}
	defer r.Close()
	if _, err := c.PutBlob(ctx, digest, r, b.size); err != nil {
		return ev, err
	}
	ev.Uploaded = true
	return ev, nil
}

// DeployRequest posts a deploy whose blobs were uploaded before (with
// PutBlob); most callers want Deploy, which uploads them. A blob the node
// lacks is an *api.Error with Code api.CodeNotFound naming its digest.
//
//	res, err := c.DeployRequest(ctx, api.DeployRequest{Manifest: toml, Module: digest})
func (c *Client) DeployRequest(ctx context.Context, req api.DeployRequest) (api.DeployResult, error) {
	var res api.DeployResult
	err := c.postJSON(ctx, http.MethodPost, "/v1/deploy", req, &res)
	return res, err
}
