package jailfs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// secret is the content of the file outside the jail; no test may ever see
// it through a jail.
const secret = "SECRET-OUTSIDE"

// tree builds, under one temporary directory:
//
//	outside/secret.txt               secret
//	outside/dir/                     (empty)
//	jail/hello.txt                   "hello"
//	jail/sub/inner.txt               "inner"
//	jail/sub/up      -> ../hello.txt     inside
//	jail/in          -> sub              inside, a directory
//	jail/empty/                      (empty directory)
//	jail/etc         -> /etc             absolute
//	jail/abs-in      -> <jail>/hello.txt absolute, naming a file inside
//	jail/out         -> ../outside       relative, leaves
//	jail/up2         -> ../../           relative, leaves
//	jail/sub/out     -> ../../outside/secret.txt
//	jail/chain1 -> chain2 -> sub/chain3 -> ../../outside/secret.txt
//	jail/dangle      -> ../outside/new.txt  (does not exist)
//	jail/loop1 -> loop2 -> loop1
//
// It returns the jail and outside directories.
func tree(t testing.TB) (jail, outside string) {
	t.Helper()
	base := t.TempDir()
	jail = filepath.Join(base, "jail")
	outside = filepath.Join(base, "outside")
	for _, d := range []string{jail, outside, filepath.Join(outside, "dir"), filepath.Join(jail, "sub"), filepath.Join(jail, "empty")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(outside, "secret.txt"): secret,
		filepath.Join(jail, "hello.txt"):     "hello",
		filepath.Join(jail, "sub/inner.txt"): "inner",
	}
	for name, content := range files {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := [][2]string{
		{"../hello.txt", "sub/up"},
		{"sub", "in"},
		{"/etc", "etc"},
		{filepath.Join(jail, "hello.txt"), "abs-in"},
		{"../outside", "out"},
		{"../../", "up2"},
		{"../../outside/secret.txt", "sub/out"},
		{"chain2", "chain1"},
		{"sub/chain3", "chain2"},
		{"../../outside/secret.txt", "sub/chain3"},
		{"../outside/new.txt", "dangle"},
		{"loop2", "loop1"},
		{"loop1", "loop2"},
	}
	for _, l := range links {
		if err := os.Symlink(l[0], filepath.Join(jail, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	return jail, outside
}

func newJail(t testing.TB, dir string, readOnly bool) *FS {
	t.Helper()
	j, err := New(dir, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	return j
}

// snapshot describes every entry under dir (type, mode, size, mtime,
// content or link text) so a test can check nothing changed.
func snapshot(t testing.TB, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(dir, p)
		line := fmt.Sprintf("%s %v %d %d", r, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += " " + string(b)
		case fi.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			line += " -> " + l
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// readAll reads f to the end through the sys.File API.
func readAll(t testing.TB, f experimentalsys.File) string {
	t.Helper()
	s, errno := readString(f)
	if errno != 0 {
		t.Fatalf("read: %v", errno)
	}
	return s
}

func readString(f experimentalsys.File) (string, experimentalsys.Errno) {
	var sb strings.Builder
	buf := make([]byte, 64)
	for {
		n, errno := f.Read(buf)
		if errno != 0 {
			return sb.String(), errno
		}
		if n == 0 {
			return sb.String(), 0
		}
		sb.Write(buf[:n])
	}
}

// readFile opens name read-only through j and returns its content. It may
// be called from any goroutine.
func readFile(_ testing.TB, j experimentalsys.FS, name string) (string, experimentalsys.Errno) {
	f, errno := j.OpenFile(name, experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		return "", errno
	}
	defer f.Close()
	return readString(f)
}
