// Package scaffold writes the starting point of a new service: what
// `mote new NAME --lang go|c` creates. Each language is a directory of
// text/template files under templates/, rendered with the service's name.
//
// Template file names map to output names by two rules: the ".tmpl" suffix
// is dropped, and a "dot-" prefix becomes "." (go:embed skips dotfiles, and
// a file named go.mod would make the template directory a module of its own).
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
)

//go:embed templates
var templates embed.FS

// DefaultLang is the language Create uses when given none.
const DefaultLang = "go"

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

	created, err := prepare(dir)
	if err != nil {
		return err
	}
	var written []string
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err = writeNew(p, f.data); err != nil {
			break
		}
		written = append(written, p)
	}
	if err != nil {
		for _, p := range written {
			os.Remove(p)
		}
		if created {
			os.Remove(dir)
		}
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
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

// file is one rendered file of a new service.
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
	data := struct{ Name string }{Name: name}
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
