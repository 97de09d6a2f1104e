package engine_test

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the child die with the test binary, should the test be killed before its
// cleanup runs (a go test timeout).
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
