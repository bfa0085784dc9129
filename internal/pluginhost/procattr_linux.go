package pluginhost

import "syscall"

// procAttr makes the kernel SIGKILL the plugin when the thread that started
// it dies, so a host killed without cleanup does not leave plugins behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
