package crashtest

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel SIGKILL the node when the test process
// dies, so that a test killed by its timeout leaves no node behind.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
