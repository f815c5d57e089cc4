//go:build !unix && !windows

package builder

import (
	"context"
	"os/exec"
)

// shellCommand runs command with sh -c.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	return exec.CommandContext(ctx, "sh", "-c", command)
}
