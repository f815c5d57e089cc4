// Package examples embeds mote's example nanoservices — each a directory
// with a mote.toml, its source and its prebuilt Wasm module — so that tests
// and `mote demo` can deploy them without a toolchain.
//
// Adding an example: make its directory here, then add it to the go:embed
// line below (TestEmbedsEveryExample fails until you do). Container
// examples (hello-container) are not embedded: their image is built from
// source, not committed.
package examples

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/mote-run/mote/internal/manifest"
)

//go:embed hello-c hello-go echo-go hello-sdk counter-go todo-go call-go fetch-go
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

// parse reads the example in dir whose mote.toml is raw, packaging it the
// way `mote deploy` does.
func parse(fsys fs.FS, dir string, raw []byte) (Example, error) {
	m, err := manifest.Parse(raw)
	if err != nil {
		return Example{}, err
	}
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return Example{}, err
	}
	module, files, err := m.ReadPackage(sub)
	if err != nil {
		return Example{}, err
	}
	return Example{Name: m.Name, Dir: dir, Manifest: raw, Module: module, Files: files}, nil
}
