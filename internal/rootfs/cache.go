package rootfs

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// tmpPrefix starts the names of directories being unpacked or removed;
// NewCache removes them, so a crash leaves nothing visible.
const tmpPrefix = ".tmp-"

// keyVersion changes when what Apply writes changes, so old entries are
// not reused (Keep collects them).
const keyVersion = "rootfs v2" // v2: with mount points

// Layer is one layer of an image; Open returns its content, as stored
// (compressed or not), which must match Digest.
type Layer struct {
	Digest string // "sha256:<hex>" or "sha512:<hex>"
	Open   func(ctx context.Context) (io.ReadCloser, error)
}

// Cache keeps unpacked root filesystems in a directory, one subdirectory
// per chain of layers and ownership shift, named by a hash of both. A
// Cache is safe for concurrent use; one process should use a directory
// through one Cache.
type Cache struct {
	dir string

	mu       sync.Mutex
	inflight map[string]*flight
	waiting  int // Gets waiting for another's unpack, for tests
}

// flight is one unpack in progress; done is closed when path and err are
// set.
type flight struct {
	done chan struct{}
	path string
	err  error
}

// NewCache opens the cache in dir, creating it with mode 0711 (a shifted
// container root must be able to traverse it), and removes what an
// interrupted unpack or removal left there.
func NewCache(dir string) (*Cache, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("rootfs: cache: %w", err)
	}
	if err := os.MkdirAll(abs, 0o711); err != nil {
		return nil, fmt.Errorf("rootfs: cache: %w", err)
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("rootfs: cache: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			if err := os.RemoveAll(filepath.Join(abs, e.Name())); err != nil {
				return nil, fmt.Errorf("rootfs: cache: remove leftover: %w", err)
			}
		}
	}
	return &Cache{dir: abs, inflight: map[string]*flight{}}, nil
}

// Get returns the absolute path of a directory holding layers applied in
// order (bottom first) with opts, unpacking them if no earlier Get, in this
// process or before a restart, did. The directory has mode 0755 and is
// owned by UIDShift:GIDShift when opts.Chown is set; it must not be
// modified. Options.MaxBytes and MaxEntries limit the whole chain.
//
// Layers are unpacked into a temporary directory renamed into place once
// all are applied, their content checked against their digests (errors
// wrap [ErrDigest]); concurrent Gets of one chain unpack it once. An error
// from Apply or Open is returned wrapped with the layer's digest, and
// nothing is left behind. A Get waiting for another's unpack returns when
// its own ctx is done; if the other was cancelled, it unpacks itself.
func (c *Cache) Get(ctx context.Context, layers []Layer, opts Options) (string, error) {
	key, err := cacheKey(layers, opts)
	if err != nil {
		return "", err
	}
	final := filepath.Join(c.dir, key)
	for {
		c.mu.Lock()
		if fi, err := os.Lstat(final); err == nil && fi.IsDir() {
			c.mu.Unlock()
			return final, nil
		}
		if f := c.inflight[key]; f != nil {
			c.waiting++
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
			}
			c.mu.Lock()
			c.waiting--
			c.mu.Unlock()
			if err := ctx.Err(); err != nil {
				return "", err
			}
			if f.err == nil {
				return f.path, nil
			}
			if errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded) {
				continue // the unpacking Get gave up; this one has not
			}
			return "", f.err
		}
		f := &flight{done: make(chan struct{})}
		c.inflight[key] = f
		c.mu.Unlock()

		f.path, f.err = c.unpack(ctx, key, layers, opts)
		c.mu.Lock()
		delete(c.inflight, key)
		c.mu.Unlock()
		close(f.done)
		return f.path, f.err
	}
}

// unpack applies layers into a temporary directory and renames it to key.
func (c *Cache) unpack(ctx context.Context, key string, layers []Layer, opts Options) (path string, err error) {
	tmp, err := os.MkdirTemp(c.dir, tmpPrefix+key[:16]+"-")
	if err != nil {
		return "", fmt.Errorf("rootfs: cache: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("rootfs: cache: %w", err)
	}
	if opts.Chown {
		if err := os.Lchown(tmp, int(opts.UIDShift), int(opts.GIDShift)); err != nil {
			return "", fmt.Errorf("rootfs: cache: %w", err)
		}
	}
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return "", fmt.Errorf("rootfs: cache: %w", err)
	}
	defer root.Close()
	b := opts.budget()
	for i, l := range layers {
		if err := applyLayer(ctx, root, l, opts, &b); err != nil {
			return "", fmt.Errorf("layer %d (%s): %w", i+1, l.Digest, err)
		}
	}
	if err := mountPoints(root, opts); err != nil {
		return "", err
	}
	d, err := os.Open(tmp)
	if err != nil {
		return "", fmt.Errorf("rootfs: cache: %w", err)
	}
	err = syncFS(d)
	d.Close()
	if err != nil {
		return "", fmt.Errorf("rootfs: cache: %w", err)
	}
	final := filepath.Join(c.dir, key)
	if err := os.Rename(tmp, final); err != nil {
		if fi, serr := os.Lstat(final); serr == nil && fi.IsDir() {
			os.RemoveAll(tmp) // another process sharing the directory won
			return final, nil
		}
		return "", fmt.Errorf("rootfs: cache: %w", err)
	}
	syncDir(c.dir)
	return final, nil
}

// mountPoints makes the directories and file a container runtime mounts
// over (/proc, /sys, /dev, /tmp, /etc/hosts) where the image lacks them,
// so that runc never writes into a cached rootfs, and makes /tmp 1777: a
// tmpfs mounted there takes its mount point's mode, and a 0755 /tmp would
// be unwritable for a non-root process.
func mountPoints(root *os.Root, opts Options) error {
	own := func(name string) error {
		if !opts.Chown {
			return nil
		}
		return root.Lchown(name, int(opts.UIDShift), int(opts.GIDShift))
	}
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"proc", 0o555}, {"sys", 0o555}, {"dev", 0o755}, {"tmp", 0o777 | os.ModeSticky}, {"etc", 0o755}} {
		fi, err := root.Lstat(d.name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := root.Mkdir(d.name, d.mode.Perm()); err != nil {
				return fmt.Errorf("rootfs: mount point /%s: %w", d.name, err)
			}
			if err := own(d.name); err != nil {
				return fmt.Errorf("rootfs: mount point /%s: %w", d.name, err)
			}
		case err != nil:
			return fmt.Errorf("rootfs: mount point /%s: %w", d.name, err)
		case !fi.IsDir():
			return fmt.Errorf("%w: /%s in the image is not a directory; the runtime mounts a filesystem there", ErrRefused, d.name)
		}
		if d.name == "tmp" {
			if err := root.Chmod(d.name, d.mode); err != nil {
				return fmt.Errorf("rootfs: mount point /tmp: %w", err)
			}
		}
	}
	if _, err := root.Lstat("etc/hosts"); errors.Is(err, fs.ErrNotExist) {
		f, err := root.OpenFile("etc/hosts", os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("rootfs: mount point /etc/hosts: %w", err)
		}
		f.Close()
		if err := own("etc/hosts"); err != nil {
			return fmt.Errorf("rootfs: mount point /etc/hosts: %w", err)
		}
	}
	return nil
}

// applyLayer opens, applies and verifies one layer.
func applyLayer(ctx context.Context, root *os.Root, l Layer, opts Options, b *budget) error {
	h, want, err := digestHash(l.Digest)
	if err != nil {
		return err
	}
	rc, err := l.Open(ctx)
	if err != nil {
		return fmt.Errorf("rootfs: open: %w", err)
	}
	defer rc.Close()
	if _, err := apply(ctx, root, io.TeeReader(rc, h), opts, b); err != nil {
		return err
	}
	// What follows the end of the tar archive counts for the digest.
	if _, err := io.CopyBuffer(h, ctxReader{ctx, rc}, make([]byte, 64<<10)); err != nil {
		return fmt.Errorf("rootfs: read: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%w: content does not match (got %s)", ErrDigest, got)
	}
	return nil
}

var digestRE = regexp.MustCompile(`^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$`)

// digestHash returns a hash for a digest and its hex part.
func digestHash(d string) (hash.Hash, string, error) {
	if !digestRE.MatchString(d) {
		return nil, "", fmt.Errorf("%w: %q is not a sha256 or sha512 digest", ErrDigest, d)
	}
	alg, hx, _ := strings.Cut(d, ":")
	if alg == "sha512" {
		return sha512.New(), hx, nil
	}
	return sha256.New(), hx, nil
}

// cacheKey names the root filesystem of a chain of layers applied with
// opts: the hex sha256 of the digests and the ownership options.
func cacheKey(layers []Layer, opts Options) (string, error) {
	h := sha256.New()
	io.WriteString(h, keyVersion+"\n")
	for _, l := range layers {
		if _, _, err := digestHash(l.Digest); err != nil {
			return "", err
		}
		if l.Open == nil {
			return "", fmt.Errorf("rootfs: layer %s has no Open", l.Digest)
		}
		io.WriteString(h, l.Digest+"\n")
	}
	if opts.Chown {
		fmt.Fprintf(h, "chown shift=%d:%d\n", opts.UIDShift, opts.GIDShift)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// isKey reports whether name is a cache entry's name.
func isKey(name string) bool {
	if len(name) != sha256.Size*2 {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil && strings.ToLower(name) == name
}

// Remove deletes a root filesystem returned by Get: renamed away first, so
// a crash cannot leave a partial one under its name. Removing one that is
// not there is not an error; a path that is not one of the cache's fails
// with [ErrNotInCache]. The caller makes sure no container uses it.
func (c *Cache) Remove(path string) error {
	p := filepath.Clean(path)
	if filepath.Dir(p) != c.dir || !isKey(filepath.Base(p)) {
		return fmt.Errorf("%w: %s", ErrNotInCache, path)
	}
	tmp, err := os.MkdirTemp(c.dir, tmpPrefix+"rm-")
	if err != nil {
		return fmt.Errorf("rootfs: cache: %w", err)
	}
	gone := filepath.Join(tmp, "gone")
	if err := os.Rename(p, gone); err != nil {
		os.Remove(tmp)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("rootfs: cache: remove: %w", err)
	}
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("rootfs: cache: remove: %w", err)
	}
	return nil
}

// Keep removes every root filesystem of the cache but those in paths (as
// returned by Get) and returns how many it removed. Unpacks in progress
// are left alone. A path in paths that is not the cache's fails with
// [ErrNotInCache] before anything is removed; removal errors are joined.
func (c *Cache) Keep(paths []string) (removed int, err error) {
	keep := make(map[string]bool, len(paths))
	for _, p := range paths {
		p = filepath.Clean(p)
		if filepath.Dir(p) != c.dir || !isKey(filepath.Base(p)) {
			return 0, fmt.Errorf("%w: %s", ErrNotInCache, p)
		}
		keep[filepath.Base(p)] = true
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return 0, fmt.Errorf("rootfs: cache: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !isKey(e.Name()) || keep[e.Name()] {
			continue
		}
		if err := c.Remove(filepath.Join(c.dir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// syncDir flushes a directory's entries to disk, best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
