package rootfs

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzOptions keep each fuzz run small.
var fuzzOptions = Options{MaxBytes: 1 << 20, MaxEntries: 256}

// FuzzApply applies random bytes as a layer: it must never panic, write
// outside the root, create a device or a symlink climbing out.
func FuzzApply(f *testing.F) {
	for _, tc := range applyCases {
		var layers [][]byte
		for _, l := range tc.layers {
			layers = append(layers, tarOf(f, "/outside", l...))
		}
		f.Add(bytes.Join(layers, nil))
		f.Add(gzipped(f, layers[0]))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fx := newFixture(t)
		Apply(t.Context(), fx.root, bytes.NewReader(data), fuzzOptions)
		fx.checkOutside(t)
		checkInvariants(t, fx.dir)
	})
}

// FuzzApplyEntries builds layers from a script, so the fuzzer works on
// names and links rather than tar checksums: one entry a line, "T name
// [link]" with T a tar type flag; "---" starts the next layer; "$OUT" is
// the outside directory.
func FuzzApplyEntries(f *testing.F) {
	f.Add("2 evil $OUT\n0 evil/sentinel\n---\n0 evil/x")
	f.Add("2 evil /etc\n0 evil/passwd")
	f.Add("2 a ../b\n0 a/x")
	f.Add("2 a/b/c ../../..\n0 a/b/c/x")
	f.Add("2 l .\n2 l/m ..\n0 l/m/x")
	f.Add("2 x /\n1 h x/../outside/sentinel")
	f.Add("0 d/f\n---\n0 d/.wh..wh..opq\n0 .wh.d\n5 d\n0 d/g")
	f.Add("5 d\n2 d/s $OUT/sentinel\n---\n0 d/s\n6 d/p\n3 d/c")
	f.Fuzz(func(t *testing.T, script string) {
		fx := newFixture(t)
		for _, layer := range strings.Split(script, "\n---\n") {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, line := range strings.Split(layer, "\n") {
				if len(line) < 3 || line[1] != ' ' {
					continue
				}
				name, link, _ := strings.Cut(strings.ReplaceAll(line[2:], "$OUT", fx.outside), " ")
				hdr := &tar.Header{Typeflag: line[0], Name: name, Linkname: link, Mode: 0o755}
				body := ""
				if hdr.Typeflag == tar.TypeReg {
					body = "x"
					hdr.Size = 1
				}
				if tw.WriteHeader(hdr) != nil {
					return
				}
				tw.Write([]byte(body))
			}
			tw.Close()
			if _, err := Apply(t.Context(), fx.root, &buf, fuzzOptions); err != nil {
				break
			}
		}
		fx.checkOutside(t)
		checkInvariants(t, fx.dir)
	})
}

// checkInvariants fails if dir holds a device or a relative symlink that
// climbs above dir from where it is.
func checkInvariants(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.Type()&fs.ModeDevice != 0:
			t.Errorf("%s is a device", rel)
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			if !strings.HasPrefix(l, "/") && climbs(path.Join(path.Dir(rel), l)) {
				t.Errorf("%s -> %s climbs out", rel, l)
			}
		}
		return nil
	})
}
