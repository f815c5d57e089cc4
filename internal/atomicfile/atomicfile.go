// Package atomicfile writes small files so that a reader, or a process that
// starts after a crash, sees either the old content or the new, never a
// mix, and the new content is on disk when Write returns.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes data to path with mode perm: into a temporary file in the same
// directory, fsynced, then renamed over path.
func Write(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
