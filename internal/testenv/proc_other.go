//go:build !linux

package testenv

import "os/exec"

// KillWithParent does nothing where the kernel cannot kill a child with its parent: the
// caller must stop the process itself.
func KillWithParent(*exec.Cmd) {}

// runAs does nothing elsewhere than on Linux: the process runs as the current user.
func runAs(*exec.Cmd, *osUser) {}
