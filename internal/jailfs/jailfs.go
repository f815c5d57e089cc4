// Package jailfs gives a wazero guest a host directory it cannot leave.
//
// wazero's own WithDirMount and WithReadOnlyDirMount are documented to be
// escapable, and they are: a guest that can create a relative symlink such
// as "x -> ../../../../etc" reads the host's /etc through it, and a symlink
// already in the directory that points outside is followed (see
// TestGuestWazeroDirMount). An FS here resolves every path with Go's
// os.Root, which refuses ".." that climbs above the directory and symlinks
// that leave it (absolute or relative). It resolves one component at a time
// relative to an open directory, so swapping a directory for a symlink
// during a lookup cannot lead out either (TestEscapeRace).
//
// os.Root does not stop at mount points, device files or FIFOs inside the
// directory: whatever fills it (artifact extraction) must create only
// regular files, directories and symlinks. A guest cannot create the others.
//
// Mount an FS with wazero's experimental sysfs configuration:
//
//	jail, err := jailfs.New(dir, true)
//	if err != nil { ... }
//	defer jail.Close()
//	fsc := wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(jail, "/data")
//	mc := wazero.NewModuleConfig().WithFSConfig(fsc)
//
// The semantics follow wazero's DirFS and ReadFS (errno values, Readdir,
// Stat_t) so WASI libc programs behave the same, with these differences:
//
//   - A path that resolves outside the directory fails with EPERM.
//   - Symlinks are followed only while they stay inside; absolute symlinks
//     never resolve, even ones naming a host path inside the directory.
//   - In read-only mode, opening with write access, O_TRUNC, or an O_CREAT
//     that would create a file fails with EROFS (ReadFS answers ENOSYS for
//     write access and lets O_RDONLY|O_CREAT and O_RDONLY|O_TRUNC through to
//     the host, creating and truncating files).
//   - Chmod keeps only the permission bits (no setuid, setgid or sticky).
//
// Host code that later reads a guest-writable directory must treat it as
// hostile: a guest can leave a symlink there that points outside (Symlink
// refuses the obvious ones, but a later rename of its directory can change
// where a relative link points). Read such a directory through os.Root or
// without following symlinks.
package jailfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// ErrEmptyDir is returned by New for an empty directory name.
var ErrEmptyDir = errors.New("jailfs: empty directory name")

// FS is an experimentalsys.FS confined to one host directory.
//
// Paths are slash-separated and relative to the directory; a leading "/" is
// ignored, so "/etc/passwd" names etc/passwd inside it. "", "." and "/" name
// the directory itself.
//
// An FS is safe for concurrent use by any number of guests; the files it
// opens are not (wazero uses each from one goroutine). Close it only after
// every guest that mounts it has finished.
type FS struct {
	experimentalsys.UnimplementedFS

	root     *os.Root
	readOnly bool
}

var _ experimentalsys.FS = (*FS)(nil)

// New opens dir and returns an FS rooted at it. dir must exist and be a
// directory; symlinks in dir itself are followed once, here.
//
// With readOnly, every operation that would change the directory fails with
// EROFS, and writes through an open file fail with EBADF (EISDIR for a
// directory), as with wazero's ReadFS.
//
// The FS holds a descriptor for dir until Close.
func New(dir string, readOnly bool) (*FS, error) {
	if dir == "" {
		return nil, ErrEmptyDir
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("jailfs: %w", err)
	}
	return &FS{root: root, readOnly: readOnly}, nil
}

// Close releases the directory. Afterwards every operation fails with
// EBADF, except OpenFile(".") which answers ENOENT (see OpenFile). Files
// already open stay usable until closed. Close is idempotent.
func (j *FS) Close() error {
	return j.root.Close()
}

// ReadOnly reports whether the FS refuses changes.
func (j *FS) ReadOnly() bool { return j.readOnly }

// String returns the host directory, for logs.
func (j *FS) String() string { return j.root.Name() }

// rel turns a guest path into a name for os.Root: leading slashes are
// dropped (the root is the mount point) and the empty path is ".".
func rel(name string) string {
	name = strings.TrimLeft(name, "/")
	if name == "" {
		return "."
	}
	return name
}

// OpenFile implements experimentalsys.FS.
//
// O_DIRECTORY and O_NOFOLLOW are checked here (os.Root has no portable
// equivalent); O_DSYNC and O_RSYNC open with O_SYNC; O_NONBLOCK is ignored
// (regular files and directories never block).
func (j *FS) OpenFile(name string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	name = rel(name)
	f, errno := j.openFile(name, flag, perm)
	if errno != 0 && name == "." && flag == experimentalsys.O_RDONLY {
		// wazero opens a mount point lazily, this way, and panics on any
		// failure other than ENOENT (internal/sys/lazy.go), e.g. after
		// Close or when out of descriptors; the panic fails the guest's
		// start. With ENOENT the guest runs and sees the mount as absent.
		errno = experimentalsys.ENOENT
	}
	return f, errno
}

func (j *FS) openFile(name string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	write := flag&(experimentalsys.O_WRONLY|experimentalsys.O_RDWR) != 0
	if j.readOnly {
		switch {
		case write && flag&experimentalsys.O_DIRECTORY != 0:
			return nil, experimentalsys.EISDIR
		case write, flag&experimentalsys.O_TRUNC != 0:
			return nil, experimentalsys.EROFS
		case flag&experimentalsys.O_CREAT != 0:
			if flag&experimentalsys.O_EXCL != 0 {
				return nil, experimentalsys.EROFS
			}
			// Open what exists; never create.
			flag &^= experimentalsys.O_CREAT
			f, errno := j.openFile(name, flag, perm)
			if errno == experimentalsys.ENOENT {
				errno = experimentalsys.EROFS
			}
			return f, errno
		}
	}
	if flag&experimentalsys.O_NOFOLLOW != 0 {
		// os.Root follows a final symlink (inside the root) regardless.
		// A race that swaps in a link after this check is still confined.
		if fi, err := j.root.Lstat(name); err == nil && fi.Mode().Type() == fs.ModeSymlink {
			return nil, experimentalsys.ELOOP
		}
	}
	f, err := j.root.OpenFile(name, osFlag(flag), perm&fs.ModePerm)
	if err != nil {
		return nil, errnoOf(err)
	}
	jf := newFile(j, name, flag, perm, f)
	if flag&experimentalsys.O_DIRECTORY != 0 {
		if isDir, errno := jf.IsDir(); errno != 0 || !isDir {
			_ = f.Close()
			if errno == 0 {
				errno = experimentalsys.ENOTDIR
			}
			return nil, errno
		}
	}
	return jf, 0
}

// osFlag converts the flags os.OpenFile understands.
func osFlag(flag experimentalsys.Oflag) int {
	var f int
	switch flag & (experimentalsys.O_RDONLY | experimentalsys.O_RDWR | experimentalsys.O_WRONLY) {
	case experimentalsys.O_RDWR:
		f = os.O_RDWR
	case experimentalsys.O_WRONLY:
		f = os.O_WRONLY
	default:
		f = os.O_RDONLY
	}
	if flag&experimentalsys.O_APPEND != 0 {
		f |= os.O_APPEND
	}
	if flag&experimentalsys.O_CREAT != 0 {
		f |= os.O_CREATE
	}
	if flag&experimentalsys.O_EXCL != 0 {
		f |= os.O_EXCL
	}
	if flag&(experimentalsys.O_SYNC|experimentalsys.O_DSYNC|experimentalsys.O_RSYNC) != 0 {
		f |= os.O_SYNC
	}
	if flag&experimentalsys.O_TRUNC != 0 {
		f |= os.O_TRUNC
	}
	return f
}

// Lstat implements experimentalsys.FS.
func (j *FS) Lstat(name string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := j.root.Lstat(rel(name))
	if err != nil {
		return sys.Stat_t{}, errnoOf(err)
	}
	return sys.NewStat_t(fi), 0
}

// Stat implements experimentalsys.FS.
func (j *FS) Stat(name string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := j.root.Stat(rel(name))
	if err != nil {
		return sys.Stat_t{}, errnoOf(err)
	}
	return sys.NewStat_t(fi), 0
}

// Readlink implements experimentalsys.FS. It returns the link's text even
// when following it would leave the directory.
func (j *FS) Readlink(name string) (string, experimentalsys.Errno) {
	dst, err := j.root.Readlink(rel(name))
	if err != nil {
		return "", errnoOf(err)
	}
	return filepath.ToSlash(dst), 0
}

// Mkdir implements experimentalsys.FS. Only the permission bits of perm
// are used.
func (j *FS) Mkdir(name string, perm fs.FileMode) experimentalsys.Errno {
	if j.readOnly {
		return experimentalsys.EROFS
	}
	errno := errnoOf(j.root.Mkdir(rel(name), perm&fs.ModePerm))
	if errno == experimentalsys.ENOTDIR { // as wazero's DirFS
		errno = experimentalsys.ENOENT
	}
	return errno
}

// Chmod implements experimentalsys.FS. Only the permission bits of perm
// are applied.
func (j *FS) Chmod(name string, perm fs.FileMode) experimentalsys.Errno {
	if j.readOnly {
		return experimentalsys.EROFS
	}
	return errnoOf(j.root.Chmod(rel(name), perm&fs.ModePerm))
}

// Rename implements experimentalsys.FS with POSIX rename semantics: a
// directory replaces an empty directory (in two steps, not atomically), a
// file onto a directory is EISDIR, a directory onto a non-empty one is
// ENOTEMPTY.
func (j *FS) Rename(from, to string) experimentalsys.Errno {
	if j.readOnly {
		return experimentalsys.EROFS
	}
	from, to = rel(from), rel(to)
	if from == to {
		return 0
	}
	errno := errnoOf(j.root.Rename(from, to))
	if errno != experimentalsys.EEXIST {
		return errno
	}
	// os.Root refuses to replace a directory; rename(2) does not.
	dst, err := j.root.Lstat(to)
	if err != nil || !dst.IsDir() {
		return errno
	}
	src, err := j.root.Lstat(from)
	if err != nil {
		return errnoOf(err)
	}
	if !src.IsDir() {
		return experimentalsys.EISDIR
	}
	if err := j.root.Remove(to); err != nil { // fails unless empty
		return errnoOf(err)
	}
	return errnoOf(j.root.Rename(from, to))
}

// Rmdir implements experimentalsys.FS.
func (j *FS) Rmdir(name string) experimentalsys.Errno {
	if j.readOnly {
		return experimentalsys.EROFS
	}
	name = rel(name)
	fi, err := j.root.Lstat(name)
	if err != nil {
		return errnoOf(err)
	}
	if !fi.IsDir() {
		return experimentalsys.ENOTDIR
	}
	return errnoOf(j.root.Remove(name))
}

// Unlink implements experimentalsys.FS. A symlink is removed, not its
// target.
func (j *FS) Unlink(name string) experimentalsys.Errno {
	if j.readOnly {
		return experimentalsys.EROFS
	}
	name = rel(name)
	fi, err := j.root.Lstat(name)
	if err != nil {
		return errnoOf(err)
	}
	if fi.IsDir() {
		return experimentalsys.EISDIR
	}
	return errnoOf(j.root.Remove(name))
}

// Link implements experimentalsys.FS. Both names resolve inside the
// directory.
func (j *FS) Link(oldName, newName string) experimentalsys.Errno {
	if j.readOnly {
		return experimentalsys.EROFS
	}
	return errnoOf(j.root.Link(rel(oldName), rel(newName)))
}

// Symlink implements experimentalsys.FS. The target is stored as given and
// resolved relative to the link when followed. An absolute target fails
// with EPERM (as in wazero's DirFS), and so does a relative one that
// climbs above the directory as seen from the link's path; following a link
// can never leave the directory anyway.
func (j *FS) Symlink(target, link string) experimentalsys.Errno {
	if j.readOnly {
		return experimentalsys.EROFS
	}
	link = rel(link)
	if target == "" {
		return experimentalsys.ENOENT
	}
	if path.IsAbs(target) || escapes(path.Join(path.Dir(link), target)) {
		return experimentalsys.EPERM
	}
	return errnoOf(j.root.Symlink(target, link))
}

// escapes reports whether a cleaned relative path climbs above its start.
func escapes(p string) bool {
	return p == ".." || strings.HasPrefix(p, "../")
}

// Utimens implements experimentalsys.FS, following a final symlink.
func (j *FS) Utimens(name string, atim, mtim int64) experimentalsys.Errno {
	if j.readOnly {
		return experimentalsys.EROFS
	}
	return errnoOf(j.root.Chtimes(rel(name), timeOf(atim), timeOf(mtim)))
}

// timeOf converts epoch nanoseconds to the time os.Chtimes expects; the
// zero time.Time leaves a timestamp unchanged, which is UTIME_OMIT.
func timeOf(nanos int64) time.Time {
	if nanos == experimentalsys.UTIME_OMIT {
		return time.Time{}
	}
	return time.Unix(0, nanos)
}
