package jailfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// FuzzJail runs one operation with fuzzed path arguments on a fresh tree
// (see tree), then tries to read through whatever it created. Nothing
// outside the jail may change and the secret must never be read.
func FuzzJail(f *testing.F) {
	seeds := []struct {
		op   uint8
		a, b string
	}{
		{0, "../outside/secret.txt", ""},
		{0, "sub/../../outside/secret.txt", ""},
		{0, "in/../../outside/secret.txt", ""},
		{1, "out/new.txt", ""},
		{1, "dangle", ""},
		{3, "hello.txt", "../outside/x"},
		{3, "out/secret.txt", "stolen"},
		{3, "sub", "deeper/x"},
		{4, "out/secret.txt", "stolen"},
		{5, "../outside", "esc"},
		{5, "../../outside", "sub/esc"},
		{5, "..", "sub/p"},
		{6, "out/secret.txt", ""},
		{7, "out/dir", ""},
		{9, "sub/out", ""},
		{10, "chain1", ""},
		{11, "up2", ""},
		{11, "in/..", ""},
	}
	for _, s := range seeds {
		f.Add(s.op, s.a, s.b)
	}
	f.Fuzz(func(t *testing.T, op uint8, a, b string) {
		jail, outside := tree(t)
		base := filepath.Dir(jail)
		before := snapshot(t, outside)
		j := newJail(t, jail, false)

		noSecret := func(what, got string) {
			if strings.Contains(got, secret) {
				t.Fatalf("%s read the secret", what)
			}
		}
		switch op % 12 {
		case 0:
			got, _ := readFile(t, j, a)
			noSecret("read "+a, got)
		case 1:
			if f, errno := j.OpenFile(a, experimentalsys.O_RDWR|experimentalsys.O_CREAT|experimentalsys.O_TRUNC, 0o644); errno == 0 {
				f.Write([]byte("x"))
				f.Close()
			}
		case 2:
			j.Mkdir(a, 0o755)
		case 3:
			j.Rename(a, b)
		case 4:
			j.Link(a, b)
		case 5:
			j.Symlink(a, b)
		case 6:
			j.Unlink(a)
		case 7:
			j.Rmdir(a)
		case 8:
			j.Stat(a)
			j.Lstat(a)
			j.Readlink(a)
		case 9:
			j.Chmod(a, 0o777)
		case 10:
			j.Utimens(a, 0, 0)
		case 11:
			if d, errno := j.OpenFile(a, experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0); errno == 0 {
				ents, _ := d.Readdir(-1)
				d.Close()
				for _, e := range ents {
					if e.Name == "secret.txt" {
						t.Fatalf("listed the outside through %q", a)
					}
				}
			}
		}
		// Follow whatever the operation left behind.
		for _, p := range []string{a, b, a + "/secret.txt", b + "/secret.txt", "stolen", "esc/secret.txt"} {
			got, _ := readFile(t, j, p)
			noSecret("read "+p+" after the op", got)
		}
		if after := snapshot(t, outside); after != before {
			t.Fatalf("outside changed:\n%s\nwant:\n%s", after, before)
		}
		ents, err := os.ReadDir(base)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != 2 {
			t.Fatalf("entries next to the jail: %v", ents)
		}
	})
}
