package jailfs

import (
	"os"
	"path/filepath"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
)

// BenchmarkOpenRead opens, reads and closes a 100-byte file through the
// jail and through wazero's DirFS (what WithDirMount uses), at depth 1 and
// at depth 5. os.Root opens every directory on the way, so the jail's cost
// grows with depth.
func BenchmarkOpenRead(b *testing.B) {
	dir := b.TempDir()
	deep := filepath.Join(dir, "a", "b", "c", "d")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		b.Fatal(err)
	}
	content := make([]byte, 100)
	for _, d := range []string{dir, deep} {
		if err := os.WriteFile(filepath.Join(d, "f.txt"), content, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	jail := newJail(b, dir, true)
	for _, fsys := range []struct {
		name string
		fs   experimentalsys.FS
	}{
		{"jailfs", jail},
		{"dirfs", sysfs.DirFS(dir)},
	} {
		for _, path := range []string{"f.txt", "a/b/c/d/f.txt"} {
			b.Run(fsys.name+"/"+path, func(b *testing.B) {
				buf := make([]byte, 512)
				b.ReportAllocs()
				for b.Loop() {
					f, errno := fsys.fs.OpenFile(path, experimentalsys.O_RDONLY, 0)
					if errno != 0 {
						b.Fatal(errno)
					}
					if n, errno := f.Read(buf); errno != 0 || n != len(content) {
						b.Fatal(n, errno)
					}
					f.Close()
				}
			})
		}
	}
}
