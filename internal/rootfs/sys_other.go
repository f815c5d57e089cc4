//go:build !linux

package rootfs

import (
	"errors"
	"os"
)

// mkfifoAt fails: fifos are only created on Linux.
func mkfifoAt(d *os.File, name string) error {
	return errors.New("fifos are only supported on Linux")
}

// syncFS flushes everything to disk.
func syncFS(f *os.File) error {
	return f.Sync()
}
