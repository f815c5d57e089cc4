package rootfs

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"
)

// Whiteout names of the OCI image spec.
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh." // reserved; aufs kept hardlink data under it
	whiteoutOpaque = ".wh..wh..opq"
)

var (
	magicGzip = []byte{0x1f, 0x8b}
	magicZstd = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Apply applies one layer onto the directory root and returns what it
// held. The layer is a tar stream, gzip-compressed or not (told apart by
// its first bytes); a zstd-compressed one fails with [ErrUnsupported].
//
// Regular files, directories, symlinks, hardlinks and fifos are created;
// ".wh.NAME" removes NAME as left by the lower layers and ".wh..wh..opq"
// empties its directory of what the lower layers put there (what this layer
// adds is kept, whatever the order of the entries); other ".wh..wh." names
// (aufs metadata) are skipped, as are PAX global headers and entries naming
// the root itself ("./"). An entry replaces what is at its name unless
// both are directories, which merge. Missing parent directories are created
// with mode 0755, owned by the shifted root when Options.Chown is set.
//
// Names are taken relative to root after dropping leading slashes and
// cleaning. Refused with [ErrRefused], naming the entry and why: a name or
// hardlink target that climbs out of the root, a name with NUL, a
// character or block device, a hardlink whose target does not exist in
// root or is a directory, a relative symlink target that climbs above the
// root from the directory the link is created in (absolute targets are
// allowed: they resolve inside the container), a negative size, an unknown
// entry type, and an id above 65535 when shifting. Limits fail with
// [ErrLimit]; a cancelled ctx stops between entries and during a file's
// content with ctx's error.
//
// Permission bits, setuid, setgid and sticky are kept. Modification times
// are kept for files, directories and fifos, not for symlinks (os.Root
// cannot change a symlink's times); access times are set to the header's,
// else to the modification time. On error, root is left partially applied:
// callers unpack into a directory they can throw away, as [Cache] does.
func Apply(ctx context.Context, root *os.Root, layer io.Reader, opts Options) (Stats, error) {
	b := opts.budget()
	return apply(ctx, root, layer, opts, &b)
}

// apply is Apply with the limits in b, shared across the layers of a chain.
func apply(ctx context.Context, root *os.Root, layer io.Reader, opts Options, b *budget) (Stats, error) {
	a := &applier{
		ctx:   ctx,
		root:  root,
		opts:  opts,
		b:     b,
		added: map[string]bool{},
		dirs:  map[string]dirMeta{},
	}
	tr, err := a.open(layer)
	if err != nil {
		return a.stats, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return a.stats, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, tar.ErrInsecurePath) {
			err = nil // with GODEBUG=tarinsecurepath=0; cleanName decides
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return a.stats, fmt.Errorf("rootfs: read layer after %d entries: %w", a.stats.Entries, err)
		}
		a.stats.Entries++
		if b.entries--; b.entries < 0 {
			return a.stats, fmt.Errorf("%w: more than %d entries", ErrLimit, opts.budget().entries)
		}
		if err := a.entry(hdr, tr); err != nil {
			return a.stats, err
		}
	}
	if err := a.finishDirs(); err != nil {
		return a.stats, err
	}
	return a.stats, nil
}

// applier holds the state of one layer being applied.
type applier struct {
	ctx   context.Context
	root  *os.Root
	opts  Options
	b     *budget
	stats Stats
	buf   []byte

	// added holds the real paths this layer created or changed, and their
	// parents: whiteouts and opaque directories leave them alone.
	added map[string]bool
	// dirs holds the mode and times of the directories of this layer, set
	// once every entry is written (writing into a directory changes its
	// modification time, and a read-only one could not be written into).
	dirs     map[string]dirMeta
	dirOrder []string
}

type dirMeta struct {
	mode         fs.FileMode
	atime, mtime time.Time
}

// open detects the compression of the layer and returns its tar reader.
func (a *applier) open(layer io.Reader) (*tar.Reader, error) {
	br := bufio.NewReaderSize(layer, 64<<10)
	magic, err := br.Peek(len(magicZstd))
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("rootfs: read layer: %w", err)
	}
	switch {
	case bytes.HasPrefix(magic, magicGzip):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("rootfs: read gzip layer: %w", err)
		}
		return tar.NewReader(zr), nil
	case bytes.HasPrefix(magic, magicZstd):
		return nil, fmt.Errorf("%w: zstd-compressed layers are not supported yet", ErrUnsupported)
	}
	return tar.NewReader(br), nil
}

// refuse returns the error for an entry that is not allowed.
func refuse(hdr *tar.Header, why string, args ...any) error {
	return fmt.Errorf("%w: %q: %s", ErrRefused, hdr.Name, fmt.Sprintf(why, args...))
}

// entry applies one tar entry; r reads its content.
func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return refuse(hdr, "%v", err)
	}
	if hdr.Size < 0 {
		return refuse(hdr, "negative size %d", hdr.Size)
	}
	dir, base := path.Dir(name), path.Base(name)
	if skipped(dir, base) {
		// Content that is not written still costs reading (and
		// decompressing): it counts against MaxBytes.
		if hdr.Size > a.b.bytes {
			return fmt.Errorf("%w: %q holds %d bytes, %d left of the limit", ErrLimit, hdr.Name, hdr.Size, a.b.bytes)
		}
		a.b.bytes -= hdr.Size
	}
	if underMeta(dir) {
		return nil
	}
	switch {
	case base == whiteoutOpaque:
		return a.opaque(hdr, dir)
	case strings.HasPrefix(base, whiteoutMeta):
		return nil
	case strings.HasPrefix(base, whiteoutPrefix):
		return a.whiteout(hdr, dir, strings.TrimPrefix(base, whiteoutPrefix))
	}

	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeCont, tar.TypeGNUSparse,
		tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeFifo:
	case tar.TypeChar, tar.TypeBlock:
		return refuse(hdr, "device files are not allowed")
	default:
		return refuse(hdr, "unsupported entry type %q", hdr.Typeflag)
	}
	if name == "." {
		if hdr.Typeflag == tar.TypeDir {
			return nil // the root's mode and owner are the caller's
		}
		return refuse(hdr, "only a directory can name the root")
	}
	uid, gid, err := a.owner(hdr)
	if err != nil {
		return err
	}

	parent, missing, err := resolve(a.root, dir)
	if err != nil {
		return refuse(hdr, "parent directory: %v", err)
	}
	target := path.Join(parent, base)

	// Check links before anything is changed.
	var linkTarget string
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return refuse(hdr, "empty symlink target")
		}
		if strings.IndexByte(hdr.Linkname, 0) >= 0 {
			return refuse(hdr, "symlink target contains NUL")
		}
		if !strings.HasPrefix(hdr.Linkname, "/") && climbs(path.Join(parent, hdr.Linkname)) {
			return refuse(hdr, "symlink target %q climbs out of the root", hdr.Linkname)
		}
	case tar.TypeLink:
		linkTarget, err = a.hardlinkTarget(hdr)
		if err != nil {
			return err
		}
		if linkTarget == target {
			return nil // a link to itself changes nothing
		}
	}

	if missing {
		if err := a.mkdirs(parent); err != nil {
			return fmt.Errorf("rootfs: %q: create parent directories: %w", hdr.Name, err)
		}
	}
	if fi, err := a.root.Lstat(target); err == nil {
		if !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
			if err := a.root.RemoveAll(target); err != nil {
				return fmt.Errorf("rootfs: %q: replace: %w", hdr.Name, err)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("rootfs: %q: %w", hdr.Name, err)
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		err = a.dir(hdr, target, uid, gid)
	case tar.TypeSymlink:
		err = a.root.Symlink(hdr.Linkname, target)
		if err == nil && a.opts.Chown {
			err = a.root.Lchown(target, uid, gid)
		}
	case tar.TypeLink:
		err = a.root.Link(linkTarget, target)
	case tar.TypeFifo:
		err = a.fifo(hdr, parent, base, target, uid, gid)
	default:
		err = a.file(hdr, r, target, uid, gid)
	}
	if err != nil {
		if errors.Is(err, ErrLimit) {
			return err
		}
		return fmt.Errorf("rootfs: %q: %w", hdr.Name, err)
	}
	a.mark(target)
	return nil
}

// skipped reports whether an entry's content, if any, is not written: a
// whiteout, aufs metadata.
func skipped(dir, base string) bool {
	return strings.HasPrefix(base, whiteoutPrefix) || underMeta(dir)
}

// underMeta reports whether the clean path dir is under aufs metadata (a
// directory named ".wh..wh.*"), which is skipped.
func underMeta(dir string) bool {
	return strings.HasPrefix(dir, whiteoutMeta) || strings.Contains(dir, "/"+whiteoutMeta)
}

// owner returns the uid and gid an entry gets when Options.Chown is set.
func (a *applier) owner(hdr *tar.Header) (int, int, error) {
	if !a.opts.Chown {
		return -1, -1, nil
	}
	shifting := a.opts.UIDShift != 0 || a.opts.GIDShift != 0
	uid, err := shiftID(hdr.Uid, a.opts.UIDShift, shifting)
	if err != nil {
		return 0, 0, refuse(hdr, "uid %d: %v", hdr.Uid, err)
	}
	gid, err := shiftID(hdr.Gid, a.opts.GIDShift, shifting)
	if err != nil {
		return 0, 0, refuse(hdr, "gid %d: %v", hdr.Gid, err)
	}
	return uid, gid, nil
}

func shiftID(id int, shift uint32, shifting bool) (int, error) {
	switch {
	case id < 0:
		return 0, errors.New("negative id")
	case shifting && id > maxShiftedID:
		return 0, fmt.Errorf("above %d, the ids a user namespace maps", maxShiftedID)
	case int64(id)+int64(shift) >= 1<<32-1:
		return 0, errors.New("id out of range")
	}
	return id + int(shift), nil
}

// hardlinkTarget checks a hardlink's target and returns its real path.
func (a *applier) hardlinkTarget(hdr *tar.Header) (string, error) {
	ln, err := cleanName(hdr.Linkname)
	if err != nil {
		return "", refuse(hdr, "hardlink target %q: %v", hdr.Linkname, err)
	}
	if ln == "." {
		return "", refuse(hdr, "hardlink to the root directory")
	}
	parent, missing, err := resolve(a.root, path.Dir(ln))
	if err != nil {
		return "", refuse(hdr, "hardlink target %q: %v", hdr.Linkname, err)
	}
	target := path.Join(parent, path.Base(ln))
	fi, err := a.root.Lstat(target)
	if missing || errors.Is(err, fs.ErrNotExist) {
		return "", refuse(hdr, "hardlink target %q does not exist", hdr.Linkname)
	}
	if err != nil {
		return "", fmt.Errorf("rootfs: %q: hardlink target: %w", hdr.Name, err)
	}
	if fi.IsDir() {
		return "", refuse(hdr, "hardlink target %q is a directory", hdr.Linkname)
	}
	return target, nil
}

// mkdirs creates the missing directories of the real path p.
func (a *applier) mkdirs(p string) error {
	cur := ""
	for comp := range strings.SplitSeq(p, "/") {
		cur = path.Join(cur, comp)
		fi, err := a.root.Lstat(cur)
		if err == nil {
			if !fi.IsDir() {
				return errNotADir
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := a.root.Mkdir(cur, 0o755); err != nil {
			return err
		}
		if err := a.root.Chmod(cur, 0o755); err != nil { // past the umask
			return err
		}
		if a.opts.Chown {
			if err := a.root.Lchown(cur, int(a.opts.UIDShift), int(a.opts.GIDShift)); err != nil {
				return err
			}
		}
		a.mark(cur)
	}
	return nil
}

// dir creates or updates a directory; its mode and times are set by
// finishDirs.
func (a *applier) dir(hdr *tar.Header, target string, uid, gid int) error {
	if err := a.root.Mkdir(target, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if a.opts.Chown {
		if err := a.root.Lchown(target, uid, gid); err != nil {
			return err
		}
	}
	if _, ok := a.dirs[target]; !ok {
		a.dirOrder = append(a.dirOrder, target)
	}
	a.dirs[target] = dirMeta{mode: mode(hdr), atime: atime(hdr), mtime: hdr.ModTime}
	return nil
}

// finishDirs sets the mode and times of this layer's directories that are
// still directories.
func (a *applier) finishDirs() error {
	for _, p := range a.dirOrder {
		fi, err := a.root.Lstat(p)
		if err != nil || !fi.IsDir() {
			continue // replaced or removed by a later entry
		}
		m := a.dirs[p]
		if err := a.root.Chmod(p, m.mode); err != nil {
			return fmt.Errorf("rootfs: %q: %w", p, err)
		}
		if err := a.root.Chtimes(p, m.atime, m.mtime); err != nil {
			return fmt.Errorf("rootfs: %q: %w", p, err)
		}
	}
	return nil
}

// file writes a regular file.
func (a *applier) file(hdr *tar.Header, r io.Reader, target string, uid, gid int) error {
	if hdr.Size > a.b.bytes {
		return fmt.Errorf("%w: %q needs %d bytes, %d left of the limit", ErrLimit, hdr.Name, hdr.Size, a.b.bytes)
	}
	// O_EXCL: the name was just cleared, and a symlink is never followed.
	f, err := a.root.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if a.buf == nil {
		a.buf = make([]byte, 256<<10)
	}
	n, err := io.CopyBuffer(f, io.LimitReader(ctxReader{a.ctx, r}, hdr.Size), a.buf)
	a.b.bytes -= n
	a.stats.Bytes += n
	if err == nil && n != hdr.Size {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && a.opts.Chown {
		err = f.Chown(uid, gid) // before Chmod: chown clears setuid and setgid
	}
	if err == nil {
		err = f.Chmod(mode(hdr))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return a.root.Chtimes(target, atime(hdr), hdr.ModTime)
}

// fifo creates a named pipe.
func (a *applier) fifo(hdr *tar.Header, parent, base, target string, uid, gid int) error {
	d, err := a.root.Open(parent)
	if err != nil {
		return err
	}
	err = mkfifoAt(d, base)
	d.Close()
	if err != nil {
		return err
	}
	if a.opts.Chown {
		if err := a.root.Lchown(target, uid, gid); err != nil {
			return err
		}
	}
	if err := a.root.Chmod(target, mode(hdr)); err != nil {
		return err
	}
	return a.root.Chtimes(target, atime(hdr), hdr.ModTime)
}

// whiteout removes base[len(".wh."):] from the lower layers in dir.
func (a *applier) whiteout(hdr *tar.Header, dir, name string) error {
	if name == "" || name == "." || name == ".." {
		return refuse(hdr, "whiteout of %q", name)
	}
	parent, missing, err := resolve(a.root, dir)
	if err != nil {
		return refuse(hdr, "parent directory: %v", err)
	}
	if missing {
		return nil
	}
	if err := a.removeLower(path.Join(parent, name)); err != nil {
		return fmt.Errorf("rootfs: %q: whiteout: %w", hdr.Name, err)
	}
	return nil
}

// opaque removes from dir what the lower layers put there.
func (a *applier) opaque(hdr *tar.Header, dir string) error {
	real, missing, err := resolve(a.root, dir)
	if err != nil {
		return refuse(hdr, "opaque directory: %v", err)
	}
	if missing {
		return nil
	}
	fi, err := a.root.Lstat(real)
	if err != nil || !fi.IsDir() {
		return nil
	}
	if err := a.removeLowerChildren(real); err != nil {
		return fmt.Errorf("rootfs: %q: opaque directory: %w", hdr.Name, err)
	}
	return nil
}

// removeLower removes the real path p, unless this layer wrote it; of a
// directory this layer wrote into, it removes what the lower layers put
// there.
func (a *applier) removeLower(p string) error {
	if p == "." {
		return a.removeLowerChildren(p)
	}
	fi, err := a.root.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !a.added[p] {
		return a.root.RemoveAll(p)
	}
	if fi.IsDir() {
		return a.removeLowerChildren(p)
	}
	return nil
}

func (a *applier) removeLowerChildren(dir string) error {
	d, err := a.root.Open(dir)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := a.removeLower(path.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}

// mark records that this layer wrote the real path p (and so its parents).
func (a *applier) mark(p string) {
	for p != "." && p != "/" && !a.added[p] {
		a.added[p] = true
		p = path.Dir(p)
	}
}

// mode returns an entry's permission bits with setuid, setgid and sticky.
func mode(hdr *tar.Header) fs.FileMode {
	m := fs.FileMode(hdr.Mode) & fs.ModePerm
	if hdr.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if hdr.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if hdr.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func atime(hdr *tar.Header) time.Time {
	if !hdr.AccessTime.IsZero() {
		return hdr.AccessTime
	}
	return hdr.ModTime
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
