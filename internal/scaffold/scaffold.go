// Package scaffold writes the starting point of a new service: what
// `mote new NAME --lang go|c` creates. Each language is a directory of
// text/template files under templates/, rendered with the service's name.
//
// Template file names map to output names by two rules: the ".tmpl" suffix
// is dropped, and a "dot-" prefix becomes "." (go:embed skips dotfiles, and
// a file named go.mod would make the template directory a module of its own).
//
// A Go service also gets vendor/: the source of mote's Go SDK (package
// guest and those below it) with a vendor/modules.txt, so it builds as-is,
// with no network and no go.sum, against the SDK of the mote that made it.
package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"github.com/mote-run/mote/guest"
)

//go:embed templates
var templates embed.FS

// DefaultLang is the language Create uses when given none.
const DefaultLang = "go"

// The Go SDK as a new Go service requires and vendors it.
const (
	// SDKModule is the module the SDK's packages belong to.
	SDKModule = "github.com/mote-run/mote"
	// SDKVersion is the version go.mod requires. The module is vendored,
	// so the version is never fetched; it only has to match modules.txt.
	SDKVersion = "v0.0.0"
	// GoVersion is the go line of a new service's go.mod and of the
	// vendored SDK: the first Go with wasip1 reactors (-buildmode=c-shared,
	// //go:wasmexport).
	GoVersion = "1.24"
)

// Errors Create returns, wrapped with the details.
var (
	// ErrInvalidName: the service name is not 1 to 63 of [a-z0-9-], starting
	// and ending with a letter or digit.
	ErrInvalidName = errors.New("invalid service name")
	// ErrUnknownLang: there is no template for the language.
	ErrUnknownLang = errors.New("unknown language")
	// ErrDirNotEmpty: the target directory already holds something (or is
	// not a directory).
	ErrDirNotEmpty = errors.New("directory is not empty")
)

// Langs returns the languages Create knows, sorted.
func Langs() []string {
	entries, _ := fs.ReadDir(templates, "templates") // embedded: cannot fail
	var langs []string
	for _, e := range entries {
		if e.IsDir() {
			langs = append(langs, e.Name())
		}
	}
	slices.Sort(langs)
	return langs
}

// Create writes a new service called name, written in lang ("go" or "c";
// "" means DefaultLang), into dir. dir may be missing (it is created with
// its parents) or an empty directory; anything else is ErrDirNotEmpty, and
// nothing is written. If writing fails midway, Create removes what it wrote.
// A Go service includes vendor/ with the SDK (see the package comment).
func Create(dir, name, lang string) error {
	if err := validName(name); err != nil {
		return err
	}
	if lang == "" {
		lang = DefaultLang
	}
	if !slices.Contains(Langs(), lang) {
		return fmt.Errorf("%w %q: choose one of %s", ErrUnknownLang, lang, strings.Join(Langs(), ", "))
	}
	files, err := render(lang, name)
	if err != nil {
		return err
	}
	if lang == "go" {
		vendor, err := vendorSDK(guest.Source())
		if err != nil {
			return err
		}
		files = append(files, vendor...)
	}

	created, err := prepare(dir)
	if err != nil {
		return err
	}
	return write(dir, created, files)
}

// write writes files into dir, which prepare made sure was missing (created)
// or empty. If a write fails it removes everything it wrote, and dir too if
// it created it.
func write(dir string, created bool, files []file) error {
	var err error
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.name))
		if err = os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			break
		}
		if err = writeNew(p, f.data); err != nil {
			break
		}
	}
	if err == nil {
		return nil
	}
	// dir was missing or empty: everything in it is ours.
	if created {
		os.RemoveAll(dir)
	} else if entries, _ := os.ReadDir(dir); entries != nil {
		for _, e := range entries {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	return fmt.Errorf("create %s: %w", dir, err)
}

// validName checks a service name: 1 to 63 of [a-z0-9-], not starting or
// ending with '-' (it becomes a route, a file name and a Go module path).
func validName(name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("%w %q: use 1 to 63 characters", ErrInvalidName, name)
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("%w %q: use only lowercase letters, digits and '-'", ErrInvalidName, name)
		}
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return fmt.Errorf("%w %q: start and end with a letter or digit", ErrInvalidName, name)
	}
	return nil
}

// file is one file of a new service; name is slash-separated, relative to
// the service's directory.
type file struct {
	name string
	data []byte
}

// render executes every template of lang for the service name.
func render(lang, name string) ([]file, error) {
	root := path.Join("templates", lang)
	entries, err := fs.ReadDir(templates, root)
	if err != nil {
		return nil, fmt.Errorf("scaffold %s: %w", lang, err)
	}
	data := struct{ Name, SDKModule, SDKVersion, GoVersion string }{name, SDKModule, SDKVersion, GoVersion}
	var files []file
	for _, e := range entries {
		tmpl, err := template.ParseFS(templates, path.Join(root, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("scaffold %s: %w", lang, err)
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, data); err != nil {
			return nil, fmt.Errorf("scaffold %s: %w", lang, err)
		}
		files = append(files, file{name: outputName(e.Name()), data: buf.Bytes()})
	}
	return files, nil
}

// outputName maps a template's file name to the file it renders.
func outputName(tmpl string) string {
	name := strings.TrimSuffix(tmpl, ".tmpl")
	if rest, ok := strings.CutPrefix(name, "dot-"); ok {
		name = "." + rest
	}
	return name
}

// prepare makes sure dir exists and is empty; created reports whether it
// had to make it.
func prepare(dir string) (created bool, err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return false, fmt.Errorf("create %s: %w", dir, err)
		}
		return true, nil
	case err != nil:
		if fi, statErr := os.Stat(dir); statErr == nil && !fi.IsDir() {
			return false, fmt.Errorf("%w: %s is a file; pick another directory", ErrDirNotEmpty, dir)
		}
		return false, fmt.Errorf("create %s: %w", dir, err)
	case len(entries) > 0:
		return false, fmt.Errorf("%w: %s; Try: mote new NAME --dir with a new or empty directory", ErrDirNotEmpty, dir)
	}
	return false, nil
}

// writeNew writes data to a file that must not exist yet.
func writeNew(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// vendorSDK returns vendor/ for a Go service: every file of src (the SDK's
// source, guest.Source) under vendor/SDKModule/guest/, and a
// vendor/modules.txt that lists SDKModule at SDKVersion as an explicit
// requirement built as GoVersion, then each package, as `go mod vendor`
// writes it. With it (and go.mod's require) the go command builds from
// vendor/ without a network or go.sum.
func vendorSDK(src fs.FS) ([]file, error) {
	var files []file
	var pkgs []string
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		files = append(files, file{name: path.Join("vendor", SDKModule, "guest", p), data: data})
		if pkg := path.Join(SDKModule, "guest", path.Dir(p)); !slices.Contains(pkgs, pkg) {
			pkgs = append(pkgs, pkg)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scaffold go: vendoring the SDK: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("scaffold go: vendoring the SDK: no source files")
	}
	slices.Sort(pkgs)
	var txt strings.Builder
	fmt.Fprintf(&txt, "# %s %s\n## explicit; go %s\n", SDKModule, SDKVersion, GoVersion)
	for _, pkg := range pkgs {
		txt.WriteString(pkg + "\n")
	}
	return append(files, file{name: "vendor/modules.txt", data: []byte(txt.String())}), nil
}
