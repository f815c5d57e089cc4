//go:build !wasip1

package guest

import (
	"embed"
	"io/fs"
	"strings"
)

// The SDK's own source, for `mote new` to vendor into a new service. The
// file is left out of guests (GOOS=wasip1), so it costs them nothing.
//
//go:embed *.go abi/*.go internal/hostcall/*.go kv/*.go config/*.go fetch/*.go call/*.go log/*.go guesttest/*.go
var source embed.FS

// Source returns the source of this package and of every package below it
// (abi, kv, config, fetch, call, log, guesttest and the internal ones), as
// paths relative to this directory ("kv/kv.go"): the files a service needs
// to build against the SDK without a network. Tests and this file, which
// only the host needs, are left out.
func Source() fs.FS { return sourceFS{source} }

// sourceFS is the embedded tree without the files Source leaves out.
type sourceFS struct{ embed.FS }

func omitted(name string) bool {
	return strings.HasSuffix(name, "_test.go") || name == "source.go"
}

func (s sourceFS) Open(name string) (fs.File, error) {
	if omitted(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return s.FS.Open(name)
}

func (s sourceFS) ReadFile(name string) ([]byte, error) {
	if omitted(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return s.FS.ReadFile(name)
}

func (s sourceFS) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := s.FS.ReadDir(name)
	out := entries[:0:0]
	for _, e := range entries {
		if !omitted(pathJoin(name, e.Name())) {
			out = append(out, e)
		}
	}
	return out, err
}

func pathJoin(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}
