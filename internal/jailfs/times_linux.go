package jailfs

import (
	"syscall"
	"unsafe"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// utimeOmit is UTIME_OMIT in <linux/stat.h>; syscall does not export it.
const utimeOmit = (1 << 30) - 2

// futimens sets the file's times through its descriptor with
// utimensat(fd, NULL, times, 0), as wazero does on Linux.
func futimens(f *file, atim, mtim int64) experimentalsys.Errno {
	if atim == experimentalsys.UTIME_OMIT && mtim == experimentalsys.UTIME_OMIT {
		return 0
	}
	var times [2]syscall.Timespec
	for i, t := range [2]int64{atim, mtim} {
		if t == experimentalsys.UTIME_OMIT {
			times[i] = syscall.Timespec{Nsec: utimeOmit}
		} else {
			times[i] = syscall.NsecToTimespec(t)
		}
	}
	rc, err := f.f.SyscallConn()
	if err != nil {
		return errnoOf(err)
	}
	var e1 syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, e1 = syscall.Syscall6(syscall.SYS_UTIMENSAT, fd, 0, uintptr(unsafe.Pointer(&times)), 0, 0, 0)
	}); err != nil {
		return errnoOf(err)
	}
	if e1 != 0 {
		return errnoOf(e1)
	}
	return 0
}
