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

// ReadPackage reads what a service ships from fsys, the manifest's
// directory: for [wasm], the module and every regular file that [wasm]
// files selects; for [container], no module (the image is read apart);
// for both, the [openapi] spec. Files are keyed by slash-separated path
// (files is nil when there are none). Hidden files and directories are
// selected only by a pattern that names them. Symlinks and other
// non-regular files are refused (a package must not reach outside its
// directory), as are a files entry that selects nothing, a missing spec and
// a package over MaxPackageSize.
func (m *Manifest) ReadPackage(fsys fs.FS) (module []byte, files map[string][]byte, err error) {
	var total int64
	switch {
	case m.Wasm == nil && m.Container == nil:
		return nil, nil, fmt.Errorf("%w: %s has no [wasm] or [container] table", ErrPackage, FileName)
	case m.Wasm != nil:
		if module, files, err = m.readWasm(fsys, &total); err != nil {
			return nil, nil, err
		}
	}
	if o := m.OpenAPI; o != nil && !selected(files, o.Spec) {
		if err := regular(fsys, o.Spec, "[openapi] spec", "write the OpenAPI document there, or fix [openapi] spec in "+FileName); err != nil {
			return nil, nil, err
		}
		b, err := fs.ReadFile(fsys, o.Spec)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: [openapi] spec %s: %v", ErrPackage, o.Spec, err)
		}
		if total += int64(len(b)); total > MaxPackageSize {
			return nil, nil, errTooLarge
		}
		if files == nil {
			files = map[string][]byte{}
		}
		files[o.Spec] = b
	}
	return module, files, nil
}

// readWasm reads a [wasm] service's module and files, adding their sizes
// to *total.
func (m *Manifest) readWasm(fsys fs.FS, total *int64) (module []byte, files map[string][]byte, err error) {
	if err := regular(fsys, m.Wasm.Module, "module", "mote build, or check [wasm] module"); err != nil {
		return nil, nil, err
	}
	module, err = fs.ReadFile(fsys, m.Wasm.Module)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: module %s: %v; Try: mote build, or check [wasm] module", ErrPackage, m.Wasm.Module, err)
	}
	*total = int64(len(module))
	if files, err = m.readFiles(fsys, total); err != nil {
		return nil, nil, err
	}
	return module, files, nil
}

// selected reports whether files holds name.
func selected(files map[string][]byte, name string) bool {
	_, ok := files[name]
	return ok
}

// errTooLarge is a package over MaxPackageSize.
var errTooLarge = fmt.Errorf("%w: the package is over %d MiB; Try: narrow [wasm] files", ErrPackage, MaxPackageSize>>20)

// readFiles reads the files [wasm] files selects, adding their sizes to
// *total; nil when it selects none.
func (m *Manifest) readFiles(fsys fs.FS, total *int64) (map[string][]byte, error) {
	if len(m.Wasm.Files) == 0 {
		return nil, nil
	}
	files := map[string][]byte{}
	matched := make([]bool, len(m.Wasm.Files))
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
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
		if *total += int64(len(b)); *total > MaxPackageSize {
			return errTooLarge
		}
		files[p] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, ok := range matched {
		if !ok {
			return nil, fmt.Errorf("%w: [wasm] files entry %q selects no file; Try: fix the pattern or remove it", ErrPackage, m.Wasm.Files[i])
		}
	}
	return files, nil
}

// namesHidden reports whether a pattern spells out a hidden element.
func namesHidden(pattern string) bool {
	return slices.ContainsFunc(strings.Split(pattern, "/"), func(e string) bool { return strings.HasPrefix(e, ".") })
}

// regular checks that name, the package's what, is a regular file, not a
// symlink; try says what to do when it does not exist.
func regular(fsys fs.FS, name, what, try string) error {
	info, err := fs.Lstat(fsys, path.Clean(name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s %s does not exist; Try: %s", ErrPackage, what, name, try)
		}
		return fmt.Errorf("%w: %s %s: %v", ErrPackage, what, name, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%w: %s %s is not a regular file (a symlink or device); it must be a plain file inside the service's directory", ErrPackage, what, name)
	}
	return nil
}
