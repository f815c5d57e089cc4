//go:build !wasip1

package guest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

func TestSource(t *testing.T) {
	var files []string
	err := fs.WalkDir(Source(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files = append(files, p)
		src, err := fs.ReadFile(Source(), p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, src, parser.PackageClauseOnly)
		if err != nil {
			t.Errorf("%s: %v", p, err)
		} else if strings.HasSuffix(f.Name.Name, "_test") {
			t.Errorf("%s is a test", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"guest.go", "handle.go", "export.go", "abi/abi.go", "internal/hostcall/hostcall.go",
		"internal/hostcall/wasm.go", "kv/kv.go", "config/config.go", "fetch/fetch.go",
		"call/call.go", "log/log.go", "guesttest/guesttest.go",
	} {
		if !slices.Contains(files, want) {
			t.Errorf("Source() lacks %s; it has %q", want, files)
		}
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "source.go" || !strings.HasSuffix(f, ".go") {
			t.Errorf("Source() has %s", f)
		}
	}
	for _, name := range []string{"source.go", "handle_test.go"} {
		if _, err := fs.Stat(Source(), name); err == nil {
			t.Errorf("Source() opens %s", name)
		}
		if _, err := fs.ReadFile(Source(), name); err == nil {
			t.Errorf("Source() reads %s", name)
		}
	}
}
