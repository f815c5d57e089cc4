package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
)

// maxSymlinks bounds the symlinks followed while resolving one path, as
// the kernel's ELOOP limit does.
const maxSymlinks = 40

var (
	errClimbs  = errors.New("path climbs out of the root")
	errNUL     = errors.New("name contains NUL")
	errEmpty   = errors.New("empty name")
	errLoop    = errors.New("too many levels of symbolic links")
	errNotADir = errors.New("a path component is not a directory")
)

// cleanName turns a name from a layer (an entry's name or a hardlink's
// target) into a clean slash-separated path relative to the root; "." is
// the root itself. Leading slashes are dropped before cleaning, so an
// absolute name is taken relative to the root and "/../x" climbs out like
// "../x" does.
func cleanName(name string) (string, error) {
	if name == "" {
		return "", errEmpty
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", errNUL
	}
	p := path.Clean(strings.TrimLeft(name, "/"))
	if climbs(p) {
		return "", errClimbs
	}
	return p, nil
}

// climbs reports whether a cleaned relative path starts above its base.
func climbs(p string) bool {
	return p == ".." || strings.HasPrefix(p, "../")
}

// resolve returns the real location inside root of the clean relative path
// p, following every symlink in it, the last component included, the way
// the kernel would inside the container: an absolute target starts again
// at the root, ".." stops at the root. The result names no symlink. When
// a component does not exist, missing is true and the components after it
// are taken lexically (they cannot be symlinks).
//
// It fails when a component that is not a directory has more after it, or
// after maxSymlinks symlinks.
func resolve(root *os.Root, p string) (real string, missing bool, err error) {
	var done []string // the real path so far, one component each
	missingAt := -1   // len(done) when a component was first missing
	todo := p
	links := 0
	for todo != "" {
		var comp string
		comp, todo, _ = strings.Cut(todo, "/")
		switch comp {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			if len(done) < missingAt {
				missingAt = -1
			}
			continue
		}
		done = append(done, comp)
		if missingAt >= 0 {
			continue
		}
		cur := strings.Join(done, "/")
		fi, err := root.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			missingAt = len(done)
			continue
		}
		if err != nil {
			return "", false, err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			links++
			if links > maxSymlinks {
				return "", false, errLoop
			}
			target, err := root.Readlink(cur)
			if err != nil {
				return "", false, err
			}
			done = done[:len(done)-1]
			if strings.HasPrefix(target, "/") {
				done = done[:0]
			}
			if todo != "" {
				target += "/" + todo
			}
			todo = target
		case !fi.IsDir() && strings.Trim(todo, "/") != "":
			return "", false, errNotADir
		}
	}
	if len(done) == 0 {
		return ".", missingAt >= 0, nil
	}
	return strings.Join(done, "/"), missingAt >= 0, nil
}
