//go:build !linux

package crashtest

import "os/exec"

// dieWithTest does nothing here: only Linux kills a child when its parent
// dies; t.Cleanup kills the node otherwise.
func dieWithTest(*exec.Cmd) {}
