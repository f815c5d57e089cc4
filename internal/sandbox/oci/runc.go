package oci

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// runc runs the runc binary against one state root.
type runc struct {
	bin  string
	root string // --root
}

// runEnv is the environment runc commands get: none of the node's.
var runEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

// command returns the command for runc --root ROOT args....
func (c runc) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"--root", c.root}, args...)...)
	cmd.Env = runEnv
	return cmd
}

// do runs runc with args; a failure carries runc's output.
func (c runc) do(ctx context.Context, args ...string) ([]byte, error) {
	var out, errOut bytes.Buffer
	cmd := c.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	// A detached container would hold the pipes open.
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		return nil, fmt.Errorf("runc %s: %w: %s", strings.Join(args, " "), err, msg)
	}
	return out.Bytes(), nil
}

// list returns the ids of the containers under the root.
func (c runc) list(ctx context.Context) ([]string, error) {
	out, err := c.do(ctx, "list", "-q")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// kill sends signal sig ("TERM", "KILL") to the container's process.
func (c runc) kill(ctx context.Context, id, sig string) error {
	_, err := c.do(ctx, "kill", id, sig)
	return err
}

// forceDelete kills the container if it runs and deletes it with its
// cgroups.
func (c runc) forceDelete(ctx context.Context, id string) error {
	_, err := c.do(ctx, "delete", "--force", id)
	return err
}
