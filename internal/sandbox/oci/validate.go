package oci

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/mote-run/mote/internal/sandbox"
)

// maxLinks bounds the symbolic links followed resolving one path, as the
// kernel's 40.
const maxLinks = 40

// errEscape: a path names something outside the root.
var errTooManyLinks = errors.New("too many levels of symbolic links")

// validate checks that spec can run as a container: Container is set, its
// Rootfs is a directory, Args[0] names an executable regular file inside
// it (an absolute path, a path relative to WorkDir, or a name on the
// PATH of Env), WorkDir is absolute, Env entries are KEY=value and Port is
// 1..65535. Each problem is an error wrapping sandbox.ErrInvalidModule that
// says what to fix.
func validate(spec sandbox.Spec) error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", sandbox.ErrInvalidModule, fmt.Sprintf(format, args...))
	}
	if spec.Container == nil {
		return invalid("no container to run (Spec.Container is nil); deploy an image with [container] image in mote.toml")
	}
	c := withDefaults(*spec.Container)
	if c.Port < 1 || c.Port > 65535 {
		return invalid("port %d is out of range; set [container] port to 1..65535", c.Port)
	}
	if c.Rootfs == "" {
		return invalid("the image has no root filesystem (Container.Rootfs is empty)")
	}
	if st, err := os.Stat(c.Rootfs); err != nil || !st.IsDir() {
		return invalid("the image's root filesystem %s is not a directory", c.Rootfs)
	}
	if c.WorkDir != "" && !path.IsAbs(c.WorkDir) {
		return invalid("working directory %q is not absolute; set WORKDIR in the image to an absolute path", c.WorkDir)
	}
	for _, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsRune(kv, 0) {
			return invalid("environment entry %q is not KEY=value", kv)
		}
	}
	if len(c.Args) == 0 || c.Args[0] == "" {
		return invalid("the image has no entrypoint; set ENTRYPOINT or CMD")
	}
	for _, a := range c.Args {
		if strings.ContainsRune(a, 0) {
			return invalid("an argument holds a NUL byte: %q", a)
		}
	}
	root, err := os.OpenRoot(c.Rootfs)
	if err != nil {
		return invalid("the image's root filesystem: %v", err)
	}
	defer root.Close()
	_, err = findExecutable(root, c.Args[0], c.WorkDir, envPath(c.Env))
	if err != nil {
		return fmt.Errorf("%w: %w", sandbox.ErrInvalidModule, err)
	}
	return nil
}

// findExecutable returns the path inside root that name runs: name itself
// when it holds a slash (relative to workDir unless absolute), else the
// first executable regular file name on pathList (":"-separated, relative
// entries taken from workDir, as execvp does).
func findExecutable(root *os.Root, name, workDir, pathList string) (string, error) {
	if workDir == "" {
		workDir = "/"
	}
	if strings.Contains(name, "/") {
		p := name
		if !path.IsAbs(p) {
			p = path.Join(workDir, p)
		}
		if err := checkExecutable(root, p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("image entrypoint %s not found in the image; set ENTRYPOINT or CMD", name)
			}
			return "", fmt.Errorf("image entrypoint %s: %w", name, err)
		}
		return p, nil
	}
	var firstErr error
	for _, dir := range strings.Split(pathList, ":") {
		if dir == "" {
			dir = "."
		}
		if !path.IsAbs(dir) {
			dir = path.Join(workDir, dir)
		}
		p := path.Join(dir, name)
		err := checkExecutable(root, p)
		if err == nil {
			return p, nil
		}
		if firstErr == nil && !errors.Is(err, fs.ErrNotExist) {
			firstErr = fmt.Errorf("image entrypoint %s: %w", p, err)
		}
	}
	if firstErr != nil {
		return "", firstErr
	}
	return "", fmt.Errorf("image entrypoint %s not found on the image's PATH (%s); set ENTRYPOINT or CMD to a path in the image", name, pathList)
}

// checkExecutable reports whether p (absolute, inside root) resolves to a
// regular file with an execute bit.
func checkExecutable(root *os.Root, p string) error {
	real, err := resolveIn(root, p)
	if err != nil {
		return err
	}
	st, err := root.Lstat(rel(real))
	if err != nil {
		return err
	}
	switch {
	case st.IsDir():
		return errors.New("is a directory, not a program")
	case !st.Mode().IsRegular():
		return fmt.Errorf("is not a regular file (%s)", st.Mode().Type())
	case st.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("is not executable (mode %s); chmod +x it in the image", st.Mode().Perm())
	}
	return nil
}

// resolveIn resolves p inside root as a process chrooted there would: a
// symbolic link's absolute target starts again at root, and ".." at root
// stays there. The result is absolute and free of symbolic links; every
// component but the last exists and is a directory (the last may not
// exist: the error then wraps fs.ErrNotExist).
func resolveIn(root *os.Root, p string) (string, error) {
	todo := strings.Split(p, "/")
	var done []string
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := path.Join(append(done, c)...)
		st, err := root.Lstat(cur)
		if err != nil {
			return "", err
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			if links++; links > maxLinks {
				return "", fmt.Errorf("%s: %w", p, errTooManyLinks)
			}
			target, err := root.Readlink(cur)
			if err != nil {
				return "", err
			}
			if path.IsAbs(target) {
				done = done[:0]
			}
			todo = append(strings.Split(target, "/"), todo...)
			continue
		}
		if len(todo) > 0 && !st.IsDir() {
			return "", fmt.Errorf("%s: %s is not a directory: %w", p, "/"+cur, fs.ErrNotExist)
		}
		done = append(done, c)
	}
	return "/" + path.Join(done...), nil
}

// rel makes an absolute path inside a root relative to it, as os.Root
// wants it.
func rel(p string) string {
	r := strings.TrimLeft(p, "/")
	if r == "" {
		return "."
	}
	return filepath.FromSlash(r)
}
