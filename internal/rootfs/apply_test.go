package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// applyCase is a chain of layers applied in order onto a fresh fixture.
type applyCase struct {
	name    string
	layers  [][]entry
	wantErr error  // errors.Is; nil: success
	wantMsg string // in the error message
	check   func(t *testing.T, f *fixture)
}

// applyCases are hostile and normal layers; the fuzzers use them as seeds.
var applyCases = []applyCase{
	// Names.
	{name: "dotdot", layers: [][]entry{{reg("../../etc/x", "pwned")}},
		wantErr: ErrRefused, wantMsg: `"../../etc/x": path climbs out of the root`},
	{name: "inner dotdot", layers: [][]entry{{reg("a/../../x", "pwned")}},
		wantErr: ErrRefused, wantMsg: "climbs out"},
	{name: "absolute dotdot", layers: [][]entry{{reg("/../outside/sentinel", "pwned")}},
		wantErr: ErrRefused, wantMsg: "climbs out"},
	{name: "dotdot to outside dir", layers: [][]entry{{reg("../outside/sentinel", "pwned")}},
		wantErr: ErrRefused},
	{name: "absolute name is relative to the root", layers: [][]entry{{reg("/abs/f", "hi"), reg("//abs//./g", "ho")}},
		check: func(t *testing.T, f *fixture) {
			if got := readIn(t, f.dir, "abs/f") + readIn(t, f.dir, "abs/g"); got != "hiho" {
				t.Errorf("abs/f+abs/g = %q", got)
			}
		}},
	{name: "inner dotdot staying inside", layers: [][]entry{{reg("a/b/../c", "x")}},
		check: func(t *testing.T, f *fixture) { readIn(t, f.dir, "a/c") }},
	{name: "root as a file", layers: [][]entry{{reg(".", "x")}}, wantErr: ErrRefused, wantMsg: "root"},
	{name: "root dir entry ignored", layers: [][]entry{{{typ: tar.TypeDir, name: "./", mode: 0o700}, reg("f", "x")}},
		check: func(t *testing.T, f *fixture) {
			if fi, _ := lstat(t, f.dir, "."); fi.Mode().Perm() != 0o755 {
				t.Errorf("root mode = %v, want unchanged 0755", fi.Mode())
			}
		}},
	{name: "unknown type", layers: [][]entry{{{typ: 'Z', name: "z"}}}, wantErr: ErrRefused, wantMsg: "unsupported entry type"},
	{name: "char device", layers: [][]entry{{{typ: tar.TypeChar, name: "dev/null", mode: 0o666}}},
		wantErr: ErrRefused, wantMsg: `"dev/null": device files are not allowed`},
	{name: "block device", layers: [][]entry{{{typ: tar.TypeBlock, name: "dev/sda", mode: 0o660}}},
		wantErr: ErrRefused, wantMsg: "device files"},

	// Symlinks.
	{name: "symlink to /etc then write through it", layers: [][]entry{{sym("evil", "/etc"), reg("evil/passwd", "pwned")}},
		check: func(t *testing.T, f *fixture) {
			if got := readIn(t, f.dir, "etc/passwd"); got != "pwned" {
				t.Errorf("etc/passwd in the root = %q", got)
			}
		}},
	{name: "nested absolute symlink starts again at the root", layers: [][]entry{{sym("a/b/evil", "/etc"), reg("a/b/evil/x", "x")}},
		check: func(t *testing.T, f *fixture) {
			if readIn(t, f.dir, "etc/x"); exists(f.dir, "a/b/etc") {
				t.Error("a/b/etc was created")
			}
		}},
	{name: "absolute symlink to outside then write through it",
		layers: [][]entry{{sym("evil", "$OUT"), reg("evil/sentinel", "pwned")}, {reg("evil/new", "x")}},
		check: func(t *testing.T, f *fixture) {
			if got := readIn(t, f.dir, filepath.Join(f.outside, "sentinel")); got != "pwned" {
				t.Errorf("ROOT$OUT/sentinel = %q", got)
			}
			readIn(t, f.dir, filepath.Join(f.outside, "new"))
		}},
	{name: "symlink as the last component is replaced, not followed",
		layers: [][]entry{{sym("f", "$OUT/sentinel"), sym("d", "$OUT")}, {reg("f", "mine"), dir("d")}},
		check: func(t *testing.T, f *fixture) {
			if fi, _ := lstat(t, f.dir, "f"); !fi.Mode().IsRegular() {
				t.Errorf("f is %v, want a regular file", fi.Mode())
			}
			if fi, _ := lstat(t, f.dir, "d"); !fi.IsDir() {
				t.Errorf("d is %v, want a directory", fi.Mode())
			}
		}},
	{name: "relative symlink climbing out", layers: [][]entry{{sym("up", "../outside")}},
		wantErr: ErrRefused, wantMsg: `"up": symlink target "../outside" climbs out of the root`},
	{name: "nested relative symlink climbing out", layers: [][]entry{{sym("a/b/up", "../../../x")}},
		wantErr: ErrRefused, wantMsg: "climbs out"},
	{name: "relative symlink staying inside", layers: [][]entry{{sym("a/b/up", "../../x"), sym("lib", "usr/lib")}},
		check: func(t *testing.T, f *fixture) {
			if l, _ := os.Readlink(filepath.Join(f.dir, "a/b/up")); l != "../../x" {
				t.Errorf("a/b/up -> %q", l)
			}
		}},
	{name: "symlink judged from its real directory",
		// a -> b/c: a/ok lands in b/c, where ../../x is still inside, and
		// a/up lands there too, where ../../../x is not.
		layers:  [][]entry{{dir("b/c"), sym("a", "b/c"), sym("a/ok", "../../x")}, {sym("a/up", "../../../x")}},
		wantErr: ErrRefused, wantMsg: `"a/up"`,
		check: func(t *testing.T, f *fixture) {
			if l, _ := os.Readlink(filepath.Join(f.dir, "b/c/ok")); l != "../../x" {
				t.Errorf("b/c/ok -> %q", l)
			}
		}},
	{name: "write through a relative symlink", layers: [][]entry{{dir("usr/lib"), sym("lib", "usr/lib")}, {reg("lib/libc.so", "elf")}},
		check: func(t *testing.T, f *fixture) { readIn(t, f.dir, "usr/lib/libc.so") }},
	{name: "symlink whose dotdot stops at the root", layers: [][]entry{{sym("r", "/../../.."), reg("r/f", "x")}},
		check: func(t *testing.T, f *fixture) { readIn(t, f.dir, "f") }},
	{name: "symlink loop", layers: [][]entry{{sym("a", "b"), sym("b", "a"), reg("a/x", "x")}},
		wantErr: ErrRefused, wantMsg: "too many levels of symbolic links"},
	{name: "empty symlink target", layers: [][]entry{{sym("e", "")}}, wantErr: ErrRefused, wantMsg: "empty symlink target"},
	{name: "parent is a file", layers: [][]entry{{reg("f", "x"), reg("f/x", "y")}}, wantMsg: `"f/x"`},

	// Hardlinks.
	{name: "hardlink", layers: [][]entry{{reg("a", "same"), hard("b", "a"), hard("/c", "/a")}},
		check: func(t *testing.T, f *fixture) {
			_, a := lstat(t, f.dir, "a")
			_, b := lstat(t, f.dir, "b")
			_, c := lstat(t, f.dir, "c")
			if a.Ino != b.Ino || a.Ino != c.Ino || a.Nlink != 3 {
				t.Errorf("inodes %d %d %d, nlink %d", a.Ino, b.Ino, c.Ino, a.Nlink)
			}
		}},
	{name: "hardlink to itself", layers: [][]entry{{reg("a", "x"), hard("a", "a")}},
		check: func(t *testing.T, f *fixture) { readIn(t, f.dir, "a") }},
	{name: "hardlink climbing out", layers: [][]entry{{hard("h", "../outside/sentinel")}},
		wantErr: ErrRefused, wantMsg: `hardlink target "../outside/sentinel": path climbs out of the root`},
	{name: "hardlink to a missing file", layers: [][]entry{{hard("h", "/etc/passwd")}},
		wantErr: ErrRefused, wantMsg: `hardlink target "/etc/passwd" does not exist`},
	{name: "hardlink through a symlink to outside", layers: [][]entry{{sym("lnk", "$OUT"), hard("h", "lnk/sentinel")}},
		wantErr: ErrRefused, wantMsg: "does not exist"},
	{name: "hardlink to a directory", layers: [][]entry{{dir("d"), hard("h", "d")}},
		wantErr: ErrRefused, wantMsg: "is a directory"},
	{name: "hardlink to a symlink links the symlink", layers: [][]entry{{sym("s", "$OUT/sentinel"), hard("h", "s")}},
		check: func(t *testing.T, f *fixture) {
			if fi, _ := lstat(t, f.dir, "h"); fi.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("h is %v, want the symlink", fi.Mode())
			}
		}},

	// Replacement.
	{name: "file replaces dir", layers: [][]entry{{dir("d"), reg("d/x", "x")}, {reg("d", "file")}},
		check: func(t *testing.T, f *fixture) {
			if got := readIn(t, f.dir, "d"); got != "file" {
				t.Errorf("d = %q", got)
			}
		}},
	{name: "dir replaces file", layers: [][]entry{{reg("d", "file")}, {dir("d"), reg("d/x", "x")}},
		check: func(t *testing.T, f *fixture) { readIn(t, f.dir, "d/x") }},
	{name: "symlink replaces dir", layers: [][]entry{{reg("d/x", "x")}, {sym("d", "/tmp")}},
		check: func(t *testing.T, f *fixture) {
			if l, _ := os.Readlink(filepath.Join(f.dir, "d")); l != "/tmp" {
				t.Errorf("d -> %q", l)
			}
		}},
	{name: "file replaces file", layers: [][]entry{{reg("f", "old")}, {reg("f", "new")}},
		check: func(t *testing.T, f *fixture) {
			if got := readIn(t, f.dir, "f"); got != "new" {
				t.Errorf("f = %q", got)
			}
		}},
	{name: "dirs merge", layers: [][]entry{{reg("d/a", "a")}, {{typ: tar.TypeDir, name: "d", mode: 0o700}, reg("d/b", "b")}},
		check: func(t *testing.T, f *fixture) {
			readIn(t, f.dir, "d/a")
			readIn(t, f.dir, "d/b")
			if fi, _ := lstat(t, f.dir, "d"); fi.Mode().Perm() != 0o700 {
				t.Errorf("d mode = %v, want 0700 from the upper layer", fi.Mode())
			}
		}},

	// Whiteouts.
	{name: "whiteouts and opaque dir",
		layers: [][]entry{
			{reg("a", "a"), reg("b", "b"), reg("dir/c", "c"), reg("dir/sub/d", "d"), reg("gone/x", "x")},
			{reg(".wh.a", ""), dir("dir"), reg("dir/.wh..wh..opq", ""), reg("dir/e", "e"), reg(".wh.gone", ""),
				reg(".wh.never-was", ""), reg("missing/.wh.x", "")},
		},
		check: func(t *testing.T, f *fixture) {
			want := []string{"b", "dir", "dir/e"}
			if got := keys(tree(t, f.dir)); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("tree = %v, want %v", got, want)
			}
		}},
	{name: "opaque marker after this layer's entries",
		layers: [][]entry{
			{reg("dir/old", "o"), reg("dir/sub/old", "o")},
			{dir("dir"), reg("dir/new", "n"), reg("dir/sub/new", "n"), reg("dir/.wh..wh..opq", "")},
		},
		check: func(t *testing.T, f *fixture) {
			want := []string{"dir", "dir/new", "dir/sub", "dir/sub/new"}
			if got := keys(tree(t, f.dir)); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("tree = %v, want %v", got, want)
			}
		}},
	{name: "whiteout leaves this layer's entries",
		layers: [][]entry{
			{reg("d/lower", "l"), reg("f", "old")},
			{reg("f", "new"), reg("d/upper", "u"), reg(".wh.f", ""), reg(".wh.d", "")},
		},
		check: func(t *testing.T, f *fixture) {
			want := []string{"d", "d/upper", "f"}
			if got := keys(tree(t, f.dir)); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("tree = %v, want %v", got, want)
			}
		}},
	{name: "whiteout through a symlinked dir", layers: [][]entry{{reg("real/x", "x"), sym("l", "/real")}, {reg("l/.wh.x", "")}},
		check: func(t *testing.T, f *fixture) {
			if exists(f.dir, "real/x") {
				t.Error("real/x survived")
			}
		}},
	{name: "whiteout of nothing", layers: [][]entry{{reg(".wh.", "")}}, wantErr: ErrRefused, wantMsg: "whiteout"},
	{name: "whiteout of dot", layers: [][]entry{{reg("d/.wh..", "")}}, wantErr: ErrRefused, wantMsg: "whiteout"},
	{name: "whiteout of dotdot", layers: [][]entry{{reg("d/.wh...", "")}}, wantErr: ErrRefused, wantMsg: "whiteout"},
	{name: "opaque root", layers: [][]entry{{reg("a", "a")}, {reg(".wh..wh..opq", ""), reg("b", "b")}},
		check: func(t *testing.T, f *fixture) {
			if got := keys(tree(t, f.dir)); strings.Join(got, ",") != "b" {
				t.Errorf("tree = %v, want [b]", got)
			}
		}},
	{name: "aufs metadata skipped", layers: [][]entry{{dir(".wh..wh.plnk"), reg(".wh..wh.plnk/1.2", "x"), reg(".wh..wh.aufs", "")}},
		check: func(t *testing.T, f *fixture) {
			if got := keys(tree(t, f.dir)); len(got) != 0 {
				t.Errorf("tree = %v, want empty", got)
			}
		}},

	// Modes and others.
	{name: "modes", layers: [][]entry{{
		{typ: tar.TypeReg, name: "bin/su", body: "x", mode: 0o4755},
		{typ: tar.TypeReg, name: "bin/sg", body: "x", mode: 0o2711},
		{typ: tar.TypeReg, name: "secret", body: "x", mode: 0o600},
		{typ: tar.TypeDir, name: "tmp", mode: 0o1777},
		{typ: tar.TypeDir, name: "ro", mode: 0o555},
		reg("ro/f", "x"),
	}},
		check: func(t *testing.T, f *fixture) {
			for name, want := range map[string]fs.FileMode{
				"bin/su": 0o755 | fs.ModeSetuid, "bin/sg": 0o711 | fs.ModeSetgid, "secret": 0o600,
				"tmp": fs.ModeDir | fs.ModeSticky | 0o777, "ro": fs.ModeDir | 0o555, "bin": fs.ModeDir | 0o755,
			} {
				if fi, _ := lstat(t, f.dir, name); fi.Mode() != want {
					t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
				}
			}
		}},
	{name: "mtimes", layers: [][]entry{{
		{typ: tar.TypeDir, name: "d", mode: 0o755, mtime: time.Unix(1e9, 0)},
		{typ: tar.TypeReg, name: "d/f", body: "x", mode: 0o644, mtime: time.Unix(1.1e9, 0)},
		{typ: tar.TypeFifo, name: "d/p", mode: 0o644, mtime: time.Unix(1.2e9, 0)},
	}},
		check: func(t *testing.T, f *fixture) {
			for name, want := range map[string]int64{"d": 1e9, "d/f": 1.1e9, "d/p": 1.2e9} {
				if fi, _ := lstat(t, f.dir, name); fi.ModTime().Unix() != want {
					t.Errorf("%s: mtime %v, want %v", name, fi.ModTime().Unix(), want)
				}
			}
		}},
	{name: "fifo", layers: [][]entry{{fifo("run/pipe")}, {fifo("run/pipe")}},
		check: func(t *testing.T, f *fixture) {
			if fi, _ := lstat(t, f.dir, "run/pipe"); fi.Mode() != fs.ModeNamedPipe|0o640 {
				t.Errorf("run/pipe: mode %v", fi.Mode())
			}
		}},
}

func TestApply(t *testing.T) {
	for _, tc := range applyCases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			var err error
			for i, l := range tc.layers {
				if _, err = Apply(t.Context(), f.root, bytes.NewReader(tarOf(t, f.outside, l...)), Options{}); err != nil {
					err = fmt.Errorf("layer %d: %w", i+1, err)
					break
				}
			}
			wantFail := tc.wantErr != nil || tc.wantMsg != ""
			switch {
			case !wantFail && err != nil:
				t.Fatalf("Apply: %v", err)
			case wantFail && err == nil:
				t.Fatalf("Apply succeeded, want an error")
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("Apply: %v, want %v", err, tc.wantErr)
			case !strings.Contains(fmt.Sprint(err), tc.wantMsg):
				t.Errorf("Apply: %v, want it to say %q", err, tc.wantMsg)
			}
			f.checkOutside(t)
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

// TestApplyHostEtc writes through a symlink to the real /etc and checks
// the host's files are untouched.
func TestApplyHostEtc(t *testing.T) {
	before, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Skip("no /etc/passwd on this host")
	}
	f := newFixture(t)
	name := fmt.Sprintf("mote-rootfs-test-%d", time.Now().UnixNano())
	layer := tarOf(t, "", sym("evil", "/etc"), reg("evil/passwd", "pwned"), reg("evil/"+name, "x"),
		sym("etc2", "../../../../../../../../etc"))
	_, err = Apply(t.Context(), f.root, bytes.NewReader(layer), Options{})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "etc2") {
		t.Errorf("Apply: %v, want etc2 refused", err)
	}
	if after, _ := os.ReadFile("/etc/passwd"); !bytes.Equal(before, after) {
		t.Fatal("the host's /etc/passwd changed")
	}
	if _, err := os.Lstat("/etc/" + name); err == nil {
		os.Remove("/etc/" + name)
		t.Fatal("a file was written in the host's /etc")
	}
	if got := readIn(t, f.dir, "etc/passwd"); got != "pwned" {
		t.Errorf("ROOT/etc/passwd = %q", got)
	}
	f.checkOutside(t)
}

func TestApplyCompression(t *testing.T) {
	layer := tarOf(t, "", dir("d"), reg("d/f", "hello"), sym("l", "d/f"), fifo("p"))
	var trees []map[string]string
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"plain", layer},
		{"gzip", gzipped(t, layer)},
		{"gzip of two members", append(gzipped(t, layer[:1024]), gzipped(t, layer[1024:])...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			st, err := Apply(t.Context(), f.root, bytes.NewReader(tc.data), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if st != (Stats{Entries: 4, Bytes: 5}) {
				t.Errorf("stats = %+v", st)
			}
			trees = append(trees, tree(t, f.dir))
		})
	}
	for i := 1; i < len(trees); i++ {
		if !maps.Equal(trees[0], trees[i]) {
			t.Errorf("tree %d = %v, want %v", i, trees[i], trees[0])
		}
	}

	t.Run("zstd", func(t *testing.T) {
		f := newFixture(t)
		_, err := Apply(t.Context(), f.root, bytes.NewReader([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0}), Options{})
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "zstd") {
			t.Errorf("Apply: %v, want ErrUnsupported naming zstd", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		f := newFixture(t)
		if st, err := Apply(t.Context(), f.root, bytes.NewReader(nil), Options{}); err != nil || st.Entries != 0 {
			t.Errorf("Apply = %+v, %v", st, err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		f := newFixture(t)
		if _, err := Apply(t.Context(), f.root, bytes.NewReader(layer[:700]), Options{}); err == nil {
			t.Error("Apply of a truncated layer succeeded")
		}
	})
	t.Run("bad gzip", func(t *testing.T) {
		f := newFixture(t)
		if _, err := Apply(t.Context(), f.root, bytes.NewReader(gzipped(t, layer)[:30]), Options{}); err == nil {
			t.Error("Apply of a truncated gzip layer succeeded")
		}
	})
}

func TestApplyLimits(t *testing.T) {
	layer := tarOf(t, "", reg("a", "123456"), reg("b", "123456"), dir("c"))
	for _, tc := range []struct {
		name    string
		opts    Options
		wantErr error
	}{
		{"defaults", Options{}, nil},
		{"bytes fit", Options{MaxBytes: 12}, nil},
		{"bytes exceeded", Options{MaxBytes: 11}, ErrLimit},
		{"entries fit", Options{MaxEntries: 3}, nil},
		{"entries exceeded", Options{MaxEntries: 2}, ErrLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := Apply(t.Context(), f.root, bytes.NewReader(layer), tc.opts)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("Apply: %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestApplyCancelled(t *testing.T) {
	layer := tarOf(t, "", reg("a", "x"), reg("b", "y"), reg("c", "z"))
	t.Run("before", func(t *testing.T) {
		f := newFixture(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		st, err := Apply(ctx, f.root, bytes.NewReader(layer), Options{})
		if !errors.Is(err, context.Canceled) || st.Entries != 0 || exists(f.dir, "a") {
			t.Errorf("Apply = %+v, %v; want nothing done and context.Canceled", st, err)
		}
	})
	t.Run("between entries", func(t *testing.T) {
		f := newFixture(t)
		ctx, cancel := context.WithCancel(t.Context())
		// Cancel while b's header is read: b's content is not copied and
		// c is never reached.
		r := &hookReader{r: bytes.NewReader(layer), after: 1024, hook: cancel}
		st, err := Apply(ctx, f.root, r, Options{})
		if !errors.Is(err, context.Canceled) || !exists(f.dir, "a") || exists(f.dir, "c") {
			t.Errorf("Apply = %+v, %v; want context.Canceled after a, before c", st, err)
		}
	})
}

// hookReader calls hook once more than after bytes have been read.
type hookReader struct {
	r     *bytes.Reader
	n     int
	after int
	hook  func()
}

func (h *hookReader) Read(p []byte) (int, error) {
	if len(p) > 512 {
		p = p[:512]
	}
	n, err := h.r.Read(p)
	h.n += n
	if h.n > h.after && h.hook != nil {
		h.hook()
		h.hook = nil
	}
	return n, err
}

// TestApplyNegativeSize patches a header's size field to -1 in base-256.
func TestApplyNegativeSize(t *testing.T) {
	for _, e := range []entry{sym("s", "t"), reg("f", "")} {
		t.Run(string(e.typ), func(t *testing.T) {
			e.mtime = time.Unix(0, 0)
			layer := tarOf(t, "", e)
			hdr := layer[:512]
			for i := 124; i < 136; i++ {
				hdr[i] = 0xff
			}
			for i := 148; i < 156; i++ {
				hdr[i] = ' '
			}
			sum := 0
			for _, c := range hdr {
				sum += int(c)
			}
			copy(hdr[148:], fmt.Sprintf("%06o\x00 ", sum))
			f := newFixture(t)
			_, err := Apply(t.Context(), f.root, bytes.NewReader(layer), Options{})
			if err == nil {
				t.Fatal("Apply of a negative size succeeded")
			}
			if e.typ == tar.TypeSymlink && !strings.Contains(err.Error(), "negative size") {
				t.Errorf("Apply: %v, want negative size refused", err)
			}
			if exists(f.dir, e.name) {
				t.Errorf("%s was created", e.name)
			}
		})
	}
}

func TestCleanName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"a/b", "a/b", nil},
		{"./a/./b/", "a/b", nil},
		{"/a", "a", nil},
		{"///a//b", "a/b", nil},
		{"/", ".", nil},
		{"a/..", ".", nil},
		{"..", "", errClimbs},
		{"../a", "", errClimbs},
		{"/../a", "", errClimbs},
		{"a/../../b", "", errClimbs},
		{"..a", "..a", nil},
		{"a\x00b", "", errNUL},
		{"", "", errEmpty},
	} {
		got, err := cleanName(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("cleanName(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestApplyChown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	owned := func(uid, gid int, e entry) entry { e.uid, e.gid = uid, gid; return e }
	layer := tarOf(t, "",
		owned(1, 2, entry{typ: tar.TypeReg, name: "a/su", body: "x", mode: 0o4755}),
		owned(3, 4, sym("a/link", "su")),
		owned(5, 6, dir("d")),
		owned(7, 8, fifo("d/p")),
		owned(9, 10, reg("d/f", "x")),
	)
	t.Run("shifted", func(t *testing.T) {
		f := newFixture(t)
		if _, err := Apply(t.Context(), f.root, bytes.NewReader(layer), Options{Chown: true, UIDShift: 100000, GIDShift: 200000}); err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string][2]uint32{
			"a": {100000, 200000}, "a/su": {100001, 200002}, "a/link": {100003, 200004},
			"d": {100005, 200006}, "d/p": {100007, 200008}, "d/f": {100009, 200010},
		} {
			if _, st := lstat(t, f.dir, name); st.Uid != want[0] || st.Gid != want[1] {
				t.Errorf("%s: owner %d:%d, want %d:%d", name, st.Uid, st.Gid, want[0], want[1])
			}
		}
		if fi, _ := lstat(t, f.dir, "a/su"); fi.Mode() != fs.ModeSetuid|0o755 {
			t.Errorf("a/su: mode %v, want setuid kept after chown", fi.Mode())
		}
	})
	big := tarOf(t, "", owned(70000, 1, reg("big", "x")))
	t.Run("id above 65535 refused when shifting", func(t *testing.T) {
		f := newFixture(t)
		_, err := Apply(t.Context(), f.root, bytes.NewReader(big), Options{Chown: true, UIDShift: 100000, GIDShift: 100000})
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "uid 70000") {
			t.Errorf("Apply: %v, want uid 70000 refused", err)
		}
	})
	t.Run("id above 65535 kept without shift", func(t *testing.T) {
		f := newFixture(t)
		if _, err := Apply(t.Context(), f.root, bytes.NewReader(big), Options{Chown: true}); err != nil {
			t.Fatal(err)
		}
		if _, st := lstat(t, f.dir, "big"); st.Uid != 70000 || st.Gid != 1 {
			t.Errorf("big: owner %d:%d", st.Uid, st.Gid)
		}
	})
	t.Run("no chown", func(t *testing.T) {
		f := newFixture(t)
		if _, err := Apply(t.Context(), f.root, bytes.NewReader(big), Options{UIDShift: 100000}); err != nil {
			t.Fatal(err)
		}
		if _, st := lstat(t, f.dir, "big"); st.Uid != uint32(os.Getuid()) {
			t.Errorf("big: owner %d, want the caller", st.Uid)
		}
	})
}
