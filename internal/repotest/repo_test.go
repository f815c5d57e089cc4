package repotest

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// packages lists the module's packages with their directories.
func packages(t *testing.T) map[string]string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not available:", err)
	}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{.Dir}}", "github.com/mote-run/mote/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, dir, _ := strings.Cut(line, " ")
		pkgs[path] = dir
	}
	return pkgs
}

// Every package says what it is for, in a doc comment (as tailscale
// enforces): that is where a reader starts.
func TestEveryPackageHasADocComment(t *testing.T) {
	for path, dir := range packages(t) {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		documented := false
		for _, p := range pkgs {
			for _, f := range p.Files {
				if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
					documented = true
				}
			}
		}
		if !documented {
			t.Errorf("package %s (%s) has no package doc comment", path, filepath.Base(dir))
		}
	}
}

// No Go source in the repository root (containerd's rule): the layout shows
// the architecture.
func TestNoGoSourceInRoot(t *testing.T) {
	matches, err := filepath.Glob("../../*.go")
	if err != nil {
		t.Fatal(err)
	}
	if len(matches) > 0 {
		t.Errorf("Go files in the repository root: %v", matches)
	}
}
