//go:build unix

package builder

import (
	"context"
	"os/exec"
	"syscall"
)

// shellCommand runs command with sh -c in a process group of its own, so
// that stopping it (when ctx ends) stops the compilers it started too, not
// just the shell.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// SIGTERM lets make and friends remove half-written targets; exec
		// kills the shell outright if it is still there after WaitDelay.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	return cmd
}
