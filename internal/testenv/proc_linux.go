package testenv

import (
	"os/exec"
	"syscall"
)

// KillWithParent makes the kernel kill cmd's process (SIGKILL) when the process that starts
// it dies, so a test binary killed by its timeout leaves no server or worker behind. Call it
// before cmd.Start. Elsewhere than on Linux it does nothing.
func KillWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// runAs makes cmd run as the given OS user (nil: the current user).
func runAs(cmd *exec.Cmd, u *osUser) {
	if u == nil {
		return
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid}
}
