package jailfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

const (
	eperm  = experimentalsys.EPERM
	enoent = experimentalsys.ENOENT
	eloop  = experimentalsys.ELOOP
)

// TestReadEscapes tries every way out of the jail we know of for reading;
// each must fail with the given errno and never show the secret.
func TestReadEscapes(t *testing.T) {
	jail, outside := tree(t)
	before := snapshot(t, outside)
	j := newJail(t, jail, false)

	tests := []struct {
		name string
		path string
		want experimentalsys.Errno
	}{
		{"parent", "../outside/secret.txt", eperm},
		{"parent only", "..", eperm},
		{"parent with trailing slash", "../", eperm},
		{"missing dir then up twice", "a/../../outside/secret.txt", enoent},
		{"existing dir then up twice", "sub/../../outside/secret.txt", eperm},
		{"many parents", strings.Repeat("../", 40) + "etc/passwd", eperm},
		{"dot segments", "./sub/./../../outside/secret.txt", eperm},
		{"absolute is relative to the jail", "/usr/bin/env", enoent},
		{"absolute parent", "/../outside/secret.txt", eperm},
		{"proc", "/proc/self/environ", enoent},
		{"symlink to /etc", "etc/passwd", eperm},
		{"symlink to /etc itself", "etc", eperm},
		{"absolute symlink naming a file inside", "abs-in", eperm},
		{"symlink to ../outside", "out/secret.txt", eperm},
		{"symlink to ../../", "up2", eperm},
		{"through symlink to ../../", "up2/outside/secret.txt", eperm},
		{"symlink in subdir to a file outside", "sub/out", eperm},
		{"symlink chain", "chain1", eperm},
		{"inside symlink then up", "in/../../outside/secret.txt", eperm},
		{"inside symlink then escaping one", "in/out", eperm},
		{"dangling symlink leaving", "dangle", eperm},
		{"symlink loop", "loop1", eloop},
		{"NUL byte", "hello.txt\x00../../outside/secret.txt", experimentalsys.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, errno := readFile(t, j, tc.path)
			if strings.Contains(got, secret) {
				t.Fatalf("read the secret through %q", tc.path)
			}
			if errno != tc.want {
				t.Errorf("OpenFile(%q) = %q, %v; want %v", tc.path, got, errno, tc.want)
			}
			if _, errno := j.Stat(tc.path); errno != tc.want {
				t.Errorf("Stat(%q) = %v; want %v", tc.path, errno, tc.want)
			}
			f, errno := j.OpenFile(tc.path, experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
			if errno == 0 {
				f.Close()
				t.Errorf("OpenFile(%q, O_DIRECTORY) succeeded", tc.path)
			}
		})
	}
	if after := snapshot(t, outside); after != before {
		t.Errorf("outside changed:\n%s\nwant:\n%s", after, before)
	}
}

// TestReadlinkOfEscapingLink shows a link's text may be read, while
// following it fails.
func TestReadlinkOfEscapingLink(t *testing.T) {
	jail, _ := tree(t)
	j := newJail(t, jail, true)
	tests := []struct{ link, text string }{
		{"etc", "/etc"},
		{"out", "../outside"},
		{"up2", "../../"},
		{"sub/out", "../../outside/secret.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.link, func(t *testing.T) {
			got, errno := j.Readlink(tc.link)
			if errno != 0 || got != tc.text {
				t.Errorf("Readlink(%q) = %q, %v; want %q", tc.link, got, errno, tc.text)
			}
			st, errno := j.Lstat(tc.link)
			if errno != 0 || st.Mode.Type() != os.ModeSymlink {
				t.Errorf("Lstat(%q) = %v, %v; want a symlink", tc.link, st.Mode, errno)
			}
			if _, errno := j.Stat(tc.link); errno != eperm {
				t.Errorf("Stat(%q) = %v; want EPERM", tc.link, errno)
			}
		})
	}
	if _, errno := j.Readlink("../outside"); errno != eperm {
		t.Errorf("Readlink(../outside) = %v; want EPERM", errno)
	}
}

// TestWriteEscapes tries to change anything outside the jail; every
// attempt must fail and leave the outside untouched.
func TestWriteEscapes(t *testing.T) {
	const (
		rdwr  = experimentalsys.O_RDWR
		creat = experimentalsys.O_CREAT
		trunc = experimentalsys.O_TRUNC
		excl  = experimentalsys.O_EXCL
	)
	tests := []struct {
		name string
		op   func(j *FS) experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"create via parent", open("../outside/new.txt", rdwr|creat), eperm},
		{"create via symlink dir", open("out/new.txt", rdwr|creat), eperm},
		{"create through dangling link", open("dangle", rdwr|creat), eperm},
		{"create excl through dangling link", open("dangle", rdwr|creat|excl), experimentalsys.EEXIST},
		{"truncate via symlink", open("sub/out", rdwr|trunc), eperm},
		{"truncate via chain", open("chain1", rdwr|trunc), eperm},
		{"write via symlink to /etc", open("etc/passwd", experimentalsys.O_WRONLY), eperm},
		{"mkdir via parent", func(j *FS) experimentalsys.Errno { return j.Mkdir("../outside/d", 0o755) }, eperm},
		{"mkdir via symlink", func(j *FS) experimentalsys.Errno { return j.Mkdir("out/d", 0o755) }, eperm},
		{"rename out via parent", func(j *FS) experimentalsys.Errno { return j.Rename("hello.txt", "../outside/x") }, eperm},
		{"rename out via symlink", func(j *FS) experimentalsys.Errno { return j.Rename("hello.txt", "out/x") }, eperm},
		{"rename over outside file", func(j *FS) experimentalsys.Errno { return j.Rename("hello.txt", "out/secret.txt") }, eperm},
		{"rename in via parent", func(j *FS) experimentalsys.Errno { return j.Rename("../outside/secret.txt", "stolen") }, eperm},
		{"rename in via symlink", func(j *FS) experimentalsys.Errno { return j.Rename("out/secret.txt", "stolen") }, eperm},
		{"hardlink to outside via parent", func(j *FS) experimentalsys.Errno { return j.Link("../outside/secret.txt", "stolen") }, eperm},
		{"hardlink to outside via symlink", func(j *FS) experimentalsys.Errno { return j.Link("out/secret.txt", "stolen") }, eperm},
		{"hardlink from outside", func(j *FS) experimentalsys.Errno { return j.Link("hello.txt", "../outside/planted") }, eperm},
		{"unlink via parent", func(j *FS) experimentalsys.Errno { return j.Unlink("../outside/secret.txt") }, eperm},
		{"unlink via symlink", func(j *FS) experimentalsys.Errno { return j.Unlink("out/secret.txt") }, eperm},
		{"rmdir via parent", func(j *FS) experimentalsys.Errno { return j.Rmdir("../outside/dir") }, eperm},
		{"rmdir via symlink", func(j *FS) experimentalsys.Errno { return j.Rmdir("out/dir") }, eperm},
		{"chmod via symlink", func(j *FS) experimentalsys.Errno { return j.Chmod("sub/out", 0o777) }, eperm},
		{"chmod via parent", func(j *FS) experimentalsys.Errno { return j.Chmod("../outside/secret.txt", 0o777) }, eperm},
		{"utimens via symlink", func(j *FS) experimentalsys.Errno { return j.Utimens("sub/out", 0, 0) }, eperm},
		{"utimens via parent", func(j *FS) experimentalsys.Errno { return j.Utimens("../outside/secret.txt", 0, 0) }, eperm},
		{"symlink placed outside", func(j *FS) experimentalsys.Errno { return j.Symlink("hello.txt", "../outside/l") }, eperm},
		{"symlink placed via symlink", func(j *FS) experimentalsys.Errno { return j.Symlink("x", "out/l") }, eperm},
		{"symlink absolute target", func(j *FS) experimentalsys.Errno { return j.Symlink("/etc", "l") }, eperm},
		{"symlink target climbing out", func(j *FS) experimentalsys.Errno { return j.Symlink("../../outside", "l") }, eperm},
		{"symlink target climbing out of subdir", func(j *FS) experimentalsys.Errno { return j.Symlink("../../outside", "sub/l") }, eperm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jail, outside := tree(t)
			before := snapshot(t, outside)
			j := newJail(t, jail, false)
			if got := tc.op(j); got != tc.want {
				t.Errorf("got %v; want %v", got, tc.want)
			}
			if after := snapshot(t, outside); after != before {
				t.Errorf("outside changed:\n%s\nwant:\n%s", after, before)
			}
			if _, err := os.Lstat(filepath.Join(jail, "stolen")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("jail/stolen exists (err %v)", err)
			}
		})
	}
}

// open returns an op opening name with flag and closing it on success.
func open(name string, flag experimentalsys.Oflag) func(j *FS) experimentalsys.Errno {
	return func(j *FS) experimentalsys.Errno {
		f, errno := j.OpenFile(name, flag, 0o644)
		if errno == 0 {
			f.Close()
		}
		return errno
	}
}

// TestSymlinkRenameCaveat documents the limit of Symlink's target check: a
// rename can move an accepted relative link to where it points outside.
// Following it through the jail still fails; host code must not follow it
// either (see the package doc).
func TestSymlinkRenameCaveat(t *testing.T) {
	jail, outside := tree(t)
	j := newJail(t, jail, false)
	if errno := j.Mkdir("a", 0o755); errno != 0 {
		t.Fatal(errno)
	}
	if errno := j.Symlink("../hello.txt", "a/l"); errno != 0 {
		t.Fatalf("Symlink inside: %v", errno)
	}
	if got, errno := readFile(t, j, "a/l"); errno != 0 || got != "hello" {
		t.Fatalf("a/l = %q, %v", got, errno)
	}
	// "../x" from a link at the top level climbs out; a link at a/l is fine.
	if errno := j.Symlink("../outside/secret.txt", "a/s"); errno != 0 {
		t.Fatalf("Symlink(../outside/secret.txt, a/s) = %v", errno)
	}
	if _, errno := readFile(t, j, "a/s"); errno != enoent {
		t.Fatalf("a/s = %v; want ENOENT (jail/outside/secret.txt)", errno)
	}
	// Now move a/s to the top: it points at the real outside/secret.txt.
	if errno := j.Rename("a/s", "s"); errno != 0 {
		t.Fatal(errno)
	}
	if got, errno := readFile(t, j, "s"); errno != eperm || strings.Contains(got, secret) {
		t.Fatalf("s = %q, %v; want EPERM", got, errno)
	}
	if b, err := os.ReadFile(filepath.Join(jail, "s")); err != nil || string(b) != secret {
		t.Fatalf("host os.ReadFile(jail/s) = %q, %v; the caveat no longer holds?", b, err)
	}
	_ = outside
}

// TestEscapeRace swaps a directory inside the jail for a symlink that
// leaves it, from the host, while a reader opens a file through it. os.Root
// must never let the reader see the secret.
func TestEscapeRace(t *testing.T) {
	jail, _ := tree(t)
	j := newJail(t, jail, true)
	dir := filepath.Join(jail, "flip")
	tmp := filepath.Join(jail, "flip.tmp")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("decoy"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(jail, "real"), 0o755); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			// flip -> ../outside, then back to a real directory.
			_ = os.Rename(dir, filepath.Join(jail, "real", "d"))
			_ = os.Symlink("../outside", tmp)
			_ = os.Rename(tmp, dir)
			_ = os.Remove(dir)
			_ = os.Rename(filepath.Join(jail, "real", "d"), dir)
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()

	var opened, refused int
	for i := 0; i < 3000; i++ {
		got, errno := readFile(t, j, "flip/secret.txt")
		if strings.Contains(got, secret) {
			t.Fatalf("read the secret on iteration %d", i)
		}
		if errno == 0 {
			opened++
		} else {
			refused++
		}
	}
	t.Logf("opened the decoy %d times, refused %d times", opened, refused)
}
