package jailfs

import (
	"errors"
	"io"
	"io/fs"
	"syscall"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// errnoOf maps an error from os or os.Root to an Errno; nil and io.EOF
// are success.
//
// os.Root reports a path that escapes it ("path escapes from parent") with
// an unexported error that wraps no errno; that, and any other error
// without one, is EPERM, which is also what wazero answers for a guest
// path that is not local. Tests check escapes come back as EPERM, so a
// change in os is noticed.
func errnoOf(err error) experimentalsys.Errno {
	if err == nil || err == io.EOF {
		return 0
	}
	var se syscall.Errno
	if errors.As(err, &se) {
		return experimentalsys.UnwrapOSError(se)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return experimentalsys.ENOENT
	case errors.Is(err, fs.ErrExist):
		return experimentalsys.EEXIST
	case errors.Is(err, fs.ErrClosed):
		return experimentalsys.EBADF
	case errors.Is(err, fs.ErrInvalid):
		return experimentalsys.EINVAL
	}
	return experimentalsys.EPERM
}
