//go:build !linux

package testenv

import "os/exec"

// KillWithParent does nothing where the kernel cannot kill a child with its parent: the
// caller must stop the process itself.
func KillWithParent(*exec.Cmd) {}
