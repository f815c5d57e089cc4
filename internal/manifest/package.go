package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// MaxPackageSize bounds a package: the module plus every file.
const MaxPackageSize = 256 << 20

// ErrPackage is matched by errors from ReadPackage.
var ErrPackage = errors.New("manifest: bad package")

// ReadPackage reads what a [wasm] service ships from fsys, the manifest's
// directory: the module, and every regular file that [wasm] files selects,
// keyed by slash-separated path. Hidden files and directories are selected
// only by a pattern that names them. Symlinks and other non-regular files
// are refused (a package must not reach outside its directory), as is a
// files entry that selects nothing and a package over MaxPackageSize.
func (m *Manifest) ReadPackage(fsys fs.FS) (module []byte, files map[string][]byte, err error) {
	if m.Wasm == nil {
		return nil, nil, fmt.Errorf("%w: %s has no [wasm] table", ErrPackage, FileName)
	}
	if err := regular(fsys, m.Wasm.Module); err != nil {
		return nil, nil, err
	}
	module, err = fs.ReadFile(fsys, m.Wasm.Module)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: module %s: %v; Try: mote build, or check [wasm] module", ErrPackage, m.Wasm.Module, err)
	}
	total := int64(len(module))
	if len(m.Wasm.Files) == 0 {
		return module, nil, nil
	}
	files = map[string][]byte{}
	matched := make([]bool, len(m.Wasm.Files))
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		hidden := strings.HasPrefix(d.Name(), ".")
		if d.IsDir() {
			for _, pat := range m.Wasm.Files {
				if MatchesUnder(pat, p) && (!hidden || namesHidden(pat)) {
					return nil
				}
			}
			return fs.SkipDir
		}
		selected := false
		for i, pat := range m.Wasm.Files {
			if ok, _ := Match(pat, p); ok && (!hidden || namesHidden(pat)) {
				matched[i], selected = true, true
			}
		}
		if !selected {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file (a symlink or device); package files must be plain files inside the service's directory", ErrPackage, p)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrPackage, p, err)
		}
		if total += int64(len(b)); total > MaxPackageSize {
			return fmt.Errorf("%w: the package is over %d MiB; Try: narrow [wasm] files", ErrPackage, MaxPackageSize>>20)
		}
		files[p] = b
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for i, ok := range matched {
		if !ok {
			return nil, nil, fmt.Errorf("%w: [wasm] files entry %q selects no file; Try: fix the pattern or remove it", ErrPackage, m.Wasm.Files[i])
		}
	}
	return module, files, nil
}

// namesHidden reports whether a pattern spells out a hidden element.
func namesHidden(pattern string) bool {
	return slices.ContainsFunc(strings.Split(pattern, "/"), func(e string) bool { return strings.HasPrefix(e, ".") })
}

// regular checks that name is a regular file, not a symlink.
func regular(fsys fs.FS, name string) error {
	info, err := fs.Lstat(fsys, path.Clean(name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: module %s does not exist; Try: mote build, or check [wasm] module", ErrPackage, name)
		}
		return fmt.Errorf("%w: module %s: %v", ErrPackage, name, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%w: module %s is not a regular file", ErrPackage, name)
	}
	return nil
}
