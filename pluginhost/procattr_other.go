//go:build !linux

package pluginhost

import "syscall"

// procAttr starts a plugin in a process group of its own (see the Linux
// version); there is no parent-death signal off Linux, CleanupAll covers
// signals.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
