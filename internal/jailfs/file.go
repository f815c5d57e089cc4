package jailfs

import (
	"io"
	"io/fs"
	"os"
	"runtime"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// file is an experimentalsys.File over an *os.File opened through the
// jail's os.Root. Like wazero's osFile it caches what cannot change while
// open (device, inode, whether a directory) and reports EBADF after Close.
// Anything that reopens it (SetAppend, rewinding a directory) goes through
// the root again by name and checks it got the same file.
type file struct {
	experimentalsys.UnimplementedFile

	jail *FS
	name string // as passed to os.Root
	flag experimentalsys.Oflag
	perm fs.FileMode
	f    *os.File

	// reopenDir is set when Readdir must reopen the directory first: after
	// a rewind that Seek could not do, and on Windows before the first
	// Readdir so entries created since the open are seen (as wazero does).
	reopenDir bool
	closed    bool
	cached    *cachedStat
}

type cachedStat struct {
	dev   uint64
	ino   sys.Inode
	isDir bool
}

func newFile(jail *FS, name string, flag experimentalsys.Oflag, perm fs.FileMode, f *os.File) *file {
	return &file{
		jail:      jail,
		name:      name,
		flag:      flag,
		perm:      perm,
		f:         f,
		reopenDir: runtime.GOOS == "windows",
	}
}

var _ experimentalsys.File = (*file)(nil)

func (f *file) cachedStat() (*cachedStat, experimentalsys.Errno) {
	if f.cached == nil {
		if _, errno := f.Stat(); errno != 0 {
			return nil, errno
		}
	}
	return f.cached, 0
}

// Dev implements experimentalsys.File.
func (f *file) Dev() (uint64, experimentalsys.Errno) {
	st, errno := f.cachedStat()
	if errno != 0 {
		return 0, errno
	}
	return st.dev, 0
}

// Ino implements experimentalsys.File.
func (f *file) Ino() (sys.Inode, experimentalsys.Errno) {
	st, errno := f.cachedStat()
	if errno != 0 {
		return 0, errno
	}
	return st.ino, 0
}

// IsDir implements experimentalsys.File.
func (f *file) IsDir() (bool, experimentalsys.Errno) {
	st, errno := f.cachedStat()
	if errno != 0 {
		return false, errno
	}
	return st.isDir, 0
}

// IsAppend implements experimentalsys.File.
func (f *file) IsAppend() bool {
	return f.flag&experimentalsys.O_APPEND != 0
}

// SetAppend implements experimentalsys.File. An *os.File cannot change its
// append mode, so the file is reopened by name with the same flags.
func (f *file) SetAppend(enable bool) experimentalsys.Errno {
	if enable {
		f.flag |= experimentalsys.O_APPEND
	} else {
		f.flag &^= experimentalsys.O_APPEND
	}
	return f.fileError(f.reopen())
}

// reopen replaces f.f with a fresh descriptor for the same file, keeping the
// offset of a regular file. It fails with ENOENT if the name now names a
// different file.
func (f *file) reopen() experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	isDir, errno := f.IsDir()
	if errno != 0 {
		return errno
	}
	var offset int64
	if !isDir {
		var err error
		if offset, err = f.f.Seek(0, io.SeekCurrent); err != nil {
			return errnoOf(err)
		}
	}
	// Never create or truncate again. In read-only mode the original open
	// already passed the checks in openFile.
	flag := f.flag &^ (experimentalsys.O_CREAT | experimentalsys.O_TRUNC | experimentalsys.O_EXCL)
	nf, err := f.jail.root.OpenFile(f.name, osFlag(flag), f.perm&fs.ModePerm)
	if err != nil {
		return errnoOf(err)
	}
	if errno := sameFile(f.f, nf); errno != 0 {
		_ = nf.Close()
		return errno
	}
	if !isDir {
		if _, err := nf.Seek(offset, io.SeekStart); err != nil {
			_ = nf.Close()
			return errnoOf(err)
		}
	}
	_ = f.f.Close()
	f.f = nf
	return 0
}

func sameFile(a, b *os.File) experimentalsys.Errno {
	ai, err := a.Stat()
	if err != nil {
		return errnoOf(err)
	}
	bi, err := b.Stat()
	if err != nil {
		return errnoOf(err)
	}
	if !os.SameFile(ai, bi) {
		return experimentalsys.ENOENT
	}
	return 0
}

// Stat implements experimentalsys.File.
func (f *file) Stat() (sys.Stat_t, experimentalsys.Errno) {
	if f.closed {
		return sys.Stat_t{}, experimentalsys.EBADF
	}
	fi, err := f.f.Stat()
	if err != nil {
		errno := errnoOf(err)
		if errno == experimentalsys.EIO {
			errno = experimentalsys.EBADF
		}
		return sys.Stat_t{}, errno
	}
	st := sys.NewStat_t(fi)
	f.cached = &cachedStat{dev: st.Dev, ino: st.Ino, isDir: fi.IsDir()}
	return st, 0
}

// Read implements experimentalsys.File.
func (f *file) Read(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Read(buf)
	return n, f.fileError(errnoOf(err))
}

// Pread implements experimentalsys.File.
func (f *file) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.ReadAt(buf, off)
	return n, f.fileError(errnoOf(err))
}

// fileOffset is int64 under another name only so that go vet's stdmethods check
// does not take Seek for a misdeclared io.Seeker: experimentalsys.File
// requires Seek to return an Errno.
type fileOffset = int64

// Seek implements experimentalsys.File. On a directory only Seek(0,
// io.SeekStart) is meaningful: it rewinds Readdir.
func (f *file) Seek(offset fileOffset, whence int) (int64, experimentalsys.Errno) {
	if uint(whence) > io.SeekEnd {
		return 0, experimentalsys.EINVAL
	}
	n, err := f.f.Seek(offset, whence)
	errno := f.fileError(errnoOf(err))
	if errno == experimentalsys.EISDIR && offset == 0 && whence == io.SeekStart {
		errno = 0
		f.reopenDir = true
	}
	return n, errno
}

// Readdir implements experimentalsys.File. Entries carry inode numbers so
// wasi-libc does not stat each one.
func (f *file) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if f.closed {
		return nil, experimentalsys.EBADF
	}
	if f.reopenDir {
		f.reopenDir = false
		if errno := f.reopen(); errno != 0 {
			return nil, f.readdirError(errno)
		}
	}
	fis, err := f.f.Readdir(n)
	if errno := errnoOf(err); errno != 0 {
		return nil, f.readdirError(errno)
	}
	dirents := make([]experimentalsys.Dirent, 0, len(fis))
	for _, fi := range fis {
		dirents = append(dirents, experimentalsys.Dirent{Name: fi.Name(), Ino: sys.NewStat_t(fi).Ino, Type: fi.Mode().Type()})
	}
	return dirents, 0
}

// readdirError narrows errno to what File.Readdir documents.
func (f *file) readdirError(errno experimentalsys.Errno) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	switch errno {
	case experimentalsys.EINVAL, experimentalsys.ENOTDIR:
		return experimentalsys.EBADF
	}
	if isDir, e := f.IsDir(); e != 0 {
		return e
	} else if !isDir {
		return experimentalsys.EBADF
	}
	return errno
}

// Write implements experimentalsys.File.
func (f *file) Write(buf []byte) (int, experimentalsys.Errno) {
	if f.jail.readOnly {
		return 0, f.writeError()
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Write(buf)
	return n, f.fileError(errnoOf(err))
}

// Pwrite implements experimentalsys.File.
func (f *file) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if f.jail.readOnly {
		return 0, f.writeError()
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.WriteAt(buf, off)
	return n, f.fileError(errnoOf(err))
}

// Truncate implements experimentalsys.File.
func (f *file) Truncate(size int64) experimentalsys.Errno {
	if f.jail.readOnly {
		return f.writeError()
	}
	if size < 0 {
		return experimentalsys.EINVAL
	}
	return f.fileError(errnoOf(f.f.Truncate(size)))
}

// Sync implements experimentalsys.File. In read-only mode it fails with
// EBADF, as with wazero's ReadFS.
func (f *file) Sync() experimentalsys.Errno {
	if f.jail.readOnly {
		return experimentalsys.EBADF
	}
	return errnoOf(f.f.Sync())
}

// Datasync implements experimentalsys.File as Sync.
func (f *file) Datasync() experimentalsys.Errno {
	return f.Sync()
}

// Utimens implements experimentalsys.File.
func (f *file) Utimens(atim, mtim int64) experimentalsys.Errno {
	if f.jail.readOnly {
		return experimentalsys.EBADF
	}
	if f.closed {
		return experimentalsys.EBADF
	}
	return futimens(f, atim, mtim)
}

// Close implements experimentalsys.File. It is idempotent.
func (f *file) Close() experimentalsys.Errno {
	if f.closed {
		return 0
	}
	f.closed = true
	return errnoOf(f.f.Close())
}

// fileError refines errno for an operation that needs a regular file:
// EBADF once closed, EISDIR on a directory.
func (f *file) fileError(errno experimentalsys.Errno) experimentalsys.Errno {
	if errno == 0 {
		return 0
	}
	if f.closed {
		return experimentalsys.EBADF
	}
	if isDir, e := f.IsDir(); e != 0 {
		return e
	} else if isDir {
		return experimentalsys.EISDIR
	}
	return errno
}

// writeError is the answer to a write in read-only mode.
func (f *file) writeError() experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	if isDir, e := f.IsDir(); e != 0 {
		return e
	} else if isDir {
		return experimentalsys.EISDIR
	}
	return experimentalsys.EBADF
}
