// Package examples embeds mote's example nanoservices — each a directory
// with a mote.toml, its source and its prebuilt Wasm module — so that tests
// and `mote demo` can deploy them without a toolchain.
//
// Adding an example: make its directory here, then add it to the go:embed
// line below (TestEmbedsEveryExample fails until you do).
package examples

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

//go:embed hello-c hello-go echo-go
var embedded embed.FS

// ManifestName is the file that makes a directory an example.
const ManifestName = "mote.toml"

// Errors All and Get return.
var (
	// ErrNotFound: no example has the name asked for.
	ErrNotFound = errors.New("examples: no such example")
	// ErrInvalid: an example's mote.toml is not TOML, or names a module or
	// files that are not in its directory.
	ErrInvalid = errors.New("examples: invalid example")
)

// Example is one example service, read from the embedded tree.
type Example struct {
	// Name is the service name from mote.toml; it equals Dir.
	Name string
	// Dir is the example's directory, relative to this package's directory
	// and to FS ("hello-c").
	Dir string
	// Manifest is mote.toml, verbatim.
	Manifest []byte
	// Module is the Wasm module that [wasm] module names.
	Module []byte
	// Files are the package files that the manifest's files list names
	// (paths or globs; a directory stands for everything under it), keyed
	// by slash-separated path relative to Dir. Nil when it names none.
	Files map[string][]byte
}

// FS returns the embedded example directories with every file in them
// (manifest, sources, README, module).
func FS() fs.FS { return embedded }

// All returns every example, sorted by name.
func All() ([]Example, error) { return load(embedded) }

// Get returns the example called name, or an error wrapping ErrNotFound.
func Get(name string) (Example, error) {
	all, err := All()
	if err != nil {
		return Example{}, err
	}
	for _, ex := range all {
		if ex.Name == name {
			return ex, nil
		}
	}
	return Example{}, fmt.Errorf("%w: %q", ErrNotFound, name)
}

// manifest is the little of mote.toml this package needs. The full schema
// and its validation belong to the manifest package. files is accepted both
// at the top level and under [wasm].
type manifest struct {
	Name  string   `toml:"name"`
	Files []string `toml:"files"`
	Wasm  struct {
		Module string   `toml:"module"`
		Files  []string `toml:"files"`
	} `toml:"wasm"`
}

// load reads every top-level directory of fsys that holds a mote.toml.
func load(fsys fs.FS) ([]Example, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("examples: %w", err)
	}
	var all []Example
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		raw, err := fs.ReadFile(fsys, path.Join(e.Name(), ManifestName))
		if errors.Is(err, fs.ErrNotExist) {
			continue // not an example
		}
		if err != nil {
			return nil, fmt.Errorf("examples: %w", err)
		}
		ex, err := parse(fsys, e.Name(), raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, e.Name(), err)
		}
		all = append(all, ex)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all, nil
}

// parse reads the example in dir whose mote.toml is raw.
func parse(fsys fs.FS, dir string, raw []byte) (Example, error) {
	var m manifest
	if _, err := toml.Decode(string(raw), &m); err != nil {
		return Example{}, fmt.Errorf("%s: %v", ManifestName, err)
	}
	if m.Wasm.Module == "" {
		return Example{}, fmt.Errorf("%s: no [wasm] module", ManifestName)
	}
	module, err := clean(m.Wasm.Module)
	if err != nil {
		return Example{}, fmt.Errorf("module: %v", err)
	}
	ex := Example{Name: m.Name, Dir: dir, Manifest: raw}
	if ex.Module, err = fs.ReadFile(fsys, path.Join(dir, module)); err != nil {
		return Example{}, fmt.Errorf("module: %v", err)
	}
	for _, pattern := range append(m.Files, m.Wasm.Files...) {
		if err := addFiles(fsys, dir, pattern, &ex); err != nil {
			return Example{}, fmt.Errorf("files: %v", err)
		}
	}
	return ex, nil
}

// clean returns rel, a slash-separated path relative to an example's
// directory, cleaned; it refuses a path that leaves the directory.
func clean(rel string) (string, error) {
	c := path.Clean(rel)
	if !fs.ValidPath(c) || c == "." {
		return "", fmt.Errorf("%q is not a path inside the example", rel)
	}
	return c, nil
}

// addFiles adds the files pattern names (a path or a path.Match glob,
// relative to dir; a directory stands for everything under it) to ex.Files.
func addFiles(fsys fs.FS, dir, pattern string, ex *Example) error {
	c, err := clean(pattern)
	if err != nil {
		return err
	}
	matches, err := fs.Glob(fsys, path.Join(dir, c))
	if err != nil {
		return fmt.Errorf("%q: %v", pattern, err)
	}
	if len(matches) == 0 {
		return fmt.Errorf("%q matches nothing", pattern)
	}
	for _, match := range matches {
		err := fs.WalkDir(fsys, match, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			if ex.Files == nil {
				ex.Files = make(map[string][]byte)
			}
			ex.Files[strings.TrimPrefix(p, dir+"/")] = data
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
