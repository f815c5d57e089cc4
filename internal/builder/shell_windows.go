//go:build windows

package builder

import (
	"context"
	"os"
	"os/exec"
	"syscall"
)

// shellCommand runs command with cmd /C. The command line is passed
// verbatim (cmd does not follow the argv quoting rules exec would apply):
// /S makes cmd strip exactly the outer quotes and run the rest as written,
// /D skips AutoRun commands from the registry.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	shell := os.Getenv("ComSpec")
	if shell == "" {
		shell = "cmd.exe"
	}
	cmd := exec.CommandContext(ctx, shell)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		CmdLine: syscall.EscapeArg(shell) + ` /D /S /C "` + command + `"`,
	}
	return cmd
}
