package rootfs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// entry describes one tar entry of a test layer. "$OUT" in name or link is
// replaced by the fixture's outside directory.
type entry struct {
	typ      byte
	name     string
	link     string
	body     string
	mode     int64
	uid, gid int
	mtime    time.Time
}

func reg(name, body string) entry {
	return entry{typ: tar.TypeReg, name: name, body: body, mode: 0o644}
}
func dir(name string) entry { return entry{typ: tar.TypeDir, name: name, mode: 0o755} }
func sym(name, link string) entry {
	return entry{typ: tar.TypeSymlink, name: name, link: link, mode: 0o777}
}
func hard(name, link string) entry { return entry{typ: tar.TypeLink, name: name, link: link} }
func fifo(name string) entry       { return entry{typ: tar.TypeFifo, name: name, mode: 0o640} }

// tarOf builds an uncompressed layer.
func tarOf(t testing.TB, out string, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Typeflag: e.typ,
			Name:     strings.ReplaceAll(e.name, "$OUT", out),
			Linkname: strings.ReplaceAll(e.link, "$OUT", out),
			Mode:     e.mode,
			Uid:      e.uid,
			Gid:      e.gid,
			ModTime:  e.mtime,
			Format:   tar.FormatPAX,
		}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %q: %v", e.name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fixture is a root directory next to an "outside" directory that no layer
// may touch: base/root and base/outside/sentinel.
type fixture struct {
	base, dir, outside string
	root               *os.Root
}

const sentinel = "host data, not to be touched"

func newFixture(t testing.TB) *fixture {
	t.Helper()
	base := t.TempDir()
	f := &fixture{base: base, dir: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
	for _, d := range []string{f.dir, f.outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(f.outside, "sentinel"), []byte(sentinel), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	f.root = root
	return f
}

// checkOutside fails unless base holds only root and outside, and outside
// only the untouched sentinel.
func (f *fixture) checkOutside(t testing.TB) {
	t.Helper()
	if got := names(t, f.base); strings.Join(got, ",") != "outside,root" {
		t.Errorf("base holds %v, want only outside and root", got)
	}
	if got := names(t, f.outside); strings.Join(got, ",") != "sentinel" {
		t.Errorf("outside holds %v, want only sentinel", got)
	}
	fi, err := os.Lstat(filepath.Join(f.outside, "sentinel"))
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Fatalf("sentinel changed: %v %v", fi, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink != 1 {
		t.Errorf("sentinel has %d links, want 1", st.Nlink)
	}
	if b, err := os.ReadFile(filepath.Join(f.outside, "sentinel")); err != nil || string(b) != sentinel {
		t.Errorf("sentinel = %q, %v", b, err)
	}
}

func names(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// tree describes every path under dir: type, permission bits and content
// or link target; directories' modification times are left out.
func tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v", fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			desc += " -> " + l
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			desc += " " + string(b)
		}
		out[filepath.ToSlash(rel)] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func readIn(t testing.TB, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

func lstat(t testing.TB, dir, name string) (fs.FileInfo, *syscall.Stat_t) {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("lstat %s: %v", name, err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	return fi, st
}

func exists(dir, name string) bool {
	_, err := os.Lstat(filepath.Join(dir, name))
	return err == nil
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}
