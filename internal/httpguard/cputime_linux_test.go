package httpguard

import (
	"runtime"
	"syscall"
	"time"
)

// threadCPU returns the CPU time of the calling OS thread (the benchmark
// goroutine locks itself to one), so benchmarks can report CPU cost per
// request on a machine shared with other work, where wall time is noise.
func threadCPU() time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func lockThread() func() { runtime.LockOSThread(); return runtime.UnlockOSThread }
