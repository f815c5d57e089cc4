package jailfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

func TestNew(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir string
		want      error
	}{
		{"empty", "", ErrEmptyDir},
		{"missing", filepath.Join(t.TempDir(), "nope"), fs.ErrNotExist},
		{"file", file, nil}, // checked below: any error
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := New(tc.dir, false)
			if err == nil {
				j.Close()
				t.Fatalf("New(%q) succeeded", tc.dir)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("New(%q) = %v; want %v", tc.dir, err, tc.want)
			}
		})
	}
}

// TestInside checks that what stays inside works, symlinks included.
func TestInside(t *testing.T) {
	jail, _ := tree(t)
	j := newJail(t, jail, true)
	tests := []struct{ path, want string }{
		{"hello.txt", "hello"},
		{"/hello.txt", "hello"},
		{"./hello.txt", "hello"},
		{"sub/../hello.txt", "hello"},
		{"sub/inner.txt", "inner"},
		{"sub/up", "hello"},
		{"in/inner.txt", "inner"},
		{"in/up", "hello"},
		{"in/../hello.txt", "hello"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, errno := readFile(t, j, tc.path)
			if errno != 0 || got != tc.want {
				t.Errorf("read %q = %q, %v; want %q", tc.path, got, errno, tc.want)
			}
		})
	}
	for _, p := range []string{"", ".", "/", "in", "in/", "sub/"} {
		st, errno := j.Stat(p)
		if errno != 0 || !st.Mode.IsDir() {
			t.Errorf("Stat(%q) = %v, %v; want a directory", p, st.Mode, errno)
		}
	}
}

func TestReaddir(t *testing.T) {
	jail, _ := tree(t)
	j := newJail(t, jail, false)
	d, errno := j.OpenFile(".", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer d.Close()

	list := func() []string {
		var names []string
		for {
			ents, errno := d.Readdir(3)
			if errno != 0 {
				t.Fatal(errno)
			}
			for _, e := range ents {
				if e.Ino == 0 {
					t.Errorf("%s has no inode", e.Name)
				}
				names = append(names, e.Name+map[fs.FileMode]string{fs.ModeDir: "/", fs.ModeSymlink: "@"}[e.Type])
			}
			if len(ents) < 3 {
				sort.Strings(names)
				return names
			}
		}
	}
	want := "abs-in@ chain1@ chain2@ dangle@ empty/ etc@ hello.txt in@ loop1@ loop2@ out@ sub/ up2@"
	if got := strings.Join(list(), " "); got != want {
		t.Errorf("Readdir = %s\nwant %s", got, want)
	}
	if ents, errno := d.Readdir(10); errno != 0 || len(ents) != 0 {
		t.Errorf("Readdir at end = %v, %v", ents, errno)
	}
	// Rewinding shows entries created since.
	if errno := j.Mkdir("zz", 0o755); errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := d.Seek(0, io.SeekStart); errno != 0 {
		t.Fatal(errno)
	}
	if got := strings.Join(list(), " "); got != want+" zz/" {
		t.Errorf("Readdir after rewind = %s", got)
	}

	f, errno := j.OpenFile("hello.txt", experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := f.Readdir(-1); errno != experimentalsys.EBADF {
		t.Errorf("Readdir on a file = %v; want EBADF", errno)
	}
	f.Close()
	d.Close()
	if _, errno := d.Readdir(-1); errno != experimentalsys.EBADF {
		t.Errorf("Readdir after Close = %v; want EBADF", errno)
	}
}

// TestFileOps runs a file through the sys.File API.
func TestFileOps(t *testing.T) {
	jail, _ := tree(t)
	j := newJail(t, jail, false)
	f, errno := j.OpenFile("new.txt", experimentalsys.O_RDWR|experimentalsys.O_CREAT|experimentalsys.O_EXCL, 0o600)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer f.Close()
	step := func(what string, errno experimentalsys.Errno) {
		t.Helper()
		if errno != 0 {
			t.Fatalf("%s: %v", what, errno)
		}
	}
	_, errno = f.Write([]byte("hello world"))
	step("Write", errno)
	_, errno = f.Pwrite([]byte("W"), 6)
	step("Pwrite", errno)
	buf := make([]byte, 5)
	n, errno := f.Pread(buf, 6)
	step("Pread", errno)
	if string(buf[:n]) != "World" {
		t.Errorf("Pread = %q", buf[:n])
	}
	off, errno := f.Seek(-5, io.SeekEnd)
	step("Seek", errno)
	if off != 6 {
		t.Errorf("Seek = %d", off)
	}
	if _, errno := f.Seek(0, 7); errno != experimentalsys.EINVAL {
		t.Errorf("Seek whence 7 = %v; want EINVAL", errno)
	}
	step("Truncate", f.Truncate(5))
	if errno := f.Truncate(-1); errno != experimentalsys.EINVAL {
		t.Errorf("Truncate(-1) = %v", errno)
	}
	step("Sync", f.Sync())
	step("Datasync", f.Datasync())
	mtim := time.Date(2020, 1, 2, 3, 4, 5, 6000, time.UTC).UnixNano()
	step("Utimens", f.Utimens(experimentalsys.UTIME_OMIT, mtim))
	st, errno := f.Stat()
	step("Stat", errno)
	if st.Size != 5 || st.Mtim != mtim || st.Mode.Perm() != 0o600 {
		t.Errorf("Stat = size %d mtim %d mode %v", st.Size, st.Mtim, st.Mode)
	}
	if ino, _ := f.Ino(); ino != st.Ino {
		t.Errorf("Ino = %d; Stat says %d", ino, st.Ino)
	}

	// Append mode is switched by reopening; the offset is kept.
	step("SetAppend", f.SetAppend(true))
	if !f.IsAppend() {
		t.Error("IsAppend = false")
	}
	_, errno = f.Write([]byte("!"))
	step("Write appending", errno)
	if b, _ := os.ReadFile(filepath.Join(jail, "new.txt")); string(b) != "hello!" {
		t.Errorf("content = %q", b)
	}

	f.Close()
	if errno := f.Close(); errno != 0 {
		t.Errorf("second Close = %v", errno)
	}
	for name, errno := range map[string]experimentalsys.Errno{
		"Read":  second(f.Read(buf)),
		"Write": second(f.Write(buf)),
		"Seek":  second(f.Seek(0, io.SeekStart)),
		"Stat":  second(f.Stat()),
	} {
		if errno != experimentalsys.EBADF {
			t.Errorf("%s after Close = %v; want EBADF", name, errno)
		}
	}
}

func second[T any](_ T, errno experimentalsys.Errno) experimentalsys.Errno { return errno }

// TestErrnos checks errno values against wazero's DirFS semantics.
func TestErrnos(t *testing.T) {
	const (
		rdonly = experimentalsys.O_RDONLY
		rdwr   = experimentalsys.O_RDWR
		creat  = experimentalsys.O_CREAT
		excl   = experimentalsys.O_EXCL
		dir    = experimentalsys.O_DIRECTORY
		nofoll = experimentalsys.O_NOFOLLOW
	)
	tests := []struct {
		name string
		op   func(j *FS) experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"open missing", open("nope", rdonly), experimentalsys.ENOENT},
		{"open excl existing", open("hello.txt", rdwr|creat|excl), experimentalsys.EEXIST},
		{"open dir for write", open("sub", rdwr), experimentalsys.EISDIR},
		{"open file as dir", open("hello.txt", rdonly|dir), experimentalsys.ENOTDIR},
		{"open file with trailing slash", open("hello.txt/", rdonly), experimentalsys.ENOTDIR},
		{"open symlink nofollow", open("sub/up", rdonly|nofoll), experimentalsys.ELOOP},
		{"open file nofollow", open("hello.txt", rdonly|nofoll), 0},
		{"open dir via link", open("in", rdonly|dir), 0},
		{"mkdir existing", func(j *FS) experimentalsys.Errno { return j.Mkdir("sub", 0o755) }, experimentalsys.EEXIST},
		{"mkdir under file", func(j *FS) experimentalsys.Errno { return j.Mkdir("hello.txt/d", 0o755) }, experimentalsys.ENOENT},
		{"mkdir under missing", func(j *FS) experimentalsys.Errno { return j.Mkdir("nope/d", 0o755) }, experimentalsys.ENOENT},
		{"rmdir file", func(j *FS) experimentalsys.Errno { return j.Rmdir("hello.txt") }, experimentalsys.ENOTDIR},
		{"rmdir non-empty", func(j *FS) experimentalsys.Errno { return j.Rmdir("sub") }, experimentalsys.ENOTEMPTY},
		{"rmdir missing", func(j *FS) experimentalsys.Errno { return j.Rmdir("nope") }, experimentalsys.ENOENT},
		{"rmdir empty", func(j *FS) experimentalsys.Errno { return j.Rmdir("empty") }, 0},
		{"rmdir root", func(j *FS) experimentalsys.Errno { return j.Rmdir(".") }, experimentalsys.EINVAL},
		{"unlink dir", func(j *FS) experimentalsys.Errno { return j.Unlink("sub") }, experimentalsys.EISDIR},
		{"unlink missing", func(j *FS) experimentalsys.Errno { return j.Unlink("nope") }, experimentalsys.ENOENT},
		{"unlink symlink to dir", func(j *FS) experimentalsys.Errno { return j.Unlink("in") }, 0},
		{"unlink escaping symlink", func(j *FS) experimentalsys.Errno { return j.Unlink("etc") }, 0},
		{"rename missing", func(j *FS) experimentalsys.Errno { return j.Rename("nope", "x") }, experimentalsys.ENOENT},
		{"rename to self", func(j *FS) experimentalsys.Errno { return j.Rename("hello.txt", "/hello.txt") }, 0},
		{"rename file over dir", func(j *FS) experimentalsys.Errno { return j.Rename("hello.txt", "empty") }, experimentalsys.EISDIR},
		{"rename dir over file", func(j *FS) experimentalsys.Errno { return j.Rename("empty", "hello.txt") }, experimentalsys.ENOTDIR},
		{"rename dir over non-empty dir", func(j *FS) experimentalsys.Errno { return j.Rename("empty", "sub") }, experimentalsys.ENOTEMPTY},
		{"rename dir over empty dir", func(j *FS) experimentalsys.Errno {
			if errno := j.Rename("sub", "empty"); errno != 0 {
				return errno
			}
			_, errno := readFile(t, j, "empty/inner.txt")
			return errno
		}, 0},
		{"rename file over file", func(j *FS) experimentalsys.Errno {
			if errno := j.Rename("sub/inner.txt", "hello.txt"); errno != 0 {
				return errno
			}
			if got, _ := readFile(t, j, "hello.txt"); got != "inner" {
				return experimentalsys.EIO
			}
			return 0
		}, 0},
		{"link", func(j *FS) experimentalsys.Errno { return j.Link("hello.txt", "sub/h") }, 0},
		{"link existing", func(j *FS) experimentalsys.Errno { return j.Link("hello.txt", "sub/inner.txt") }, experimentalsys.EEXIST},
		{"symlink existing", func(j *FS) experimentalsys.Errno { return j.Symlink("hello.txt", "sub") }, experimentalsys.EEXIST},
		{"symlink empty target", func(j *FS) experimentalsys.Errno { return j.Symlink("", "l") }, experimentalsys.ENOENT},
		{"symlink up, inside", func(j *FS) experimentalsys.Errno {
			if errno := j.Symlink("../hello.txt", "sub/l"); errno != 0 {
				return errno
			}
			if got, _ := readFile(t, j, "sub/l"); got != "hello" {
				return experimentalsys.EIO
			}
			return 0
		}, 0},
		{"readlink of file", func(j *FS) experimentalsys.Errno { return second(j.Readlink("hello.txt")) }, experimentalsys.EINVAL},
		{"chmod", func(j *FS) experimentalsys.Errno { return j.Chmod("hello.txt", 0o600) }, 0},
		{"utimens missing", func(j *FS) experimentalsys.Errno { return j.Utimens("nope", 0, 0) }, experimentalsys.ENOENT},
		{"utimens omit both", func(j *FS) experimentalsys.Errno {
			return j.Utimens("hello.txt", experimentalsys.UTIME_OMIT, experimentalsys.UTIME_OMIT)
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jail, _ := tree(t)
			j := newJail(t, jail, false)
			if got := tc.op(j); got != tc.want {
				t.Errorf("got %v; want %v", got, tc.want)
			}
		})
	}
}

// TestChmodDropsSpecialBits: a guest cannot make a setuid file for the host.
func TestChmodDropsSpecialBits(t *testing.T) {
	jail, _ := tree(t)
	j := newJail(t, jail, false)
	if errno := j.Chmod("hello.txt", 0o755|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky); errno != 0 {
		t.Fatal(errno)
	}
	fi, err := os.Stat(filepath.Join(jail, "hello.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o755 {
		t.Errorf("mode = %v; want -rwxr-xr-x", fi.Mode())
	}
}

func TestUtimens(t *testing.T) {
	jail, _ := tree(t)
	j := newJail(t, jail, false)
	atim := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	mtim := time.Date(2002, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	if errno := j.Utimens("sub/up", atim, mtim); errno != 0 { // follows the link
		t.Fatal(errno)
	}
	st, _ := j.Stat("hello.txt")
	if st.Atim != atim || st.Mtim != mtim {
		t.Errorf("times = %d, %d; want %d, %d", st.Atim, st.Mtim, atim, mtim)
	}
	if errno := j.Utimens("hello.txt", experimentalsys.UTIME_OMIT, atim); errno != 0 {
		t.Fatal(errno)
	}
	st, _ = j.Stat("hello.txt")
	if st.Atim != atim || st.Mtim != atim {
		t.Errorf("after omitting atim: times = %d, %d; want %d, %d", st.Atim, st.Mtim, atim, atim)
	}
}

// TestReadOnly runs every mutating operation on a read-only jail.
func TestReadOnly(t *testing.T) {
	const (
		rdonly = experimentalsys.O_RDONLY
		wronly = experimentalsys.O_WRONLY
		rdwr   = experimentalsys.O_RDWR
		creat  = experimentalsys.O_CREAT
		trunc  = experimentalsys.O_TRUNC
		excl   = experimentalsys.O_EXCL
		apnd   = experimentalsys.O_APPEND
		erofs  = experimentalsys.EROFS
	)
	tests := []struct {
		name string
		op   func(j *FS) experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"open write", open("hello.txt", wronly), erofs},
		{"open read-write", open("hello.txt", rdwr), erofs},
		{"open dir write", open("sub", rdwr|experimentalsys.O_DIRECTORY), experimentalsys.EISDIR},
		{"open append", open("hello.txt", wronly|apnd), erofs},
		{"create", open("new.txt", wronly|creat), erofs},
		{"create read-only", open("new.txt", rdonly|creat), erofs},
		{"create excl read-only", open("new.txt", rdonly|creat|excl), erofs},
		{"truncate read-only", open("hello.txt", rdonly|trunc), erofs},
		{"creat on existing read-only", open("hello.txt", rdonly|creat), 0},
		{"read", open("hello.txt", rdonly), 0},
		{"mkdir", func(j *FS) experimentalsys.Errno { return j.Mkdir("d", 0o755) }, erofs},
		{"chmod", func(j *FS) experimentalsys.Errno { return j.Chmod("hello.txt", 0o777) }, erofs},
		{"rename", func(j *FS) experimentalsys.Errno { return j.Rename("hello.txt", "x") }, erofs},
		{"rmdir", func(j *FS) experimentalsys.Errno { return j.Rmdir("empty") }, erofs},
		{"unlink", func(j *FS) experimentalsys.Errno { return j.Unlink("hello.txt") }, erofs},
		{"link", func(j *FS) experimentalsys.Errno { return j.Link("hello.txt", "x") }, erofs},
		{"symlink", func(j *FS) experimentalsys.Errno { return j.Symlink("hello.txt", "x") }, erofs},
		{"utimens", func(j *FS) experimentalsys.Errno { return j.Utimens("hello.txt", 0, 0) }, erofs},
		{"file write", onFile("hello.txt", func(f experimentalsys.File) experimentalsys.Errno { return second(f.Write([]byte("x"))) }), experimentalsys.EBADF},
		{"file pwrite", onFile("hello.txt", func(f experimentalsys.File) experimentalsys.Errno { return second(f.Pwrite([]byte("x"), 0)) }), experimentalsys.EBADF},
		{"file truncate", onFile("hello.txt", func(f experimentalsys.File) experimentalsys.Errno { return f.Truncate(0) }), experimentalsys.EBADF},
		{"file utimens", onFile("hello.txt", func(f experimentalsys.File) experimentalsys.Errno { return f.Utimens(0, 0) }), experimentalsys.EBADF},
		{"file sync", onFile("hello.txt", func(f experimentalsys.File) experimentalsys.Errno { return f.Sync() }), experimentalsys.EBADF},
		{"file datasync", onFile("hello.txt", func(f experimentalsys.File) experimentalsys.Errno { return f.Datasync() }), experimentalsys.EBADF},
		{"dir write", onFile("sub", func(f experimentalsys.File) experimentalsys.Errno { return second(f.Write([]byte("x"))) }), experimentalsys.EISDIR},
		{"file set append then write", onFile("hello.txt", func(f experimentalsys.File) experimentalsys.Errno {
			if errno := f.SetAppend(true); errno != 0 {
				return errno
			}
			return second(f.Write([]byte("x")))
		}), experimentalsys.EBADF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jail, _ := tree(t)
			before := snapshot(t, jail)
			j := newJail(t, jail, true)
			if got := tc.op(j); got != tc.want {
				t.Errorf("got %v; want %v", got, tc.want)
			}
			if after := snapshot(t, jail); after != before {
				t.Errorf("jail changed:\n%s\nwant:\n%s", after, before)
			}
		})
	}
}

// onFile returns an op running fn on name opened read-only.
func onFile(name string, fn func(experimentalsys.File) experimentalsys.Errno) func(j *FS) experimentalsys.Errno {
	return func(j *FS) experimentalsys.Errno {
		f, errno := j.OpenFile(name, experimentalsys.O_RDONLY, 0)
		if errno != 0 {
			return errno
		}
		defer f.Close()
		return fn(f)
	}
}

// TestClose: after Close, operations fail without panicking, and opening
// the mount point answers ENOENT (wazero panics on anything else).
func TestClose(t *testing.T) {
	jail, _ := tree(t)
	j, err := New(jail, false)
	if err != nil {
		t.Fatal(err)
	}
	f, errno := j.OpenFile("hello.txt", experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if got := readAll(t, f); got != "hello" {
		t.Errorf("open file after Close reads %q", got)
	}
	f.Close()
	if _, errno := j.OpenFile(".", experimentalsys.O_RDONLY, 0); errno != experimentalsys.ENOENT {
		t.Errorf("OpenFile(.) = %v; want ENOENT", errno)
	}
	if _, errno := j.OpenFile("hello.txt", experimentalsys.O_RDONLY, 0); errno != experimentalsys.EBADF {
		t.Errorf("OpenFile(hello.txt) = %v; want EBADF", errno)
	}
	if _, errno := j.Stat("hello.txt"); errno != experimentalsys.EBADF {
		t.Errorf("Stat = %v; want EBADF", errno)
	}
}

// TestConcurrent shares one FS between goroutines, as pooled guests do.
func TestConcurrent(t *testing.T) {
	jail, _ := tree(t)
	j := newJail(t, jail, false)
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			name := filepath.Join("sub", "g"+string(rune('a'+g)))
			for range 50 {
				f, errno := j.OpenFile(name, experimentalsys.O_RDWR|experimentalsys.O_CREAT|experimentalsys.O_TRUNC, 0o644)
				if errno != 0 {
					errs <- errno
					return
				}
				_, errno = f.Write([]byte(name))
				f.Close()
				if errno != 0 {
					errs <- errno
					return
				}
				if got, errno := readFile(t, j, "in/"+filepath.Base(name)); errno != 0 || got != name {
					errs <- errors.New("read back " + got)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
