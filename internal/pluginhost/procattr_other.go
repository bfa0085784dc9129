//go:build !linux

package pluginhost

import "syscall"

// procAttr has no parent-death signal off Linux; CleanupAll covers signals.
func procAttr() *syscall.SysProcAttr { return nil }
