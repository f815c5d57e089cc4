// Package builder runs a service's [build] command when its Wasm module is
// missing or older than its sources, as `mote build` and `mote deploy` do
// before packaging.
//
// The command runs in the manifest's directory through the host's shell
// (sh -c on Unix, cmd /C on Windows) with the host's environment, so a
// manifest's build is whatever a developer would type in that directory.
package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/mote-run/mote/internal/manifest"
)

// Errors Run returns, by class; each comes wrapped in a message that says
// what to do next.
var (
	// ErrNoCommand: the manifest has no [build] command to run.
	ErrNoCommand = errors.New("no [build] command")
	// ErrFailed: the command could not start, exited non-zero or was killed.
	ErrFailed = errors.New("build failed")
	// ErrNoModule: the command succeeded but the module does not exist.
	ErrNoModule = errors.New("build made no module")
)

// waitDelay bounds how long Run waits for output after the command exits
// (or is stopped): a background process the command left behind may hold
// the output open.
var waitDelay = 2 * time.Second

// buildError is a message with a class (one of the Err* values).
type buildError struct {
	msg   string
	class error
}

func (e *buildError) Error() string { return e.msg }
func (e *buildError) Unwrap() error { return e.class }

// Stale reports whether dir's module must be (re)built: it is missing, or
// [build] exists and a watched source file is newer than it. reason says
// which ("hello.wasm is missing", "src/main.c is newer than hello.wasm");
// it is "" when stale is false.
//
// The watched files are those [build] watch selects (see manifest.Match),
// or by default every file under dir except the module and mote.toml.
// Either way, hidden files and directories (names starting with '.') are
// never watched, and a symbolic link counts as the file it points to.
// Without [build] only a missing module is stale. For a container service
// the image plays the module's part when it is a path ("./image": a layout
// directory, judged by its index.json, or an archive); an image in a
// registry is never stale. The error reports a module path that is not a
// file, or an unreadable dir.
func Stale(dir string, m *manifest.Manifest) (stale bool, reason string, err error) {
	name, p, ok := artifact(dir, m)
	if !ok {
		return false, "", nil
	}
	info, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, name + " is missing", nil
	case err != nil:
		return false, "", fmt.Errorf("check %s: %w", name, err)
	case m.Wasm != nil && !info.Mode().IsRegular():
		return false, "", fmt.Errorf("check %s: not a regular file; [wasm] module must name the compiled module", name)
	case m.Build == nil:
		return false, "", nil
	}
	built := info.ModTime()
	if info.IsDir() { // an image layout: index.json is written last
		if ix, err := os.Stat(filepath.Join(p, "index.json")); err == nil {
			built = ix.ModTime()
		}
	}
	src, err := newerSource(dir, m, name, built)
	if err != nil {
		return false, "", fmt.Errorf("check sources of %s: %w", name, err)
	}
	if src == "" {
		return false, "", nil
	}
	return true, src + " is newer than " + name, nil
}

// artifact names what [build] makes and where it is on the host: the Wasm
// module, or a container image given as a path ("./image"). ok is false
// for an image in a registry, which is never built here.
func artifact(dir string, m *manifest.Manifest) (name, path string, ok bool) {
	switch {
	case m.Wasm != nil:
		return m.Wasm.Module, modulePath(dir, m), true
	case m.Container != nil && isLocalImage(m.Container.Image):
		img := m.Container.Image
		if filepath.IsAbs(img) {
			return img, img, true
		}
		return strings.TrimPrefix(filepath.ToSlash(filepath.Clean(img)), "./"), filepath.Join(dir, filepath.FromSlash(img)), true
	}
	return "", "", false
}

// isLocalImage reports whether a [container] image names a path rather than
// a registry reference.
func isLocalImage(image string) bool {
	return strings.HasPrefix(image, "./") || strings.HasPrefix(image, "../") || strings.HasPrefix(image, "/")
}

// modulePath is the module's path on the host.
func modulePath(dir string, m *manifest.Manifest) string {
	return filepath.Join(dir, filepath.FromSlash(m.Wasm.Module))
}

// newerSource returns the first watched file (in lexical order, as a
// slash-separated path relative to dir) modified after t, or "".
// The artifact itself (a file, or everything under an image directory) is
// never a source.
func newerSource(dir string, m *manifest.Manifest, artifact string, t time.Time) (string, error) {
	watch := m.Build.Watch
	var found string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if p == dir {
			return err // an unreadable dir is an error
		}
		if err != nil {
			return nil // an unreadable entry below it is not watched
		}
		rel, relErr := filepath.Rel(dir, p)
		if relErr != nil {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == artifact {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if len(watch) > 0 && !anyMatch(watch, rel, manifest.MatchesUnder) {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == manifest.FileName {
			return nil
		}
		if len(watch) > 0 && !anyMatch(watch, rel, func(pattern, name string) bool {
			ok, _ := manifest.Match(pattern, name)
			return ok
		}) {
			return nil
		}
		info, err := os.Stat(p) // follows a symbolic link
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		if info.ModTime().After(t) {
			found = rel
			return filepath.SkipAll
		}
		return nil
	})
	return found, err
}

func anyMatch(patterns []string, name string, match func(pattern, name string) bool) bool {
	for _, p := range patterns {
		if match(p, name) {
			return true
		}
	}
	return false
}

// Run runs m's [build] command in dir through the host's shell, with the
// host's environment, no input, and output to stdout and stderr (nil
// discards it). It returns once the command has exited (or ctx is done and
// the command was killed) and its output is written.
//
// The error matches ErrNoCommand when there is no [build] command,
// ErrFailed when the command cannot start or fails (the message has the
// exit code), and ErrNoModule when it succeeds but the [wasm] module still
// does not exist. When ctx ends first, the error wraps ctx.Err().
func Run(ctx context.Context, dir string, m *manifest.Manifest, stdout, stderr io.Writer) error {
	if m.Build == nil || strings.TrimSpace(m.Build.Command) == "" {
		msg := "mote.toml has no [build] command; Try: add [build] command = \"...\" to mote.toml, or build the module yourself"
		if m.Wasm != nil {
			msg = "mote.toml has no [build] command; Try: add [build] command = \"...\" to mote.toml, or build " + m.Wasm.Module + " yourself"
			if _, err := os.Stat(modulePath(dir, m)); errors.Is(err, fs.ErrNotExist) {
				msg = m.Wasm.Module + " is missing and " + msg
			}
		}
		return &buildError{msg: msg, class: ErrNoCommand}
	}
	command := m.Build.Command
	cmd := shellCommand(ctx, command)
	cmd.Dir = dir
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // it exited 0; a process it left behind held the output
	}
	if ctxErr := ctx.Err(); err != nil && ctxErr != nil {
		return fmt.Errorf("build command %s stopped: %w", brief(command), ctxErr)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return &buildError{
			msg:   fmt.Sprintf("build command %s failed with exit code %d; Try: fix what it printed above, then build again", brief(command), exit.ExitCode()),
			class: ErrFailed,
		}
	case errors.As(err, &exit):
		return &buildError{msg: fmt.Sprintf("build command %s was stopped: %v", brief(command), exit), class: ErrFailed}
	case err != nil:
		return &buildError{msg: fmt.Sprintf("cannot run build command %s: %v", brief(command), err), class: ErrFailed}
	}
	if m.Wasm == nil {
		return nil
	}
	info, err := os.Stat(modulePath(dir, m))
	if err != nil || !info.Mode().IsRegular() {
		return &buildError{
			msg: fmt.Sprintf("build command %s succeeded but %s does not exist; Try: make the command write %s, or set [wasm] module to the file it writes",
				brief(command), m.Wasm.Module, m.Wasm.Module),
			class: ErrNoModule,
		}
	}
	return nil
}

// brief quotes a command for a message, shortened to its first line.
func brief(command string) string {
	c := strings.TrimSpace(command)
	if i := strings.IndexByte(c, '\n'); i >= 0 {
		c = strings.TrimSpace(c[:i]) + " ..."
	}
	if len(c) > 80 {
		c = c[:77] + "..."
	}
	return fmt.Sprintf("%q", c)
}
