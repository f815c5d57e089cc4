package rootfs

import (
	"os"
	"syscall"
)

// mkfifoAt creates the fifo name in the open directory d, mode 0600 until
// its own mode is set; an existing name is not followed (EEXIST).
func mkfifoAt(d *os.File, name string) error {
	rc, err := d.SyscallConn()
	if err != nil {
		return err
	}
	var merr error
	if err := rc.Control(func(fd uintptr) {
		merr = syscall.Mknodat(int(fd), name, syscall.S_IFIFO|0o600, 0)
	}); err != nil {
		return err
	}
	if merr != nil {
		return &os.PathError{Op: "mkfifo", Path: name, Err: merr}
	}
	return nil
}

// syncFS flushes written data to disk before the cache makes a root
// filesystem visible. syncfs(2) would limit it to one filesystem but its
// number is not in package syscall for every architecture, so this is
// sync(2), which waits for the writes on Linux.
func syncFS(*os.File) error {
	syscall.Sync()
	return nil
}
